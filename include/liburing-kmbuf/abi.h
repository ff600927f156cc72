/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * The kernel ABI that liburing-kmbuf wraps, in one place; doc/abi.md in
 * the source tree describes it in full.
 *
 * None of this is in a released kernel's <linux/io_uring.h> nor in
 * liburing's copy of it, and the kernel's names may arrive later with
 * other values (the FUSE-series generation numbers the kmbuf opcodes 37
 * and 38). liburing declares IORING_REGISTER_* as enum constants, which
 * #ifdef cannot see, so defining the kernel's own names here could clash
 * with a future header. Everything below therefore carries the library's
 * IO_URING_KMBUF_ / IO_URING_DMABUF_ prefix, and the structs have names of
 * their own with the kernel's layout, checked at compile time.
 */
#ifndef LIBURING_KMBUF_ABI_H
#define LIBURING_KMBUF_ABI_H

#include <stddef.h>
#include <linux/types.h>

/* Kernel-managed buffer rings (seed generation). */
#define IO_URING_KMBUF_REGISTER_OP	38	/* IORING_REGISTER_KMBUF_RING */
#define IO_URING_KMBUF_UNREGISTER_OP	39	/* IORING_UNREGISTER_KMBUF_RING */
#define IO_URING_KMBUF_MAX_ENTRIES	32768

/* mmap offsets of the ring fd */
#define IO_URING_KMBUF_OFF_RING		0x88000000ULL	/* IORING_OFF_KMBUF_RING */
#define IO_URING_KMBUF_OFF_SHIFT	16		/* IORING_OFF_KMBUF_SHIFT */
#define IO_URING_KMBUF_OFF_PBUF_RING	0x80000000ULL	/* IORING_OFF_PBUF_RING */
#define IO_URING_KMBUF_OFF_PBUF_SHIFT	16		/* IORING_OFF_PBUF_SHIFT */
#define IO_URING_KMBUF_OFF_MMAP_MASK	0xf8000000ULL	/* IORING_OFF_MMAP_MASK */

/* Register flag of io_uring_register(2): opcode uses a registered ring index. */
#define IO_URING_KMBUF_USE_REGISTERED_RING	(1U << 31)

/*
 * struct io_uring_buf_reg with the kmbuf union: ring_addr for
 * application-provided rings, buf_size for kernel-managed ones.
 */
struct io_uring_kmbuf_reg {
	/* __extension__: C99 has no anonymous unions (-pedantic) */
	__extension__ union {
		__u64	ring_addr;
		__u32	buf_size;
	};
	__u32	ring_entries;
	__u16	bgid;
	__u16	flags;
	__u64	resv[3];
};

/* dmabuf-backed registered buffers (seed generation). */
#define IO_URING_DMABUF_UPDATE_OP		16	/* IORING_REGISTER_BUFFERS_UPDATE */
#define IO_URING_DMABUF_F_EXTENDED_UPDATE	1	/* IORING_RSRC_F_EXTENDED_UPDATE */
#define IO_URING_DMABUF_NO_FD			(-1)

/* struct io_uring_rsrc_update2, with the flags field newer headers name */
struct io_uring_dmabuf_update {
	__u32		offset;
	__u32		flags;
	__aligned_u64	data;
	__aligned_u64	tags;
	__u32		nr;
	__u32		resv2;
};

/* struct io_uring_reg_buffer: one entry of an extended update */
struct io_uring_dmabuf_reg {
	__aligned_u64	iov_uaddr;
	__s32		target_fd;
	__s32		dmabuf_fd;
};

#ifdef __cplusplus
#define IO_URING_KMBUF_ABI_ASSERT(cond, msg)	static_assert(cond, msg)
#else
#define IO_URING_KMBUF_ABI_ASSERT(cond, msg)	_Static_assert(cond, msg)
#endif

IO_URING_KMBUF_ABI_ASSERT(sizeof(struct io_uring_kmbuf_reg) == 40,
			  "io_uring_buf_reg is 40 bytes");
IO_URING_KMBUF_ABI_ASSERT(offsetof(struct io_uring_kmbuf_reg, buf_size) == 0 &&
			  offsetof(struct io_uring_kmbuf_reg, ring_addr) == 0,
			  "the buf_size/ring_addr union is at offset 0");
IO_URING_KMBUF_ABI_ASSERT(offsetof(struct io_uring_kmbuf_reg, ring_entries) == 8 &&
			  offsetof(struct io_uring_kmbuf_reg, bgid) == 12 &&
			  offsetof(struct io_uring_kmbuf_reg, flags) == 14 &&
			  offsetof(struct io_uring_kmbuf_reg, resv) == 16,
			  "io_uring_buf_reg field offsets");
IO_URING_KMBUF_ABI_ASSERT(sizeof(struct io_uring_dmabuf_update) == 32 &&
			  offsetof(struct io_uring_dmabuf_update, flags) == 4 &&
			  offsetof(struct io_uring_dmabuf_update, data) == 8 &&
			  offsetof(struct io_uring_dmabuf_update, tags) == 16 &&
			  offsetof(struct io_uring_dmabuf_update, nr) == 24,
			  "io_uring_rsrc_update2 layout");
IO_URING_KMBUF_ABI_ASSERT(sizeof(struct io_uring_dmabuf_reg) == 16 &&
			  offsetof(struct io_uring_dmabuf_reg, target_fd) == 8 &&
			  offsetof(struct io_uring_dmabuf_reg, dmabuf_fd) == 12,
			  "io_uring_reg_buffer layout");

#undef IO_URING_KMBUF_ABI_ASSERT

#endif /* LIBURING_KMBUF_ABI_H */
