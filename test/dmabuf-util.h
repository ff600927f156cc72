/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Shared by the dmabuf feature tests: what they need on top of helpers.h
 * (skip logic for the NVMe drive and udmabuf, raw updates the library
 * never sends, fixed read/write requests, /proc/meminfo).
 */
#ifndef KMBUF_TEST_DMABUF_UTIL_H
#define KMBUF_TEST_DMABUF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <liburing-kmbuf.h>
#include "helpers.h"

/* The emulated NVMe namespace of the testbed VM (test/vm/run.sh). */
#define TD_NVME_DEV		"/dev/nvme0n1"
#define TD_UDMABUF_DEV		"/dev/udmabuf"

/* Not in liburing 2.3's header; mainline 6.15 numbers it 60. */
#define TD_OP_READV_FIXED	60

/*
 * 0 if the kernel has dmabuf registered buffers; else the exit code
 * (a skip with its reason, or a failure if the probe could not tell).
 */
int td_require_dmabuf(void);

/*
 * Open the NVMe namespace with @flags (O_RDWR | O_DIRECT, say): 0 and
 * *fd, or T_EXIT_SKIP (no such device) / T_EXIT_FAIL.
 */
int td_require_nvme(int flags, int *fd);

/*
 * io_uring_udmabuf_alloc(): 0 and *ub, T_EXIT_SKIP if udmabuf is not
 * available (-ENOENT), T_EXIT_FAIL otherwise.
 */
int td_require_udmabuf(size_t size, struct io_uring_udmabuf **ub);

/*
 * The dmabuf ABI in the tests' own words (doc/abi.md), not the library's:
 * struct io_uring_rsrc_update2, the seed's 16-byte entry and the
 * descriptor generation's 80-byte one.
 */
struct td_update {
	__u32		offset;
	__u32		flags;
	__aligned_u64	data;
	__aligned_u64	tags;
	__u32		nr;
	__u32		resv2;
};

/* seed: struct io_uring_reg_buffer; -1/-1 is user memory (the iovec) */
struct td_reg_buffer {
	__aligned_u64	iov_uaddr;
	__s32		target_fd;
	__s32		dmabuf_fd;
};

/* desc: struct io_uring_regbuf_desc; no fd is 0, not -1 */
struct td_regbuf_desc {
	__u32		type;
	__u32		flags;
	__u64		size;
	__u64		uaddr;
	__s32		dmabuf_fd;	/* before target_fd, unlike the seed */
	__s32		target_fd;
	__u64		resv[6];
};

enum {
	TD_DESC_EMPTY	= 0,
	TD_DESC_UADDR	= 1,
	TD_DESC_DMABUF	= 2,
};

/*
 * What one slot of an update should hold, in no generation's format:
 * td_update_slots() writes it the running generation's way.
 */
struct td_slot {
	enum { TD_EMPTY, TD_USER, TD_DMABUF } kind;
	void	*addr;		/* TD_USER */
	size_t	len;		/* TD_USER */
	int	target_fd;	/* TD_DMABUF */
	int	dmabuf_fd;	/* TD_DMABUF */
};

/*
 * One IORING_REGISTER_BUFFERS_UPDATE of slots @offset.. with @nr entries
 * in the running generation's extended format (dmabuf.abi=), @tags NULL
 * or @nr tags: the kernel's answer (the number applied), or -errno.
 */
int td_update_slots(int ring_fd, unsigned int offset,
		    const struct td_slot *slots, const __u64 *tags,
		    unsigned int nr);

/*
 * One raw IORING_REGISTER_BUFFERS_UPDATE with a seed-format entry
 * (io_uring_reg_buffer): @flags in the update, @iov as the entry's iovec
 * (NULL: an empty one). The kernel's answer, or -errno.
 */
int td_update_raw(int ring_fd, unsigned int index, unsigned int flags,
		  const struct iovec *iov, int target_fd, int dmabuf_fd);

