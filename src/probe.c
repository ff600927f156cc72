/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Feature probes, libbpf style: 1 supported, 0 not supported, -errno could
 * not tell. Each probe runs on a private ring, so it cannot disturb the
 * caller's registrations and leaves nothing behind. The kmbuf detection
 * (which generation, if any) lives here; abi.c runs it once and caches it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "lib.h"

/*
 * IORING_REGISTER_QUERY with fd -1: 1 and *nr = nr_register_opcodes, 0
 * if the kernel has no QUERY, or -errno. Before 6.18 opcode 35 is unknown
 * (-EINVAL); a kernel that looks the fd up before the opcode (none since
 * blind opcodes came in 6.13, but older kernels did) says -EBADF for fd -1,
 * which cannot come from a kernel that has QUERY either.
 */
static int kmbuf_query_nr_register(unsigned int *nr)
{
	struct io_uring_kmbuf_query_opcode op = { 0 };
	struct io_uring_kmbuf_query_hdr hdr = {
		.query_data = (__u64)(uintptr_t)&op,
		.query_op = IO_URING_KMBUF_QUERY_OPCODES,
		.size = sizeof(op),
	};
	int ret;

	ret = kmbuf_sys_register(-1, IO_URING_KMBUF_QUERY_OP, &hdr, 0);
	if (ret == -EINVAL || ret == -EBADF)
		return 0;
	if (ret < 0)
		return ret;
	/* a QUERY that does not answer the one question it always had */
	if (ret > 0 || hdr.result ||
	    hdr.size < offsetof(struct io_uring_kmbuf_query_opcode,
				nr_register_opcodes) + sizeof(op.nr_register_opcodes))
		return -EPROTO;
	/* a kernel that answered QUERY counts QUERY among its opcodes */
	if (op.nr_register_opcodes <= IO_URING_KMBUF_QUERY_OP)
		return -EPROTO;
	*nr = op.nr_register_opcodes;
	return 1;
}

/*
 * May generation @gen's opcodes be sent to this kernel at all? Only those
 * whose meaning here is known: with QUERY, no opcode at or above
 * nr_register_opcodes exists, and the kmbuf pair of a generation is only
 * asked where the count matches the base it was posted on:
 * - seed: 38/39 on a base that has BPF_FILTER at 37, so a count of 40 or
 *   more; without QUERY (older kernels, backports, the first testbed)
 *   39 is either the seed's unregister or unknown (-EINVAL);
 * - FUSE series: 37/38 on a base that ended at 36, so exactly 39. Opcode
 *   37 is BPF_FILTER on mainline 7.0 on: without QUERY, or with another
 *   count, neither 37 nor 38 is ever sent;
 * - flag: 22/23 (mainline since 5.19), with a flag no other kernel knows.
 */
static bool kmbuf_gen_may_ask(const struct kmbuf_gen *gen, bool query,
			      unsigned int nr)
{
	switch (gen->abi) {
	case IO_URING_KMBUF_ABI_SEED:
		return !query || nr >= IO_URING_KMBUF_UNREGISTER_OP + 1;
	case IO_URING_KMBUF_ABI_FUSE:
		return query && nr == IO_URING_KMBUF_FUSE_UNREGISTER_OP + 1;
	case IO_URING_KMBUF_ABI_FLAG:
		return !query || nr >= IO_URING_KMBUF_PBUF_UNREGISTER_OP + 1;
	}
	return false;
}

/*
 * Does the kernel speak @gen? 1 yes, 0 no, -errno could not tell.
 * 1. For the generations with opcodes of their own: unregister a bgid
 *    that has no ring. Only a kernel of that generation answers -ENOENT;
 *    one without the opcode answers -EINVAL.
 * 2. A real register of one page-sized buffer at bgid 0, its mmap at the
 *    generation's offset, munmap, unregister: the whole ABI is there. For
 *    the flag generation this is the first question: a kernel without
 *    IOU_PBUF_RING_KERNEL_MANAGED refuses the unknown flag with -EINVAL.
 * Whatever happens, nothing stays registered or mapped.
 */
static int kmbuf_probe_gen(struct io_uring *ring, const struct kmbuf_gen *gen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct io_uring_kmbuf_reg reg = {
		.buf_size = (__u32)page,
		.ring_entries = 1,
	};
	void *bufs;
	int ret, unreg;

	if (gen->unreg_proves) {
		ret = kmbuf_gen_unregister(ring, gen, 0);
		if (ret == -EINVAL)
			return 0;
		if (ret != -ENOENT)
			return ret < 0 ? ret : -EPROTO;
	}

	ret = kmbuf_gen_register(ring, gen, &reg);
	if (ret < 0)
		return ret == -EINVAL ? 0 : ret;
	if (!ret) {
		ret = kmbuf_gen_mmap(ring, gen, 0, page, &bufs);
		if (!ret)
			ret = kmbuf_sys_munmap(bufs, page);
	} else {
		ret = -EPROTO;	/* a register that answers a count */
	}
	unreg = kmbuf_gen_unregister(ring, gen, 0);
	if (!ret)
		ret = unreg;
	if (ret == -EINVAL)
		return 0;
	return ret ? ret : 1;
}

/*
 * The generations in order of precedence. A kernel proven to speak
 * several (only the flag generation can share a kernel with another: the
 * seed and FUSE pairs need different opcode counts) uses the first: the
 * flag generation, the last one posted, needs no opcode whose number a
 * later kernel could give to something else. Asking in this order and
 * stopping at the first "yes" gives the same answer as asking every
 * generation in any order and taking the first in this list that said
 * yes, since no question leaves anything behind for the next one.
 */
static const int kmbuf_precedence[] = {
	IO_URING_KMBUF_ABI_FLAG,
	IO_URING_KMBUF_ABI_SEED,
	IO_URING_KMBUF_ABI_FUSE,
};

int kmbuf_detect(struct io_uring *ring)
{
	unsigned int nr = 0;
	bool query;
	size_t i;
	int ret;

	ret = kmbuf_query_nr_register(&nr);
	if (ret < 0)
		return ret;
	query = ret;
	for (i = 0; i < sizeof(kmbuf_precedence) / sizeof(kmbuf_precedence[0]);
	     i++) {
		const struct kmbuf_gen *gen = kmbuf_gen_of(kmbuf_precedence[i]);

		if (!kmbuf_gen_may_ask(gen, query, nr))
			continue;
		ret = kmbuf_probe_gen(ring, gen);
		if (ret)
			return ret < 0 ? ret : gen->abi;
	}
	return IO_URING_KMBUF_ABI_NONE;
}

int kmbuf_probe_with_ring(int (*probe)(struct io_uring *ring))
{
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(1, &ring, 0);
	if (ret)
		return ret;
	ret = probe(&ring);
	io_uring_queue_exit(&ring);
	return ret;
}

int io_uring_probe_kmbuf(void)
{
	int abi = io_uring_kmbuf_abi();

	return abi < 0 ? abi : abi != IO_URING_KMBUF_ABI_NONE;
}
