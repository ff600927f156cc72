/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Concurrent stress of kmbuf rings and the testbed driver (issue 7), for
 * the debug kernel: bounded in time, seeded, failing on any invariant.
 *
 *   kmbuf-stress [--seconds N] [--seed S] [--no-unregister-race]
 *                [--no-fork] [--no-exit]
 *
 * Two processes run at once, each with its own threads:
 *  - "root": two normal rings and one SQPOLL ring ("instances"), an exit
 *    thread and a fork thread;
 *  - "uid 65534": one normal ring, an exit thread and a fork thread, with
 *    RLIMIT_MEMLOCK at 4 MiB and no CAP_IPC_LOCK, so every kmbuf page is
 *    charged and -ENOMEM at register is expected now and then.
 * Each instance has
 *  - an io thread that owns the SQ and CQ: FILLs (half with IOSQE_ASYNC,
 *    payloads shorter than, equal to and longer than a buffer), RECYCLEs
 *    of what the FILLs returned (some held back so rings run dry), PIN /
 *    UNPIN, and RECYCLEs of bids that cannot be out (-EINVAL);
 *  - a control thread on the same ring fd: register (shapes that take
 *    the compound path, power-of-two page counts, and the vmap path, 3 or
 *    768 pages...), mmap, a second mmap, unregister (preferring rings with
 *    FILLs in flight, after a random pause: the known io-wq race), munmap
 *    before or after unregister, munmap with FILLs still in flight, mmap
 *    of an unregistered bgid, and the final check of a ring's pages.
 * The exit thread sets up rings (normal or SQPOLL) with kmbuf rings and
 * ASYNC FILLs, and io_uring_queue_exit()s them with the work in flight.
 * The fork thread forks while all that runs; the child reads the
 * inherited mappings and runs a FILL on a ring of its own, then exits
 * with both still set up.
 *
 * Invariants (any failure is exit 1, the first one stops the run):
 *  - every result is one the ABI allows in that state: FILL res ==
 *    min(len, buf_size) with IORING_CQE_F_BUFFER and a bid in range and
 *    not already out, or -ENOBUFS, or -EINVAL only if an unregister was
 *    attempted since the submission (and always -EINVAL once it had
 *    returned 0); RECYCLE of a returned bid 0 (-EINVAL only after an
 *    unregister); PIN/UNPIN consistent with the pin state; unregister
 *    -EBUSY exactly when pinned; mmap 0 while registered, refused after
 *    (-EINVAL, or the pbuf offset's -ENOMEM in the flag generation);
 *  - data only where a CQE said: a FILL's buffer, read through the
 *    mapping, holds kmbuf_test_pattern(seed, i) for res bytes and its
 *    tail is unchanged; when a ring is retired (unregistered, nothing in
 *    flight) every byte of its mapping is exactly what the CQEs wrote and
 *    zero elsewhere; after a ring exit every buffer holds zeros or the
 *    pattern of one submitted FILL;
 *  - every request completes (30 s at most) and every process exits;
 *  - a forked child exits 0;
 *  - the run covered what it is for: FILLs on both allocation paths,
 *    the reported race and an unregister with a FILL in flight (root),
 *    a ring exit with requests in flight, a fork, and (uid 65534) a
 *    register refused by the limit;
 *  - no fd and no mapping growth in each process (/proc/self/fd,
 *    /proc/self/maps back to their baselines), VmPin back to its start;
 *  - as uid 65534, once everything is gone, a ring of exactly the limit
 *    registers again (within 20 s: ring exit is asynchronous) and one
 *    page more does not: no charge leaked, and the limit holds.
 * The kernel log (KASAN, lockdep, WARN, BUG) is judged by test/vm/run.sh.
 *
 * --no-unregister-race keeps FILLs and unregisters of one ring apart (the
 * control thread waits for the ring's FILLs to finish and holds new ones
 * back), to check everything else on a kernel that still has defect 1.
 * --no-fork and --no-exit leave out the fork and the exit threads, to
 * narrow a failure down.
 */
#define _GNU_SOURCE	/* pthread_timedjoin_np */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define NSLOTS		12	/* bgids per instance */
#define RING_ENTRIES	64
#define MAX_INFLIGHT	48	/* below the SQ size: the CQ never overflows */
#define MAX_REQS	64
#define WAIT_SEC	30	/* one request may take this long, no more */
#define UNPRIV_ID	65534
#define LIMIT_PAGES	1024	/* RLIMIT_MEMLOCK of the uid 65534 process */
#define STACK_SIZE	(256 * 1024)
#define MAX_FAIL_MSGS	30

/* ---- options, failures, counters ---- */

static unsigned int opt_seconds = 20;
static int opt_no_unreg_race;
static int opt_no_fork, opt_no_exit;
static uint32_t opt_seed;
static uint64_t deadline_ns;
static int drv = -1;
static unsigned int page;
static volatile int stop;

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

/* Threads report through here: one message at a time, and the run stops. */
#define fail(...)							\
	do {								\
		pthread_mutex_lock(&fail_lock);				\
		if (t_failures < MAX_FAIL_MSGS)				\
			t_fail(__VA_ARGS__);				\
		else							\
			t_failures++;					\
		pthread_mutex_unlock(&fail_lock);			\
		__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);		\
	} while (0)

enum counter {
	C_REG, C_REG_ENOMEM, C_MMAP, C_MMAP2, C_MMAP_DEAD, C_UNREG,
	C_UNREG_INFLIGHT, C_UNREG_BUSY, C_UNMAP_FIRST, C_MUNMAP,
	C_MUNMAP_INFLIGHT, C_RETIRE_CHECK, C_FILL, C_FILL_ASYNC, C_FILL_OK,
	C_FILL_VERIFIED, C_FILL_COMPOUND, C_FILL_VMAP, C_FILL_ENOBUFS,
	C_FILL_EINVAL, C_RECYCLE, C_RECYCLE_EINVAL, C_BAD_RECYCLE, C_PIN,
	C_PIN_OK, C_UNPIN, C_UNPIN_OK, C_RING_EXIT, C_EXIT_INFLIGHT,
	C_EXIT_CHECKED, C_FORK, C_FORK_READ, C_KNOWN_RACE, NR_COUNTERS
};

static const char *const counter_name[NR_COUNTERS] = {
	[C_REG] = "register", [C_REG_ENOMEM] = "register -ENOMEM",
	[C_MMAP] = "mmap", [C_MMAP2] = "second mmap",
	[C_MMAP_DEAD] = "mmap after unregister (refused)",
	[C_UNREG] = "unregister", [C_UNREG_INFLIGHT] = "unregister, FILL in flight",
	[C_UNREG_BUSY] = "unregister -EBUSY (pinned)",
	[C_UNMAP_FIRST] = "munmap before unregister", [C_MUNMAP] = "munmap",
	[C_MUNMAP_INFLIGHT] = "munmap, FILL in flight",
	[C_RETIRE_CHECK] = "retired ring checked",
	[C_FILL] = "FILL", [C_FILL_ASYNC] = "FILL IOSQE_ASYNC",
	[C_FILL_OK] = "FILL with data", [C_FILL_VERIFIED] = "FILL verified",
	[C_FILL_COMPOUND] = "FILL, power-of-two region",
	[C_FILL_VMAP] = "FILL, other region (vmap)",
	[C_FILL_ENOBUFS] = "FILL -ENOBUFS", [C_FILL_EINVAL] = "FILL -EINVAL",
	[C_RECYCLE] = "RECYCLE", [C_RECYCLE_EINVAL] = "RECYCLE -EINVAL",
	[C_BAD_RECYCLE] = "RECYCLE of a bad bid", [C_PIN] = "PIN",
	[C_PIN_OK] = "PIN 0", [C_UNPIN] = "UNPIN", [C_UNPIN_OK] = "UNPIN 0",
	[C_RING_EXIT] = "ring exit", [C_EXIT_INFLIGHT] = "ring exit, requests in flight",
	[C_EXIT_CHECKED] = "ring exit, buffers checked",
	[C_FORK] = "fork", [C_FORK_READ] = "child read of a mapping",
	[C_KNOWN_RACE] = "the reported race (768 pages)",
};

static unsigned long long counters[NR_COUNTERS];

static void count(enum counter c, unsigned long long n)
{
	__atomic_fetch_add(&counters[c], n, __ATOMIC_RELAXED);
}

static int running(void)
{
	return !__atomic_load_n(&stop, __ATOMIC_RELAXED) &&
	       t_now_ns() < deadline_ns;
}

/* ---- randomness: one generator per thread, all derived from the seed ---- */

