/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * The kmbuf data path through the testbed driver: the driver FILLs buffers,
 * each completion names its buffer, io_uring_kmbuf_cqe_buf() finds it, every
 * byte is checked against kmbuf_test_pattern(), and RECYCLE puts it back.
 * Rounds over every bid for several ring and buffer sizes, with payloads
 * shorter than, equal to and longer than a buffer; then the driver's
 * errors (empty ring, idle bid, not a kmbuf ring), IS_KMBUF, and FILL_PBUF
 * on an application ring for comparison.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "helpers.h"

#define POISON	0xa5

static struct io_uring ring;
static int drv;
static unsigned int page;
/* What was checked, for the record. */
static unsigned long long nr_fills, nr_bytes;

/* Payload asked for FILL number @i of @round: full, short, or too long. */
static unsigned int fill_len(unsigned int buf_size, unsigned int round,
			     unsigned int i)
{
	switch ((round + i) % 3) {
	case 0:
		return buf_size;
	case 1:
		return 1 + (i * 131 + round * 17) % (buf_size - 1);
	default:
		return buf_size + 1 + i;
	}
}

static unsigned int fill_seed(unsigned int cfg, unsigned int round,
			      unsigned int i)
{
	return cfg << 24 ^ round << 16 ^ i ^ 0x5eed0000u;
}

/*
 * Check one FILL completion: the bid it names (once per round), its length,
 * the pattern, and that nothing past the payload was written.
 */
static int check_fill(const struct io_uring_kmbuf *kb, const struct t_cqe *c,
		      unsigned int want_len, unsigned int seed,
		      unsigned char *seen, const char *where)
{
	struct io_uring_cqe cqe;
	unsigned int len;
	void *addr = NULL;
	size_t bad;
	int bid;

	if (c->res < 0) {
		t_fail("%s: FILL expected %u bytes, got %d (%s)", where,
		       want_len, c->res, t_errname(c->res));
		return -1;
	}
	t_to_cqe(c, &cqe);
	bid = io_uring_kmbuf_cqe_buf(kb, &cqe, &addr, &len);
	if (bid < 0) {
		t_fail("%s: io_uring_kmbuf_cqe_buf: expected a bid, got %d (%s), res %d flags %#x",
		       where, bid, t_errname(bid), c->res, c->flags);
		return -1;
	}
	if (c->flags & IORING_CQE_F_BUF_MORE)
		t_fail("%s: IORING_CQE_F_BUF_MORE set on a kmbuf completion", where);
	if (seen[bid]) {
		t_fail("%s: bid %d handed out twice without a recycle", where, bid);
		return -1;
	}
	seen[bid] = 1;
	if (len != want_len) {
		t_fail("%s: bid %d: expected %u bytes, got %u", where, bid,
		       want_len, len);
		return bid;
	}
	if (addr != io_uring_kmbuf_addr(kb, (unsigned int)bid))
		t_fail("%s: bid %d: cqe_buf address %p, kmbuf_addr %p", where,
		       bid, addr, io_uring_kmbuf_addr(kb, (unsigned int)bid));
	bad = t_check_pattern(addr, len, seed);
	nr_fills++;
	nr_bytes += len;
	if (bad != len)
		t_fail("%s: bid %d: byte %zu of %u is %#x, expected pattern %#x (seed %#x)",
		       where, bid, bad, len, ((unsigned char *)addr)[bad],
		       kmbuf_test_pattern(seed, (__u32)bad), seed);
	bad = t_check_byte((char *)addr + len, kb->buf_size - len, POISON);
	if (bad != kb->buf_size - len)
		t_fail("%s: bid %d: byte %zu past a %u-byte payload was overwritten",
		       where, bid, len + bad, len);
	return bid;
}

