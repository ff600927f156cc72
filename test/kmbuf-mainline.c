/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * What the series must not change: mainline behaviour that liburing users
 * rely on, on the same kernel that has the kmbuf ABI.
 *  - register opcodes that the running generation leaves unassigned (of
 *    31..39: 31..34, 36 and 37 in the seed, 36 and 39 in the FUSE-series
 *    generation, all but 35 in the flag generation) are -EINVAL for any
 *    fd, -1 included: probes pass fd -1 and read -EINVAL as "no such
 *    opcode", -EBADF would say it exists;
 *  - IORING_REGISTER_QUERY (35) answers with fd -1, as mainline 6.18 does,
 *    and counts the register opcodes of the running generation;
 *  - mmap failures on the existing offsets stay -ENOMEM (the SQ ring of an
 *    IORING_SETUP_NO_MMAP ring, a missing pbuf group, an unknown offset);
 *  - IORING_UNREGISTER_PBUF_RING ignores min_left, as it always has.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"

/* 6.12 numbering; not all in liburing 2.3's header */
#define T_SETUP_NO_MMAP			(1U << 14)

/* struct io_uring_query_hdr and struct io_uring_query_opcode (6.18) */
struct t_query_hdr {
	__u64	next_entry;
	__u64	query_data;
	__u32	query_op;
	__u32	size;
	__s32	result;
	__u32	resv[3];
};

struct t_query_opcode {
	__u32	nr_request_opcodes;
	__u32	nr_register_opcodes;
	__u64	feature_flags;
	__u64	ring_setup_flags;
	__u64	enter_flags;
	__u64	sqe_flags;
	__u32	nr_query_opcodes;
	__u32	pad;
};

_Static_assert(sizeof(struct t_query_hdr) == 40, "io_uring_query_hdr");
_Static_assert(sizeof(struct t_query_opcode) == 48, "io_uring_query_opcode");

static void test_unassigned_opcodes(int ring_fd)
{
	const struct t_kmbuf_gen *g = t_kmbuf_gen();
	unsigned int op, nr = 0;
	char what[64];

	for (op = T_REGISTER_CLONE_BUFFERS + 1; op <= 45; op++) {
		if (t_register_op_exists(op))
			continue;
		snprintf(what, sizeof(what), "opcode %u with fd -1", op);
		t_expect(what, t_sys_register(-1, op, NULL, 0), -EINVAL);
		snprintf(what, sizeof(what), "opcode %u on a ring", op);
		t_expect(what, t_sys_register(ring_fd, op, NULL, 0), -EINVAL);
		nr++;
	}
	printf("%u unassigned opcodes of 31..45 in kmbuf.abi=%s\n", nr, g->name);
	/* an opcode that exists looks the fd up first */
	t_expect("kmbuf register with fd -1",
		 t_sys_register(-1, g->reg_op, NULL, 0), -EBADF);
	t_expect("kmbuf unregister with fd -1",
		 t_sys_register(-1, g->unreg_op, NULL, 0), -EBADF);
	t_expect("opcode past the end with fd -1", t_sys_register(-1, 200, NULL, 0),
		 -EINVAL);
}

static int query_opcodes(int fd, struct t_query_opcode *op)
{
	struct t_query_hdr hdr;
	int ret;

	memset(&hdr, 0, sizeof(hdr));
	memset(op, 0xa5, sizeof(*op));
	hdr.query_data = (__u64)(uintptr_t)op;
	hdr.query_op = 0;	/* IO_URING_QUERY_OPCODES */
	hdr.size = sizeof(*op);
	ret = t_sys_register(fd, T_REGISTER_QUERY, &hdr, 0);
	if (ret)
		return ret;
	if (hdr.result)
		return hdr.result;
	if (hdr.size != sizeof(*op))
		t_fail("query: size %u, expected %zu", hdr.size, sizeof(*op));
	return 0;
}

