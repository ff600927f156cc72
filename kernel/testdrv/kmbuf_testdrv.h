/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kmbuf_testdrv: the test driver of the liburing-kmbuf testbed kernel.
 *
 * It plays the role of a kernel consumer of kernel-managed buffer rings
 * (FUSE over io_uring, in the proposal): userspace opens /dev/kmbuf_test and
 * submits IORING_OP_URING_CMD requests on that fd. sqe->cmd_op selects the
 * command, the first 16 bytes of sqe->cmd hold a struct kmbuf_test_cmd.
 *
 * This header is shared verbatim between the kernel driver and the
 * library's tests, so it uses only uapi types.
 */
#ifndef _UAPI_KMBUF_TESTDRV_H
#define _UAPI_KMBUF_TESTDRV_H

#include <linux/types.h>

#define KMBUF_TEST_DEVICE	"/dev/kmbuf_test"

enum kmbuf_test_op {
	/* pin the ring at bgid: res 0, -EALREADY, -EINVAL (no such ring) */
	KMBUF_TEST_CMD_PIN		= 1,
	/* unpin it: res 0, or -EINVAL if it was not pinned */
	KMBUF_TEST_CMD_UNPIN		= 2,
	/*
	 * Select a buffer from the kmbuf ring at bgid, write min(len, buffer
	 * size) bytes of kmbuf_test_pattern(seed, i), complete with res = bytes
	 * written and cqe->flags = IORING_CQE_F_BUFFER | bid << 16.
	 * -ENOBUFS when the ring is empty, -EINVAL if bgid is not a kmbuf ring.
	 */
	KMBUF_TEST_CMD_FILL		= 3,
	/* put bid back into the kmbuf ring: 0, or -EINVAL (bad or idle bid) */
	KMBUF_TEST_CMD_RECYCLE		= 4,
	/* the same as FILL, against an application-provided (pbuf) ring */
	KMBUF_TEST_CMD_FILL_PBUF	= 5,
	/* res 1 if bgid is a kmbuf ring, 0 if not */
	KMBUF_TEST_CMD_IS_KMBUF		= 6,
	/*
	 * Import registered buffer buf_index (in bgid) for len bytes at offset
	 * (in seed), as a uring_cmd importer does: res 0 or -errno.
	 */
	KMBUF_TEST_CMD_IMPORT_FIXED	= 7,
};

/* The payload in sqe->cmd: 16 bytes, fits a normal 64-byte SQE. */
struct kmbuf_test_cmd {
	__u16	bgid;	/* buffer group; buf_index for IMPORT_FIXED */
	__u16	bid;	/* RECYCLE: the buffer to put back */
	__u32	len;	/* FILL: bytes to write */
	__u32	seed;	/* FILL: pattern seed; offset for IMPORT_FIXED */
	__u32	flags;	/* must be 0 */
};

/* Byte i of a FILL payload: cheap, deterministic, differs between seeds. */
static inline __u8 kmbuf_test_pattern(__u32 seed, __u32 i)
{
	__u32 x = seed + i * 0x9e3779b1u;

	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	return (__u8)x;
}

#endif /* _UAPI_KMBUF_TESTDRV_H */
