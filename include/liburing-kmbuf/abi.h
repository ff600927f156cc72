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
 *
 * The same features come in several generations (doc/abi.md, section 4):
 * the first, "seed", names have no generation in them; the later ones say
 * which generation they belong to (FUSE, PBUF/flag, DESC). Which one the
 * running kernel speaks is found at run time: io_uring_kmbuf_abi() and
 * io_uring_dmabuf_abi() in <liburing-kmbuf.h>.
 */
#ifndef LIBURING_KMBUF_ABI_H
#define LIBURING_KMBUF_ABI_H

#include <stddef.h>
#include <linux/types.h>

/* Kernel-managed buffer rings (seed generation). */
#define IO_URING_KMBUF_REGISTER_OP	38	/* IORING_REGISTER_KMBUF_RING */
#define IO_URING_KMBUF_UNREGISTER_OP	39	/* IORING_UNREGISTER_KMBUF_RING */
#define IO_URING_KMBUF_MAX_ENTRIES	32768

/* Kernel-managed buffer rings, FUSE-series generation: same struct, mmap. */
#define IO_URING_KMBUF_FUSE_REGISTER_OP		37	/* IORING_REGISTER_KMBUF_RING */
#define IO_URING_KMBUF_FUSE_UNREGISTER_OP	38	/* IORING_UNREGISTER_KMBUF_RING */

/*
 * Kernel-managed buffer rings, flag generation: the pbuf ring opcodes with
 * MMAP | KERNEL_MANAGED in io_uring_kmbuf_reg.flags; the buffers are mapped
 * at the pbuf offset (IO_URING_KMBUF_OFF_PBUF_RING).
 */
#define IO_URING_KMBUF_PBUF_REGISTER_OP		22	/* IORING_REGISTER_PBUF_RING */
#define IO_URING_KMBUF_PBUF_UNREGISTER_OP	23	/* IORING_UNREGISTER_PBUF_RING */
#define IO_URING_KMBUF_F_MMAP			1	/* IOU_PBUF_RING_MMAP */
#define IO_URING_KMBUF_F_INC			2	/* IOU_PBUF_RING_INC */
#define IO_URING_KMBUF_F_KERNEL_MANAGED		4	/* IOU_PBUF_RING_KERNEL_MANAGED */

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

/*
 * What the kernel supports (mainline 6.18): opcode 35 with fd -1 and
 * nr_args 0, arg -> a chain of headers. The library reads only
 * nr_register_opcodes: no register opcode from that number up exists.
 */
#define IO_URING_KMBUF_QUERY_OP		35	/* IORING_REGISTER_QUERY */
#define IO_URING_KMBUF_QUERY_OPCODES	0	/* IO_URING_QUERY_OPCODES */

/*
 * struct io_uring_query_hdr. The kernel's __resv and __pad are resv and
 * pad in this header: names starting with __ belong to the implementation.
 */
struct io_uring_kmbuf_query_hdr {
	__u64	next_entry;
	__u64	query_data;
	__u32	query_op;
	__u32	size;
	__s32	result;
	__u32	resv[3];
};

/* struct io_uring_query_opcode: the answer to IO_URING_KMBUF_QUERY_OPCODES */
struct io_uring_kmbuf_query_opcode {
	__u32	nr_request_opcodes;
	__u32	nr_register_opcodes;
	__u64	feature_flags;
	__u64	ring_setup_flags;
	__u64	enter_flags;
	__u64	sqe_flags;
	__u32	nr_query_opcodes;
	__u32	pad;
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

/*
 * dmabuf-backed registered buffers, descriptor generation: the update
 * flag 2 and an array of 80-byte descriptors. EMPTY and UADDR entries
 * take fd 0/0 ("no fd" here), never the seed's -1/-1.
 */
#define IO_URING_DMABUF_F_UPDATE_EXTENDED	2	/* IORING_RSRC_UPDATE_EXTENDED */
#define IO_URING_DMABUF_DESC_EMPTY		0	/* IORING_REGBUF_DESC_EMPTY */
#define IO_URING_DMABUF_DESC_UADDR		1	/* IORING_REGBUF_DESC_UADDR */
#define IO_URING_DMABUF_DESC_DMABUF		2	/* IORING_REGBUF_DESC_DMABUF */

/* struct io_uring_regbuf_desc; note dmabuf_fd before target_fd */
struct io_uring_dmabuf_desc {
	__u32	type;
	__u32	flags;
	__u64	size;
	__u64	uaddr;
	__s32	dmabuf_fd;
	__s32	target_fd;
	__u64	resv[6];
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

IO_URING_KMBUF_ABI_ASSERT(sizeof(struct io_uring_dmabuf_desc) == 80 &&
			  offsetof(struct io_uring_dmabuf_desc, flags) == 4 &&
			  offsetof(struct io_uring_dmabuf_desc, size) == 8 &&
			  offsetof(struct io_uring_dmabuf_desc, uaddr) == 16 &&
			  offsetof(struct io_uring_dmabuf_desc, dmabuf_fd) == 24 &&
			  offsetof(struct io_uring_dmabuf_desc, target_fd) == 28 &&
			  offsetof(struct io_uring_dmabuf_desc, resv) == 32,
			  "io_uring_regbuf_desc layout");
IO_URING_KMBUF_ABI_ASSERT(sizeof(struct io_uring_kmbuf_query_hdr) == 40 &&
			  offsetof(struct io_uring_kmbuf_query_hdr, query_data) == 8 &&
			  offsetof(struct io_uring_kmbuf_query_hdr, query_op) == 16 &&
			  offsetof(struct io_uring_kmbuf_query_hdr, size) == 20 &&
			  offsetof(struct io_uring_kmbuf_query_hdr, result) == 24,
			  "io_uring_query_hdr layout");
IO_URING_KMBUF_ABI_ASSERT(sizeof(struct io_uring_kmbuf_query_opcode) == 48 &&
			  offsetof(struct io_uring_kmbuf_query_opcode, nr_register_opcodes) == 4 &&
			  offsetof(struct io_uring_kmbuf_query_opcode, feature_flags) == 8 &&
			  offsetof(struct io_uring_kmbuf_query_opcode, nr_query_opcodes) == 40,
			  "io_uring_query_opcode layout");

#undef IO_URING_KMBUF_ABI_ASSERT

#endif /* LIBURING_KMBUF_ABI_H */
