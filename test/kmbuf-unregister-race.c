/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unregister racing a consumer that is writing into a kmbuf buffer
 * (issue 7, defect 1): the driver's FILL runs in io-wq (IOSQE_ASYNC),
 * selects a buffer, drops ->uring_lock and writes it byte by byte, while
 * IORING_UNREGISTER_KMBUF_RING frees the region. On a kernel without a
 * fix the worker writes freed memory: a page fault on the vmap'ed region
 * ("BUG: unable to handle page fault ... kmbuf_test_uring_cmd ...
 * iou-wrk-N") or a KASAN use-after-free on a compound one, the FILL never
 * completes and the process cannot exit.
 *
 * Deterministic: for each ring shape we time one FILL (T), then submit
 * ASYNC FILLs and unregister after 0, T/8, 2T/8, ... 11T/8, so the
 * unregister lands before, during and after the write. doc/abi.md section 1
 * is what each round checks:
 *  - unregister returns 0 (the ring is not pinned);
 *  - every FILL completes within 20 s, either with res == buf_size and
 *    IORING_CQE_F_BUFFER, or with a negative res (a clean error);
 *  - through the mapping, which outlives the registration: a successful
 *    FILL's buffer holds exactly kmbuf_test_pattern(seed, i) for res
 *    bytes, and every buffer no successful CQE named is still all zero;
 *  - once unregister has returned 0 the kernel never writes the pages
 *    again: the mapping is snapshotted right after the unregister and
 *    must be unchanged after the last CQE.
 * Each shape runs in a child process with a watchdog, so that a kernel
 * that kills the worker still lets this program report and exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define BGID		7
#define STEPS		12	/* unregister after k * T / 8, k < STEPS */
#define CQE_WAIT_SEC	20
#define MAX_ENTRIES	4

struct shape {
	const char	*name;
	unsigned int	entries;
	unsigned int	pages;	/* per buffer */
	int		mapped;
};

static const struct shape shapes[] = {
	/* the reported recipe: 1 x 3 MiB, vmap'ed, not mapped */
	{ "1 x 768 pages (vmap), not mapped", 1, 768, 0 },
	{ "1 x 768 pages (vmap), mapped", 1, 768, 1 },
	{ "1 x 512 pages (compound), not mapped", 1, 512, 0 },
	{ "1 x 512 pages (compound), mapped", 1, 512, 1 },
	{ "4 x 3 pages (vmap), mapped", 4, 3, 1 },
};

/* What one shape saw, for the summary line. */
struct tally {
	unsigned int	ok;		/* FILLs that completed with data */
	unsigned int	failed;		/* FILLs that failed cleanly */
	unsigned int	in_flight;	/* unregisters that returned first */
};

static int drv;
static unsigned int page;

static int reg(struct io_uring *ring, const struct shape *s)
{
	struct io_uring_kmbuf_reg r;

	memset(&r, 0, sizeof(r));
	r.buf_size = s->pages * page;
	r.ring_entries = s->entries;
	r.bgid = BGID;
	return t_sys_register_kmbuf(ring->ring_fd, &r);
}

static int unreg(struct io_uring *ring)
{
	struct io_uring_kmbuf_reg r;

	memset(&r, 0, sizeof(r));
	r.bgid = BGID;
	return t_sys_unregister_kmbuf(ring->ring_fd, &r);
}

/* Queue @n ASYNC FILLs of a whole buffer each, seeds @seed + i. */
static int submit_fills(struct io_uring *ring, const struct shape *s,
			unsigned int n, unsigned int seed)
{
	struct kmbuf_test_cmd cmd = { .bgid = BGID, .len = s->pages * page };
	struct io_uring_sqe *sqe;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return -EBUSY;
		cmd.seed = seed + i;
		t_prep_drv(sqe, drv, KMBUF_TEST_CMD_FILL, &cmd);
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		sqe->user_data = i;
	}
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	return ret == (int)n ? 0 : -EIO;
}