struct rng {
	uint64_t s;
};

static void rng_init(struct rng *r, uint32_t seed, unsigned int stream)
{
	r->s = ((uint64_t)seed << 32 | stream) * 0x9e3779b97f4a7c15ull + 1;
}

static uint32_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545f4914f6cdd1dull) >> 32);
}

/* 0 .. n-1 */
static unsigned int rnd_below(struct rng *r, unsigned int n)
{
	return n ? rnd(r) % n : 0;
}

/* true with probability pct / 100 */
static int chance(struct rng *r, unsigned int pct)
{
	return rnd_below(r, 100) < pct;
}

static void pause_us(unsigned int us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000,
	};

	if (us)
		nanosleep(&ts, NULL);
}

/* ---- ring shapes ---- */

struct shape {
	unsigned int	entries;
	unsigned int	pages;	/* per buffer */
};

/*
 * Region sizes of both kinds: a power-of-two page count (one compound
 * allocation) and anything else (single pages, vmap). The big ones are
 * the shape of the reported crash and appear once in ~8 registrations.
 */
static const struct shape small_shapes[] = {
	{ 1, 1 }, { 2, 1 }, { 8, 1 }, { 32, 1 }, { 4, 2 }, { 16, 4 },
	{ 1, 3 }, { 4, 3 }, { 8, 3 }, { 2, 5 }, { 16, 6 }, { 1, 16 },
	{ 8, 16 }, { 2, 12 },
};
static const struct shape big_shapes[] = {
	{ 1, 768 }, { 1, 512 }, { 2, 384 }, { 4, 128 },
};

static struct shape pick_shape(struct rng *r)
{
	if (chance(r, 12))
		return big_shapes[rnd_below(r, sizeof(big_shapes) / sizeof(big_shapes[0]))];
	return small_shapes[rnd_below(r, sizeof(small_shapes) / sizeof(small_shapes[0]))];
}

static int is_pow2(unsigned int n)
{
	return n && !(n & (n - 1));
}

static int reg_kmbuf(int ring_fd, unsigned short bgid, const struct shape *s)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = s->pages * page;
	reg.ring_entries = s->entries;
	reg.bgid = bgid;
	return t_sys_register_kmbuf(ring_fd, &reg);
}

static int unreg_kmbuf(int ring_fd, unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.bgid = bgid;
	return t_sys_unregister_kmbuf(ring_fd, &reg);
}

/* ---- instances: a ring, its bgid slots, an io and a control thread ---- */

enum slot_state { S_FREE, S_LIVE, S_RETIRED };

/* What the io thread knows about one bid of a live ring. */
struct bidst {
	unsigned char	out;		/* named by a FILL CQE, not recycled */
	unsigned char	recycling;	/* a RECYCLE of it is in flight */
};

struct slot {
	unsigned short	bgid;
	enum slot_state	state;
	struct shape	shape;
	unsigned int	buf_size;
	size_t		len;
	unsigned char	*map;		/* NULL once unmapped */
	unsigned char	*map2;		/* a second mapping, or NULL */
	unsigned char	*shadow;	/* what the mapping must hold */
	int		shadow_valid;	/* mapped since registration */
	struct bidst	*bids;
	unsigned int	verifying;	/* io thread is reading map */
	unsigned int	inflight;	/* requests naming this bgid */
	unsigned int	fills_inflight;
	unsigned int	unreg_tries;	/* unregister attempts so far */
	int		unregistering;	/* an unregister syscall is running */
	int		pinned;
	int		pin_op;		/* PIN or UNPIN in flight, or 0 */
	int		want_unpin;	/* unregister saw -EBUSY */
	int		unpin_must_work;/* unregister returned 0 meanwhile */
	int		pin_must_fail;	/* ditto, for a PIN in flight */
	unsigned int	unpins;		/* successful UNPINs so far */
	/*
	 * The ring may have been pinned while an unregister syscall ran: it
	 * was, or a PIN or UNPIN was in flight, when the syscall started, or
	 * an UNPIN completed while it ran (the lock is dropped meanwhile).
	 */
	int		unreg_maybe_pinned;
	int		fills_held;	/* --no-unregister-race: no new FILLs */
	unsigned int	reg_gen;	/* registrations of this bgid so far */
	uint64_t	reg_ns;		/* when the current one was made */
	unsigned int	fills_ok;	/* FILLs with data on it */
	int		want_async_fill;/* the known race: FILL this ring now */
};

struct req {
	int		used;
	unsigned int	op;
	unsigned int	slot;
	unsigned int	len;
	unsigned int	seed;
	unsigned int	bid;
	unsigned int	unreg_tries;	/* of the slot at submission */
	enum slot_state	state;		/* of the slot at submission */
	unsigned int	reg_gen;	/* of the slot at submission */
	int		unreg_busy;	/* an unregister ran at submission */
	int		async;
	uint64_t	sub_ns;
};

struct instance {
	const char	*name;
	unsigned int	index;
	int		sqpoll;
	struct io_uring	ring;
	pthread_mutex_t	lock;		/* the slots */
	struct slot	slots[NSLOTS];
	struct req	reqs[MAX_REQS];	/* io thread only */
	unsigned int	inflight;	/* io thread only */
	struct rng	io_rng, ctl_rng;
};

static void slot_drop(struct slot *s)
{
	if (s->map) {
		munmap(s->map, s->len);
		count(C_MUNMAP, 1);
	}
	if (s->map2)
		munmap(s->map2, s->len);
	free(s->shadow);
	free(s->bids);
	s->map = s->map2 = s->shadow = NULL;
	s->bids = NULL;
	s->state = S_FREE;
	s->pinned = s->pin_op = s->want_unpin = 0;
	s->unpin_must_work = s->pin_must_fail = 0;
	s->shadow_valid = 0;
}

/* The whole mapping against the shadow: kernel writes no CQE named. */
static void check_shadow(struct instance *in, struct slot *s, const char *when)
{
	size_t i;

	if (!s->map || !s->shadow_valid)
		return;
	count(C_RETIRE_CHECK, 1);
	if (!memcmp(s->map, s->shadow, s->len))
		return;
	for (i = 0; i < s->len && s->map[i] == s->shadow[i]; i++)
		;
	fail("%s bgid %u (%u x %u pages) %s: byte %zu (bid %zu, offset %zu) is %#x, CQEs said %#x",
	     in->name, s->bgid, s->shape.entries, s->shape.pages, when, i,
	     i / s->buf_size, i % s->buf_size, s->map[i], s->shadow[i]);
}

/* ---- io thread: submissions ---- */

static struct req *req_get(struct instance *in, unsigned int *idx)
{
	unsigned int i;

	if (in->inflight >= MAX_INFLIGHT)
		return NULL;
	for (i = 0; i < MAX_REQS; i++) {
		if (!in->reqs[i].used) {
			memset(&in->reqs[i], 0, sizeof(in->reqs[i]));
			in->reqs[i].used = 1;
			*idx = i;
			return &in->reqs[i];
		}
	}
	return NULL;
}

/*
 * Queue driver command @op for @r (slot lock held: the slot's in-flight
 * count goes up with the SQE). 0, or -EBUSY if the SQ is full.
 */
static int queue_cmd(struct instance *in, struct req *r, unsigned int idx,
		     unsigned int op, unsigned short bgid, int async)
{
	struct kmbuf_test_cmd cmd = {
		.bgid = bgid, .bid = (__u16)r->bid, .len = r->len,
		.seed = r->seed,
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&in->ring);
	struct slot *s = &in->slots[r->slot];

	if (!sqe) {
		r->used = 0;
		return -EBUSY;
	}
	t_prep_drv(sqe, drv, op, &cmd);
	if (async)
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	sqe->user_data = idx;
	r->op = op;
	r->state = s->state;
	r->unreg_tries = s->unreg_tries;
	r->reg_gen = s->reg_gen;
	r->unreg_busy = s->unregistering;
	r->async = async;
	r->sub_ns = t_now_ns();
	s->inflight++;
	in->inflight++;
	return 0;
}

static void submit_fill(struct instance *in, unsigned int si)
{
	struct rng *g = &in->io_rng;
	struct slot *s = &in->slots[si];
	unsigned int idx;
	struct req *r;
	int async;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_FREE || s->fills_held ||
	    (s->state == S_RETIRED && !chance(g, 10)))
		goto out;
	r = req_get(in, &idx);
	if (!r)
		goto out;
	r->slot = si;
	switch (rnd_below(g, 3)) {
	case 0:
		r->len = s->buf_size;
		break;
	case 1:
		r->len = 1 + rnd_below(g, s->buf_size);
		break;
	default:
		r->len = s->buf_size + 1 + rnd_below(g, 4096);
		break;
	}
	r->seed = rnd(g);
	async = chance(g, 50);
	if (!queue_cmd(in, r, idx, KMBUF_TEST_CMD_FILL, s->bgid, async)) {
		s->fills_inflight++;
		count(C_FILL, 1);
		if (async)
			count(C_FILL_ASYNC, 1);
	}
