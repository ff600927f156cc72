/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* Kernel-managed buffer rings: register, map, and the handle on top. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

/*
 * What io_uring_setup_kmbuf_ring() allocates: the caller sees only the
 * public part, which comes first, so the handle pointer is this one too.
 */
struct kmbuf_handle {
	struct io_uring_kmbuf	kb;
	const struct io_uring	*ring;	/* the ring the buffers belong to */
	const struct kmbuf_gen	*gen;	/* the generation it was set up in */
};

static struct kmbuf_handle *kmbuf_handle_of(struct io_uring_kmbuf *kb)
{
	return (struct kmbuf_handle *)kb;
}

static size_t kmbuf_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static int kmbuf_region_len(unsigned int ring_entries, unsigned int buf_size,
			    size_t *len)
{
	if (__builtin_mul_overflow((size_t)ring_entries, (size_t)buf_size, len))
		return -EINVAL;
	return 0;
}

/*
 * The kernel's registration rules, for the setup helper only: the raw
 * wrapper passes every struct to the kernel, which answers with its own
 * rules. Every generation shares these; only the answer to a page count
 * above UINT_MAX differs (-EINVAL in the seed, -E2BIG in the FUSE series,
 * not stated for the flag generation, whose kernel then answers itself).
 */
static int kmbuf_check_reg(const struct io_uring_kmbuf_reg *reg)
{
	unsigned int entries = reg->ring_entries;
	size_t len;

	if (reg->flags || reg->resv[0] || reg->resv[1] || reg->resv[2])
		return -EINVAL;
	if (!entries || (entries & (entries - 1)) ||
	    entries > IO_URING_KMBUF_MAX_ENTRIES)
		return -EINVAL;
	if (!reg->buf_size || reg->buf_size % kmbuf_page_size())
		return -EINVAL;
	return kmbuf_region_len(entries, reg->buf_size, &len);
}

/* The one rule whose answer depends on the generation. */
static int kmbuf_check_pages(const struct kmbuf_gen *gen,
			     const struct io_uring_kmbuf_reg *reg)
{
	__u64 pages = (__u64)(reg->buf_size / kmbuf_page_size()) *
		      reg->ring_entries;

	return gen->pages_err && pages > UINT_MAX ? gen->pages_err : 0;
}

/*
 * The kernel finds the bgid in mmap offset bits 16..26: bits 27..31 are
 * the mmap type (IORING_OFF_MMAP_MASK), and bgid << 16 reaches them from
 * bgid 2048 on. Such a bgid has no offset of its own (2048 names bgid 0's
 * buffers, 4096 no object), so it can be registered but never mapped.
 */
static int kmbuf_check_mmap_bgid(unsigned short bgid)
{
	if (((__u64)bgid << IO_URING_KMBUF_OFF_SHIFT) &
	    IO_URING_KMBUF_OFF_MMAP_MASK)
		return -EINVAL;
	return 0;
}

int kmbuf_gen_register(struct io_uring *ring, const struct kmbuf_gen *gen,
		       const struct io_uring_kmbuf_reg *reg)
{
	/* the generation's flags go into a copy: the caller's struct is input */
	struct io_uring_kmbuf_reg copy = *reg;

	/*
	 * A caller's flags are 0 in every generation. The flag generation's
	 * own bits, set by the caller, would make a struct the seed refuses
	 * look right here: refuse them as the seed kernel would.
	 */
	if (reg->flags & gen->reg_flags)
		return -EINVAL;
	copy.flags |= gen->reg_flags;
	return kmbuf_do_register(ring, gen->reg_op, &copy, 1);
}

int kmbuf_gen_unregister(struct io_uring *ring, const struct kmbuf_gen *gen,
			 unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg = { .bgid = bgid };

	return kmbuf_do_register(ring, gen->unreg_op, &reg, 1);
}

int kmbuf_gen_mmap(struct io_uring *ring, const struct kmbuf_gen *gen,
		   unsigned short bgid, size_t len, void **bufs)
{
	off_t offset = (off_t)(gen->mmap_base |
			       (__u64)bgid << IO_URING_KMBUF_OFF_SHIFT);

	/* not a kernel rule: no offset can name such a bgid (see above) */
	if (kmbuf_check_mmap_bgid(bgid))
		return -EINVAL;
	/* A registered ring index is no file: mmap needs the real fd. */
	if (ring->ring_fd < 0)
		return -EBADF;
	return kmbuf_sys_mmap(len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_POPULATE, ring->ring_fd,
			      offset, bufs);
}

int io_uring_register_kmbuf_ring(struct io_uring *ring,
				 const struct io_uring_kmbuf_reg *reg,
				 unsigned int flags)
{
	const struct kmbuf_gen *gen;
	int ret;

	/* @flags is the library's own argument: nothing in the kernel reads it */
	if (!ring || !reg || flags)
		return -EINVAL;
	ret = kmbuf_current_gen(&gen);
	if (ret)
		return ret;
	return kmbuf_gen_register(ring, gen, reg);
}

int io_uring_unregister_kmbuf_ring(struct io_uring *ring, unsigned short bgid)
{
	const struct kmbuf_gen *gen;
	int ret;

	if (!ring)
		return -EINVAL;
	ret = kmbuf_current_gen(&gen);
	if (ret)
		return ret;
	return kmbuf_gen_unregister(ring, gen, bgid);
}

int io_uring_mmap_kmbuf(struct io_uring *ring, unsigned short bgid, size_t len,
			void **bufs)
{
	const struct kmbuf_gen *gen;
	int ret;

	if (!ring || !bufs)
		return -EINVAL;
	if (kmbuf_check_mmap_bgid(bgid))
		return -EINVAL;
	if (ring->ring_fd < 0)
		return -EBADF;
	ret = kmbuf_current_gen(&gen);
	if (ret)
		return ret;
	return kmbuf_gen_mmap(ring, gen, bgid, len, bufs);
}