static void run_rounds(unsigned int cfg, unsigned int entries,
		       unsigned int buf_size, unsigned int rounds)
{
	const unsigned short bgid = (unsigned short)(100 + cfg);
	struct kmbuf_test_cmd *cmds;
	struct io_uring_kmbuf *kb;
	struct t_cqe *cqes, extra;
	unsigned char *seen;
	unsigned int round, i, want, fails0 = (unsigned int)t_failures;
	char where[96];
	int ret, bid;

	ret = io_uring_setup_kmbuf_ring(&ring, entries, buf_size, bgid, NULL, &kb);
	if (!t_expect("io_uring_setup_kmbuf_ring", ret, 0))
		return;
	cmds = calloc(entries, sizeof(*cmds));
	cqes = calloc(entries, sizeof(*cqes));
	seen = calloc(entries, 1);
	if (!cmds || !cqes || !seen) {
		t_fail("out of memory");
		goto out;
	}

	for (round = 0; round < rounds; round++) {
		memset(kb->bufs, POISON, kb->len);
		memset(seen, 0, entries);
		for (i = 0; i < entries; i++) {
			cmds[i] = (struct kmbuf_test_cmd){
				.bgid = bgid,
				.len = fill_len(buf_size, round, i),
				.seed = fill_seed(cfg, round, i),
			};
		}
		ret = t_drv_batch(&ring, drv, KMBUF_TEST_CMD_FILL, cmds, entries, cqes);
		if (ret) {
			t_fail("%u x %u round %u: FILL batch: %s", entries,
			       buf_size, round, t_errname(ret));
			goto out;
		}
		for (i = 0; i < entries; i++) {
			snprintf(where, sizeof(where), "%u x %u round %u fill %u",
				 entries, buf_size, round, i);
			want = cmds[i].len < buf_size ? cmds[i].len : buf_size;
			bid = check_fill(kb, &cqes[i], want, cmds[i].seed, seen, where);
			/* A fresh ring hands out its entries in order: bid i. */
			if (round == 0 && bid >= 0 && (unsigned int)bid != i)
				t_fail("%s: fresh ring: expected bid %u, got %d",
				       where, i, bid);
		}
		/* Every buffer is out: the ring is empty. */
		ret = t_drv_fill(&ring, drv, bgid, buf_size, 1, &extra);
		snprintf(where, sizeof(where), "%u x %u round %u: FILL on an empty ring",
			 entries, buf_size, round);
		if (!ret && t_expect(where, extra.res, -ENOBUFS)) {
			if (extra.flags & IORING_CQE_F_BUFFER)
				t_fail("%s: -ENOBUFS completion carries a buffer (flags %#x)",
				       where, extra.flags);
		}
		if (ret)
			t_fail("%s: submit: %s", where, t_errname(ret));

		/*
		 * Give them back in an order the ring has not seen: a stride
		 * of 5, a permutation because entries is a power of two.
		 */
		for (i = 0; i < entries; i++)
			cmds[i] = (struct kmbuf_test_cmd){
				.bgid = bgid,
				.bid = (__u16)((i * 5 + round) % entries),
			};
		ret = t_drv_batch(&ring, drv, KMBUF_TEST_CMD_RECYCLE, cmds, entries, cqes);
		if (ret) {
			t_fail("RECYCLE batch: %s", t_errname(ret));
			goto out;
		}
		for (i = 0; i < entries; i++) {
			snprintf(where, sizeof(where), "%u x %u round %u: RECYCLE bid %u",
				 entries, buf_size, round, cmds[i].bid);
			t_expect(where, cqes[i].res, 0);
		}
		if ((unsigned int)t_failures > fails0 + 10) {
			printf("too many failures, leaving %u x %u\n", entries, buf_size);
			break;
		}
	}

	/* Recycling a bid that is in the ring, or beyond it, is refused. */
	snprintf(where, sizeof(where), "%u x %u: RECYCLE bid 0 while in the ring",
		 entries, buf_size);
	t_expect(where, t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, bgid, 0, 0, 0),
		 -EINVAL);
	snprintf(where, sizeof(where), "%u x %u: RECYCLE bid %u (past the ring)",
		 entries, buf_size, entries);
	t_expect(where, t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, bgid,
			      (unsigned short)entries, 0, 0), -EINVAL);
	/* One out, back, and back again. */
	ret = t_drv_fill(&ring, drv, bgid, 16, 3, &extra);
	if (!ret && extra.res == 16) {
		struct io_uring_cqe cqe;

		t_to_cqe(&extra, &cqe);
		bid = io_uring_kmbuf_cqe_bid(&cqe);
		snprintf(where, sizeof(where), "%u x %u: RECYCLE bid %d once",
			 entries, buf_size, bid);
		t_expect(where, t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, bgid,
				      (unsigned short)bid, 0, 0), 0);
		snprintf(where, sizeof(where), "%u x %u: RECYCLE bid %d twice",
			 entries, buf_size, bid);
		t_expect(where, t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, bgid,
				      (unsigned short)bid, 0, 0), -EINVAL);
	} else {
		t_fail("%u x %u: FILL of 16 bytes: expected 16, got %d (submit %d)",
		       entries, buf_size, ret ? 0 : extra.res, ret);
	}
