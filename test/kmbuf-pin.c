/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Pinning by a kernel consumer: while the driver holds a pin, unregister
 * and io_uring_free_kmbuf_ring() fail with -EBUSY and the handle stays
 * usable and mapped; after unpin they succeed. Plus the pin/unpin errors.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "helpers.h"

static struct io_uring ring;
static int drv;
static unsigned int page;

static int pin(unsigned short bgid)
{
	return t_drv(&ring, drv, KMBUF_TEST_CMD_PIN, bgid, 0, 0, 0);
}

static int unpin(unsigned short bgid)
{
	return t_drv(&ring, drv, KMBUF_TEST_CMD_UNPIN, bgid, 0, 0, 0);
}

/* FILL a buffer of @kb, check it through the handle, recycle it. */
static void fill_check(const struct io_uring_kmbuf *kb, unsigned int seed,
		       const char *where)
{
	struct io_uring_cqe cqe;
	struct t_cqe c;
	unsigned int len;
	void *addr;
	size_t bad;
	int ret, bid;

	ret = t_drv_fill(&ring, drv, kb->bgid, kb->buf_size, seed, &c);
	if (ret) {
		t_fail("%s: FILL submit: %s", where, t_errname(ret));
		return;
	}
	t_to_cqe(&c, &cqe);
	bid = io_uring_kmbuf_cqe_buf(kb, &cqe, &addr, &len);
	if (bid < 0) {
		t_fail("%s: FILL: expected a buffer, got %d (%s)", where, bid,
		       t_errname(bid));
		return;
	}
	bad = t_check_pattern(addr, len, seed);
	if (len != kb->buf_size || bad != len)
		t_fail("%s: bid %d: %u bytes (expected %u), pattern wrong at %zu",
		       where, bid, len, kb->buf_size, bad);
	t_expect(where, t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, kb->bgid,
			      (unsigned short)bid, 0, 0), 0);
}

static void test_pin_busy(void)
{
	struct io_uring_kmbuf *kb;
	void *bufs_before;
	long maps0;
	int ret, i;

	maps0 = t_maps_count();
	ret = io_uring_setup_kmbuf_ring(&ring, 4, page, 3, NULL, &kb);
	if (!t_expect("setup bgid 3", ret, 0))
		return;
	if (!t_expect("PIN bgid 3", pin(3), 0))
		goto out;
	t_expect("PIN bgid 3 twice", pin(3), -EALREADY);
	t_expect("IS_KMBUF on a pinned ring",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_IS_KMBUF, 3, 0, 0, 0), 1);

	t_expect("unregister a pinned ring",
		 io_uring_unregister_kmbuf_ring(&ring, 3), -EBUSY);
	{
		struct io_uring_kmbuf_reg reg;

		memset(&reg, 0, sizeof(reg));
		reg.bgid = 3;
		t_expect("raw unregister a pinned ring",
			 t_sys_unregister_kmbuf(ring.ring_fd, &reg), -EBUSY);
	}

	bufs_before = kb->bufs;
	t_expect("io_uring_free_kmbuf_ring of a pinned ring",
		 io_uring_free_kmbuf_ring(&ring, kb), -EBUSY);
	/* The handle is still whole: mapped, usable, the same ring. */
	if (!kb->bufs)
		t_fail("after -EBUSY free: kb->bufs is NULL, expected a mapping");
	else if (t_maps_has(kb->bufs) != 1)
		t_fail("after -EBUSY free: kb->bufs %p (was %p) is not mapped",
		       kb->bufs, bufs_before);
	if (kb->bgid != 3 || kb->ring_entries != 4 || kb->buf_size != page)
		t_fail("after -EBUSY free: handle changed (bgid %u, %u x %u)",
		       kb->bgid, kb->ring_entries, kb->buf_size);
	if (kb->bufs)
		for (i = 0; i < 6; i++)
			fill_check(kb, 0x1000u + (unsigned int)i,
				   "FILL while pinned, after -EBUSY free");

	t_expect("UNPIN bgid 3", unpin(3), 0);
	t_expect("UNPIN bgid 3 twice", unpin(3), -EINVAL);

	/* Pin and unpin again: the pin state does not stick. */
	for (i = 0; i < 3; i++) {
		t_expect("PIN again", pin(3), 0);
		t_expect("unregister while pinned again",
			 io_uring_unregister_kmbuf_ring(&ring, 3), -EBUSY);
		t_expect("UNPIN again", unpin(3), 0);
	}