int io_uring_munmap_kmbuf(void *bufs, size_t len)
{
	if (!bufs || !len)
		return -EINVAL;
	return kmbuf_sys_munmap(bufs, len);
}

/* Where the last field this library knows ends: padding follows it. */
#define KMBUF_OPTS_END(field)	(offsetof(struct io_uring_kmbuf_opts, field) + \
				 sizeof(((struct io_uring_kmbuf_opts *)0)->field))
#define KMBUF_OPTS_KNOWN_END	KMBUF_OPTS_END(abi)
/* The struct of 0.1.0's first callers: sz and flags. */
#define KMBUF_OPTS_MIN_SZ	KMBUF_OPTS_END(flags)
/* A field the caller's (older, smaller) struct has; else it reads as 0. */
#define KMBUF_OPTS_GET(opts, field)				\
	((opts) && (opts)->sz >= KMBUF_OPTS_END(field) ? (opts)->field : 0)

/*
 * libbpf-style extensible options: an older caller passes a smaller sz, a
 * newer caller's fields that this library does not know must be zero.
 * The check starts at the end of the last known field, not at sizeof:
 * the padding after it is exactly where a newer field would go.
 */
static int kmbuf_check_opts(const struct io_uring_kmbuf_opts *opts)
{
	const unsigned char *p;
	size_t i;
	int abi;

	if (!opts)
		return 0;
	if (opts->sz < KMBUF_OPTS_MIN_SZ)
		return -EINVAL;
	p = (const unsigned char *)opts;
	for (i = KMBUF_OPTS_KNOWN_END; i < opts->sz; i++)
		if (p[i])
			return -E2BIG;
	if (opts->flags)
		return -EINVAL;
	abi = KMBUF_OPTS_GET(opts, abi);
	/* 0 is "the process's generation"; forcing "none" makes no ring */
	if (abi && !kmbuf_gen_of(abi))
		return -EINVAL;
	return 0;
}

/* The generation of one setup: the caller's choice, else the process's. */
static int kmbuf_setup_gen(const struct io_uring_kmbuf_opts *opts,
			   const struct kmbuf_gen **gen)
{
	int abi = KMBUF_OPTS_GET(opts, abi);

	if (abi) {
		*gen = kmbuf_gen_of(abi);
		return 0;
	}
	return kmbuf_current_gen(gen);
}

int io_uring_setup_kmbuf_ring(struct io_uring *ring, unsigned int ring_entries,
			      unsigned int buf_size, unsigned short bgid,
			      const struct io_uring_kmbuf_opts *opts,
			      struct io_uring_kmbuf **kbp)
{
	struct io_uring_kmbuf_reg reg = {
		.buf_size = buf_size,
		.ring_entries = ring_entries,
		.bgid = bgid,
	};
	const struct kmbuf_gen *gen;
	struct kmbuf_handle *h;
	struct io_uring_kmbuf *kb;
	int ret;

	if (!ring || !kbp)
		return -EINVAL;
	ret = kmbuf_check_opts(opts);
	if (!ret)
		ret = kmbuf_check_reg(&reg);
	if (!ret)
		ret = kmbuf_check_mmap_bgid(bgid);
	if (ret)
		return ret;
	/* Refuse up front what could be registered but never mapped. */
	if (ring->ring_fd < 0)
		return -EBADF;
	/* only now the kernel may be asked which generation it speaks */
	ret = kmbuf_setup_gen(opts, &gen);
	if (!ret)
		ret = kmbuf_check_pages(gen, &reg);
	if (ret)
		return ret;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ring = ring;
	h->gen = gen;
	kb = &h->kb;
	kb->buf_size = buf_size;
	kb->ring_entries = ring_entries;
	kb->bgid = bgid;
	kb->len = (size_t)ring_entries * buf_size;

	ret = kmbuf_gen_register(ring, gen, &reg);
	if (ret)
		goto err_free;
	ret = kmbuf_gen_mmap(ring, gen, bgid, kb->len, &kb->bufs);
	if (ret)
		goto err_unregister;
	*kbp = kb;
	return 0;

err_unregister:
	kmbuf_gen_unregister(ring, gen, bgid);
err_free:
	free(h);
	return ret;
}

int io_uring_free_kmbuf_ring(struct io_uring *ring, struct io_uring_kmbuf *kb)
{
	int ret;

	if (!ring || !kb)
		return -EINVAL;
	/* Another ring's bgid is not ours to unregister, nor our mapping to drop. */
	if (kmbuf_handle_of(kb)->ring != ring)
		return -EINVAL;
	/*
	 * Unregister first, as liburing's io_uring_free_buf_ring() does. If
	 * the kernel refuses (-EBUSY: a consumer pinned the ring), nothing has
	 * changed: the buffers stay mapped where they were, so pointers that
	 * other threads hold into them stay valid, and the call can be retried.
	 */
	/* the handle's own generation: a force since setup does not apply */
	ret = kmbuf_gen_unregister(ring, kmbuf_handle_of(kb)->gen, kb->bgid);
	if (ret)
		return ret;
	/*
	 * From here the kernel never touches the pages again and the handle
	 * owns nothing in it; munmap of the mapping setup made cannot fail.
	 */
	io_uring_free_kmbuf_handle(kb);
	return 0;
}

void io_uring_free_kmbuf_handle(struct io_uring_kmbuf *kb)
{
	if (!kb)
		return;
	io_uring_munmap_kmbuf(kb->bufs, kb->len);
	free(kmbuf_handle_of(kb));
}