out:
	pthread_mutex_unlock(&in->lock);
}

/* The known race's FILL: a whole buffer, from io-wq. */
static void submit_race_fill(struct instance *in, unsigned int si)
{
	struct slot *s = &in->slots[si];
	unsigned int idx;
	struct req *r;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_LIVE && s->want_async_fill && (r = req_get(in, &idx))) {
		r->slot = si;
		r->len = s->buf_size;
		r->seed = rnd(&in->io_rng);
		if (!queue_cmd(in, r, idx, KMBUF_TEST_CMD_FILL, s->bgid, 1)) {
			s->fills_inflight++;
			s->want_async_fill = 0;
			count(C_FILL, 1);
			count(C_FILL_ASYNC, 1);
		}
	}
	pthread_mutex_unlock(&in->lock);
}

/* RECYCLE @bid of slot @si (lock held): 0, or -EBUSY (try later). */
static int submit_recycle(struct instance *in, unsigned int si,
			  unsigned int bid, int bad)
{
	struct slot *s = &in->slots[si];
	unsigned int idx;
	struct req *r;

	r = req_get(in, &idx);
	if (!r)
		return -EBUSY;
	r->slot = si;
	r->bid = bid;
	r->len = bad;	/* a bid that cannot be out: -EINVAL expected */
	if (queue_cmd(in, r, idx, KMBUF_TEST_CMD_RECYCLE, s->bgid,
		      chance(&in->io_rng, 30)))
		return -EBUSY;
	if (bad) {
		count(C_BAD_RECYCLE, 1);
	} else {
		s->bids[bid].out = 0;
		s->bids[bid].recycling = 1;
		count(C_RECYCLE, 1);
	}
	return 0;
}

/* Recycle one held-back buffer of slot @si, if it has any. */
static void recycle_held(struct instance *in, unsigned int si)
{
	struct slot *s = &in->slots[si];
	unsigned int i, n, start;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_LIVE) {
		n = s->shape.entries;
		start = rnd_below(&in->io_rng, n);
		for (i = 0; i < n; i++) {
			unsigned int bid = (start + i) % n;

			if (s->bids[bid].out && !s->bids[bid].recycling) {
				submit_recycle(in, si, bid, 0);
				break;
			}
		}
	}
	pthread_mutex_unlock(&in->lock);
}

static void submit_pin_op(struct instance *in, unsigned int si)
{
	struct slot *s = &in->slots[si];
	struct rng *g = &in->io_rng;
	unsigned int idx, op;
	struct req *r;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_FREE || s->pin_op)
		goto out;
	if (s->want_unpin || s->pinned)
		op = chance(g, 90) ? KMBUF_TEST_CMD_UNPIN : KMBUF_TEST_CMD_PIN;
	else if (s->state == S_LIVE)
		op = chance(g, 90) ? KMBUF_TEST_CMD_PIN : KMBUF_TEST_CMD_UNPIN;
	else
		goto out;
	r = req_get(in, &idx);
	if (!r)
		goto out;
	r->slot = si;
	if (!queue_cmd(in, r, idx, op, s->bgid, chance(g, 50))) {
		s->pin_op = (int)op;
		count(op == KMBUF_TEST_CMD_PIN ? C_PIN : C_UNPIN, 1);
	}
out:
	pthread_mutex_unlock(&in->lock);
}

static void submit_bad_recycle(struct instance *in, unsigned int si)
{
	struct slot *s = &in->slots[si];

	pthread_mutex_lock(&in->lock);
	if (s->state == S_LIVE)
		submit_recycle(in, si, s->shape.entries +
			       rnd_below(&in->io_rng, 100), 1);
	pthread_mutex_unlock(&in->lock);
}

/* ---- io thread: completions ---- */

/*
 * What the kernel says about @s's bgid now, for a failure message: a
 * one-page mmap works while it has a kmbuf ring there.
 */
static const char *kernel_view(struct instance *in, const struct slot *s)
{
	void *p;
	int ret = t_sys_mmap(in->ring.ring_fd, t_kmbuf_off(s->bgid), page, &p);

	if (ret)
		return ret == t_kmbuf_gen()->off_missing_err ?
			"the kernel has no kmbuf ring at that bgid (mmap says so)" :
			"mmap of the bgid fails otherwise";
	munmap(p, page);
	return "the kernel still has a ring there (mmap works)";
}

/*
 * An unregister was attempted since @r was submitted, or was running
 * then or is running now (the CQE can come before its syscall returns).
 */
static int unreg_since(const struct slot *s, const struct req *r)
{
	return s->unreg_tries != r->unreg_tries || r->state != S_LIVE ||
	       r->unreg_busy || s->unregistering;
}

/*
 * Check a FILL's data through the mapping, outside the lock (the control
 * thread does not unmap while verifying is non-zero), and record it.
 */
static void verify_fill(struct instance *in, struct slot *s,
			const struct req *r, unsigned int bid, unsigned int res)
{
	unsigned char *buf = s->map + (size_t)bid * s->buf_size;
	unsigned char *shadow = s->shadow + (size_t)bid * s->buf_size;
	size_t bad;

	bad = t_check_pattern(buf, res, r->seed);
	if (bad != res)
		fail("%s bgid %u bid %u: FILL of %u bytes (seed %#x): byte %zu is %#x, not the pattern %#x",
		     in->name, s->bgid, bid, res, r->seed, bad, buf[bad],
		     kmbuf_test_pattern(r->seed, (__u32)bad));
	if (memcmp(buf + res, shadow + res, s->buf_size - res))
		fail("%s bgid %u bid %u: FILL of %u bytes changed bytes past its payload",
		     in->name, s->bgid, bid, res);
	memcpy(shadow, buf, res);
	count(C_FILL_VERIFIED, 1);
}

static void fill_done(struct instance *in, struct req *r, int res,
		      unsigned int flags)
{
	struct slot *s = &in->slots[r->slot];
	unsigned int bid = 0, want;
	int verify = 0, got = 0;

	pthread_mutex_lock(&in->lock);
	s->fills_inflight--;
	if (res < 0) {
		if (res == -ENOBUFS && r->state == S_LIVE) {
			count(C_FILL_ENOBUFS, 1);
		} else if (res == -EINVAL && unreg_since(s, r)) {
			count(C_FILL_EINVAL, 1);
		} else {
			fail("%s bgid %u: FILL got %d (%s) on a ring %s (%u x %u pages, registration %u/%u, %.1f ms old at submission, %s, %.1f ms in flight, %u FILLs with data before, %u in flight, pinned %d, %u unregister attempts); %s",
			     in->name, s->bgid, res, t_errname(res),
			     r->state == S_LIVE ? "that stayed registered" : "unregistered before the submission",
			     s->shape.entries, s->shape.pages, r->reg_gen,
			     s->reg_gen, (r->sub_ns - s->reg_ns) / 1e6,
			     r->async ? "IOSQE_ASYNC" : "inline",
			     (t_now_ns() - r->sub_ns) / 1e6, s->fills_ok,
			     s->fills_inflight, s->pinned, s->unreg_tries,
			     kernel_view(in, s));
		}
		goto out;
	}
	bid = flags >> IORING_CQE_BUFFER_SHIFT;
	want = r->len < s->buf_size ? r->len : s->buf_size;
	if (r->state != S_LIVE) {
		fail("%s bgid %u: FILL submitted after unregister returned 0 got %d, bid %u",
		     in->name, s->bgid, res, bid);
		goto out;
	}
	if (!(flags & IORING_CQE_F_BUFFER) || bid >= s->shape.entries ||
	    (unsigned int)res != want) {
		fail("%s bgid %u (%u x %u pages): FILL of %u: res %d flags %#x",
		     in->name, s->bgid, s->shape.entries, s->shape.pages,
		     r->len, res, flags);
		goto out;
	}
	if (flags & IORING_CQE_F_BUF_MORE)
		fail("%s bgid %u: IORING_CQE_F_BUF_MORE on a kmbuf FILL", in->name,
		     s->bgid);
	if (s->bids[bid].out) {
		fail("%s bgid %u: bid %u handed out twice without a recycle",
		     in->name, s->bgid, bid);
		goto out;
	}
	s->bids[bid].out = 1;
	s->fills_ok++;
	got = 1;
	count(C_FILL_OK, 1);
	count(is_pow2(s->shape.entries * s->shape.pages) ? C_FILL_COMPOUND : C_FILL_VMAP, 1);
	if (s->map && s->shadow_valid) {
		s->verifying++;
		verify = 1;
	}
out:
	pthread_mutex_unlock(&in->lock);
	if (!got)
		return;
	if (verify)
		verify_fill(in, s, r, bid, (unsigned int)res);
	pthread_mutex_lock(&in->lock);
	if (verify)
		s->verifying--;
	/*
	 * Most go back at once, some are held so that the ring runs dry;
	 * on an unregistered ring the RECYCLE must fail.
	 */
	if (!chance(&in->io_rng, 30) || s->state != S_LIVE)
		submit_recycle(in, r->slot, bid, 0);
	pthread_mutex_unlock(&in->lock);
}