/* Reap @n completions into @c (by user_data): 0, or -ETIME and why. */
static int reap(struct io_uring *ring, unsigned int n, struct t_cqe *c,
		const char *where)
{
	struct __kernel_timespec ts = { .tv_sec = CQE_WAIT_SEC };
	struct io_uring_cqe *cqe;
	unsigned int got = 0;
	int ret;

	while (got < n) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret) {
			t_fail("%s: %u of %u FILL completions missing after %d s (%s): the consumer never finished",
			       where, n - got, n, CQE_WAIT_SEC, t_errname(ret));
			return -ETIME;
		}
		if (cqe->user_data >= n) {
			t_fail("%s: unexpected completion, user_data %llu", where,
			       (unsigned long long)cqe->user_data);
		} else {
			c[cqe->user_data].res = cqe->res;
			c[cqe->user_data].flags = cqe->flags;
			c[cqe->user_data].user_data = cqe->user_data;
		}
		io_uring_cqe_seen(ring, cqe);
		got++;
	}
	return 0;
}

/*
 * Judge the completions of one round against @snap, the mapping as it was
 * right after unregister (NULL when not mapped).
 */
static void check_round(const struct shape *s, const struct t_cqe *c,
			unsigned int seed, const unsigned char *snap,
			struct tally *t, const char *where)
{
	const unsigned int size = s->pages * page;
	unsigned char named[MAX_ENTRIES] = { 0 };
	unsigned int i, bid;
	size_t bad;

	for (i = 0; i < s->entries; i++) {
		if (c[i].res < 0) {
			t->failed++;
			continue;
		}
		if (!(c[i].flags & IORING_CQE_F_BUFFER)) {
			t_fail("%s: FILL %u: res %d without IORING_CQE_F_BUFFER",
			       where, i, c[i].res);
			continue;
		}
		bid = c[i].flags >> IORING_CQE_BUFFER_SHIFT;
		if (bid >= s->entries || named[bid]) {
			t_fail("%s: FILL %u: bid %u out of range or named twice",
			       where, i, bid);
			continue;
		}
		named[bid] = 1;
		if ((unsigned int)c[i].res != size)
			t_fail("%s: FILL %u: res %d, expected %u", where, i,
			       c[i].res, size);
		t->ok++;
		if (!snap)
			continue;
		bad = t_check_pattern(snap + (size_t)bid * size,
				      (size_t)c[i].res, seed + i);
		if (bad != (size_t)c[i].res)
			t_fail("%s: FILL %u (bid %u, %d bytes): byte %zu is not the pattern",
			       where, i, bid, c[i].res, bad);
	}
	if (!snap)
		return;
	/* Data only where a CQE said: unnamed buffers are as registered. */
	for (bid = 0; bid < s->entries; bid++) {
		if (named[bid])
			continue;
		bad = t_check_byte(snap + (size_t)bid * size, size, 0);
		if (bad != size)
			t_fail("%s: bid %u, named by no successful CQE, has byte %zu written",
			       where, bid, bad);
	}
}

