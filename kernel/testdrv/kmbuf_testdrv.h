/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kmbuf_testdrv: the test driver of the liburing-kmbuf testbed kernel.
 *
 * It plays the role of a kernel consumer of kernel-managed buffer rings
 * (FUSE over io_uring, in the proposal): userspace opens /dev/kmbuf_test
 * (root only) and submits IORING_OP_URING_CMD requests on that fd.
 * sqe->cmd_op selects the command, the first 16 bytes of sqe->cmd hold a
 * struct kmbuf_test_cmd.
 *
 * This header is shared verbatim between the kernel driver and the
 * library's tests, so it uses only uapi types.
 */
#ifndef _UAPI_KMBUF_TESTDRV_H
#define _UAPI_KMBUF_TESTDRV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KMBUF_TEST_DEVICE	"/dev/kmbuf_test"

enum kmbuf_test_op {
	/* pin the ring at bgid: res 0, -EALREADY, -EINVAL (no such ring) */
	KMBUF_TEST_CMD_PIN		= 1,
	/*
	 * unpin it: res 0, -EINVAL if it was not pinned or pinned through
	 * another file, -EBUSY if this file's connection pins it
	 */
	KMBUF_TEST_CMD_UNPIN		= 2,
	/*
	 * Select a buffer from the kmbuf ring at bgid, write min(len, buffer
	 * size) bytes of kmbuf_test_pattern(seed, i), complete with res = bytes
	 * written and cqe->flags = IORING_CQE_F_BUFFER | bid << 16.
	 * -ENOBUFS when the ring is empty, -EINVAL if bgid is not a kmbuf ring.
	 * With KMBUF_TEST_F_SLOW it sleeps 20 ms between selecting and writing,
	 * to hold the buffer while something else (an unregister) races it.
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

	/*
	 * A connection, the way FUSE uses a ring: CONNECT pins the kmbuf ring
	 * at bgid and stays in flight (no CQE) until DISCONNECT on the same
	 * ring (CONNECT then completes with 0, DISCONNECT with 0) or until the
	 * ring exits (-ECANCELED). One connection per open file: a second
	 * CONNECT is -EBUSY; a pin failure is CONNECT's result at once.
	 * DISCONNECT: -ENOTCONN without a connection, -EXDEV from another
	 * ring, -EBUSY while FILL_DEFERRED commands are in flight.
	 */
	KMBUF_TEST_CMD_CONNECT		= 8,
	KMBUF_TEST_CMD_DISCONNECT	= 9,
	/*
	 * FILL and RECYCLE on the connected ring through the atomic interface
	 * for pinned rings, under a spinlock with interrupts disabled (FILL
	 * writes 64 KiB at most). bgid must be the connection's (-EINVAL);
	 * -ENOTCONN, -EXDEV as above.
	 */
	KMBUF_TEST_CMD_FILL_ATOMIC	= 10,
	KMBUF_TEST_CMD_RECYCLE_ATOMIC	= 11,
	/*
	 * Select a buffer of the connected ring now and hold it: the command
	 * stays in flight for bid milliseconds, then a work item fills it like
	 * FILL and it completes from task work. At ring exit it is cancelled
	 * (-ECANCELED, the buffer goes back to the ring).
	 */
	KMBUF_TEST_CMD_FILL_DEFERRED	= 12,

	/*
	 * Kernel bvec buffers in the registered buffer table: REG_BVEC
	 * allocates len bytes (a page multiple, at most 4 MiB) of driver pages
	 * holding kmbuf_test_pattern(seed, i) and places them at table index
	 * bgid with direction mask bid (KMBUF_TEST_BUF_DEST/SOURCE): res 0,
	 * -EINVAL (index outside the table, bad size or mask), -EBUSY (slot in
	 * use), -ENOMEM. UNREG_BVEC empties slot bgid (-EINVAL if it holds no
	 * such buffer).
	 */
	KMBUF_TEST_CMD_REG_BVEC		= 13,
	KMBUF_TEST_CMD_UNREG_BVEC	= 14,
	/*
	 * Compare the first len bytes of the driver buffer most recently
	 * registered at index bgid on this ring with kmbuf_test_pattern(seed,
	 * i): res 0 if equal, -EILSEQ if not, -ENOENT if it has been released.
	 */
	KMBUF_TEST_CMD_BVEC_CHECK	= 15,
	/* res = how many bvec buffers have been released since boot */
	KMBUF_TEST_CMD_BVEC_RELEASED	= 16,