static void recycle_done(struct instance *in, struct req *r, int res)
{
	struct slot *s = &in->slots[r->slot];

	pthread_mutex_lock(&in->lock);
	if (r->len) {
		if (res != -EINVAL)
			fail("%s bgid %u: RECYCLE of bid %u (ring of %u) got %d, expected -EINVAL",
			     in->name, s->bgid, r->bid, s->shape.entries, res);
		goto out;
	}
	s->bids[r->bid].recycling = 0;
	if (res == -EINVAL && unreg_since(s, r)) {
		count(C_RECYCLE_EINVAL, 1);
	} else if (res || r->state != S_LIVE) {
		fail("%s bgid %u: RECYCLE of bid %u (out) got %d (%s) on a ring %s (%u x %u pages, registration %u, %.1f ms old, %s, pinned %d, %u unregister attempts); %s",
		     in->name, s->bgid, r->bid, res, t_errname(res),
		     r->state == S_LIVE ? "that stayed registered" : "already unregistered",
		     s->shape.entries, s->shape.pages, s->reg_gen,
		     (t_now_ns() - s->reg_ns) / 1e6,
		     r->async ? "IOSQE_ASYNC" : "inline", s->pinned,
		     s->unreg_tries, kernel_view(in, s));
	}
out:
	pthread_mutex_unlock(&in->lock);
}

static void pin_done(struct instance *in, struct req *r, int res)
{
	struct slot *s = &in->slots[r->slot];
	int gone;

	pthread_mutex_lock(&in->lock);
	gone = unreg_since(s, r);
	s->pin_op = 0;
	if (r->op == KMBUF_TEST_CMD_PIN) {
		if (res == 0 && !s->pinned && !s->pin_must_fail && r->state == S_LIVE) {
			s->pinned = 1;
			count(C_PIN_OK, 1);
		} else if (res == -EALREADY && s->pinned) {
			/* pinned twice: the first pin stays */
		} else if (res == -EINVAL && gone) {
			s->pinned = 0;
		} else {
			fail("%s bgid %u: PIN got %d (%s); pinned %d, unregistered meanwhile %d; %s",
			     in->name, s->bgid, res, t_errname(res), s->pinned,
			     s->pin_must_fail, kernel_view(in, s));
		}
		s->pin_must_fail = 0;
	} else {
		if (res == 0 && s->pinned) {
			s->pinned = 0;
			s->want_unpin = 0;
			s->unpins++;
			count(C_UNPIN_OK, 1);
		} else if (res == -EINVAL && (!s->pinned || (gone && !s->unpin_must_work))) {
			s->pinned = 0;
		} else {
			fail("%s bgid %u: UNPIN got %d (%s); pinned %d, unregister returned 0 meanwhile %d",
			     in->name, s->bgid, res, t_errname(res), s->pinned,
			     s->unpin_must_work);
		}
		s->unpin_must_work = 0;
	}
	pthread_mutex_unlock(&in->lock);
}

static void complete(struct instance *in, const struct io_uring_cqe *cqe)
{
	struct req *r;
	struct slot *s;

	if (cqe->user_data >= MAX_REQS || !in->reqs[cqe->user_data].used) {
		fail("%s: completion for no request (user_data %llu, res %d)",
		     in->name, (unsigned long long)cqe->user_data, cqe->res);
		return;
	}
	r = &in->reqs[cqe->user_data];
	switch (r->op) {
	case KMBUF_TEST_CMD_FILL:
		fill_done(in, r, cqe->res, cqe->flags);
		break;
	case KMBUF_TEST_CMD_RECYCLE:
		recycle_done(in, r, cqe->res);
		break;
	default:
		pin_done(in, r, cqe->res);
		break;
	}
	s = &in->slots[r->slot];
	pthread_mutex_lock(&in->lock);
	s->inflight--;
	pthread_mutex_unlock(&in->lock);
	r->used = 0;
	in->inflight--;
}

/*
 * Reap what is there. @wait: wait for one, up to WAIT_SEC, and fail if
 * none comes; else wait a little when something is in flight, so this
 * thread does not spin on the 2 CPUs that io-wq needs. -1 on failure.
 */
