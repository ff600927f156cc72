/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unregistering (or exiting the io_uring) while the buffers are still
 * mapped: the mapping stays readable and writable until munmap, munmap
 * works, and the kernel no longer writes into those pages: a new ring at
 * the same bgid gets fresh pages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

static struct io_uring ring;
static unsigned int page;

static int reg_ring(struct io_uring *r, unsigned int entries,
		    unsigned int buf_size, unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = buf_size;
	reg.ring_entries = entries;
	reg.bgid = bgid;
	return io_uring_register_kmbuf_ring(r, &reg, 0);
}

static void test_unregister_mapped(unsigned int entries, unsigned int buf_size)
{
	size_t len = (size_t)entries * buf_size;
	unsigned char *p;
	void *bufs;
	long maps0 = t_maps_count();

	if (!t_expect("register bgid 2", reg_ring(&ring, entries, buf_size, 2), 0))
		return;
	if (!t_expect("mmap bgid 2", io_uring_mmap_kmbuf(&ring, 2, len, &bufs), 0)) {
		io_uring_unregister_kmbuf_ring(&ring, 2);
		return;
	}
	p = bufs;
	memset(p, 0x11, len);
	t_expect("unregister while mapped", io_uring_unregister_kmbuf_ring(&ring, 2), 0);
	/* Still ours: old contents readable, new ones writable. */
	if (t_check_byte(p, len, 0x11) != len)
		t_fail("%u x %u: contents changed by unregister", entries, buf_size);
	memset(p, 0x22, len);
	if (t_check_byte(p, len, 0x22) != len)
		t_fail("%u x %u: mapping not writable after unregister", entries,
		       buf_size);
	t_expect("mmap after unregister",
		 io_uring_mmap_kmbuf(&ring, 2, len, &bufs),
		 t_kmbuf_gen()->off_missing_err);
	t_expect("munmap after unregister", io_uring_munmap_kmbuf(p, len), 0);
	t_expect("/proc/self/maps lines after munmap", t_maps_count(), maps0);
}

static void test_exit_mapped(void)
{
	struct io_uring r2;
	void *bufs;
	int ret;

	ret = io_uring_queue_init(4, &r2, 0);
	if (!t_expect("second io_uring", ret, 0))
		return;
	if (!t_expect("register on it", reg_ring(&r2, 4, page, 0), 0) ||
	    !t_expect("mmap on it", io_uring_mmap_kmbuf(&r2, 0, 4 * page, &bufs), 0)) {
		io_uring_queue_exit(&r2);
		return;
	}
	memset(bufs, 0x33, 4 * page);
	io_uring_queue_exit(&r2);
	if (t_check_byte(bufs, 4 * page, 0x33) != 4 * page)
		t_fail("contents changed by io_uring exit");
	memset(bufs, 0x44, 4 * page);
	t_expect("munmap after io_uring exit", io_uring_munmap_kmbuf(bufs, 4 * page), 0);
}

/* With the driver: old pages are not the new ring's pages. */
static void test_old_pages_dead(int drv)
{
	const unsigned int entries = 4;
	size_t len = (size_t)entries * page;
	struct io_uring_kmbuf *kb;
	struct io_uring_cqe cqe;
	struct t_cqe c = { 0 };
	unsigned char *old;
	unsigned int i, n;
	void *bufs, *addr;
	int bid;

	if (!t_expect("register bgid 5", reg_ring(&ring, entries, page, 5), 0))
		return;
	if (!t_expect("mmap bgid 5", io_uring_mmap_kmbuf(&ring, 5, len, &bufs), 0)) {
		io_uring_unregister_kmbuf_ring(&ring, 5);
		return;
	}
	old = bufs;
	/* One buffer out when the ring goes away. */
	if (!t_drv_fill(&ring, drv, 5, page, 42, &c) && c.res == (int)page) {
		bid = (int)(c.flags >> IORING_CQE_BUFFER_SHIFT);
		if (t_check_pattern(old + (size_t)bid * page, page, 42) != page)
			t_fail("FILL before unregister: bid %d: expected pattern seed 42, first wrong byte %zu",
			       bid, t_check_pattern(old + (size_t)bid * page, page, 42));
	} else {
		t_fail("FILL before unregister: expected %u, got %d", page, c.res);
	}
	t_expect("unregister with a buffer out and mapped",
		 io_uring_unregister_kmbuf_ring(&ring, 5), 0);
	t_expect("FILL after unregister",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_FILL, 5, 0, 64, 1), -EINVAL);
	memset(old, 0x77, len);

	/* A new ring at the same bgid: every FILL lands in the new pages. */
	if (!t_expect("setup a new ring at bgid 5",
		      io_uring_setup_kmbuf_ring(&ring, entries, page, 5, NULL, &kb), 0))
		goto out;
	if (kb->bufs == (void *)old)
		t_fail("new mapping at the address of the old one, which is still mapped");
	for (i = 0; i < entries; i++) {
		if (t_drv_fill(&ring, drv, 5, page, 100 + i, &c)) {
			t_fail("FILL %u on the new ring: submit failed", i);
			break;
		}
		t_to_cqe(&c, &cqe);
		bid = io_uring_kmbuf_cqe_buf(kb, &cqe, &addr, &n);
		if (bid < 0) {
			t_fail("FILL %u on the new ring: expected a buffer, got %d (%s)",
			       i, bid, t_errname(bid));
			break;
		}
		if (t_check_pattern(addr, n, 100 + i) != n || n != page)
			t_fail("FILL %u on the new ring: bid %d: expected %u bytes of pattern seed %u, got %u bytes, first wrong byte %zu",
			       i, bid, page, 100 + i, n, t_check_pattern(addr, n, 100 + i));
	}
	if (t_check_byte(old, len, 0x77) != len)
		t_fail("the kernel wrote into the pages of the unregistered ring");
	t_expect("free the new ring", io_uring_free_kmbuf_ring(&ring, kb), 0);
out:
	t_expect("munmap the old mapping last", io_uring_munmap_kmbuf(old, len), 0);
}

int main(void)
{
	int ret, drv;

	ret = t_require_kmbuf();
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	page = t_page_size();

	test_unregister_mapped(1, page);
	test_unregister_mapped(8, page);
	test_unregister_mapped(4, 16 * page);
	test_exit_mapped();

	ret = t_require_testdrv(&drv);
	if (ret == T_EXIT_SKIP) {
		printf("(the checks without the driver: %s)\n",
		       t_failures ? "FAILED" : "passed");
		io_uring_queue_exit(&ring);
		return t_failures ? T_EXIT_FAIL : T_EXIT_SKIP;
	}
	if (ret)
		return ret;
	test_old_pages_dead(drv);

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-unmap-order");
}
