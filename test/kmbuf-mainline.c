/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * What the series must not change: mainline behaviour that liburing users
 * rely on, on the same kernel that has the kmbuf ABI.
 *  - register opcodes that the series leaves unassigned (31..37 on this
 *    base) are -EINVAL for any fd, -1 included: probes pass fd -1 and read
 *    -EINVAL as "no such opcode", -EBADF would say it exists;
 *  - mmap failures on the existing offsets stay -ENOMEM (the SQ ring of an
 *    IORING_SETUP_NO_MMAP ring, a missing pbuf group, an unknown offset);
 *  - IORING_UNREGISTER_PBUF_RING ignores min_left, as it always has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"

/* 6.12 numbering; not all in liburing 2.3's header */
#define T_REGISTER_CLONE_BUFFERS	30
#define T_REGISTER_PBUF_RING		22
#define T_UNREGISTER_PBUF_RING		23
#define T_SETUP_NO_MMAP			(1U << 14)

static void test_unassigned_opcodes(int ring_fd)
{
	unsigned int op;
	char what[64];

	for (op = T_REGISTER_CLONE_BUFFERS + 1; op < IO_URING_KMBUF_REGISTER_OP; op++) {
		snprintf(what, sizeof(what), "opcode %u with fd -1", op);
		t_expect(what, t_sys_register(-1, op, NULL, 0), -EINVAL);
		snprintf(what, sizeof(what), "opcode %u on a ring", op);
		t_expect(what, t_sys_register(ring_fd, op, NULL, 0), -EINVAL);
	}
	/* an opcode that exists looks the fd up first */
	t_expect("kmbuf register with fd -1",
		 t_sys_register(-1, IO_URING_KMBUF_REGISTER_OP, NULL, 0), -EBADF);
	t_expect("opcode past the end with fd -1", t_sys_register(-1, 200, NULL, 0),
		 -EINVAL);
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
	t_expect("kmbuf unregister with that tail is refused",
		 t_sys_unregister_kmbuf(ring->ring_fd, &reg), -EINVAL);
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
	test_mmap_errnos(&ring);
	test_pbuf_unregister_min_left(&ring);
	io_uring_queue_exit(&ring);
	return t_result("kmbuf-mainline");
}