static int reap(struct instance *in, int wait)
{
	struct __kernel_timespec ts = { .tv_sec = WAIT_SEC };
	struct __kernel_timespec nap = { .tv_nsec = 2 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	int ret;

	if (!wait && in->inflight)
		io_uring_wait_cqe_timeout(&in->ring, &cqe, &nap);
	if (wait) {
		ret = io_uring_wait_cqe_timeout(&in->ring, &cqe, &ts);
		if (ret) {
			fail("%s: %u requests in flight, none completed in %d s (%s)",
			     in->name, in->inflight, WAIT_SEC, t_errname(ret));
			return -1;
		}
	}
	while (io_uring_peek_cqe(&in->ring, &cqe) == 0) {
		complete(in, cqe);
		io_uring_cqe_seen(&in->ring, cqe);
	}
	return 0;
}

static void *io_thread(void *arg)
{
	struct instance *in = arg;
	struct rng *g = &in->io_rng;
	unsigned int i, n, si;
	int ret;

	while (running()) {
		n = 1 + rnd_below(g, 4);
		for (i = 0; i < n; i++) {
			si = rnd_below(g, NSLOTS);
			switch (rnd_below(g, 20)) {
			case 0:
			case 1:
				submit_pin_op(in, si);
				break;
			case 2:
				submit_bad_recycle(in, si);
				break;
			case 3:
			case 4:
				recycle_held(in, si);
				break;
			default:
				submit_fill(in, si);
				break;
			}
		}
		for (si = 0; si < NSLOTS; si++) {
			/* a ring that could not unregister because it is pinned */
			if (in->slots[si].want_unpin)
				submit_pin_op(in, si);
			if (in->slots[si].want_async_fill)
				submit_race_fill(in, si);
		}
		ret = io_uring_submit(&in->ring);
		if (ret < 0) {
			fail("%s: io_uring_submit: %s", in->name, t_errname(ret));
			break;
		}
		if (reap(in, in->inflight >= MAX_INFLIGHT / 2))
			return NULL;
		if (chance(g, 20))
			pause_us(rnd_below(g, 300));
	}
	/* drain: every request must complete (RECYCLEs queued meanwhile too) */
	while (in->inflight) {
		ret = io_uring_submit(&in->ring);
		if (ret < 0) {
			fail("%s: io_uring_submit: %s", in->name, t_errname(ret));
			break;
		}
		if (reap(in, 1))
			return NULL;
	}
	return NULL;
}

/* ---- control thread ---- */

static void ctl_register(struct instance *in, struct slot *s)
{
	struct rng *g = &in->ctl_rng;
	struct shape sh = pick_shape(g);
	size_t len = (size_t)sh.entries * sh.pages * page;
	unsigned char *shadow = NULL, *map = NULL;
	struct bidst *bids;
	int ret;

	bids = calloc(sh.entries, sizeof(*bids));
	shadow = calloc(1, len);
	if (!bids || !shadow) {
		fail("%s: out of memory for a %zu byte shadow", in->name, len);
		goto err;
	}
	ret = reg_kmbuf(in->ring.ring_fd, s->bgid, &sh);
	if (ret == -ENOMEM) {
		count(C_REG_ENOMEM, 1);
		goto err;
	}
	if (ret) {
		fail("%s bgid %u: register %u x %u pages: %d (%s)", in->name,
		     s->bgid, sh.entries, sh.pages, ret, t_errname(ret));
		goto err;
	}
	count(C_REG, 1);
	if (chance(g, 85)) {
		ret = t_sys_mmap(in->ring.ring_fd, t_kmbuf_off(s->bgid), len,
				 (void **)&map);
		if (ret) {
			fail("%s bgid %u: mmap of a registered ring: %s",
			     in->name, s->bgid, t_errname(ret));
			map = NULL;
		} else {
			count(C_MMAP, 1);
		}
	}
	pthread_mutex_lock(&in->lock);
	s->shape = sh;
	s->buf_size = sh.pages * page;
	s->len = len;
	s->map = map;
	s->shadow = shadow;
	s->shadow_valid = map != NULL;
	s->bids = bids;
	s->reg_gen++;
	s->reg_ns = t_now_ns();
	s->fills_ok = 0;
	s->state = S_LIVE;
	pthread_mutex_unlock(&in->lock);
	return;
err:
	free(bids);
	free(shadow);
}

/* The rules of doc/abi.md section 1 for an unregister result (lock held). */
static void judge_unreg(struct instance *in, struct slot *s, int ret)
{
	if (ret == -EBUSY) {
		count(C_UNREG_BUSY, 1);
		if (!s->pinned && s->pin_op != KMBUF_TEST_CMD_PIN &&
		    !s->unreg_maybe_pinned)
			fail("%s bgid %u: unregister -EBUSY, but the ring is not pinned",
			     in->name, s->bgid);
		s->want_unpin = 1;
		return;
	}
	if (ret) {
		fail("%s bgid %u: unregister: %d (%s)", in->name, s->bgid, ret,
		     t_errname(ret));
		return;
	}
	if (s->pinned && s->pin_op != KMBUF_TEST_CMD_UNPIN)
		fail("%s bgid %u: unregister of a pinned ring returned 0",
		     in->name, s->bgid);
	if (s->pinned)
		s->unpin_must_work = 1;
	if (s->pin_op == KMBUF_TEST_CMD_PIN)
		s->pin_must_fail = 1;
	s->want_unpin = 0;
	s->state = S_RETIRED;
	count(C_UNREG, 1);
}

static void ctl_unregister_at(struct instance *in, struct slot *s, int pause);

static void ctl_unregister(struct instance *in, struct slot *s)
{
	ctl_unregister_at(in, s, 1);
}

static void ctl_unregister_now(struct instance *in, struct slot *s)
{
	ctl_unregister_at(in, s, 0);
}

static void ctl_unregister_at(struct instance *in, struct slot *s, int pause)
{
	struct rng *g = &in->ctl_rng;
	unsigned char *unmap = NULL;
	unsigned int unpins;
	int ret, inflight, was_pinned;

	pthread_mutex_lock(&in->lock);
	if (s->state != S_LIVE) {
		pthread_mutex_unlock(&in->lock);
		return;
	}
	if (opt_no_unreg_race) {
		s->fills_held = 1;
		while (s->fills_inflight && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
			pthread_mutex_unlock(&in->lock);
			pause_us(1000);
			pthread_mutex_lock(&in->lock);
		}
	}
	inflight = s->fills_inflight > 0;
	/* the other order: unmap first (nothing may be reading it) */
	if (s->map && !s->verifying && pause && chance(g, 20)) {
		unmap = s->map;
		s->map = NULL;
	}
	s->unreg_tries++;
	s->unregistering = 1;
	was_pinned = s->pinned || s->pin_op;
	unpins = s->unpins;
	pthread_mutex_unlock(&in->lock);

	if (unmap) {
		munmap(unmap, s->len);
		count(C_UNMAP_FIRST, 1);
		count(C_MUNMAP, 1);
	}
	/* land inside a FILL that io-wq is writing */
	if (inflight && pause)
		pause_us(rnd_below(g, 2000));
	ret = unreg_kmbuf(in->ring.ring_fd, s->bgid);

	pthread_mutex_lock(&in->lock);
	if (!ret && (inflight || s->fills_inflight))
		count(C_UNREG_INFLIGHT, 1);
	s->fills_held = 0;
	s->unregistering = 0;
	s->unreg_maybe_pinned = was_pinned || s->unpins != unpins;
	judge_unreg(in, s, ret);
	s->unreg_maybe_pinned = 0;
	pthread_mutex_unlock(&in->lock);
}

/* Unmap a retired ring's buffers while its FILLs are still in flight. */
static void ctl_munmap_inflight(struct instance *in, struct slot *s)
{
	unsigned char *unmap = NULL;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_RETIRED && s->map && s->inflight && !s->verifying) {
		unmap = s->map;
		s->map = NULL;
	}
	pthread_mutex_unlock(&in->lock);
	if (unmap) {
		munmap(unmap, s->len);
		count(C_MUNMAP_INFLIGHT, 1);
		count(C_MUNMAP, 1);
	}
}

static void ctl_mmap2(struct instance *in, struct slot *s)
{
	void *map;
	int ret;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_LIVE && !s->map2) {
		/* only this thread unregisters: it is registered now */
		ret = t_sys_mmap(in->ring.ring_fd, t_kmbuf_off(s->bgid), s->len, &map);
		if (ret) {
			fail("%s bgid %u: second mmap: %s", in->name, s->bgid,
			     t_errname(ret));
		} else {
			s->map2 = map;
			count(C_MMAP2, 1);
		}
	} else if (s->state == S_LIVE && s->map2) {
		munmap(s->map2, s->len);
		s->map2 = NULL;
	}
	pthread_mutex_unlock(&in->lock);
}

static void ctl_mmap_dead(struct instance *in, struct slot *s)
{
	void *map;
	int ret;

	pthread_mutex_lock(&in->lock);
	if (s->state == S_RETIRED) {
		ret = t_sys_mmap(in->ring.ring_fd, t_kmbuf_off(s->bgid), page, &map);
		if (ret != t_kmbuf_gen()->off_missing_err) {
			fail("%s bgid %u: mmap after unregister: %d (%s), expected %s",
			     in->name, s->bgid, ret, t_errname(ret),
			     t_errname(t_kmbuf_gen()->off_missing_err));
			if (!ret)
				munmap(map, page);
		}
		count(C_MMAP_DEAD, 1);
	}
	pthread_mutex_unlock(&in->lock);
}

/* A retired ring with nothing in flight: check it and free the bgid. */
static void ctl_reclaim(struct instance *in, struct slot *s)
{
	pthread_mutex_lock(&in->lock);
	if (s->state == S_RETIRED && !s->inflight && !s->verifying) {
		check_shadow(in, s, "after unregister");
		if (s->map && s->map2 && memcmp(s->map, s->map2, s->len))
			fail("%s bgid %u: the two mappings of one ring differ",
			     in->name, s->bgid);
		slot_drop(s);
	}
	pthread_mutex_unlock(&in->lock);
}

/*
 * The reported crash, on purpose: a 1 x 768 page ring (vmap), a FILL of
 * it from io-wq, a short pause, unregister. Every few seconds, so that a
 * kernel with the bug cannot go through a run unharmed.
 */
static int ctl_known_race(struct instance *in, struct slot *s)
{
	static const struct shape crash_shape = { 1, 768 };
	struct rng *g = &in->ctl_rng;
	uint64_t end;
	void *map = NULL;
	int ret;

	ret = reg_kmbuf(in->ring.ring_fd, s->bgid, &crash_shape);
	if (ret == -ENOMEM) {
		count(C_REG_ENOMEM, 1);
		return -1;	/* uid 65534 at its limit: soon again */
	}
	if (ret) {
		fail("%s bgid %u: register 1 x 768 pages: %s", in->name, s->bgid,
		     t_errname(ret));
		return -1;
	}
	count(C_REG, 1);
	ret = t_sys_mmap(in->ring.ring_fd, t_kmbuf_off(s->bgid),
			 768 * (size_t)page, &map);
	if (ret) {
		fail("%s bgid %u: mmap 1 x 768 pages: %s", in->name, s->bgid,
		     t_errname(ret));
		map = NULL;
	} else {
		count(C_MMAP, 1);
	}
	pthread_mutex_lock(&in->lock);
	s->shape = crash_shape;
	s->buf_size = 768 * page;
	s->len = 768 * (size_t)page;
	s->map = map;
	s->shadow = calloc(1, s->len);
	s->bids = calloc(1, sizeof(*s->bids));
	if (!s->shadow || !s->bids)
		fail("%s: out of memory", in->name);
	s->shadow_valid = map != NULL && s->shadow;
	s->reg_gen++;
	s->reg_ns = t_now_ns();
	s->fills_ok = 0;
	s->state = S_LIVE;
	s->want_async_fill = 1;
	pthread_mutex_unlock(&in->lock);

	/* wait for the io thread to queue the FILL, then race it */
	end = t_now_ns() + 2000000000ull;
	while (s->want_async_fill && t_now_ns() < end && running())
		pause_us(500);
	pause_us(2000 + rnd_below(g, 40000));
	count(C_KNOWN_RACE, 1);
	ctl_unregister_now(in, s);
	return 0;
}

