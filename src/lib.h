/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Private to the library. The kmbuf_sys_* functions are the whole syscall
 * boundary: they live in syscall.c alone, so the unit tests can link the
 * rest of the library against fakes of them and run every error path
 * without a kernel.
 */
#ifndef LIBURING_KMBUF_LIB_H
#define LIBURING_KMBUF_LIB_H

#include <stddef.h>
#include <sys/types.h>
#include <liburing-kmbuf.h>

/*
 * mmap offsets such as 0x88000000 (IO_URING_KMBUF_OFF_RING) need a 64-bit
 * off_t: with a 32-bit one they turn negative and every mmap fails. The
 * build defines _FILE_OFFSET_BITS through config.h (AC_SYS_LARGEFILE).
 */
_Static_assert(sizeof(off_t) == 8, "liburing-kmbuf needs a 64-bit off_t");

/* io_uring_register(2): the result, or -errno. */
int kmbuf_sys_register(int fd, unsigned int opcode, const void *arg,
		       unsigned int nr_args);
/* mmap(2) of a shared mapping: 0 and *addr, or -errno. */
int kmbuf_sys_mmap(size_t len, int prot, int flags, int fd, off_t offset,
		   void **addr);
/* munmap(2): 0 or -errno. */
int kmbuf_sys_munmap(void *addr, size_t len);
/* memfd_create(2): the fd, or -errno. */
int kmbuf_sys_memfd_create(const char *name, unsigned int flags);
/* fcntl(2) with an int argument: the result, or -errno. */
int kmbuf_sys_fcntl(int fd, int cmd, int arg);
/* ftruncate(2): 0 or -errno. */
int kmbuf_sys_ftruncate(int fd, off_t len);
/* fallocate(2) with mode 0 (allocate, extend): 0 or -errno. */
int kmbuf_sys_fallocate(int fd, off_t offset, off_t len);
/* fstat(2)'s st_blksize: 0 and *blksize, or -errno. */
int kmbuf_sys_fstat_blksize(int fd, size_t *blksize);
/* open(2) without O_CREAT: the fd, or -errno. */
int kmbuf_sys_open(const char *path, int flags);
/* ioctl(2) with a pointer argument: the result, or -errno. */
int kmbuf_sys_ioctl(int fd, unsigned long request, void *arg);
/* close(2): 0 or -errno. */
int kmbuf_sys_close(int fd);

/*
 * io_uring_register(2) on @ring: through its real fd when it has one, else
 * through the registered ring index (io_uring_register_ring_fd()).
 */
int kmbuf_do_register(struct io_uring *ring, unsigned int opcode,
		      const void *arg, unsigned int nr_args);

/* Run @probe on a private one-entry ring: its result, or -errno. */
int kmbuf_probe_with_ring(int (*probe)(struct io_uring *ring));

/*
 * What differs between the generations of each ABI, as data: one row per
 * generation (abi.c), chosen once, so that every wrapper stays one path.
 */
struct kmbuf_gen {
	int		abi;		/* IO_URING_KMBUF_ABI_* */
	unsigned int	reg_op;
	unsigned int	unreg_op;
	__u16		reg_flags;	/* ORed into a private copy of the struct */
	__u64		mmap_base;	/* | bgid << 16 */
	/* setup's answer to a page count above UINT_MAX; 0: left to the kernel */
	int		pages_err;
	/* an unregister of a free bgid proves the opcodes (not for 22/23) */
	int		unreg_proves;
};

struct dmabuf_gen {
	int		abi;		/* IO_URING_DMABUF_ABI_* */
	__u32		update_flag;
	size_t		entry_size;	/* bytes per kernel entry */
};

/* The row of @abi, NULL for NONE or a value that is no generation. */
const struct kmbuf_gen *kmbuf_gen_of(int abi);
const struct dmabuf_gen *dmabuf_gen_of(int abi);
/*
 * The row in use (forced, else detected): 0 and *gen, -EINVAL when the
 * kernel has none of the generations, or the detection's -errno.
 */
int kmbuf_current_gen(const struct kmbuf_gen **gen);
int dmabuf_current_gen(const struct dmabuf_gen **gen);

/* One kernel operation in generation @gen; the caller's struct is not touched. */
int kmbuf_gen_register(struct io_uring *ring, const struct kmbuf_gen *gen,
		       const struct io_uring_kmbuf_reg *reg);
int kmbuf_gen_unregister(struct io_uring *ring, const struct kmbuf_gen *gen,
			 unsigned short bgid);
int kmbuf_gen_mmap(struct io_uring *ring, const struct kmbuf_gen *gen,
		   unsigned short bgid, size_t len, void **bufs);
/* An update of @nr entries in generation @gen: the kernel's answer. */
int dmabuf_gen_update(struct io_uring *ring, const struct dmabuf_gen *gen,
		      unsigned int off,
		      const struct io_uring_dmabuf_entry *entries,
		      const __u64 *tags, unsigned int nr);

/* The detections behind io_uring_kmbuf_abi() / io_uring_dmabuf_abi(). */
int kmbuf_detect(struct io_uring *ring);
int dmabuf_detect(struct io_uring *ring);

/* Forget the cached detections and the forced values (unit tests only). */
void kmbuf_abi_reset(void);

/* liburing's private int_flags bit for a registered ring fd */
#define KMBUF_INT_FLAG_REG_RING	1U

#endif /* LIBURING_KMBUF_LIB_H */