/* The same with @nr descriptors, and @tags (NULL: none). */
int td_update_desc(int ring_fd, unsigned int index, unsigned int flags,
		   const struct td_regbuf_desc *d, unsigned int nr,
		   const __u64 *tags);

/* Put user memory [@addr, @addr + @len) into slot @index (plain update). */
int td_update_user(int ring_fd, unsigned int index, void *addr, size_t len);

/*
 * READ_FIXED / WRITE_FIXED (@op) of @len bytes at buffer address @addr of
 * slot @index, at file offset @off: the CQE res, or a submission error.
 */
int td_rw_fixed(struct io_uring *ring, unsigned int op, int fd,
		unsigned int index, __u64 addr, unsigned int len, __u64 off);

/* Submit one request of that kind without waiting (0 or -errno). */
int td_submit_rw_fixed(struct io_uring *ring, unsigned int op, int fd,
		       unsigned int index, __u64 addr, unsigned int len,
		       __u64 off, __u64 user_data);

/*
 * Wait for one CQE and return its res; a CQE flagged IORING_CQE_F_MORE
 * (send zero-copy) has its notification reaped too.
 */
int td_reap(struct io_uring *ring, __u64 *user_data);

/* Fill @buf with a pattern of @seed (kmbuf_test_pattern). */
void td_fill(void *buf, size_t len, unsigned int seed);


/*
 * The test driver's device-memory and fence ioctls (kmbuf_testdrv.h) on
 * its fd @drv: 0 or -errno. P2P_EXPORT's outputs go to *@dmabuf_fd and,
 * unless NULL, *@nr_segs; @cmd of td_p2p_op() is P2P_MOVE or P2P_REVOKE;
 * td_p2p_info() fills *@info (poisoned first, so unwritten fields show).
 */
int td_p2p_export(int drv, int bdev_fd, __u64 size, __u32 flags,
		  int *dmabuf_fd, __u32 *nr_segs);
int td_p2p_op(int drv, unsigned long cmd, int dmabuf_fd);
int td_p2p_info(int drv, int dmabuf_fd, struct kmbuf_test_p2p_info *info);
int td_dmabuf_fence(int drv, int dmabuf_fd, unsigned int delay_ms,
		    unsigned int flags, unsigned int seed);

/* CLOCK_MONOTONIC in milliseconds. */
long td_now_ms(void);

/*
 * 1 if reading *@p raises SIGBUS (a revoked CPU view), 0 if it does not.
 * The signal is caught here, so this also works under ASan, which would
 * otherwise take a SIGBUS as a crash of the whole test.
 */
int td_touch_sigbus(volatile unsigned char *p);

/*
 * sysfs and procfs: td_write_file() writes @s to @path (0 or -errno),
 * td_read_long() the number in the file named by @fmt (or -errno), and
 * td_pci_function() puts in @out the sysfs directory of the PCI function
 * behind block device @bdev ("/dev/nvme0n1"): 0 or -errno.
 */
int td_write_file(const char *path, const char *s);
long td_read_long(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int td_pci_function(const char *bdev, char *out, size_t len);

/* The NVMe namespace to use: $KMBUF_TEST_NVME, else TD_NVME_DEV. */
const char *td_nvme_path(void);

/*
 * One extended IORING_REGISTER_BUFFERS_UPDATE of slot @index with @tag,
 * in the running generation's format: the dma-buf @dmabuf_fd for
 * @target_fd, or (both -1) an empty slot, for which @tag must be 0. The
 * kernel's answer (1), or -errno.
 */
int td_update_tagged(int ring_fd, unsigned int index, int target_fd,
		     int dmabuf_fd, __u64 tag);

/* IORING_REGISTER_CLONE_BUFFERS of @src_fd's table into @dst_fd: 0 or -errno. */
int td_clone_buffers(int dst_fd, int src_fd);

#endif /* KMBUF_TEST_DMABUF_UTIL_H */