static void *ctl_thread(void *arg)
{
	struct instance *in = arg;
	struct rng *g = &in->ctl_rng;
	uint64_t next_race = t_now_ns() + 500000000ull * (1 + in->index);
	struct slot *s;
	unsigned int i;

	while (running()) {
		i = rnd_below(g, NSLOTS);
		s = &in->slots[i];
		if (!opt_no_unreg_race && s->state == S_FREE &&
		    t_now_ns() > next_race) {
			next_race = t_now_ns() +
				(ctl_known_race(in, s) ? 200000000ull : 3000000000ull);
			continue;
		}
		switch (s->state) {	/* only this thread changes it */
		case S_FREE:
			if (chance(g, 40))
				ctl_register(in, s);
			break;
		case S_LIVE:
			/* prefer rings that a FILL is writing into */
			if (s->fills_inflight && chance(g, 50))
				ctl_unregister(in, s);
			else if (chance(g, 10))
				ctl_unregister(in, s);
			else if (chance(g, 10))
				ctl_mmap2(in, s);
			break;
		case S_RETIRED:
			if (chance(g, 10))
				ctl_mmap_dead(in, s);
			else if (chance(g, 15))
				ctl_munmap_inflight(in, s);
			else
				ctl_reclaim(in, s);
			break;
		}
		pause_us(rnd_below(g, 400));
	}
	return NULL;
}

/* ---- instance setup and teardown (single-threaded) ---- */

static int instance_init(struct instance *in, const char *name,
			 unsigned int index, int sqpoll, uint32_t seed)
{
	struct io_uring_params p;
	unsigned int i;
	int ret;

	memset(in, 0, sizeof(*in));
	in->name = name;
	in->index = index;
	in->sqpoll = sqpoll;
	pthread_mutex_init(&in->lock, NULL);
	rng_init(&in->io_rng, seed, 100 + index * 2);
	rng_init(&in->ctl_rng, seed, 101 + index * 2);
	for (i = 0; i < NSLOTS; i++)
		in->slots[i].bgid = (unsigned short)(index * 100 + i);
	memset(&p, 0, sizeof(p));
	if (sqpoll) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 10;
	}
	ret = io_uring_queue_init_params(RING_ENTRIES, &in->ring, &p);
	if (ret) {
		t_fail("%s: io_uring_queue_init(%s): %s", name,
		       sqpoll ? "SQPOLL" : "plain", t_errname(ret));
		return -1;
	}
	return 0;
}

/*
 * Everything has completed: unpin, then unregister and check each ring,
 * or (@leave) let the ring exit free them and check the mapping after.
 */
static void instance_teardown(struct instance *in, int leave)
{
	unsigned int i;
	int ret;

	for (i = 0; i < NSLOTS; i++) {
		struct slot *s = &in->slots[i];

		if (s->state != S_LIVE || leave)
			continue;
		if (s->pinned) {
			ret = t_drv(&in->ring, drv, KMBUF_TEST_CMD_UNPIN, s->bgid, 0, 0, 0);
			if (ret)
				fail("%s bgid %u: final UNPIN: %s", in->name,
				     s->bgid, t_errname(ret));
			s->pinned = 0;
		}
		judge_unreg(in, s, unreg_kmbuf(in->ring.ring_fd, s->bgid));
	}
	io_uring_queue_exit(&in->ring);
	if (leave)
		count(C_RING_EXIT, 1);
	for (i = 0; i < NSLOTS; i++) {
		struct slot *s = &in->slots[i];

		if (s->state == S_FREE)
			continue;
		check_shadow(in, s, leave ? "after the ring exit" : "after the last unregister");
		slot_drop(s);
	}
	pthread_mutex_destroy(&in->lock);
}

/* ---- the exit thread: rings that exit with requests in flight ---- */

/* Every byte 0 or the pattern of one of @n seeds, buffer by buffer. */
static void check_exit_buffers(const unsigned char *map, const struct shape *sh,
			       const unsigned int *seeds, unsigned int n,
			       const char *who)
{
	const size_t size = (size_t)sh->pages * page;
	unsigned int b, k;
	size_t i;

	for (b = 0; b < sh->entries; b++) {
		const unsigned char *buf = map + b * size;
		int fits = 0;

		for (k = 0; k <= n && !fits; k++) {
			for (i = 0; i < size; i++) {
				if (buf[i] && (k == n ||
				    buf[i] != kmbuf_test_pattern(seeds[k], (__u32)i)))
					break;
			}
			fits = i == size;
		}
		if (!fits)
			fail("%s: after a ring exit, buffer %u of a %u x %u page ring holds bytes of no FILL",
			     who, b, sh->entries, sh->pages);
	}
}

#define EXIT_RINGS	3
#define EXIT_FILLS	8

static void exit_round(struct rng *g, const char *who)
{
	struct shape sh[EXIT_RINGS];
	unsigned char *map[EXIT_RINGS] = { NULL };
	unsigned int seeds[EXIT_RINGS][EXIT_FILLS], nfill[EXIT_RINGS] = { 0 };
	struct io_uring_params p;
	struct io_uring ring;
	unsigned int i, j, nr, submitted = 0;
	int ret;

	memset(&p, 0, sizeof(p));
	if (chance(g, 30)) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 10;
	}
	ret = io_uring_queue_init_params(32, &ring, &p);
	if (ret) {
		fail("%s: io_uring_queue_init for a ring exit: %s", who, t_errname(ret));
		return;
	}
	nr = 1 + rnd_below(g, EXIT_RINGS);
	for (i = 0; i < nr; i++) {
		sh[i] = pick_shape(g);
		ret = reg_kmbuf(ring.ring_fd, (unsigned short)i, &sh[i]);
		if (ret == -ENOMEM) {
			count(C_REG_ENOMEM, 1);
			sh[i].entries = 0;
			continue;
		}
		if (ret) {
			fail("%s: register %u x %u pages: %s", who, sh[i].entries,
			     sh[i].pages, t_errname(ret));
			sh[i].entries = 0;
			continue;
		}
		count(C_REG, 1);
		if (!chance(g, 75))
			continue;
		ret = t_sys_mmap(ring.ring_fd, t_kmbuf_off((unsigned short)i),
				 (size_t)sh[i].entries * sh[i].pages * page,
				 (void **)&map[i]);
		if (ret)
			fail("%s: mmap of a registered ring: %s", who, t_errname(ret));
		else
			count(C_MMAP, 1);
	}
	for (i = 0; i < nr; i++) {
		struct kmbuf_test_cmd cmd = { .bgid = (__u16)i };
		struct io_uring_sqe *sqe;

		if (!sh[i].entries)
			continue;
		if (chance(g, 20) && (sqe = io_uring_get_sqe(&ring))) {
			t_prep_drv(sqe, drv, KMBUF_TEST_CMD_PIN, &cmd);
			submitted++;
		}
		nfill[i] = 1 + rnd_below(g, sh[i].entries < EXIT_FILLS ? sh[i].entries : EXIT_FILLS);
		for (j = 0; j < nfill[i]; j++) {
			sqe = io_uring_get_sqe(&ring);
			if (!sqe) {
				nfill[i] = j;
				break;
			}
			seeds[i][j] = rnd(g);
			cmd.len = sh[i].pages * page;
			cmd.seed = seeds[i][j];
			t_prep_drv(sqe, drv, KMBUF_TEST_CMD_FILL, &cmd);
			if (chance(g, 70))
				io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
			submitted++;
			count(C_FILL, 1);
		}
	}
	ret = io_uring_submit(&ring);
	if (ret < 0)
		fail("%s: submit before the ring exit: %s", who, t_errname(ret));
	/* often, and until one exit has caught work in flight, at once */
	if (chance(g, 40) && __atomic_load_n(&counters[C_EXIT_INFLIGHT], __ATOMIC_RELAXED))
		pause_us(rnd_below(g, 3000));
	if (io_uring_cq_ready(&ring) < submitted)
		count(C_EXIT_INFLIGHT, 1);
	io_uring_queue_exit(&ring);
	count(C_RING_EXIT, 1);
	/* the pages outlive the ring until munmap */
	for (i = 0; i < nr; i++) {
		if (!map[i])
			continue;
		check_exit_buffers(map[i], &sh[i], seeds[i], nfill[i], who);
		count(C_EXIT_CHECKED, 1);
		munmap(map[i], (size_t)sh[i].entries * sh[i].pages * page);
		count(C_MUNMAP, 1);
	}
}