out:
	ret = io_uring_free_kmbuf_ring(&ring, kb);
	if (t_expect("free after unpin", ret, 0)) {
		t_expect("/proc/self/maps lines after free", t_maps_count(), maps0);
		t_expect("unregister after free",
			 io_uring_unregister_kmbuf_ring(&ring, 3), -ENOENT);
	} else if (ret == -EBUSY) {
		unpin(3);
		io_uring_free_kmbuf_ring(&ring, kb);
	}
}

static void test_pin_errors(void)
{
	void *legacy;

	t_expect("PIN a missing bgid", pin(7), -EINVAL);
	t_expect("UNPIN a missing bgid", unpin(7), -EINVAL);

	legacy = mmap(NULL, page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (legacy == MAP_FAILED) {
		t_fail("mmap: %s", t_errname(errno));
		return;
	}
	if (t_expect("PROVIDE_BUFFERS at bgid 8",
		     t_provide_buffers(&ring, legacy, page, 1, 8, 0), 0)) {
		t_expect("PIN a legacy list", pin(8), -EINVAL);
		t_expect("REMOVE_BUFFERS at bgid 8", t_remove_buffers(&ring, 1, 8), 1);
	}
	munmap(legacy, page);

	/* An unpinned ring: unpin is refused, unregister works. */
	{
		struct io_uring_kmbuf *kb;

		if (!t_expect("setup bgid 9",
			      io_uring_setup_kmbuf_ring(&ring, 2, page, 9, NULL, &kb), 0))
			return;
		t_expect("UNPIN a ring that was never pinned", unpin(9), -EINVAL);
		t_expect("free an unpinned ring", io_uring_free_kmbuf_ring(&ring, kb), 0);
		t_expect("PIN bgid 9 after free", pin(9), -EINVAL);
	}
}

/* Tearing the whole io_uring down with a ring still pinned and mapped. */
static void test_exit_pinned(void)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring r2;
	struct t_cqe c;
	struct kmbuf_test_cmd cmd = { .bgid = 1 };
	void *bufs;
	int ret;

	ret = io_uring_queue_init(4, &r2, 0);
	if (!t_expect("second io_uring", ret, 0))
		return;
	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = 2;
	reg.bgid = 1;
	ret = io_uring_register_kmbuf_ring(&r2, &reg, 0);
	if (!t_expect("register on the second io_uring", ret, 0))
		goto out;
	ret = io_uring_mmap_kmbuf(&r2, 1, 2 * page, &bufs);
	if (!t_expect("mmap on the second io_uring", ret, 0))
		goto out;
	ret = t_drv_run(&r2, drv, KMBUF_TEST_CMD_PIN, &cmd, &c);
	if (!ret)
		t_expect("PIN on the second io_uring", c.res, 0);
	else
		t_fail("PIN submit: %s", t_errname(ret));
	/*
	 * The registration goes with the io_uring: the kernel must tear a
	 * pinned ring down on exit without leaking or hanging (the VM runner
	 * watches the kernel log), and the mapping stays valid until munmap.
	 */
	io_uring_queue_exit(&r2);
	memset(bufs, 0x3c, 2 * page);
	if (t_check_byte(bufs, 2 * page, 0x3c) != 2 * page)
		t_fail("mapping of a pinned ring after io_uring exit does not hold data");
	t_expect("munmap after exit", io_uring_munmap_kmbuf(bufs, 2 * page), 0);
	return;
out:
	io_uring_queue_exit(&r2);
}

int main(void)
{
	int ret;

	ret = t_require_testbed(&drv, &ring, 8);
	if (ret)
		return ret;
	page = t_page_size();

	test_pin_busy();
	test_pin_errors();
	test_exit_pinned();

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-pin");
}
