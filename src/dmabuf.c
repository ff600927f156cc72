/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * dmabuf-backed registered buffers: the sparse table, one slot or a batch
 * in either generation, and the detection.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lib.h"

int io_uring_register_dmabuf_table(struct io_uring *ring, unsigned int nr)
{
	struct io_uring_rsrc_register reg = {
		.nr = nr,
		.flags = IORING_RSRC_REGISTER_SPARSE,
	};

	if (!ring || !nr)
		return -EINVAL;
	/*
	 * Not io_uring_register_buffers_sparse(): older liburing calls it on
	 * ring->ring_fd, which is -1 once only the registered index is left.
	 */
	return kmbuf_do_register(ring, IORING_REGISTER_BUFFERS2, &reg,
				 sizeof(reg));
}

/* Fields a kind does not use are zero, so that a later kind can use them. */
static int dmabuf_check_entry(const struct io_uring_dmabuf_entry *e,
			      __u64 tag)
{
	if (e->flags)
		return -EINVAL;
	switch (e->kind) {
	case IO_URING_DMABUF_ENTRY_EMPTY:
		/* a tag says when a buffer is released: an empty slot has none */
		if (e->target_fd || e->dmabuf_fd || e->addr || e->len || tag)
			return -EINVAL;
		return 0;
	case IO_URING_DMABUF_ENTRY_DMABUF:
		if (e->addr || e->len)
			return -EINVAL;
		/* -1/-1 would quietly make an empty user-memory slot instead */
		if (e->target_fd < 0 || e->dmabuf_fd < 0)
			return -EBADF;
		return 0;
	case IO_URING_DMABUF_ENTRY_USER:
		if (e->target_fd || e->dmabuf_fd)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

/*
 * The seed's entry: a struct io_uring_dmabuf_reg pointing at an iovec.
 * "No fd" is -1/-1 here; the dma-buf path wants the iovec empty.
 */
static void dmabuf_encode_seed(void *dst, struct iovec *iov,
			       const struct io_uring_dmabuf_entry *e)
{
	struct io_uring_dmabuf_reg *reg = dst;

	iov->iov_base = e->kind == IO_URING_DMABUF_ENTRY_USER ? e->addr : NULL;
	iov->iov_len = e->kind == IO_URING_DMABUF_ENTRY_USER ? e->len : 0;
	reg->iov_uaddr = (__u64)(uintptr_t)iov;
	if (e->kind == IO_URING_DMABUF_ENTRY_DMABUF) {
		reg->target_fd = e->target_fd;
		reg->dmabuf_fd = e->dmabuf_fd;
	} else {
		reg->target_fd = IO_URING_DMABUF_NO_FD;
		reg->dmabuf_fd = IO_URING_DMABUF_NO_FD;
	}
}

/* The descriptor generation's entry: "no fd" is 0/0 here, never -1. */
static void dmabuf_encode_desc(void *dst, const struct io_uring_dmabuf_entry *e)
{
	struct io_uring_dmabuf_desc *d = dst;

	switch (e->kind) {
	case IO_URING_DMABUF_ENTRY_DMABUF:
		d->type = IO_URING_DMABUF_DESC_DMABUF;
		d->dmabuf_fd = e->dmabuf_fd;
		d->target_fd = e->target_fd;
		break;
	case IO_URING_DMABUF_ENTRY_USER:
		d->type = IO_URING_DMABUF_DESC_UADDR;
		d->uaddr = (__u64)(uintptr_t)e->addr;
		d->size = e->len;
		break;
	default:
		d->type = IO_URING_DMABUF_DESC_EMPTY;
		break;
	}
}

int dmabuf_gen_update(struct io_uring *ring, const struct dmabuf_gen *gen,
		      unsigned int off,
		      const struct io_uring_dmabuf_entry *entries,
		      const __u64 *tags, unsigned int nr)
{
	struct io_uring_dmabuf_update up = {
		.offset = off,
		.flags = gen->update_flag,
		.tags = (__u64)(uintptr_t)tags,
		.nr = nr,
	};
	size_t per = gen->entry_size;
	unsigned char *buf;
	struct iovec *iovs = NULL;
	unsigned int i;
	int ret;

	if (gen->abi == IO_URING_DMABUF_ABI_SEED)
		per += sizeof(struct iovec);
	if (nr > SIZE_MAX / per)
		return -ENOMEM;
	/* zeroed: the descriptors' flags and resv must be 0 */
	buf = calloc(nr, per);
	if (!buf)
		return -ENOMEM;
	if (gen->abi == IO_URING_DMABUF_ABI_SEED)
		iovs = (struct iovec *)(buf + (size_t)nr * gen->entry_size);
	for (i = 0; i < nr; i++) {
		void *dst = buf + (size_t)i * gen->entry_size;

		if (iovs)
			dmabuf_encode_seed(dst, &iovs[i], &entries[i]);
		else
			dmabuf_encode_desc(dst, &entries[i]);
	}
	up.data = (__u64)(uintptr_t)buf;
	ret = kmbuf_do_register(ring, IO_URING_DMABUF_UPDATE_OP, &up,
				sizeof(up));
	free(buf);
	return ret;
}

int io_uring_update_dmabuf_buffers(struct io_uring *ring, unsigned int off,
				   const struct io_uring_dmabuf_entry *entries,
				   const __u64 *tags, unsigned int nr)
{
	const struct dmabuf_gen *gen;
	unsigned int i;
	int ret;

	if (!ring || !entries || !nr || nr > INT_MAX)
		return -EINVAL;
	/* the whole batch is checked before the kernel sees any of it */
	for (i = 0; i < nr; i++) {
		ret = dmabuf_check_entry(&entries[i], tags ? tags[i] : 0);
		if (ret)
			return ret;
	}
	ret = dmabuf_current_gen(&gen);
	if (ret)
		return ret;
	return dmabuf_gen_update(ring, gen, off, entries, tags, nr);
}

/* The kernel answers an update with the number of entries it took. */
static int dmabuf_update_result(int ret)
{
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -EPROTO;
}

int io_uring_register_dmabuf_buffer(struct io_uring *ring, unsigned int index,
				    int target_fd, int dmabuf_fd)
{
	const struct io_uring_dmabuf_entry e = {
		.kind = IO_URING_DMABUF_ENTRY_DMABUF,
		.target_fd = target_fd,
		.dmabuf_fd = dmabuf_fd,
	};

	if (!ring)
		return -EINVAL;
	if (target_fd < 0 || dmabuf_fd < 0)
		return -EBADF;
	return dmabuf_update_result(io_uring_update_dmabuf_buffers(ring, index,
								   &e, NULL, 1));
}

int io_uring_unregister_dmabuf_buffer(struct io_uring *ring, unsigned int index)
{
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	struct io_uring_dmabuf_update up = {
		.offset = index,
		.data = (__u64)(uintptr_t)&iov,
		.nr = 1,
	};

	if (!ring)
		return -EINVAL;
	/*
	 * Not the generation's EMPTY entry: a plain update (no flag) with an
	 * empty iovec is mainline's own way to empty a slot, which every
	 * generation keeps, whatever the slot held. It needs no detection,
	 * so it works even where detecting is not possible.
	 */
	return dmabuf_update_result(kmbuf_do_register(ring,
					IO_URING_DMABUF_UPDATE_OP, &up,
					sizeof(up)));
}

/* One entry of generation @gen at slot 0: the kernel's answer, raw. */
static int dmabuf_probe_update(struct io_uring *ring,
			       const struct dmabuf_gen *gen,
			       const struct io_uring_dmabuf_entry *e)
{
	return dmabuf_gen_update(ring, gen, 0, e, NULL, 1);
}

/*
 * Does the kernel speak @gen? 1, 0 or -errno; on a one-slot sparse table.
 * 1. An entry that empties the slot, with the generation's update flag:
 *    answered 1 only by a kernel that knows the flag; the others refuse
 *    an unknown flag with -EINVAL (each generation's flag is unknown to
 *    the other, and to mainline).
 * 2. A dma-buf entry the kernel must refuse, to see that the dma-buf path
 *    is there:
 *    - seed: target the ring itself, dma-buf -1 (as 0.1 always did). A
 *      kernel with the path says -EBADF (no such dma-buf fd) or
 *      -EOPNOTSUPP (a target without dma-buf I/O), whichever it checks
 *      first; -EINVAL means the flag is known but not the path.
 *    - descriptor: the ring fd as both target and dma-buf, the series
 *      author's own invalid case. Step 1 already proved flag 2 and the
 *      80-byte layout, which only this generation has; here -EINVAL (not
 *      a dma-buf), -EOPNOTSUPP (a target without dma-buf I/O) and -EBADF
 *      all prove the DMABUF type is read and checked. Success would mean
 *      the kernel took the ring for a dma-buf: -EPROTO.
 */
static int dmabuf_probe_gen(struct io_uring *ring, const struct dmabuf_gen *gen)
{
	const struct io_uring_dmabuf_entry empty = {
		.kind = IO_URING_DMABUF_ENTRY_EMPTY,
	};
	struct io_uring_dmabuf_entry bad = {
		.kind = IO_URING_DMABUF_ENTRY_DMABUF,
		.target_fd = ring->ring_fd,
	};
	int ret;

	ret = dmabuf_probe_update(ring, gen, &empty);
	if (ret == -EINVAL)
		return 0;
	if (ret != 1)
		return ret < 0 ? ret : -EPROTO;

	if (gen->abi == IO_URING_DMABUF_ABI_SEED) {
		/* the library's entries never carry -1: build this one raw */
		struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
		struct io_uring_dmabuf_reg reg = {
			.iov_uaddr = (__u64)(uintptr_t)&iov,
			.target_fd = ring->ring_fd,
			.dmabuf_fd = IO_URING_DMABUF_NO_FD,
		};
		struct io_uring_dmabuf_update up = {
			.flags = gen->update_flag,
			.data = (__u64)(uintptr_t)&reg,
			.nr = 1,
		};

		ret = kmbuf_do_register(ring, IO_URING_DMABUF_UPDATE_OP, &up,
					sizeof(up));
		if (ret == -EBADF || ret == -EOPNOTSUPP)
			return 1;
	} else {
		bad.dmabuf_fd = ring->ring_fd;
		ret = dmabuf_probe_update(ring, gen, &bad);
		if (ret == -EINVAL || ret == -EBADF || ret == -EOPNOTSUPP)
			return 1;
	}
	if (ret == -EINVAL)
		return 0;
	return ret < 0 ? ret : -EPROTO;
}

/*
 * Precedence, as for kmbuf (probe.c): a kernel that took both flags would
 * use the descriptors, the later posting. Each question leaves the slot
 * empty, so the order changes nothing else.
 */
static const int dmabuf_precedence[] = {
	IO_URING_DMABUF_ABI_DESC,
	IO_URING_DMABUF_ABI_SEED,
};

int dmabuf_detect(struct io_uring *ring)
{
	size_t i;
	int ret;

	/*
	 * Opcodes 15 and 16 exist since 5.13, with the same meaning on every
	 * kernel: no QUERY is needed to send them.
	 */
	ret = io_uring_register_dmabuf_table(ring, 1);
	if (ret == -EINVAL)
		return IO_URING_DMABUF_ABI_NONE;	/* no sparse tables (< 5.19) */
	if (ret)
		return ret;
	for (i = 0; i < sizeof(dmabuf_precedence) / sizeof(dmabuf_precedence[0]);
	     i++) {
		const struct dmabuf_gen *gen = dmabuf_gen_of(dmabuf_precedence[i]);

		ret = dmabuf_probe_gen(ring, gen);
		if (ret)
			return ret < 0 ? ret : gen->abi;
	}
	return IO_URING_DMABUF_ABI_NONE;
}

int io_uring_probe_dmabuf(void)
{
	int abi = io_uring_dmabuf_abi();

	return abi < 0 ? abi : abi != IO_URING_DMABUF_ABI_NONE;
}
