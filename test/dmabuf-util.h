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
 * One raw IORING_REGISTER_BUFFERS_UPDATE with an io_uring_reg_buffer
 * entry: @flags in the update, @iov as the entry's iovec (NULL: an empty
 * one). The kernel's answer, or -errno.
 */
int td_update_raw(int ring_fd, unsigned int index, unsigned int flags,
		  const struct iovec *iov, int target_fd, int dmabuf_fd);

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

/* Not in liburing 2.3's header: mainline 6.12 numbers it 30. */
#define TD_REGISTER_CLONE_BUFFERS	30

/* The NVMe namespace to use: $KMBUF_TEST_NVME, else TD_NVME_DEV. */
const char *td_nvme_path(void);

/*
 * One extended IORING_REGISTER_BUFFERS_UPDATE of slot @index with @tag:
 * the dma-buf @dmabuf_fd for @target_fd, or (both -1) an empty slot, for
 * which @tag must be 0. The kernel's answer (1), or -errno.
 */
int td_update_tagged(int ring_fd, unsigned int index, int target_fd,
		     int dmabuf_fd, __u64 tag);

/* IORING_REGISTER_CLONE_BUFFERS of @src_fd's table into @dst_fd: 0 or -errno. */
int td_clone_buffers(int dst_fd, int src_fd);

#endif /* KMBUF_TEST_DMABUF_UTIL_H */