/* IORING_REGISTER_QUERY: the running generation's count of register opcodes. */
static void test_query(int ring_fd)
{
	const struct t_kmbuf_gen *g = t_kmbuf_gen();
	struct t_query_opcode op;
	int ret;

	if (!g->nr_register_opcodes) {
		/* the testbed before the switch had no QUERY (checked above) */
		printf("note: a kernel without the generation switch has no IORING_REGISTER_QUERY\n");
		return;
	}
	ret = query_opcodes(-1, &op);
	if (t_expect("IORING_REGISTER_QUERY with fd -1", ret, 0))
		t_expect("nr_register_opcodes", op.nr_register_opcodes,
			 g->nr_register_opcodes);
	ret = query_opcodes(ring_fd, &op);
	if (t_expect("IORING_REGISTER_QUERY on a ring", ret, 0))
		t_expect("nr_register_opcodes (ring)", op.nr_register_opcodes,
			 g->nr_register_opcodes);
	t_expect("the opcode QUERY counts as the first that does not exist",
		 t_sys_register(-1, g->nr_register_opcodes, NULL, 0), -EINVAL);
	/* in the flag generation the last one is QUERY itself */
	if (g->nr_register_opcodes - 1 != T_REGISTER_QUERY)
		t_expect("the last opcode QUERY counts exists (fd -1: -EBADF)",
			 t_sys_register(-1, g->nr_register_opcodes - 1, NULL, 1),
			 -EBADF);
	{
		struct t_query_hdr hdr;

		memset(&hdr, 0, sizeof(hdr));
		t_expect("IORING_REGISTER_QUERY with nr_args 1",
			 t_sys_register(-1, T_REGISTER_QUERY, &hdr, 1), -EINVAL);
	}
	t_expect("IORING_REGISTER_QUERY of an empty chain",
		 t_sys_register(-1, T_REGISTER_QUERY, NULL, 0), 0);
}

static void test_mmap_errnos(struct io_uring *ring)
{
	struct io_uring_params p;
	long page = t_page_size();
	void *addr;
	int fd;

	t_expect("mmap of a missing pbuf group",
		 t_sys_mmap(ring->ring_fd, t_pbuf_off(9), page, &addr), -ENOMEM);
	t_expect("mmap of an unknown offset",
		 t_sys_mmap(ring->ring_fd, 0x40000000ULL, page, &addr), -ENOMEM);

	/* IORING_SETUP_NO_MMAP wants the rings in user memory */
	addr = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED) {
		t_fail("mmap: %s", t_errname(errno));
		return;
	}
	memset(&p, 0, sizeof(p));
	p.flags = T_SETUP_NO_MMAP;
	/* user_addr, named resv2 in the uapi headers of Debian 12 */
	p.cq_off.resv2 = (unsigned long)addr;
	p.sq_off.resv2 = (unsigned long)addr + 2 * page;
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (!t_expect("a NO_MMAP ring", fd < 0 ? -errno : 0, 0)) {
		munmap(addr, 4 * page);
		return;
	}
	t_expect("mmap of the SQ ring of a NO_MMAP ring",
		 t_sys_mmap(fd, 0, page, &addr), -ENOMEM);
	close(fd);
}

static void test_pbuf_unregister_min_left(struct io_uring *ring)
{
	struct t_pbuf pb;
	struct io_uring_kmbuf_reg reg;

	if (!t_expect("pbuf ring", t_pbuf_setup(ring, 4, 4096, 3, &pb), 0))
		return;
	memset(&reg, 0, sizeof(reg));
	reg.bgid = 3;
	/* min_left sits where resv[0] is in the seed's struct: offset 16 */
	memset((char *)&reg + 16, 0x01, 4);
	t_expect("IORING_UNREGISTER_PBUF_RING with min_left set",
		 t_sys_register(ring->ring_fd, T_UNREGISTER_PBUF_RING, &reg, 1), 0);
	/* the flag generation's kmbuf unregister is 23 itself */
	t_expect("kmbuf unregister with that tail",
		 t_sys_unregister_kmbuf(ring->ring_fd, &reg),
		 t_kmbuf_gen()->abi == T_KMBUF_ABI_FLAG ? -ENOENT : -EINVAL);
	/* the ring is gone already: only the memory is left to free */
	t_expect("nothing left to unregister", t_pbuf_free(ring, &pb), -ENOENT);
}

int main(void)
{
	struct io_uring ring;
	int ret;

	ret = t_require_kmbuf();
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	test_unassigned_opcodes(ring.ring_fd);
	test_query(ring.ring_fd);
	test_mmap_errnos(&ring);
	test_pbuf_unregister_min_left(&ring);
	io_uring_queue_exit(&ring);
	return t_result("kmbuf-mainline");
}