out:
	free(cmds);
	free(cqes);
	free(seen);
	t_expect("io_uring_free_kmbuf_ring", io_uring_free_kmbuf_ring(&ring, kb), 0);
}

static void test_sizes(void)
{
	static const unsigned int entries[] = { 1, 2, 64, 256 };
	static const unsigned int sizes[] = { 4096, 65536, 1048576 };
	unsigned int e, s, cfg = 0, rounds;
	size_t total;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (e = 0; e < sizeof(entries) / sizeof(entries[0]); e++) {
			total = (size_t)entries[e] * sizes[s];
			/* Bounded for a TCG guest with KASAN: <= 4 MiB a ring. */
			if (total > 4u << 20 || sizes[s] % page)
				continue;
			/* Small rings wrap many times; big ones a few. */
			rounds = entries[e] < 8 ? 8 : 3;
			run_rounds(cfg++, entries[e], sizes[s], rounds);
		}
	}
}

static void test_driver_errors(void)
{
	struct io_uring_kmbuf *kb;
	struct t_pbuf pb;
	struct t_cqe c;
	void *legacy;
	int ret;

	ret = io_uring_setup_kmbuf_ring(&ring, 4, page, 1, NULL, &kb);
	if (!t_expect("setup kmbuf bgid 1", ret, 0))
		return;
	ret = t_pbuf_setup(&ring, 4, page, 2, &pb);
	if (!t_expect("pbuf ring at bgid 2", ret, 0))
		goto out_kb;
	legacy = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (legacy == MAP_FAILED) {
		t_fail("mmap: %s", t_errname(errno));
		goto out_pb;
	}
	t_expect("PROVIDE_BUFFERS at bgid 4",
		 t_provide_buffers(&ring, legacy, page, 2, 4, 0), 0);

	t_expect("IS_KMBUF on a kmbuf ring",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_IS_KMBUF, 1, 0, 0, 0), 1);
	t_expect("IS_KMBUF on a pbuf ring",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_IS_KMBUF, 2, 0, 0, 0), 0);
	t_expect("IS_KMBUF on a missing bgid",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_IS_KMBUF, 3, 0, 0, 0), 0);
	t_expect("IS_KMBUF on a legacy list",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_IS_KMBUF, 4, 0, 0, 0), 0);

	t_expect("FILL on a pbuf ring",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_FILL, 2, 0, 64, 1), -EINVAL);
	t_expect("FILL on a missing bgid",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_FILL, 3, 0, 64, 1), -EINVAL);
	t_expect("FILL on a legacy list",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_FILL, 4, 0, 64, 1), -EINVAL);
	t_expect("RECYCLE on a missing bgid",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, 3, 0, 0, 0), -EINVAL);

	/* The pbuf ring and the legacy list were not touched by the FILLs. */
	t_expect("REMOVE_BUFFERS at bgid 4 still finds 2",
		 t_remove_buffers(&ring, 2, 4), 2);

	/* After all that the kmbuf ring still has all 4 buffers. */
	for (ret = 0; ret < 4; ret++) {
		if (t_drv_fill(&ring, drv, 1, page, 9, &c) || c.res != (int)page) {
			t_fail("FILL %d of 4 after the error checks: expected %u, got %d",
			       ret, page, c.res);
			break;
		}
	}
	t_expect("FILL 5 of 4", t_drv(&ring, drv, KMBUF_TEST_CMD_FILL, 1, 0, 1, 1),
		 -ENOBUFS);
	munmap(legacy, 2 * page);