	/*
	 * For benchmarks, the limits the data paths are measured against.
	 * NOP completes at once with res 0: the cost of a uring_cmd round
	 * trip. MEMCPY copies len bytes (1 .. 4 MiB) from the driver's copy
	 * source (see KMBUF_TEST_F_COPY) into a kernel buffer, seed times
	 * (at least once): res = the nanoseconds all copies took, -EOVERFLOW
	 * if that exceeds INT_MAX, -EINVAL for a bad len or count, -ENOMEM.
	 */
	KMBUF_TEST_CMD_NOP		= 17,
	KMBUF_TEST_CMD_MEMCPY		= 18,
};

/* kmbuf_test_cmd.flags */
#define KMBUF_TEST_F_SLOW	(1U << 0)	/* FILL only */
/*
 * FILL only: copy the payload from the driver's copy source, which holds
 * kmbuf_test_pattern(0, i), instead of computing it (len <= 4 MiB).
 */
#define KMBUF_TEST_F_COPY	(1U << 1)
/* the most MEMCPY and a FILL with KMBUF_TEST_F_COPY copy at once */
#define KMBUF_TEST_COPY_MAX	(4U << 20)

/* REG_BVEC direction mask, in kmbuf_test_cmd.bid */
#define KMBUF_TEST_BUF_DEST	(1U << 0)	/* READ_FIXED may fill it */
#define KMBUF_TEST_BUF_SOURCE	(1U << 1)	/* WRITE_FIXED may read it */

