/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Several kmbuf rings at once, of different shapes, on two io_urings that
 * share bgids: FILLs interleaved across all of them land only in the ring
 * they name, an empty ring does not starve the others, and buffers nobody
 * filled keep what the application wrote.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

struct mring {
	struct io_uring		*r;
	unsigned int		entries;
	unsigned int		buf_size;	/* in pages */
	unsigned short		bgid;
	struct io_uring_kmbuf	*kb;
	unsigned int		seed[64];	/* per bid; 0: not filled */
	unsigned int		len[64];
	unsigned int		filled;
};

static struct io_uring ring_a, ring_b;
static int drv;

static struct mring rings[] = {
	{ .r = &ring_a, .entries = 8,  .buf_size = 1,   .bgid = 0 },
	{ .r = &ring_a, .entries = 4,  .buf_size = 16,  .bgid = 1 },
	{ .r = &ring_a, .entries = 2,  .buf_size = 64,  .bgid = 7 },
	{ .r = &ring_a, .entries = 1,  .buf_size = 1,   .bgid = 2047 },
	{ .r = &ring_a, .entries = 64, .buf_size = 1,   .bgid = 300 },
	{ .r = &ring_b, .entries = 4,  .buf_size = 2,   .bgid = 0 },
	{ .r = &ring_b, .entries = 16, .buf_size = 1,   .bgid = 1 },
};
#define NR_RINGS	(sizeof(rings) / sizeof(rings[0]))

static unsigned char poison_of(unsigned int ri)
{
	return (unsigned char)(0x10 + ri * 0x11);
}

/* Every buffer of every ring holds its FILL or its poison, nothing else. */
static void verify_all(const char *when)
{
	unsigned int ri, bid, size;
	unsigned char *b;
	size_t bad;

	for (ri = 0; ri < NR_RINGS; ri++) {
		struct mring *m = &rings[ri];

		size = m->kb->buf_size;
		for (bid = 0; bid < m->entries; bid++) {
			b = io_uring_kmbuf_addr(m->kb, bid);
			if (m->seed[bid]) {
				bad = t_check_pattern(b, m->len[bid], m->seed[bid]);
				if (bad != m->len[bid]) {
					t_fail("%s: ring %u (bgid %u) bid %u: pattern wrong at byte %zu",
					       when, ri, m->bgid, bid, bad);
					continue;
				}
			}
			bad = t_check_byte(b + m->len[bid], size - m->len[bid],
					   poison_of(ri));
			if (bad != size - m->len[bid])
				t_fail("%s: ring %u (bgid %u) bid %u: byte %zu is not the application's (%#x)",
				       when, ri, m->bgid, bid, m->len[bid] + bad,
				       poison_of(ri));
		}
	}
}

/* One FILL on ring @ri; 1 if it filled, 0 if the ring was empty. */
static int fill_one(unsigned int ri, unsigned int pass)
{
	struct mring *m = &rings[ri];
	unsigned int seed = (ri + 1) << 20 | pass << 8 | m->filled;
	unsigned int want = m->filled % 2 ? m->kb->buf_size / 2 + 3 : m->kb->buf_size;
	struct io_uring_cqe cqe;
	struct t_cqe c;
	unsigned int len;
	void *addr;
	int ret, bid;

	ret = t_drv_fill(m->r, drv, m->bgid, want, seed, &c);
	if (ret) {
		t_fail("ring %u: FILL submit: %s", ri, t_errname(ret));
		return -1;
	}
	if (m->filled == m->entries) {
		t_expect("FILL on a ring that is empty while others are not",
			 c.res, -ENOBUFS);
		return 0;
	}
	t_to_cqe(&c, &cqe);
	bid = io_uring_kmbuf_cqe_buf(m->kb, &cqe, &addr, &len);
	if (bid < 0 || len != want) {
		t_fail("ring %u (bgid %u) fill %u: expected %u bytes in a buffer, got bid %d len %u (res %d)",
		       ri, m->bgid, m->filled, want, bid, bid < 0 ? 0 : len, c.res);
		return -1;
	}
	if (m->seed[bid]) {
		t_fail("ring %u: bid %d handed out twice", ri, bid);
		return -1;
	}
	m->seed[bid] = seed;
	m->len[bid] = len;
	m->filled++;
	return 1;
}

int main(void)
{
	unsigned int ri, bid, pass, page;
	int ret, progress;

	ret = t_require_testbed(&drv, &ring_a, 8);
	if (ret)
		return ret;
	ret = t_ring_init(&ring_b, 8);
	if (ret)
		return ret;
	page = t_page_size();

	for (ri = 0; ri < NR_RINGS; ri++) {
		struct mring *m = &rings[ri];

		ret = io_uring_setup_kmbuf_ring(m->r, m->entries,
						m->buf_size * page, m->bgid,
						NULL, &m->kb);
		if (ret) {
			t_fail("setup ring %u (%u x %u at bgid %u): expected 0, got %d (%s)",
			       ri, m->entries, m->buf_size * page, m->bgid, ret,
			       t_errname(ret));
			return t_result("kmbuf-multi");
		}
		memset(m->kb->bufs, poison_of(ri), m->kb->len);
	}
	t_expect("IS_KMBUF bgid 300 on ring A",
		 t_drv(&ring_a, drv, KMBUF_TEST_CMD_IS_KMBUF, 300, 0, 0, 0), 1);
	t_expect("IS_KMBUF bgid 300 on ring B (it has none)",
		 t_drv(&ring_b, drv, KMBUF_TEST_CMD_IS_KMBUF, 300, 0, 0, 0), 0);
	t_expect("FILL bgid 300 on ring B (it has none)",
		 t_drv(&ring_b, drv, KMBUF_TEST_CMD_FILL, 300, 0, 8, 1), -EINVAL);

	/* Round robin until every ring is empty, each ring one FILL a pass. */
	for (pass = 0, progress = 1; progress && pass < 100; pass++) {
		progress = 0;
		for (ri = 0; ri < NR_RINGS; ri++) {
			ret = fill_one(ri, pass);
			if (ret < 0)
				goto out;
			progress |= ret;
		}
		if (pass == 0)
			verify_all("after one FILL per ring");
	}
	verify_all("after every ring ran dry");

	/* Recycle everything on the right io_uring, then one more pass. */
	for (ri = 0; ri < NR_RINGS; ri++) {
		struct mring *m = &rings[ri];

		for (bid = 0; bid < m->entries; bid++) {
			ret = t_drv(m->r, drv, KMBUF_TEST_CMD_RECYCLE, m->bgid,
				    (unsigned short)bid, 0, 0);
			if (!t_expect("RECYCLE", ret, 0))
				goto out;
			m->seed[bid] = 0;
			m->len[bid] = 0;
		}
		m->filled = 0;
		memset(m->kb->bufs, poison_of(ri), m->kb->len);
	}
	for (ri = NR_RINGS; ri-- > 0;)
		if (fill_one(ri, 200) != 1)
			goto out;
	verify_all("after recycling and one FILL per ring in reverse");
out:
	for (ri = 0; ri < NR_RINGS; ri++)
		t_expect("free", io_uring_free_kmbuf_ring(rings[ri].r, rings[ri].kb), 0);
	io_uring_queue_exit(&ring_b);
	io_uring_queue_exit(&ring_a);
	return t_result("kmbuf-multi");
}
