/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Shared by the kmbuf feature tests, the example and the benchmark: skip
 * logic, the testbed driver's commands, raw syscalls for the checks the
 * library refuses to forward, and /proc readers.
 *
 * Exit codes follow liburing and automake: 0 pass, 1 fail, 77 skip, and a
 * skip always prints its reason on one line of stdout.
 */
#ifndef KMBUF_TEST_HELPERS_H
#define KMBUF_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <liburing-kmbuf.h>
#include "kmbuf_testdrv.h"

enum {
	T_EXIT_PASS = 0,
	T_EXIT_FAIL = 1,
	T_EXIT_SKIP = 77,
};

#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE	(1U << 4)
#endif

/*
 * The ABI generations, as the tests know them: their own table of each
 * generation's raw values (doc/abi.md), never the library's, because the
 * library is what they check. The running generation is the testbed
 * kernel's boot-time choice, kmbuf.abi= and dmabuf.abi=, which it shows in
 * /sys/module/kmbuf/parameters/abi and /sys/module/dmabuf/parameters/abi.
 * Numbered as the library numbers them (io_uring_kmbuf_abi()).
 */
enum {
	T_KMBUF_ABI_NONE = 0,
	T_KMBUF_ABI_SEED = 1,	/* opcodes 38/39, mmap 0x88000000 */
	T_KMBUF_ABI_FUSE = 2,	/* opcodes 37/38, mmap 0x88000000 */
	T_KMBUF_ABI_FLAG = 3,	/* 22/23 + MMAP|KERNEL_MANAGED, mmap 0x80000000 */
};
enum {
	T_DMABUF_ABI_NONE = 0,
	T_DMABUF_ABI_SEED = 1,	/* update flag 1, 16-byte io_uring_reg_buffer */
	T_DMABUF_ABI_DESC = 2,	/* update flag 2, 80-byte io_uring_regbuf_desc */
};

/* Raw values every generation shares (6.12 numbering). */
#define T_REGISTER_BUFFERS_UPDATE	16
#define T_REGISTER_PBUF_RING		22
#define T_UNREGISTER_PBUF_RING		23
#define T_REGISTER_CLONE_BUFFERS	30
#define T_REGISTER_QUERY		35
#define T_REGISTER_USE_REGISTERED_RING	(1U << 31)
#define T_PBUF_RING_MMAP		1U
#define T_PBUF_RING_INC			2U
#define T_PBUF_RING_KERNEL_MANAGED	4U	/* flag generation only */
#define T_OFF_PBUF_RING			0x80000000ULL
#define T_OFF_KMBUF_RING		0x88000000ULL
#define T_OFF_BGID_SHIFT		16
#define T_KMBUF_MAX_ENTRIES		32768

/* One kmbuf generation: what the kernel answers when it speaks it. */
struct t_kmbuf_gen {
	int		abi;		/* T_KMBUF_ABI_* */
	const char	*name;		/* as kmbuf.abi= spells it */
	unsigned int	reg_op;		/* register a kmbuf ring */
	unsigned int	unreg_op;	/* unregister it */
	unsigned int	reg_flags;	/* flags every kmbuf registration carries */
	__u64		off_base;	/* mmap offset of the buffers, | bgid << 16 */
	__u64		off_other;	/* the other kmbuf offset: never the buffers */
	int		off_missing_err;  /* off_base of a bgid without a kmbuf ring */
	int		off_other_err;	/* off_other of a bgid with a kmbuf ring */
	int		overflow_err;	/* (buf_size / page) * entries > UINT_MAX */
	/* IORING_REGISTER_QUERY's nr_register_opcodes, 0 if 35 is unknown */
	unsigned int	nr_register_opcodes;
	/* bit n set: register opcode 31 + n exists (31..63) */
	unsigned long long ops_from_31;
	/* 0 for a testbed kernel from before the switch (seed only) */
	int		has_switch;
};

/* One dmabuf generation. */
struct t_dmabuf_gen {
	int		abi;		/* T_DMABUF_ABI_* */
	const char	*name;		/* as dmabuf.abi= spells it */
	unsigned int	update_flag;	/* io_uring_rsrc_update2.flags */
	unsigned int	other_flag;	/* the other generation's: -EINVAL here */
	size_t		entry_size;	/* bytes of one entry of data[] */
	int		has_switch;
};

/*
 * The generation the running kernel speaks, from sysfs; without the
 * files (a kernel that is not the switchable testbed) the seed, the only
 * generation the testbed spoke before the switch. A mode named on the
 * kernel command line that sysfs does not confirm is a failure (counted,
 * printed once): a kernel that ignored kmbuf.abi= would run the suite in
 * the wrong mode and still pass. The first call prints the mode.
 */
