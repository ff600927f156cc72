/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of the inline hot-path helpers of <liburing-kmbuf.h>:
 * io_uring_kmbuf_addr(), io_uring_kmbuf_cqe_bid(), io_uring_kmbuf_cqe_buf()
 * and io_uring_for_each_kmbuf(). Pure arithmetic, so no fakes: a handle is
 * filled in by hand and its buffers are never touched.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <liburing-kmbuf.h>

/* a base that fits any pointer, with room for the largest 32-bit region */
#define BASE		((char *)(uintptr_t)0x10000000UL)
#define BUF_SIZE	8192U
#define ENTRIES		16U

static struct io_uring_kmbuf make_kb(void)
{
	struct io_uring_kmbuf kb;

	memset(&kb, 0, sizeof(kb));
	kb.bufs = BASE;
	kb.buf_size = BUF_SIZE;
	kb.ring_entries = ENTRIES;
	kb.len = (size_t)ENTRIES * BUF_SIZE;
	kb.bgid = 3;
	return kb;
}

static struct io_uring_cqe make_cqe(int res, unsigned int flags)
{
	struct io_uring_cqe cqe;

	memset(&cqe, 0, sizeof(cqe));
	cqe.res = res;
	cqe.flags = flags;
	return cqe;
}

static unsigned int buffer_flags(unsigned int bid)
{
	return IORING_CQE_F_BUFFER | bid << IORING_CQE_BUFFER_SHIFT;
}

static void addr_bounds(void **state)
{
	struct io_uring_kmbuf kb = make_kb(), before = kb;

	(void)state;
	assert_ptr_equal(io_uring_kmbuf_addr(&kb, 0), BASE);
	assert_ptr_equal(io_uring_kmbuf_addr(&kb, 1), BASE + BUF_SIZE);
	assert_ptr_equal(io_uring_kmbuf_addr(&kb, ENTRIES - 1),
			 BASE + (ENTRIES - 1) * BUF_SIZE);
	assert_null(io_uring_kmbuf_addr(&kb, ENTRIES));
	assert_null(io_uring_kmbuf_addr(&kb, 65535));
	assert_null(io_uring_kmbuf_addr(&kb, UINT32_MAX));
	assert_memory_equal(&kb, &before, sizeof(kb));

	kb.bufs = NULL;
	assert_null(io_uring_kmbuf_addr(&kb, 0));
	assert_null(io_uring_kmbuf_addr(&kb, ENTRIES - 1));
}

/*
 * bid * buf_size is done in size_t: no wrap at 4 GiB where size_t has 64
 * bits. A 32-bit process cannot map 4 GiB, so there the largest offset
 * that fits its address space is the test.
 */
static void addr_large_offset(void **state)
{
	struct io_uring_kmbuf kb = make_kb();
#if SIZE_MAX > UINT32_MAX
	const unsigned int entries = 32768;
#else
	const unsigned int entries = 2048;	/* 2 GiB of 1 MiB buffers */
#endif

	(void)state;
	kb.ring_entries = entries;
	kb.buf_size = 1U << 20;
	kb.len = (size_t)entries << 20;
	assert_ptr_equal(io_uring_kmbuf_addr(&kb, entries - 1),
			 BASE + (size_t)(entries - 1) * (1U << 20));
	assert_null(io_uring_kmbuf_addr(&kb, entries));
}

static void cqe_bid(void **state)
{
	struct io_uring_cqe cqe;

	(void)state;
	cqe = make_cqe(100, 0);
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), -ENOBUFS);
	/* a bid field without the flag is not a buffer */
	cqe = make_cqe(100, 5U << IORING_CQE_BUFFER_SHIFT);
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), -ENOBUFS);
	cqe = make_cqe(100, IORING_CQE_F_MORE | IORING_CQE_F_NOTIF);
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), -ENOBUFS);

	cqe = make_cqe(100, buffer_flags(0));
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), 0);
	cqe = make_cqe(100, buffer_flags(1));
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), 1);
	cqe = make_cqe(100, buffer_flags(65535));
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), 65535);
	/* other low flag bits do not leak into the bid */
	cqe = make_cqe(100, buffer_flags(65535) | IORING_CQE_F_MORE |
			    IORING_CQE_F_SOCK_NONEMPTY);
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), 65535);
	/* the bid does not depend on res */
	cqe = make_cqe(-EIO, buffer_flags(7));
	assert_int_equal(io_uring_kmbuf_cqe_bid(&cqe), 7);
}

