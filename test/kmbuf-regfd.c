/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * An io_uring whose fd is registered (io_uring_register_ring_fd()): setup,
 * the data path and free work through the library; the kernel takes the
 * kmbuf opcodes through the registered index too; and with only the index
 * left (what liburing >= 2.4's io_uring_close_ring_fd() leaves) register
 * and unregister still work while mapping is refused with -EBADF.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

static struct io_uring ring;
static int drv;
static unsigned int page;

static void data_round(const struct io_uring_kmbuf *kb, unsigned int seed)
{
	struct io_uring_cqe cqe;
	struct t_cqe c;
	unsigned int i, len;
	void *addr;
	int bid;

	for (i = 0; i < kb->ring_entries; i++) {
		if (t_drv_fill(&ring, drv, kb->bgid, kb->buf_size, seed + i, &c)) {
			t_fail("FILL submit through the registered ring fd failed");
			return;
		}
		t_to_cqe(&c, &cqe);
		bid = io_uring_kmbuf_cqe_buf(kb, &cqe, &addr, &len);
		if (bid < 0) {
			t_fail("FILL %u: expected a buffer, got %d (%s)", i, bid,
			       t_errname(bid));
			return;
		}
		if (len != kb->buf_size || t_check_pattern(addr, len, seed + i) != len)
			t_fail("FILL %u: bid %d: expected %u bytes of pattern seed %u, got %u bytes, first wrong byte %zu",
			       i, bid, kb->buf_size, seed + i, len,
			       t_check_pattern(addr, len, seed + i));
	}
	for (i = 0; i < kb->ring_entries; i++)
		t_expect("RECYCLE", t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE,
					  kb->bgid, (unsigned short)i, 0, 0), 0);
}

static void test_library(void)
{
	struct io_uring_kmbuf *kb;
	int ret;

	ret = io_uring_setup_kmbuf_ring(&ring, 8, page, 4, NULL, &kb);
	if (!t_expect("setup with a registered ring fd", ret, 0))
		return;
	data_round(kb, 1000);
	data_round(kb, 2000);
	t_expect("free with a registered ring fd", io_uring_free_kmbuf_ring(&ring, kb), 0);
	t_expect("unregister after free", io_uring_unregister_kmbuf_ring(&ring, 4), -ENOENT);
}

/* The kernel side: the kmbuf opcodes through the registered index. */
static void test_raw_index(void)
{
	/* the running generation's opcodes and flags (kmbuf.abi=) */
	const unsigned int op_reg = t_kmbuf_gen()->reg_op |
				    T_REGISTER_USE_REGISTERED_RING;
	const unsigned int op_unreg = t_kmbuf_gen()->unreg_op |
				      T_REGISTER_USE_REGISTERED_RING;
	struct io_uring_kmbuf_reg reg;
	struct io_uring_kmbuf kb;
	int ret;

	memset(&reg, 0, sizeof(reg));
	reg.flags = (unsigned short)t_kmbuf_gen()->reg_flags;
	reg.buf_size = page;
	reg.ring_entries = 4;
	reg.bgid = 5;
	ret = t_sys_register(ring.enter_ring_fd, op_reg, &reg, 1);
	if (!t_expect("raw register through the registered index", ret, 0))
		return;
	t_expect("raw register again through the index",
		 t_sys_register(ring.enter_ring_fd, op_reg, &reg, 1), -EEXIST);

	memset(&kb, 0, sizeof(kb));
	kb.buf_size = page;
	kb.ring_entries = 4;
	kb.bgid = 5;
	kb.len = 4 * (size_t)page;
	if (t_expect("mmap through the real fd",
		     io_uring_mmap_kmbuf(&ring, 5, kb.len, &kb.bufs), 0)) {
		data_round(&kb, 3000);
		t_expect("munmap", io_uring_munmap_kmbuf(kb.bufs, kb.len), 0);
	}
	reg.flags = 0;	/* unregister takes none, in every generation */
	t_expect("raw unregister through the registered index",
		 t_sys_register(ring.enter_ring_fd, op_unreg, &reg, 1), 0);
	t_expect("raw unregister again through the index",
		 t_sys_register(ring.enter_ring_fd, op_unreg, &reg, 1), -ENOENT);
}

/*
 * Only the index left. liburing 2.3 cannot close the real fd, so hide it
 * the way io_uring_close_ring_fd() does (ring_fd = -1) and put it back
 * before anything else uses the ring.
 */
static void test_index_only(void)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring_kmbuf *kb = NULL;
	int real_fd = ring.ring_fd;
	void *bufs;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = 2;
	reg.bgid = 6;
	ring.ring_fd = -1;
	t_expect("register with only the index",
		 io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
	t_expect("register again with only the index",
		 io_uring_register_kmbuf_ring(&ring, &reg, 0), -EEXIST);
	t_expect("mmap with only the index",
		 io_uring_mmap_kmbuf(&ring, 6, 2 * page, &bufs), -EBADF);
	t_expect("setup with only the index",
		 io_uring_setup_kmbuf_ring(&ring, 2, page, 7, NULL, &kb), -EBADF);
	t_expect("unregister with only the index",
		 io_uring_unregister_kmbuf_ring(&ring, 6), 0);
	t_expect("unregister of the refused setup's bgid",
		 io_uring_unregister_kmbuf_ring(&ring, 7), -ENOENT);
	ring.ring_fd = real_fd;
}

int main(void)
{
	int ret;

	ret = t_require_testbed(&drv, &ring, 8);
	if (ret)
		return ret;
	page = t_page_size();

	ret = io_uring_register_ring_fd(&ring);
	if (!t_expect("io_uring_register_ring_fd", ret, 1))
		return t_result("kmbuf-regfd");

	test_library();
	test_raw_index();
	test_index_only();

	t_expect("io_uring_unregister_ring_fd", io_uring_unregister_ring_fd(&ring), 1);
	/* And the plain fd still works afterwards. */
	test_library();

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-regfd");
}