struct proc_ctx {
	const char	*name;
	uint32_t	seed;
	struct instance	*inst;
	unsigned int	ninst;
};

static void *exit_thread(void *arg)
{
	struct proc_ctx *pc = arg;
	struct rng g;

	rng_init(&g, pc->seed, 1);
	while (running()) {
		exit_round(&g, pc->name);
		pause_us(rnd_below(&g, 2000));
	}
	return NULL;
}

/* ---- the fork thread ---- */

#define FORK_MAPS	(NSLOTS * 4)

/*
 * In the child (only this thread exists there): read inherited mappings
 * through a pipe, so that a mapping that is gone is -EFAULT and not a
 * crash, then FILL a ring of its own and exit with everything set up.
 * Exit code: 0, or 10 + the step that failed.
 */
static int fork_child(unsigned char **maps, size_t *lens, unsigned int n)
{
	struct kmbuf_test_cmd cmd = { .bgid = 1, .len = 2 * page, .seed = 77 };
	struct shape sh = { 2, 2 };
	struct io_uring ring;
	struct t_cqe c;
	char buf[512];
	void *map;
	int p[2], ret;
	unsigned int i;

	if (pipe(p))
		return 10;
	for (i = 0; i < n; i++) {
		/*
		 * The raw syscall, not write(): a sanitizer's write() checks
		 * the source itself and reports a mapping that is gone (or
		 * that its allocator took over since) instead of letting the
		 * kernel answer -EFAULT.
		 */
		ssize_t w = syscall(SYS_write, p[1],
				    maps[i] + (lens[i] / 2 & ~(size_t)511), 512);

		if (w == 512 && read(p[0], buf, sizeof(buf)) != 512)
			return 11;
		if (w != 512 && !(w < 0 && errno == EFAULT))
			return 12;
	}
	if (io_uring_queue_init(4, &ring, 0))
		return 13;
	ret = reg_kmbuf(ring.ring_fd, 1, &sh);
	if (ret == -ENOMEM)
		return 0;	/* uid 65534 at its limit: nothing to FILL */
	if (ret || t_sys_mmap(ring.ring_fd, t_kmbuf_off(1), 4 * page, &map))
		return 14;
	if (t_drv_run(&ring, drv, KMBUF_TEST_CMD_FILL, &cmd, &c) ||
	    c.res != (int)(2 * page) || !(c.flags & IORING_CQE_F_BUFFER))
		return 15;
	if (t_check_pattern((unsigned char *)map + (c.flags >> IORING_CQE_BUFFER_SHIFT) * 2 * page,
			    2 * page, 77) != 2 * page)
		return 16;
	return 0;	/* the exit tears the ring and the mapping down */
}