const struct t_kmbuf_gen *t_kmbuf_gen(void);
const struct t_dmabuf_gen *t_dmabuf_gen(void);
/* The running generations as "kmbuf.abi=fuse dmabuf.abi=desc". */
const char *t_abi_mode(void);

/* 1 if register opcode @op exists in the running kmbuf generation. */
int t_register_op_exists(unsigned int op);

/*
 * The library's detected generation (io_uring_kmbuf_abi(),
 * io_uring_dmabuf_abi()) must be the running one, or NONE on a kernel
 * without the feature (@have: what the probe said); a failure if not.
 */
void t_check_kmbuf_abi(int have);
void t_check_dmabuf_abi(int have);

/* Number of failures reported so far; main() returns t_result(). */
extern int t_failures;

/* Print "FAIL <file>:<line>: <message>" and count the failure. */
void t_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define t_fail(...)	t_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/*
 * Compare a result with the expected one (both may be -errno), print what
 * was expected and what came back if they differ. 1 if equal, 0 if not.
 */
int t_expect_at(const char *file, int line, const char *what, long got,
		long want);
#define t_expect(what, got, want) \
	t_expect_at(__FILE__, __LINE__, (what), (long)(got), (long)(want))

/* "EINVAL" for -EINVAL or EINVAL, the number for anything else. */
const char *t_errname(long err);

/* T_EXIT_FAIL if anything failed, else T_EXIT_PASS (prints a summary). */
int t_result(const char *test);

/* Print a skip reason and return T_EXIT_SKIP. */
int t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Make a ring for a test: 0 on success, else the exit code (a skip when
 * io_uring is not available to this process) after printing why.
 */
int t_ring_init(struct io_uring *ring, unsigned int entries);

/*
 * 0 if the kernel has kmbuf rings; T_EXIT_SKIP if it has not or io_uring
 * is unavailable; T_EXIT_FAIL if the probe could not tell.
 */
int t_require_kmbuf(void);

/* Open the testbed driver: 0 and *fd, or T_EXIT_SKIP / T_EXIT_FAIL. */
int t_require_testdrv(int *fd);

/* All three above: kmbuf kernel, driver open in *drvfd, @ring set up. */
int t_require_testbed(int *drvfd, struct io_uring *ring, unsigned int entries);

/* One completion, copied out of the CQ. */
struct t_cqe {
	__s32	res;
	__u32	flags;
	__u64	user_data;
};

/* Prepare a driver command in @sqe (liburing 2.3 has no prep_uring_cmd). */
void t_prep_drv(struct io_uring_sqe *sqe, int drvfd, unsigned int op,
		const struct kmbuf_test_cmd *cmd);

/*
 * Run @n driver commands of kind @op, submitting as the SQ allows and
 * reaping every completion; cqes[i] is the completion of cmds[i].
 * 0, or -errno if submission or waiting failed.
 */
int t_drv_batch(struct io_uring *ring, int drvfd, unsigned int op,
		const struct kmbuf_test_cmd *cmds, unsigned int n,
		struct t_cqe *cqes);

/* Run one driver command and return its completion in *cqe (0 or -errno). */
int t_drv_run(struct io_uring *ring, int drvfd, unsigned int op,
	      const struct kmbuf_test_cmd *cmd, struct t_cqe *cqe);

/* Run one command and return cqe->res, or the submission error. */
int t_drv(struct io_uring *ring, int drvfd, unsigned int op,
	  unsigned short bgid, unsigned short bid, unsigned int len,
	  unsigned int seed);

/* FILL one buffer of @bgid: 0 and *cqe, or the submission error. */
int t_drv_fill(struct io_uring *ring, int drvfd, unsigned short bgid,
	       unsigned int len, unsigned int seed, struct t_cqe *cqe);

/* A CQE as io_uring_kmbuf_cqe_buf() wants it. */
void t_to_cqe(const struct t_cqe *c, struct io_uring_cqe *cqe);

/* Index of the first byte not kmbuf_test_pattern(seed, i), or @len. */
size_t t_check_pattern(const void *buf, size_t len, unsigned int seed);
/* Index of the first byte that is not @c, or @len. */
size_t t_check_byte(const void *buf, size_t len, unsigned char c);

/* Raw io_uring_register(2): result or -errno. */
int t_sys_register(int fd, unsigned int opcode, const void *arg,
		   unsigned int nr_args);
