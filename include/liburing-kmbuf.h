/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * liburing-kmbuf: liburing extensions for kernel-managed buffer rings
 * (kmbuf) and dmabuf-backed registered buffers.
 *
 * Every function returns 0 (or a documented non-negative value) on success
 * and -errno on failure; errno is never the channel, and nothing prints or
 * aborts. Caller-owned input structs are never modified.
 *
 * Like <liburing.h>, this needs declarations that strict ISO modes hide
 * (sigset_t, cpu_set_t, AT_FDCWD): include it before any other header,
 * so that liburing.h's own _GNU_SOURCE takes effect, or build with
 * -D_GNU_SOURCE (or a gnu* -std).
 */
#ifndef LIBURING_KMBUF_H
#define LIBURING_KMBUF_H

/* first: its feature macros must come before any other system header */
#include <liburing.h>
#include <errno.h>
#include <stddef.h>
#include <liburing-kmbuf/abi.h>
#include <liburing-kmbuf/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Helpers of this header alone, #undef'd at its end. */
#define LIBURING_KMBUF_API __attribute__((visibility("default")))
#ifdef __cplusplus
#define LIBURING_KMBUF_CAST(type, expr)	static_cast<type>(expr)
#define LIBURING_KMBUF_NULL		nullptr
#else
#define LIBURING_KMBUF_CAST(type, expr)	((type)(expr))
#define LIBURING_KMBUF_NULL		NULL
#endif

/*
 * ABI generations. The kernels that carry these features speak one of
 * several generations of each ABI (liburing-kmbuf(7)); every call below
 * works on all of them. The library finds out which one the running kernel
 * speaks the first time it needs to (once per process, on a private ring,
 * leaving nothing behind), unless a generation was forced.
 */
#define IO_URING_KMBUF_ABI_NONE		0	/* the kernel has no kmbuf rings */
#define IO_URING_KMBUF_ABI_SEED		1	/* opcodes 38/39, mmap 0x88000000 */
#define IO_URING_KMBUF_ABI_FUSE		2	/* opcodes 37/38, mmap 0x88000000 */
#define IO_URING_KMBUF_ABI_FLAG		3	/* 22/23 + MMAP|KERNEL_MANAGED, mmap 0x80000000 */
/* io_uring_kmbuf_force_abi(): back to detection */
#define IO_URING_KMBUF_ABI_DETECT	(-1)

#define IO_URING_DMABUF_ABI_NONE	0	/* the kernel has no dmabuf slots */
#define IO_URING_DMABUF_ABI_SEED	1	/* update flag 1, struct io_uring_dmabuf_reg */
#define IO_URING_DMABUF_ABI_DESC	2	/* update flag 2, struct io_uring_dmabuf_desc */
/* io_uring_dmabuf_force_abi(): back to detection */
#define IO_URING_DMABUF_ABI_DETECT	(-1)

/*
 * The kmbuf generation in use: IO_URING_KMBUF_ABI_*, or -errno when the
 * kernel could not be asked (not cached: the next call asks again).
 */
LIBURING_KMBUF_API int io_uring_kmbuf_abi(void);
/*
 * Use generation @abi from now on, in every thread, without asking the
 * kernel; IO_URING_KMBUF_ABI_DETECT goes back to the detected one.
 */
LIBURING_KMBUF_API int io_uring_kmbuf_force_abi(int abi);
/* The dmabuf generation in use: IO_URING_DMABUF_ABI_*, or -errno. */
LIBURING_KMBUF_API int io_uring_dmabuf_abi(void);
/* As io_uring_kmbuf_force_abi(), for dmabuf slots. */
LIBURING_KMBUF_API int io_uring_dmabuf_force_abi(int abi);

/*
 * Kernel-managed buffer rings: raw wrappers, one per kernel operation,
 * in the generation io_uring_kmbuf_abi() names.
 */

/* Register a kmbuf ring described by @reg; @flags is reserved (0). */
LIBURING_KMBUF_API int io_uring_register_kmbuf_ring(struct io_uring *ring,
					const struct io_uring_kmbuf_reg *reg,
					unsigned int flags);