out_pb:
	t_expect("pbuf unregister", t_pbuf_free(&ring, &pb), 0);
out_kb:
	/* Buffers still out are the kernel's to forget: free must work. */
	t_expect("free with buffers out", io_uring_free_kmbuf_ring(&ring, kb), 0);
}

/* FILL_PBUF: the same driver path against an application-provided ring. */
static void test_pbuf_compare(void)
{
	const unsigned int entries = 8, buf_size = 2 * page;
	struct kmbuf_test_cmd cmds[8];
	struct t_cqe cqes[8];
	unsigned char seen[8] = { 0 };
	struct t_pbuf pb;
	unsigned int i, round, len;
	char where[80];
	size_t bad;
	int ret, bid;

	ret = t_pbuf_setup(&ring, entries, buf_size, 5, &pb);
	if (!t_expect("pbuf ring at bgid 5", ret, 0))
		return;
	for (round = 0; round < 3; round++) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < entries; i++)
			cmds[i] = (struct kmbuf_test_cmd){
				.bgid = 5, .len = fill_len(buf_size, round, i),
				.seed = fill_seed(99, round, i),
			};
		ret = t_drv_batch(&ring, drv, KMBUF_TEST_CMD_FILL_PBUF, cmds,
				  entries, cqes);
		if (ret) {
			t_fail("FILL_PBUF batch: %s", t_errname(ret));
			break;
		}
		for (i = 0; i < entries; i++) {
			snprintf(where, sizeof(where), "pbuf round %u fill %u", round, i);
			len = cmds[i].len < buf_size ? cmds[i].len : buf_size;
			if (!t_expect(where, cqes[i].res, (int)len))
				continue;
			if (!(cqes[i].flags & IORING_CQE_F_BUFFER)) {
				t_fail("%s: no IORING_CQE_F_BUFFER (flags %#x)",
				       where, cqes[i].flags);
				continue;
			}
			bid = (int)(cqes[i].flags >> IORING_CQE_BUFFER_SHIFT);
			if ((unsigned int)bid >= entries || seen[bid]) {
				t_fail("%s: bid %d out of range or twice", where, bid);
				continue;
			}
			seen[bid] = 1;
			bad = t_check_pattern((char *)pb.bufs + (size_t)bid * buf_size,
					      len, cmds[i].seed);
			if (bad != len)
				t_fail("%s: bid %d: pattern wrong at byte %zu", where,
				       bid, bad);
		}
		t_expect("FILL_PBUF on an empty pbuf ring",
			 t_drv(&ring, drv, KMBUF_TEST_CMD_FILL_PBUF, 5, 0, 1, 1),
			 -ENOBUFS);
		for (i = 0; i < entries; i++)
			if (seen[i])
				t_pbuf_recycle(&pb, i);
	}
	t_expect("pbuf unregister", t_pbuf_free(&ring, &pb), 0);
}

int main(void)
{
	int ret;

	ret = t_require_testbed(&drv, &ring, 64);
	if (ret)
		return ret;
	page = t_page_size();

	test_sizes();
	printf("%llu FILLs, %llu bytes checked against the pattern\n",
	       nr_fills, nr_bytes);
	test_driver_errors();
	test_pbuf_compare();

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-data");
}