/*
 * Raw kmbuf register and unregister in the running generation, with a
 * struct built by the caller: its opcodes, and for the register the
 * generation's flags ORed into a copy of @reg (MMAP | KERNEL_MANAGED in
 * the flag generation, none in the others).
 */
int t_sys_register_kmbuf(int ring_fd, const struct io_uring_kmbuf_reg *reg);
int t_sys_unregister_kmbuf(int ring_fd, const struct io_uring_kmbuf_reg *reg);
/* Raw mmap of the ring fd at @offset: 0 and *addr, or -errno. */
int t_sys_mmap(int ring_fd, __u64 offset, size_t len, void **addr);
/* Where the running generation maps the buffers of a kmbuf ring at @bgid. */
__u64 t_kmbuf_off(unsigned short bgid);
/* The other kmbuf offset of @bgid, which never maps a kmbuf ring's buffers. */
__u64 t_kmbuf_other_off(unsigned short bgid);
/* The pbuf mmap offset of @bgid. */
__u64 t_pbuf_off(unsigned short bgid);

/* An application-provided buffer ring (liburing 2.3 has no setup helper). */
struct t_pbuf {
	struct io_uring_buf_ring	*br;
	size_t				ring_len;
	void				*bufs;
	size_t				bufs_len;
	unsigned int			entries;
	unsigned int			buf_size;
	unsigned short			bgid;
};
/* Register a pbuf ring with every buffer in it (bid i at bufs + i * size). */
int t_pbuf_setup(struct io_uring *ring, unsigned int entries,
		 unsigned int buf_size, unsigned short bgid, struct t_pbuf *pb);
/* Give buffer @bid back to the pbuf ring. */
void t_pbuf_recycle(struct t_pbuf *pb, unsigned int bid);
/* Unregister and free; 0 or -errno from the unregister. */
int t_pbuf_free(struct io_uring *ring, struct t_pbuf *pb);

/* IORING_OP_PROVIDE_BUFFERS / REMOVE_BUFFERS: the CQE res. */
int t_provide_buffers(struct io_uring *ring, void *addr, unsigned int len,
		      unsigned int nr, unsigned short bgid, unsigned short bid);
int t_remove_buffers(struct io_uring *ring, unsigned int nr,
		     unsigned short bgid);

/* A "Key:  N kB" value of @path (/proc/self/status, /proc/meminfo), or -1. */
long t_proc_kb(const char *path, const char *key);
/*
 * Lines of /proc/self/maps that name what they map (io_uring rings and
 * buffers, memfds, dma-bufs, files), less [heap], or -1. Anonymous memory
 * is left out: the allocator (ASan's above all) maps and grows it when it
 * likes, which is no leak of the library's or the kernel's. Not thread-safe.
 */
long t_maps_count(void);
/* The same count for maps text read with t_maps_read(). */
long t_maps_count_text(const char *text);
/* 1 if a line of /proc/self/maps starts at @addr, 0 if not, -1 error. */
int t_maps_has(const void *addr);
/* Entries of /proc/self/fd, or -1. */
long t_fd_count(void);

/* System page size. */
unsigned int t_page_size(void);
/* Monotonic time in nanoseconds. */
uint64_t t_now_ns(void);

/*
 * Run @fn(@arg) in a child process and return its exit code. A child that
 * dies of a signal, gives no result within @timeout_sec, or gives one but
 * does not exit within @exit_grace_sec is T_EXIT_FAIL, with the reason
 * printed; a child stuck in the kernel (the exit of a process whose io-wq
 * worker oopsed never finishes) is left behind instead of waited for, so
 * the caller can still report. *stuck (may be NULL) is set to 1 then.
 */
int t_run_child(int (*fn)(void *), void *arg, const char *what,
		unsigned int timeout_sec, unsigned int exit_grace_sec,
		int *stuck);

/* The same in two steps, to run several children at once. */
struct t_child {
	int		pid;
	int		fd;	/* the result comes through this pipe */
	const char	*what;
};
/* Fork and run @fn(@arg) in the child: 0, or T_EXIT_FAIL (printed). */
int t_child_start(struct t_child *c, int (*fn)(void *), void *arg,
		  const char *what);
/* Wait for its result as t_run_child() does; @timeout_sec from now. */
int t_child_finish(struct t_child *c, unsigned int timeout_sec,
		   unsigned int exit_grace_sec, int *stuck);

/* /proc/self/maps into @buf (NUL-terminated, cut at @len): bytes, or -1. */
long t_maps_read(char *buf, size_t len);
/* Print each line of /proc/self/maps that is not in @old, prefixed @who. */
void t_maps_print_new(const char *old, const char *who);

#endif /* KMBUF_TEST_HELPERS_H */