/* Unregister the kmbuf ring at @bgid. */
LIBURING_KMBUF_API int io_uring_unregister_kmbuf_ring(struct io_uring *ring,
						      unsigned short bgid);
/*
 * Map @len bytes (ring_entries * buf_size) of the buffers of @bgid. Only
 * bgids below 2048 have an mmap offset of their own (-EINVAL otherwise).
 */
LIBURING_KMBUF_API int io_uring_mmap_kmbuf(struct io_uring *ring,
					   unsigned short bgid, size_t len,
					   void **bufs);
/* Unmap what io_uring_mmap_kmbuf() mapped. */
LIBURING_KMBUF_API int io_uring_munmap_kmbuf(void *bufs, size_t len);

/*
 * Kernel-managed buffer rings: a handle that owns a registration and its
 * mapping. The fields are for reading; io_uring_free_kmbuf_ring() frees it
 * (io_uring_free_kmbuf_handle() once the ring is gone).
 */
struct io_uring_kmbuf {
	void		*bufs;		/* bid i is at bufs + i * buf_size */
	size_t		len;		/* ring_entries * buf_size */
	unsigned int	buf_size;
	unsigned int	ring_entries;
	unsigned short	bgid;
};

/*
 * Options of io_uring_setup_kmbuf_ring(), extensible: memset() the whole
 * struct, set sz to sizeof(struct io_uring_kmbuf_opts), or pass NULL. A
 * library that does not know a non-zero field fails with -E2BIG; it checks
 * from the end of flags on, so the padding must be zero too.
 */
struct io_uring_kmbuf_opts {
	size_t		sz;
	unsigned int	flags;		/* reserved, must be 0 */
	/*
	 * 0: the process's generation (io_uring_kmbuf_abi()); else the
	 * IO_URING_KMBUF_ABI_* this ring uses, for setup and free alike.
	 */
	int		abi;
	size_t		:0;		/* the padding up to here is checked */
};

LIBURING_KMBUF_API int io_uring_setup_kmbuf_ring(struct io_uring *ring,
					unsigned int ring_entries,
					unsigned int buf_size,
					unsigned short bgid,
					const struct io_uring_kmbuf_opts *opts,
					struct io_uring_kmbuf **kbp);
/*
 * Unregister the ring, then unmap and free @kb: 0 when freed; on -errno
 * (-EBUSY: pinned) nothing changed. @ring must be the ring of the setup.
 */
LIBURING_KMBUF_API int io_uring_free_kmbuf_ring(struct io_uring *ring,
						struct io_uring_kmbuf *kb);
/*
 * Unmap and free @kb without a word to its ring (after io_uring_queue_exit(),
 * or in a forked child); NULL-safe. A ring still open stays registered.
 */
LIBURING_KMBUF_API void io_uring_free_kmbuf_handle(struct io_uring_kmbuf *kb);

/*
 * Does the running kernel support kmbuf rings? 1 yes, 0 no, -errno when
 * it could not tell (io_uring unavailable, not permitted, no memory).
 * Uses a private ring and leaves nothing registered or mapped.
 */
LIBURING_KMBUF_API int io_uring_probe_kmbuf(void);

/* Hot-path helpers: pure arithmetic on the handle and the CQE. */

/* Address of buffer @bid of @kb, or NULL if @bid is not in the ring. */
static inline void *io_uring_kmbuf_addr(const struct io_uring_kmbuf *kb,
					unsigned int bid)
{
	if (bid >= kb->ring_entries || !kb->bufs)
		return LIBURING_KMBUF_NULL;
	return LIBURING_KMBUF_CAST(char *, kb->bufs) +
	       LIBURING_KMBUF_CAST(size_t, bid) * kb->buf_size;
}