static void fork_round(struct proc_ctx *pc)
{
	unsigned char *maps[FORK_MAPS];
	size_t lens[FORK_MAPS];
	unsigned int i, j, n = 0;
	int status = 0;
	uint64_t end;
	pid_t pid, r;

	for (i = 0; i < pc->ninst; i++) {
		struct instance *in = &pc->inst[i];

		pthread_mutex_lock(&in->lock);
		for (j = 0; j < NSLOTS && n < FORK_MAPS; j++) {
			if (in->slots[j].map) {
				maps[n] = in->slots[j].map;
				lens[n++] = in->slots[j].len;
			}
		}
		pthread_mutex_unlock(&in->lock);
	}
	pid = fork();
	if (pid < 0) {
		fail("%s: fork: %s", pc->name, t_errname(errno));
		return;
	}
	if (pid == 0)
		_exit(fork_child(maps, lens, n));
	count(C_FORK, 1);
	count(C_FORK_READ, n);
	end = t_now_ns() + WAIT_SEC * 1000000000ull;
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && t_now_ns() < end)
		pause_us(2000);
	if (r != pid)
		fail("%s: a forked child did not exit within %d s", pc->name, WAIT_SEC);
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("%s: forked child: %s %d", pc->name,
		     WIFEXITED(status) ? "exit" : "signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void *fork_thread(void *arg)
{
	struct proc_ctx *pc = arg;
	struct rng g;

	rng_init(&g, pc->seed, 2);
	while (running()) {
		pause_us(5000 + rnd_below(&g, 50000));
		if (running())
			fork_round(pc);
	}
	return NULL;
}

/* ---- threads with stacks of our own, so /proc/self/maps can return ---- */

struct thread {
	pthread_t	tid;
	void		*stack;
	const char	*what;
};

static int thread_start(struct thread *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int ret;

	t->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->stack == MAP_FAILED) {
		t->stack = NULL;
		return -errno;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, t->stack, STACK_SIZE);
	ret = pthread_create(&t->tid, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (ret) {
		munmap(t->stack, STACK_SIZE);
		t->stack = NULL;
		return -ret;
	}
	return 0;
}

/*
 * Join, waiting until @deadline_abs (CLOCK_REALTIME) at most: a thread
 * stuck in the kernel must not keep the counts from being printed. -1
 * (and its stack stays) if it did not finish.
 */
static int thread_join(struct thread *t, const struct timespec *deadline_abs)
{
	if (!t->stack)
		return 0;
	if (pthread_timedjoin_np(t->tid, NULL, deadline_abs))
		return -1;
	munmap(t->stack, STACK_SIZE);
	t->stack = NULL;
	return 0;
}

/* ---- one process: instances + exit + fork threads ---- */

static void print_counts(const char *who, double secs)
{
	unsigned int i;

	printf("%s: operations in %.1f s:\n", who, secs);
	for (i = 0; i < NR_COUNTERS; i++)
		printf("  %-34s %10llu  %8.1f/s\n", counter_name[i],
		       counters[i], counters[i] / secs);
	fflush(stdout);
}

static void check_coverage(const char *who, int unpriv)
{
	if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
		return;		/* stopped early: the failure says why */
	if (!counters[C_FILL_COMPOUND] || !counters[C_FILL_VMAP])
		fail("%s: the run FILLed %llu power-of-two and %llu other regions: both paths must be covered",
		     who, counters[C_FILL_COMPOUND], counters[C_FILL_VMAP]);
	/* uid 65534 often cannot afford the 768 pages: root must race */
	if ((!counters[C_KNOWN_RACE] && !opt_no_unreg_race && !unpriv) ||
	    (!counters[C_UNREG_INFLIGHT] && !opt_no_unreg_race && !unpriv) ||
	    (!counters[C_EXIT_INFLIGHT] && !opt_no_exit) ||
	    (!counters[C_FORK] && !opt_no_fork))
		fail("%s: no unregister with a FILL in flight (%llu), ring exit with work in flight (%llu) or fork (%llu)",
		     who, counters[C_UNREG_INFLIGHT], counters[C_EXIT_INFLIGHT],
		     counters[C_FORK]);
	if (unpriv && !counters[C_REG_ENOMEM])
		fail("%s: the memlock limit never refused a ring", who);
}

static int run_process(struct proc_ctx *pc, unsigned int nnormal, int sqpoll)
{
	static const char *const names[] = { "ring0", "ring1", "ring2", "ring3" };
	struct instance inst[4];
	struct thread thr[10];
	unsigned int i, nthr = 0, ninst = 0;
	struct timespec join_by;
	struct rng g;
	uint64_t t0;
	int stuck = 0;

	rng_init(&g, pc->seed, 3);
	for (i = 0; i < nnormal + (sqpoll ? 1 : 0); i++) {
		int sq = i == nnormal;

		if (instance_init(&inst[i], sq ? "sqpoll" : names[i], i, sq, pc->seed))
			break;
		ninst++;
	}
	pc->inst = inst;
	pc->ninst = ninst;
	t0 = t_now_ns();
	for (i = 0; i < ninst; i++) {
		thr[nthr].what = "io";
		thr[nthr + 1].what = "control";
		if (thread_start(&thr[nthr++], io_thread, &inst[i]) ||
		    thread_start(&thr[nthr++], ctl_thread, &inst[i]))
			fail("%s: pthread_create", pc->name);
	}
	thr[nthr].what = "exit";
	if (!opt_no_exit && thread_start(&thr[nthr++], exit_thread, pc))
		fail("%s: pthread_create", pc->name);
	thr[nthr].what = "fork";
	if (!opt_no_fork && thread_start(&thr[nthr++], fork_thread, pc))
		fail("%s: pthread_create", pc->name);
	printf("%s: %u rings (%u with SQPOLL), %u threads, %u s\n", pc->name,
	       ninst, sqpoll, nthr, opt_seconds);
	fflush(stdout);
	/* the run, the drain (WAIT_SEC per request at most) and some slack */
	clock_gettime(CLOCK_REALTIME, &join_by);
	join_by.tv_sec += opt_seconds + 2 * WAIT_SEC + 30;
	for (i = 0; i < nthr; i++) {
		if (thread_join(&thr[i], &join_by)) {
			fail("%s: the %s thread %u did not finish: stuck in the kernel?",
			     pc->name, thr[i].what, i);
			stuck = 1;
		}
	}
	/* with a thread stuck, its ring may be in use: leave everything */
	for (i = 0; i < ninst && !stuck; i++)
		instance_teardown(&inst[i], chance(&g, 30));
	print_counts(pc->name, (t_now_ns() - t0) / 1e9);
	return stuck ? -1 : 0;
}

/* The baselines a process must return to. */
struct baseline {
	long	fds, maps, vmpin;
};

/* static: a buffer on the heap could add the very mapping it looks for */
static char maps_text[32768];

/*
 * Lines of /proc/self/maps that name what they map, less [heap]
 * (t_maps_count_text()): malloc may create or grow the heap and anonymous
 * arenas during the run (in a forked child growing it adds a second
 * [heap] line, the inherited part does not merge; ASan maps fresh regions
 * at will), which is no leak of ours or the kernel's.
 */
static long maps_lines(void)
{
	static char text[32768];

	if (t_maps_read(text, sizeof(text)) < 0)
		return -1;
	return t_maps_count_text(text);
}

static void take_baseline(struct baseline *b)
{
	b->fds = t_fd_count();
	/* the first read may have malloc map an arena: count the second */
	maps_lines();
	b->maps = maps_lines();
	b->vmpin = t_proc_kb("/proc/self/status", "VmPin");
}

static void check_baseline(const struct baseline *b, const char *who)
{
	struct baseline now;

	take_baseline(&now);
	printf("%s: fds %ld -> %ld, named maps lines (less [heap]) %ld -> %ld, VmPin %ld -> %ld kB\n",
	       who, b->fds, now.fds, b->maps, now.maps, b->vmpin, now.vmpin);
	if (now.fds != b->fds)
		fail("%s: /proc/self/fd has %ld entries, %ld at the start", who,
		     now.fds, b->fds);
	if (now.maps != b->maps) {
		fail("%s: /proc/self/maps has %ld named lines (not counting [heap]), %ld at the start",
		     who, now.maps, b->maps);
		t_maps_print_new(maps_text, who);
		printf("%s: /proc/self/maps at the start:\n%s", who, maps_text);
	}
	if (now.vmpin != b->vmpin)
		fail("%s: VmPin %ld kB, %ld kB at the start", who, now.vmpin,
		     b->vmpin);
}

/* Keep the heap from adding mappings of its own: one arena, fixed threshold. */
static void tame_malloc(void)
{
	void *p;

	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	p = malloc(1024);
	free(p);
}

static int root_main(void *arg)
{
	struct proc_ctx pc = { .name = "root", .seed = *(uint32_t *)arg };
	struct baseline b;

	tame_malloc();
	take_baseline(&b);
	t_maps_read(maps_text, sizeof(maps_text));
	if (!run_process(&pc, 2, 1)) {
		check_coverage(pc.name, 0);
		check_baseline(&b, pc.name);
	}
	return t_result("kmbuf-stress (root)");
}

/* As uid 65534 once everything is gone: the full limit fits again. */
static void check_memlock_returns(const char *who)
{
	struct shape full = { 1, LIMIT_PAGES }, one = { 1, 1 };
	uint64_t t0 = t_now_ns(), end = t0 + 20 * 1000000000ull;
	struct io_uring ring;
	int ret;

	if (io_uring_queue_init(4, &ring, 0)) {
		fail("%s: io_uring_queue_init for the memlock check", who);
		return;
	}
	/* ring exits free their memory asynchronously: allow them time */
	while ((ret = reg_kmbuf(ring.ring_fd, 1, &full)) == -ENOMEM &&
	       t_now_ns() < end)
		pause_us(100000);
	if (ret) {
		fail("%s: a ring of exactly RLIMIT_MEMLOCK (%u pages) still gets %d (%s) 20 s after the run: a charge leaked",
		     who, LIMIT_PAGES, ret, t_errname(ret));
	} else {
		printf("%s: the full RLIMIT_MEMLOCK registers again after %.1f s\n",
		       who, (t_now_ns() - t0) / 1e9);
		ret = reg_kmbuf(ring.ring_fd, 2, &one);
		if (ret != -ENOMEM)
			fail("%s: one page over RLIMIT_MEMLOCK: %d (%s), expected -ENOMEM",
			     who, ret, t_errname(ret));
		if (!ret)
			unreg_kmbuf(ring.ring_fd, 2);
		ret = unreg_kmbuf(ring.ring_fd, 1);
		if (ret)
			fail("%s: unregister of the full-limit ring: %s", who,
			     t_errname(ret));
	}
	io_uring_queue_exit(&ring);
}

static int unpriv_main(void *arg)
{
	struct proc_ctx pc = { .name = "uid 65534", .seed = *(uint32_t *)arg + 1 };
	struct rlimit rl = {
		.rlim_cur = (rlim_t)LIMIT_PAGES * page,
		.rlim_max = (rlim_t)LIMIT_PAGES * page,
	};
	struct baseline b;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setgid(UNPRIV_ID) || setuid(UNPRIV_ID)) {
		t_fail("dropping to uid %d with RLIMIT_MEMLOCK %u pages: %s",
		       UNPRIV_ID, LIMIT_PAGES, t_errname(errno));
		return T_EXIT_FAIL;
	}
	tame_malloc();
	take_baseline(&b);
	t_maps_read(maps_text, sizeof(maps_text));
	if (!run_process(&pc, 1, 0)) {
		check_coverage(pc.name, 1);
		check_baseline(&b, pc.name);
		check_memlock_returns(pc.name);
	}
	return t_result("kmbuf-stress (uid 65534)");
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seconds N] [--seed S] [--no-unregister-race] [--no-fork] [--no-exit]\n",
		argv0);
	exit(2);
}

static void parse_opts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "no-unregister-race", no_argument, NULL, 'n' },
		{ "no-fork", no_argument, NULL, 'F' },
		{ "no-exit", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt_seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	while ((c = getopt_long(argc, argv, "t:s:nFE", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt_seconds = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			opt_no_unreg_race = 1;
			break;
		case 'F':
			opt_no_fork = 1;
			break;
		case 'E':
			opt_no_exit = 1;
			break;
		case 's':
			opt_seed = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || !opt_seconds)
		usage(argv[0]);
}

int main(int argc, char **argv)
{
	struct t_child root, unpriv;
	int ret, rr, ru = T_EXIT_PASS, drop;

	parse_opts(argc, argv);
	printf("kmbuf-stress: seed %u, %u s (rerun: --seed %u --seconds %u%s%s%s)\n",
	       opt_seed, opt_seconds, opt_seed, opt_seconds,
	       opt_no_unreg_race ? " --no-unregister-race" : "",
	       opt_no_fork ? " --no-fork" : "", opt_no_exit ? " --no-exit" : "");
	fflush(stdout);
	ret = t_require_kmbuf();
	if (!ret)
		ret = t_require_testdrv(&drv);
	if (ret)
		return ret;
	page = t_page_size();
	deadline_ns = t_now_ns() + (uint64_t)opt_seconds * 1000000000ull;

	/* both at once: the unprivileged process races the root one */
	drop = geteuid() == 0;
	if (t_child_start(&root, root_main, &opt_seed, "root process"))
		return T_EXIT_FAIL;
	if (!drop)
		printf("not root: no uid 65534 process (RLIMIT_MEMLOCK part skipped)\n");
	else if (t_child_start(&unpriv, unpriv_main, &opt_seed, "uid 65534 process"))
		ru = T_EXIT_FAIL, drop = 0;

	/* each joins its threads by seconds + 90 s, then tears down */
	rr = t_child_finish(&root, opt_seconds + 150, 30, NULL);
	if (drop)
		ru = t_child_finish(&unpriv, 60, 30, NULL);
	if (rr != T_EXIT_PASS || ru != T_EXIT_PASS)
		t_failures++;
	printf("kmbuf-stress: seed %u\n", opt_seed);
	return t_result("kmbuf-stress");
}