/* The payload in sqe->cmd: 16 bytes, fits a normal 64-byte SQE. */
struct kmbuf_test_cmd {
	__u16	bgid;	/* buffer group; buf_index for IMPORT_FIXED, *_BVEC */
	__u16	bid;	/* RECYCLE: the buffer; FILL_DEFERRED: ms; REG_BVEC: dir */
	__u32	len;	/* FILL: bytes to write; REG_BVEC, BVEC_CHECK: bytes */
	__u32	seed;	/* pattern seed; offset for IMPORT_FIXED */
	__u32	flags;	/* KMBUF_TEST_F_*, else 0 */
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

/*
 * ---- Device memory and fences: ioctls on /dev/kmbuf_test ----
 *
 * The driver exports PCI peer-to-peer memory (an NVMe controller memory
 * buffer published as p2pmem) as dma-bufs that behave like GPU VRAM: the
 * importer gets DMA addresses only, no struct pages, and only a device
 * that can reach the memory by P2P DMA may attach. The exporter is
 * dynamic: it can move a buffer (MOVE) and revoke it (REVOKE, and for
 * every buffer of a provider whose driver unbinds), telling dynamic
 * importers with move_notify. FENCE puts a fence that signals later on any
 * dma-buf, so tests can prove an importer waited for it.
 *
 * Every ioctl: -EFAULT for an unreadable or unwritable argument, -ENOTTY
 * for an unknown command. Without CONFIG_PCI_P2PDMA the P2P_* ioctls fail
 * with -EOPNOTSUPP; without CONFIG_DMA_SHARED_BUFFER so does FENCE.
 */
#define KMBUF_TEST_IOC_MAGIC		0xB9

/*
 * P2P_EXPORT: allocate @size bytes of the p2pmem of the PCI function that
 * does DMA for the block device @bdev_fd (the nearest ancestor of its disk
 * with a DMA mask), zero them and export them as a dma-buf, returned in
 * @dmabuf_fd (O_RDWR, O_CLOEXEC); @nr_segs is the number of DMA segments
 * in its sg tables.
 *   -EBADF    @bdev_fd is not open
 *   -ENOTBLK  it is not a block device
 *   -ENODEV   its DMA device is not a PCI function with published p2pmem,
 *             or the function's driver is unbinding
 *   -EINVAL   @size 0, not a page multiple or above 1 GiB; unknown
 *             @flags; @__resv not zero
 *   -ENOMEM   the p2pmem (or kernel memory) is exhausted
 *   -EMFILE   no free fd
 */
#define KMBUF_TEST_P2P_F_SCATTER	(1U << 0)
struct kmbuf_test_p2p_export {
	__s32	bdev_fd;	/* in */
	/*
	 * in: KMBUF_TEST_P2P_F_SCATTER allocates 64 KiB chunks (the last one
	 * may be shorter) and lists them in the sg table in the reverse order
	 * of their addresses, so that no two segments are contiguous;
	 * without it the buffer is one contiguous chunk
	 */
	__u32	flags;
	__u64	size;		/* in: bytes */
	__s32	dmabuf_fd;	/* out */
	__u32	nr_segs;	/* out */
	__u64	__resv[2];	/* in: zero */
};

#define KMBUF_TEST_P2P_CHUNK		(64U << 10)
#define KMBUF_TEST_P2P_MAX		(1ULL << 30)

/*
 * DMABUF_FENCE, on any dma-buf: add a fence to its reservation object
 * (usage WRITE, or READ with KMBUF_TEST_FENCE_F_READ) that a work item
 * signals @delay_ms (1..10000) later. With KMBUF_TEST_FENCE_F_FILL the
 * work first writes kmbuf_test_pattern(@seed, i) to byte i of the whole
 * buffer, like a device job producing it (the exporter must support vmap,
 * or be this driver). The fence is signalled even if every fd of the
 * buffer is closed meanwhile; the driver keeps the buffer until then.
 *   -EBADF    @dmabuf_fd is not open
 *   -EINVAL   not a dma-buf; unknown @flags; @delay_ms out of range;
 *             @__resv not zero; FILL on a dma-buf that cannot be vmapped
 *   -ENODEV   FILL on a revoked buffer of this driver
 *   -ENOMEM, -EINTR (waiting for the reservation lock), or the
 *             exporter's vmap error
 */
#define KMBUF_TEST_FENCE_F_READ		(1U << 0)
#define KMBUF_TEST_FENCE_F_FILL		(1U << 1)
#define KMBUF_TEST_FENCE_DELAY_MAX	10000
struct kmbuf_test_dmabuf_fence {
	__s32	dmabuf_fd;
	__u32	delay_ms;
	__u32	flags;
	__u32	seed;
	__u64	__resv[2];	/* zero */
};

/*
 * P2P_MOVE, on a buffer of P2P_EXPORT: wait for every fence of the buffer,
 * zap the CPU mappings (the next access faults the new place in), tell the
 * importers (move_notify) and wait for the fences they add, then copy the
 * contents to a new place in the same provider with the same layout and
 * free the old one; importers map the new place afterwards.
 * P2P_REVOKE: the same without a new place: every later map, attach, CPU
 * access (SIGBUS), MOVE and FILL fails; what the buffer had is freed once
 * the importers' fences have signalled. The driver does this itself for
 * every buffer of a provider whose driver unbinds (e.g. PCI removal).
 *   -EBADF    @dmabuf_fd is not open
 *   -EINVAL   not a buffer of P2P_EXPORT; @flags not zero
 *   -EBUSY    MOVE only: an importer pins the buffer
 *   -ENODEV   the buffer is revoked already
 *   -ENOMEM   MOVE only: no room for the new place
 *   -EINTR    a signal came while waiting for the lock or the fences
 */
struct kmbuf_test_p2p_op {
	__s32	dmabuf_fd;
	__u32	flags;		/* zero */
};

/*
 * P2P_INFO, on a buffer of P2P_EXPORT: its state, for tests that check an
 * importer released everything (attachments, mappings and pins are what is
 * live now; moves and faults count since the export).
 *   -EBADF, -EINVAL as for MOVE
 */
#define KMBUF_TEST_P2P_S_SCATTER	(1U << 0)	/* exported with F_SCATTER */
#define KMBUF_TEST_P2P_S_REVOKED	(1U << 1)
struct kmbuf_test_p2p_info {
	__s32	dmabuf_fd;	/* in */
	__u32	state;		/* out: KMBUF_TEST_P2P_S_* */
	__u64	size;
	__u32	nr_segs;
	__u32	moves;
	__u32	attachments;	/* all attachments */
	__u32	mappings;	/* sg tables handed out and not unmapped */
	__u32	pins;
	__u32	faults;		/* CPU mapping page faults served */
	__u64	__resv[2];	/* out: zero */
};

#define KMBUF_TEST_IOC_P2P_EXPORT \
	_IOWR(KMBUF_TEST_IOC_MAGIC, 1, struct kmbuf_test_p2p_export)
#define KMBUF_TEST_IOC_DMABUF_FENCE \
	_IOW(KMBUF_TEST_IOC_MAGIC, 2, struct kmbuf_test_dmabuf_fence)
#define KMBUF_TEST_IOC_P2P_MOVE \
	_IOW(KMBUF_TEST_IOC_MAGIC, 3, struct kmbuf_test_p2p_op)
#define KMBUF_TEST_IOC_P2P_REVOKE \
	_IOW(KMBUF_TEST_IOC_MAGIC, 4, struct kmbuf_test_p2p_op)
#define KMBUF_TEST_IOC_P2P_INFO \
	_IOWR(KMBUF_TEST_IOC_MAGIC, 5, struct kmbuf_test_p2p_info)

#endif /* _UAPI_KMBUF_TESTDRV_H */