static void cqe_buf_errors(void **state)
{
	struct io_uring_kmbuf kb = make_kb(), before = kb;
	struct io_uring_cqe cqe;
	unsigned int len = 12345;
	void *addr = &addr;

	(void)state;
	cqe = make_cqe(-ENOBUFS, buffer_flags(1));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ENOBUFS);
	cqe = make_cqe(-EIO, 0);
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len), -EIO);
	cqe = make_cqe(64, 0);
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ENOBUFS);
	cqe = make_cqe(64, buffer_flags(ENTRIES));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ERANGE);
	cqe = make_cqe(64, buffer_flags(65535));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ERANGE);
	cqe = make_cqe(BUF_SIZE + 1, buffer_flags(0));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ERANGE);
	cqe = make_cqe(INT32_MAX, buffer_flags(0));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ERANGE);
	kb.bufs = NULL;
	cqe = make_cqe(64, buffer_flags(0));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 -ERANGE);
	kb.bufs = before.bufs;

	/* failures leave the outputs and the handle alone */
	assert_ptr_equal(addr, &addr);
	assert_int_equal(len, 12345);
	assert_memory_equal(&kb, &before, sizeof(kb));
}

static void cqe_buf_normal(void **state)
{
	struct io_uring_kmbuf kb = make_kb();
	struct io_uring_cqe cqe, before;
	unsigned int len = 0;
	void *addr = NULL;

	(void)state;
	cqe = make_cqe(100, buffer_flags(0));
	before = cqe;
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len), 0);
	assert_ptr_equal(addr, BASE);
	assert_int_equal(len, 100);
	assert_memory_equal(&cqe, &before, sizeof(cqe));

	cqe = make_cqe((int)BUF_SIZE, buffer_flags(ENTRIES - 1));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len),
			 (int)ENTRIES - 1);
	assert_ptr_equal(addr, BASE + (ENTRIES - 1) * BUF_SIZE);
	assert_int_equal(len, BUF_SIZE);

	/* zero bytes (EOF) still hands back the buffer */
	cqe = make_cqe(0, buffer_flags(5));
	assert_int_equal(io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len), 5);
	assert_ptr_equal(addr, BASE + 5 * BUF_SIZE);
	assert_int_equal(len, 0);
}

static void for_each_visits_every_bid_once(void **state)
{
	struct io_uring_kmbuf kb = make_kb();
	unsigned int bid, n = 0;
	void *addr;

	(void)state;
	io_uring_for_each_kmbuf(&kb, bid, addr) {
		assert_int_equal(bid, n);
		assert_ptr_equal(addr, BASE + (size_t)n * BUF_SIZE);
		n++;
	}
	assert_int_equal(n, ENTRIES);
	assert_int_equal(bid, ENTRIES);

	/* one entry */
	kb.ring_entries = 1;
	n = 0;
	io_uring_for_each_kmbuf(&kb, bid, addr)
		n++;
	assert_int_equal(n, 1);

	/* no mapping, or no entries: no visit */
	kb.ring_entries = ENTRIES;
	kb.bufs = NULL;
	n = 0;
	io_uring_for_each_kmbuf(&kb, bid, addr)
		n++;
	assert_int_equal(n, 0);
	kb = make_kb();
	kb.ring_entries = 0;
	io_uring_for_each_kmbuf(&kb, bid, addr)
		n++;
	assert_int_equal(n, 0);
}

/* The macro evaluates its handle argument safely in a larger expression. */
static void for_each_with_pointer_expression(void **state)
{
	struct io_uring_kmbuf kbs[2] = { make_kb(), make_kb() };
	struct io_uring_kmbuf *p = kbs;
	unsigned int bid, n = 0;
	void *addr;

	(void)state;
	kbs[1].ring_entries = 4;
	io_uring_for_each_kmbuf(p + 1, bid, addr)
		n++;
	assert_int_equal(n, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addr_bounds),
		cmocka_unit_test(addr_large_offset),
		cmocka_unit_test(cqe_bid),
		cmocka_unit_test(cqe_buf_errors),
		cmocka_unit_test(cqe_buf_normal),
		cmocka_unit_test(for_each_visits_every_bid_once),
		cmocka_unit_test(for_each_with_pointer_expression),
	};

	return cmocka_run_group_tests_name("kmbuf-helpers", tests, NULL, NULL) ?
		1 : 0;
}