/* One round: register, ASYNC FILLs, wait @delay_ns, unregister, check. */
static int round_once(struct io_uring *ring, const struct shape *s,
		      uint64_t delay_ns, unsigned int seed, struct tally *t,
		      const char *where)
{
	const size_t len = (size_t)s->entries * s->pages * page;
	struct timespec nap = {
		.tv_sec = (time_t)(delay_ns / 1000000000ull),
		.tv_nsec = (long)(delay_ns % 1000000000ull),
	};
	struct t_cqe c[MAX_ENTRIES];
	unsigned char *snap = NULL;
	void *map = NULL;
	int ret;

	ret = reg(ring, s);
	if (!t_expect("register", ret, 0))
		return -1;
	if (s->mapped) {
		ret = t_sys_mmap(ring->ring_fd, t_kmbuf_off(BGID), len, &map);
		if (!t_expect("mmap", ret, 0)) {
			unreg(ring);
			return -1;
		}
		snap = malloc(len);
		if (!snap) {
			t_fail("%s: no memory for the snapshot", where);
			munmap(map, len);
			unreg(ring);
			return -1;
		}
	}
	ret = submit_fills(ring, s, s->entries, seed);
	if (!t_expect("submit ASYNC FILLs", ret, 0)) {
		unreg(ring);
		goto out;
	}
	if (delay_ns)
		nanosleep(&nap, NULL);
	ret = unreg(ring);
	if (snap)
		memcpy(snap, map, len);
	if (!io_uring_cq_ready(ring))
		t->in_flight++;
	t_expect("unregister with a FILL in flight", ret, 0);

	ret = reap(ring, s->entries, c, where);
	if (ret) {
		/* the worker is gone: do not touch anything it had */
		return -1;
	}
	check_round(s, c, seed, snap, t, where);
	if (snap && memcmp(snap, map, len))
		t_fail("%s: the buffers changed after unregister returned 0", where);
out:
	if (map)
		munmap(map, len);
	free(snap);
	return ret ? -1 : 0;
}

/* The time one ASYNC FILL of a whole buffer takes here, in ns. */
static int64_t time_fill(struct io_uring *ring, const struct shape *s)
{
	struct t_cqe c[MAX_ENTRIES];
	uint64_t t0, t1;
	int ret;

	if (!t_expect("register (timing)", reg(ring, s), 0))
		return -1;
	t0 = t_now_ns();
	ret = submit_fills(ring, s, 1, 1);
	if (!t_expect("submit (timing)", ret, 0) ||
	    reap(ring, 1, c, "timing")) {
		unreg(ring);
		return -1;
	}
	t1 = t_now_ns();
	t_expect("timing FILL", c[0].res, (long)(s->pages * page));
	t_expect("unregister (timing)", unreg(ring), 0);
	return (int64_t)(t1 - t0);
}

static int run_shape(void *arg)
{
	const struct shape *s = arg;
	struct tally t = { 0 };
	struct io_uring ring;
	char where[160];
	int64_t fill_ns;
	unsigned int k;
	int ret;

	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	fill_ns = time_fill(&ring, s);
	if (fill_ns < 0)
		return T_EXIT_FAIL;
	printf("%s: one FILL takes %.2f ms\n", s->name, fill_ns / 1e6);
	fflush(stdout);

	for (k = 0; k < STEPS; k++) {
		uint64_t delay = (uint64_t)fill_ns * k / 8;

		snprintf(where, sizeof(where), "%s, unregister after %.2f ms",
			 s->name, delay / 1e6);
		if (round_once(&ring, s, delay, 0x5eed0000u + k * 16, &t, where))
			return T_EXIT_FAIL;
	}
	printf("%s: %u FILLs completed with data, %u failed cleanly, %u unregisters returned with the FILL in flight\n",
	       s->name, t.ok, t.failed, t.in_flight);
	io_uring_queue_exit(&ring);
	return t_failures ? T_EXIT_FAIL : T_EXIT_PASS;
}

int main(void)
{
	struct io_uring ring;
	unsigned int i;
	int ret, stuck;

	ret = t_require_testbed(&drv, &ring, 4);
	if (ret)
		return ret;
	io_uring_queue_exit(&ring);
	page = t_page_size();

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		ret = t_run_child(run_shape, (void *)&shapes[i], shapes[i].name,
				  240, 20, &stuck);
		if (ret == T_EXIT_SKIP)
			return ret;
		if (ret != T_EXIT_PASS)
			t_failures++;
		/* the next shapes still tell whether their path is broken too */
		if (stuck)
			printf("%s: a process is left stuck in the kernel\n",
			       shapes[i].name);
	}
	return t_result("kmbuf-unregister-race");
}