/* Buffer id a CQE names, or -ENOBUFS if it carries no buffer. */
static inline int io_uring_kmbuf_cqe_bid(const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return -ENOBUFS;
	return LIBURING_KMBUF_CAST(int, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

/*
 * Locate the data a CQE delivered into @kb: the buffer id, with *addr and
 * *len set. Fails with cqe->res if the request failed, -ENOBUFS if the CQE
 * carries no buffer, -ERANGE if the bid or length does not fit @kb.
 */
static inline int io_uring_kmbuf_cqe_buf(const struct io_uring_kmbuf *kb,
					 const struct io_uring_cqe *cqe,
					 void **addr, unsigned int *len)
{
	/* not io_uring_kmbuf_cqe_bid(): its int costs gcc two moves here */
	unsigned int bid;

	if (cqe->res < 0)
		return cqe->res;
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return -ENOBUFS;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (bid >= kb->ring_entries ||
	    LIBURING_KMBUF_CAST(unsigned int, cqe->res) > kb->buf_size ||
	    !kb->bufs)
		return -ERANGE;
	*addr = LIBURING_KMBUF_CAST(char *, kb->bufs) +
		LIBURING_KMBUF_CAST(size_t, bid) * kb->buf_size;
	*len = LIBURING_KMBUF_CAST(unsigned int, cqe->res);
	return LIBURING_KMBUF_CAST(int, bid);
}

/* Visit every buffer of @kb: @bid (unsigned int) and @addr (void *). */
#define io_uring_for_each_kmbuf(kb, bid, addr)				\
	for ((bid) = 0;							\
	     (bid) < (kb)->ring_entries &&				\
	     ((addr) = io_uring_kmbuf_addr((kb), (bid)));		\
	     (bid)++)

/*
 * dmabuf-backed registered buffers.
 */

/* Create a sparse registered-buffer table of @nr slots for dmabuf use. */
LIBURING_KMBUF_API int io_uring_register_dmabuf_table(struct io_uring *ring,
						      unsigned int nr);
/*
 * Back fixed-buffer slot @index with the whole dma-buf @dmabuf_fd, for
 * READ_FIXED / WRITE_FIXED on @target_fd (sqe->addr is then an offset into
 * the dma-buf). Replaces what the slot held. 0 (the kernel's count of 1)
 * or -errno; negative fds are -EBADF before any syscall.
 */
LIBURING_KMBUF_API int io_uring_register_dmabuf_buffer(struct io_uring *ring,
						       unsigned int index,
						       int target_fd,
						       int dmabuf_fd);
/* Empty slot @index; the dma-buf is released when in-flight I/O ends. */
LIBURING_KMBUF_API int io_uring_unregister_dmabuf_buffer(struct io_uring *ring,
							 unsigned int index);
/* What one entry of io_uring_update_dmabuf_buffers() puts in its slot. */
#define IO_URING_DMABUF_ENTRY_EMPTY	0	/* nothing: clear the slot */
#define IO_URING_DMABUF_ENTRY_DMABUF	1	/* the whole dma-buf dmabuf_fd */
#define IO_URING_DMABUF_ENTRY_USER	2	/* len bytes of user memory at addr */

/*
 * One slot of a batch update. The kind says what goes in; fields the kind
 * does not use must be 0 (fds included: 0 is a valid fd, the library
 * writes each generation's own "no fd" value itself).
 */
struct io_uring_dmabuf_entry {
	unsigned int	kind;		/* IO_URING_DMABUF_ENTRY_* */
	int		target_fd;	/* DMABUF: the file the slot serves */
	int		dmabuf_fd;	/* DMABUF: the dma-buf */
	unsigned int	flags;		/* reserved, must be 0 */
	void		*addr;		/* USER */
	size_t		len;		/* USER */
};

/*
 * Update slots @off .. @off + @nr - 1 from @entries in one system call,
 * with optional @tags (NULL, or @nr of them; 0 is no tag): the number of
 * entries applied, which stops short at the first one the kernel refused,
 * or -errno when none was.
 */
LIBURING_KMBUF_API int io_uring_update_dmabuf_buffers(struct io_uring *ring,
				unsigned int off,
				const struct io_uring_dmabuf_entry *entries,
				const __u64 *tags, unsigned int nr);
/* Does the running kernel support dmabuf slots? 1, 0 or -errno. */
LIBURING_KMBUF_API int io_uring_probe_dmabuf(void);

/*
 * A dma-buf made from CPU memory with udmabuf, and its CPU mapping. The
 * library allocates it (callers only read it), so it may grow at the end.
 */
struct io_uring_udmabuf {
	int	dmabuf_fd;
	int	memfd;
	void	*addr;		/* CPU view of the whole buffer */
	size_t	size;
	size_t	page_size;	/* of the memory behind it: base or huge pages */
};

/*
 * Allocate @size bytes (a page multiple) of memfd memory, export it as a
 * dma-buf through /dev/udmabuf and map it: 0, or -errno with nothing left
 * behind; -ENOENT means udmabuf is not available.
 */
LIBURING_KMBUF_API int io_uring_udmabuf_alloc(size_t size,
					      struct io_uring_udmabuf **ubp);

/* Flags of io_uring_udmabuf_alloc_flags(). */
#define IO_URING_UDMABUF_HUGETLB	(1U << 0)	/* huge pages (MFD_HUGETLB) */
#define IO_URING_UDMABUF_FALLBACK	(1U << 1)	/* with HUGETLB: else base pages */
/*
 * With HUGETLB, a huge page size other than the default, as log2 in the
 * bits memfd_create(2) uses (the values of MFD_HUGE_2MB, MFD_HUGE_1GB).
 */
#define IO_URING_UDMABUF_HUGE_SHIFT	26
#define IO_URING_UDMABUF_HUGE_MASK	0x3fU
#define IO_URING_UDMABUF_HUGE_2MB	(21U << IO_URING_UDMABUF_HUGE_SHIFT)
#define IO_URING_UDMABUF_HUGE_1GB	(30U << IO_URING_UDMABUF_HUGE_SHIFT)

/*
 * As io_uring_udmabuf_alloc(), with IO_URING_UDMABUF_* @flags (0: the
 * same). HUGETLB: @size must be a multiple of the huge page size
 * (-EINVAL), the pages are allocated up front (-ENOSPC: not enough free
 * huge pages); FALLBACK: on any failure of that, base pages instead.
 * (*ubp)->page_size says which it got.
 */
LIBURING_KMBUF_API int io_uring_udmabuf_alloc_flags(size_t size,
					unsigned int flags,
					struct io_uring_udmabuf **ubp);
/* Unmap, close both fds and free; NULL-safe. Slots keep their dma-buf. */
LIBURING_KMBUF_API void io_uring_udmabuf_free(struct io_uring_udmabuf *ub);

/* Directions of CPU access to a dma-buf (the kernel's DMA_BUF_SYNC_* values). */
#define IO_URING_DMABUF_SYNC_READ	(1U << 0)
#define IO_URING_DMABUF_SYNC_WRITE	(1U << 1)
#define IO_URING_DMABUF_SYNC_RW		(IO_URING_DMABUF_SYNC_READ | \
					 IO_URING_DMABUF_SYNC_WRITE)

/*
 * Bracket CPU access to any dma-buf (DMA_BUF_IOCTL_SYNC): begin waits for
 * the device's pending writes (or reads, for WRITE) and makes the memory
 * coherent for the CPU, end hands it back; @flags, the same for both, is
 * READ, WRITE or RW. -EINTR when a signal interrupted the wait (not
 * retried: call again).
 */
LIBURING_KMBUF_API int io_uring_dmabuf_sync_begin(int dmabuf_fd,
						  unsigned int flags);
LIBURING_KMBUF_API int io_uring_dmabuf_sync_end(int dmabuf_fd,
						unsigned int flags);

#undef LIBURING_KMBUF_API
#undef LIBURING_KMBUF_CAST
#undef LIBURING_KMBUF_NULL

#ifdef __cplusplus
}
#endif

#endif /* LIBURING_KMBUF_H */
