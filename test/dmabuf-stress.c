/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Concurrent stress of dma-buf backed registered buffers (issue 7), for the
 * debug kernel in the testbed VM: bounded in time, seeded, failing on any
 * invariant.
 *
 *   dmabuf-stress [--seconds N] [--seed S]
 *
 * The NVMe namespace is $KMBUF_TEST_NVME (else /dev/nvme0n1), opened
 * O_DIRECT; this program owns its last 16 MiB (the other tests and the
 * example use the first 48). Threads:
 *  - two rings, one plain and one SQPOLL, each with an io thread that
 *    owns its SQ and CQ and keeps READ_FIXED / WRITE_FIXED (some with
 *    IOSQE_ASYNC) in flight on the ring's dma-buf slots, and a control
 *    thread that keeps replacing and clearing those slots with tagged
 *    extended updates while that I/O runs;
 *  - a clone thread: new rings that IORING_REGISTER_CLONE_BUFFERS the
 *    plain ring's table, do checked I/O on it, and then exit, exit with
 *    I/O in flight, or unregister the cloned table first;
 *  - an exit thread: rings with dma-bufs of their own in a tagged table,
 *    I/O in flight and a slot just cleared, io_uring_queue_exit()ed, the
 *    dma-bufs closed and unmapped right after (the ring's references
 *    must keep them alive and then let them go); every other one is set
 *    up with IORING_SETUP_NO_MMAP, so its CQ is our own memory and can
 *    be read after the exit.
 *
 * Each slot i of a ring only ever holds one of two dma-bufs of its own,
 * A_i or B_i (or nothing), so whatever the timing the kernel can only
 * have used one of them, and the data tells which:
 *  - READ_FIXED of a device chunk into part k of slot i: A_i and B_i are
 *    filled with different sentinels first; on res == len exactly one of
 *    them holds the chunk's bytes (as last written, or as read at the
 *    start) and the other, and every byte past len, is untouched; on
 *    -EFAULT (the slot was empty, which must have been possible) both
 *    are untouched;
 *  - WRITE_FIXED from part k: A_i and B_i hold the same pattern, so the
 *    device gets it whichever was used; the buffers stay as they were,
 *    and later reads check the device;
 *  - on a cloned table, which no longer changes, every request on one
 *    slot sees the same dma-buf (or every one -EFAULT);
 *  - tags: every tag CQE is one of ours, arrives exactly once, only after
 *    its buffer left the slot (replaced or cleared), and, on the plain
 *    ring, only after every request that was certainly using that buffer
 *    has completed; at the end every slot is cleared and every tag still
 *    owed must arrive;
 *  - every request completes (30 s at most) and every process exits;
 *  - the run covered reads landing in A and in B, writes, tags, clone
 *    I/O, and a ring exit (or a cloned table unregister) with I/O in
 *    flight;
 *  - no fd or mapping growth (/proc/self/fd, /proc/self/maps back to
 *    their baselines) and, once everything is closed, Shmem (the udmabuf
 *    memfds) back to within 8 MiB of the start: the kernel dropped every
 *    dma-buf reference.
 *  - across a ring exit (the NO_MMAP rings): the tag of a slot cleared or
 *    replaced with I/O in flight arrives exactly once, a tag of a slot
 *    still live at the exit at most once (the 6.12 base posts none: they
 *    are counted), and no CQE names anything we did not submit.
 * The kernel log (KASAN, lockdep, WARN, BUG) is judged by test/vm/run.sh.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define REGION_SIZE	(16ULL << 20)	/* the last 16 MiB of the device */
#define POOL_SPAN	(REGION_SIZE / 2)
#define CHUNK		(64 * 1024)	/* device chunk and buffer part */
#define NCHUNKS		(POOL_SPAN / CHUNK)
#define SCRATCH_CHUNKS	32		/* of each pool: unchecked I/O */
#define NSLOTS		8
#define PARTS		4		/* per dma-buf; the last is scratch */
#define CHECKED_PARTS	(PARTS - 1)
#define DBUF_SIZE	(PARTS * CHUNK)
#define RING_ENTRIES	64
#define MAX_INFLIGHT	32
#define MAX_REQS	64
#define WAIT_SEC	30
#define MAX_TAGS	(1u << 18)
#define TAG_BIT		(1ull << 63)
#define STACK_SIZE	(256 * 1024)
#define SHMEM_SLACK_KB	8192
#define MAX_FAIL_MSGS	30

static unsigned int opt_seconds = 15;
static uint32_t opt_seed;
static uint64_t deadline_ns;
static int nvme = -1;
static uint64_t region_off;
static volatile int stop;
static volatile int ctl_done_flag[2];

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

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
	C_UPDATE, C_CLEAR, C_READ, C_READ_A, C_READ_B, C_READ_EFAULT,
	C_WRITE, C_WRITE_EFAULT, C_ASYNC, C_SCRATCH, C_TAG, C_TAG_ORDERED,
	C_CLONE, C_CLONE_IO, C_CLONE_EXIT_INFLIGHT, C_CLONE_UNREG,
	C_RING_EXIT, C_EXIT_INFLIGHT, C_EXIT_TAGS_OWED, C_EXIT_TAG_SEEN,
	C_EXIT_TAG_LIVE, C_UNREG_TABLE, NR_COUNTERS
};

static const char *const counter_name[NR_COUNTERS] = {
	[C_UPDATE] = "slot update (dma-buf, tagged)",
	[C_CLEAR] = "slot clear",
	[C_READ] = "READ_FIXED checked", [C_READ_A] = "  landed in A",
	[C_READ_B] = "  landed in B", [C_READ_EFAULT] = "  -EFAULT (empty)",
	[C_WRITE] = "WRITE_FIXED checked", [C_WRITE_EFAULT] = "  -EFAULT (empty)",
	[C_ASYNC] = "IOSQE_ASYNC", [C_SCRATCH] = "scratch I/O (unchecked)",
	[C_TAG] = "tag CQE", [C_TAG_ORDERED] = "tag after its I/O, checked",
	[C_CLONE] = "CLONE_BUFFERS", [C_CLONE_IO] = "I/O on a clone",
	[C_CLONE_EXIT_INFLIGHT] = "clone exit, I/O in flight",
	[C_CLONE_UNREG] = "clone table unregistered, I/O in flight",
	[C_RING_EXIT] = "ring exit",
	[C_EXIT_INFLIGHT] = "ring exit, I/O in flight",
	[C_EXIT_TAGS_OWED] = "ring exit, tags owed (unseen)",
	[C_EXIT_TAG_SEEN] = "NO_MMAP exit, owed tag seen once",
	[C_EXIT_TAG_LIVE] = "NO_MMAP exit, live slot's tag posted",
	[C_UNREG_TABLE] = "table unregister",
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

static unsigned int rnd_below(struct rng *r, unsigned int n)
{
	return n ? rnd(r) % n : 0;
}

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

/* ---- pools: the dma-bufs of a ring's slots and its device chunks ---- */

struct pool {
	struct io_uring_udmabuf	*buf[NSLOTS][2];	/* A_i, B_i */
	int			part_busy[NSLOTS][PARTS];
	int			chunk_busy[NCHUNKS];
	unsigned char		*shadow;		/* the device span */
	uint64_t		dev_off;
};

static int claim(int *flag)
{
	int zero = 0;

	return __atomic_compare_exchange_n(flag, &zero, 1, 0, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static void release(int *flag)
{
	__atomic_store_n(flag, 0, __ATOMIC_RELEASE);
}

/* Two sentinels that no device data or FILL pattern will ever equal. */
static void sentinel(unsigned char *p, size_t len, unsigned int which)
{
	td_fill(p, len, 0xdead0000u + which);
}

static size_t first_diff(const unsigned char *a, const unsigned char *b,
			 size_t len)
{
	size_t i;

	for (i = 0; i < len && a[i] == b[i]; i++)
		;
	return i;
}

static int pool_init(struct pool *p, uint64_t dev_off)
{
	unsigned int i, j;
	ssize_t n;
	int ret;

	memset(p, 0, sizeof(*p));
	p->dev_off = dev_off;
	for (i = 0; i < NSLOTS; i++)
		for (j = 0; j < 2; j++) {
			ret = td_require_udmabuf(DBUF_SIZE, &p->buf[i][j]);
			if (ret)
				return ret;
		}
	if (posix_memalign((void **)&p->shadow, 4096, POOL_SPAN)) {
		t_fail("no memory for the device shadow");
		return T_EXIT_FAIL;
	}
	/* what the device holds now is what reads must see until we write */
	n = pread(nvme, p->shadow, POOL_SPAN, (off_t)dev_off);
	if (n != (ssize_t)POOL_SPAN) {
		t_fail("pread of the device span at %llu: %zd (%s)",
		       (unsigned long long)dev_off, n, t_errname(errno));
		return T_EXIT_FAIL;
	}
	return 0;
}

static void pool_free(struct pool *p)
{
	unsigned int i, j;

	for (i = 0; i < NSLOTS; i++)
		for (j = 0; j < 2; j++)
			io_uring_udmabuf_free(p->buf[i][j]);
	free(p->shadow);
}

/* ---- tags ---- */

enum tag_state {
	TAG_NONE, TAG_INSTALLING, TAG_LIVE, TAG_LEAVING, TAG_OWED, TAG_DONE,
};

static const char *const tag_state_name[] = {
	"never used", "being installed", "in its slot", "leaving its slot",
	"owed", "already posted",
};

/* ---- rings with slots, io thread and control thread ---- */

struct slot {
	unsigned int	gen;		/* bumped before each update */
	int		updating;	/* an update syscall is running */
	int		content;	/* 0 empty, 1 A, 2 B */
	unsigned int	tag;		/* of what it holds, 0 if empty */
};

struct req {
	int		used;
	int		op;		/* IORING_OP_READ_FIXED / WRITE_FIXED */
	int		scratch;	/* unchecked */
	unsigned int	slot, part, chunk, len, seed;
	unsigned int	gen0, gen1;	/* slot gen before / after submit */
	int		upd0, upd1;	/* update running before / after */
	int		empty0, empty1;	/* slot empty before / after */
	int		content;	/* what it certainly imported, or -1 */
	unsigned int	tag;		/* the tag of that buffer, or 0 */
	int		submitted;	/* io_uring_submit() has returned */
};

struct xring {
	const char	*name;
	unsigned int	index;
	int		sqpoll;
	struct io_uring	ring;
	struct pool	*pool;
	pthread_mutex_t	lock;		/* slots, tags, reqs[].gen* */
	struct slot	slots[NSLOTS];
	unsigned char	*tags;		/* enum tag_state by tag number */
	unsigned int	next_tag;
	unsigned int	tags_owed;	/* tags leaving or owed */
	struct req	reqs[MAX_REQS];
	unsigned int	inflight;
	struct rng	io_rng, ctl_rng;
};

static __u64 tag_value(const struct xring *x, unsigned int t)
{
	return TAG_BIT | (__u64)x->index << 32 | t;
}

static unsigned char *part_addr(struct pool *p, unsigned int slot,
				unsigned int which, unsigned int part)
{
	return (unsigned char *)p->buf[slot][which]->addr + (size_t)part * CHUNK;
}

/* Prepare the buffers of a request and queue it (no submit). */
static int queue_io(struct io_uring *ring, struct pool *p, struct req *r,
		    __u64 user_data, int async)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	unsigned char *a = part_addr(p, r->slot, 0, r->part);
	unsigned char *b = part_addr(p, r->slot, 1, r->part);

	if (!sqe)
		return -EBUSY;
	if (!r->scratch) {
		if (r->op == IORING_OP_READ_FIXED) {
			sentinel(a, CHUNK, 1);
			sentinel(b, CHUNK, 2);
		} else {
			/* the same bytes in both: the device gets them either way */
			td_fill(a, r->len, r->seed);
			memcpy(b, a, r->len);
			sentinel(a + r->len, CHUNK - r->len, 3);
			sentinel(b + r->len, CHUNK - r->len, 3);
		}
	}
	io_uring_prep_rw(r->op, sqe, nvme,
			 (void *)(uintptr_t)((size_t)r->part * CHUNK), r->len,
			 p->dev_off + (uint64_t)r->chunk * CHUNK);
	sqe->buf_index = (__u16)r->slot;
	sqe->user_data = user_data;
	if (async) {
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		count(C_ASYNC, 1);
	}
	return 0;
}

/* Does @buf hold the sentinel @which for @len bytes? */
static int is_sentinel(const unsigned char *buf, size_t len, unsigned int which,
		       size_t start)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != kmbuf_test_pattern(0xdead0000u + which, (__u32)(start + i)))
			return 0;
	return 1;
}

/*
 * Judge a completed checked request. Returns the dma-buf it used (1 A,
 * 2 B), 0 for -EFAULT, -1 after a failure. @may_empty: -EFAULT allowed.
 */
static int judge_io(const char *who, struct pool *p, const struct req *r,
		    int res, int may_empty)
{
	unsigned char *a = part_addr(p, r->slot, 0, r->part);
	unsigned char *b = part_addr(p, r->slot, 1, r->part);
	unsigned char *dev = p->shadow + (size_t)r->chunk * CHUNK;
	int a_sent, b_sent, a_data, b_data;

	if (res == -EFAULT && may_empty) {
		if (r->op == IORING_OP_READ_FIXED &&
		    (!is_sentinel(a, CHUNK, 1, 0) || !is_sentinel(b, CHUNK, 2, 0))) {
			fail("%s slot %u: READ_FIXED failed with -EFAULT but wrote a dma-buf",
			     who, r->slot);
			return -1;
		}
		return 0;
	}
	if (res != (int)r->len) {
		fail("%s slot %u part %u: %s of %u bytes at chunk %u: res %d (%s)%s",
		     who, r->slot, r->part,
		     r->op == IORING_OP_READ_FIXED ? "READ_FIXED" : "WRITE_FIXED",
		     r->len, r->chunk, res, t_errname(res),
		     may_empty ? "" : " on a slot that was never empty");
		return -1;
	}
	if (r->op == IORING_OP_WRITE_FIXED) {
		if (t_check_pattern(a, r->len, r->seed) != r->len ||
		    t_check_pattern(b, r->len, r->seed) != r->len ||
		    !is_sentinel(a + r->len, CHUNK - r->len, 3, 0) ||
		    !is_sentinel(b + r->len, CHUNK - r->len, 3, 0)) {
			fail("%s slot %u: WRITE_FIXED changed its source dma-buf",
			     who, r->slot);
			return -1;
		}
		memcpy(dev, a, r->len);
		return 3;
	}
	a_data = !memcmp(a, dev, r->len);
	b_data = !memcmp(b, dev, r->len);
	a_sent = is_sentinel(a, CHUNK, 1, 0);
	b_sent = is_sentinel(b, CHUNK, 2, 0);
	if (a_data && b_sent && is_sentinel(a + r->len, CHUNK - r->len, 1, r->len))
		return 1;
	if (b_data && a_sent && is_sentinel(b + r->len, CHUNK - r->len, 2, r->len))
		return 2;
	fail("%s slot %u part %u: READ_FIXED of %u bytes at chunk %u: A %s (first difference at %zu), B %s (at %zu)",
	     who, r->slot, r->part, r->len, r->chunk,
	     a_data ? "has the data" : a_sent ? "untouched" : "holds other bytes",
	     first_diff(a, dev, r->len),
	     b_data ? "has the data" : b_sent ? "untouched" : "holds other bytes",
	     first_diff(b, dev, r->len));
	return -1;
}

/* Pick and claim a part and a chunk: 0, or -1 if all were busy. */
static int pick_io(struct rng *g, struct pool *p, struct req *r, int scratch)
{
	static const unsigned int lens[] = { 4096, 8192, 16384, 32768, 65536 };
	unsigned int tries;

	r->scratch = scratch;
	r->op = chance(g, 50) ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
	r->len = lens[rnd_below(g, 5)];
	r->seed = rnd(g);
	r->slot = rnd_below(g, NSLOTS);
	if (scratch) {
		/* never checked, never waited for: its own part and chunks */
		r->part = PARTS - 1;
		r->chunk = NCHUNKS - SCRATCH_CHUNKS + rnd_below(g, SCRATCH_CHUNKS);
		return 0;
	}
	for (tries = 0; tries < 8; tries++) {
		r->slot = rnd_below(g, NSLOTS);
		r->part = rnd_below(g, CHECKED_PARTS);
		if (claim(&p->part_busy[r->slot][r->part]))
			break;
	}
	if (tries == 8)
		return -1;
	for (tries = 0; tries < 8; tries++) {
		r->chunk = rnd_below(g, NCHUNKS - SCRATCH_CHUNKS);
		if (claim(&p->chunk_busy[r->chunk]))
			return 0;
	}
	release(&p->part_busy[r->slot][r->part]);
	return -1;
}

static void unpick_io(struct pool *p, const struct req *r)
{
	if (r->scratch)
		return;
	release(&p->chunk_busy[r->chunk]);
	release(&p->part_busy[r->slot][r->part]);
}

/* ---- the io thread of a ring ---- */

static struct req *req_get(struct xring *x, unsigned int *idx)
{
	unsigned int i;

	if (x->inflight >= MAX_INFLIGHT)
		return NULL;
	for (i = 0; i < MAX_REQS; i++)
		if (!x->reqs[i].used) {
			memset(&x->reqs[i], 0, sizeof(x->reqs[i]));
			*idx = i;
			return &x->reqs[i];
		}
	return NULL;
}

/* Queue up to @n requests; the slot state is noted around the submit. */
static void io_submit_some(struct xring *x, unsigned int n)
{
	unsigned int i, idx, queued[8], nq = 0;
	struct rng *g = &x->io_rng;
	struct req *r;
	int ret;

	for (i = 0; i < n && nq < 8; i++) {
		r = req_get(x, &idx);
		if (!r || pick_io(g, x->pool, r, chance(g, 10)))
			break;
		if (queue_io(&x->ring, x->pool, r, idx, chance(g, 30))) {
			unpick_io(x->pool, r);
			break;
		}
		r->used = 1;
		x->inflight++;
		queued[nq++] = idx;
	}
	if (!nq)
		return;
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < nq; i++) {
		struct slot *s = &x->slots[x->reqs[queued[i]].slot];

		r = &x->reqs[queued[i]];
		r->gen0 = s->gen;
		r->upd0 = s->updating;
		r->empty0 = !s->content;
	}
	pthread_mutex_unlock(&x->lock);
	/*
	 * The kernel stops a submission at a request that fails in prep
	 * (-EFAULT on an empty slot): submit again until all are in, so
	 * that the window below covers every import.
	 */
	for (i = 0; i < 2 * nq; i++) {
		ret = io_uring_submit(&x->ring);
		if (ret < 0) {
			fail("%s: io_uring_submit: %s", x->name, t_errname(ret));
			break;
		}
		/* SQPOLL takes them in its own time: nothing to wait for */
		if (x->sqpoll || !io_uring_sq_ready(&x->ring))
			break;
	}
	if (!x->sqpoll && io_uring_sq_ready(&x->ring))
		fail("%s: %u SQEs still not submitted", x->name,
		     io_uring_sq_ready(&x->ring));
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < nq; i++) {
		struct slot *s = &x->slots[x->reqs[queued[i]].slot];

		r = &x->reqs[queued[i]];
		r->gen1 = s->gen;
		r->upd1 = s->updating;
		r->empty1 = !s->content;
		/*
		 * Imported during the submit: if no update ran around it,
		 * the request certainly holds what the slot held (SQPOLL
		 * imports later, in its own thread: nothing is certain).
		 */
		r->content = !x->sqpoll && r->gen0 == r->gen1 && !r->upd0 &&
			     !r->upd1 ? s->content : -1;
		r->tag = r->content > 0 ? s->tag : 0;
		r->submitted = 1;
	}
	pthread_mutex_unlock(&x->lock);
}

static void tag_done(struct xring *x, __u64 v, int res)
{
	unsigned int t = (unsigned int)(v & 0xffffffffu), i;
	unsigned char st;

	pthread_mutex_lock(&x->lock);
	if ((v >> 32 & 0x7fffffffu) != x->index || t == 0 || t >= x->next_tag) {
		fail("%s: tag CQE %#llx that was never registered on this ring",
		     x->name, (unsigned long long)v);
		goto out;
	}
	st = x->tags[t];
	if (res)
		fail("%s: tag %u CQE with res %d", x->name, t, res);
	if (st != TAG_LEAVING && st != TAG_OWED) {
		fail("%s: tag %u posted while %s", x->name, t, tag_state_name[st]);
		goto out;
	}
	x->tags[t] = TAG_DONE;
	x->tags_owed--;
	count(C_TAG, 1);
	/*
	 * Posted on release: a request that certainly imported this buffer
	 * (plain ring only) must have completed, and CQEs are handled in
	 * CQ order, so it must be gone from reqs[] already.
	 */
	if (x->sqpoll)
		goto out;
	for (i = 0; i < MAX_REQS; i++) {
		const struct req *r = &x->reqs[i];

		if (r->used && r->submitted && r->tag == t)
			fail("%s: tag %u posted while request %u (slot %u, %s) on its buffer was in flight",
			     x->name, t, i, r->slot,
			     r->op == IORING_OP_READ_FIXED ? "READ_FIXED" : "WRITE_FIXED");
	}
	count(C_TAG_ORDERED, 1);
out:
	pthread_mutex_unlock(&x->lock);
}

static void io_complete(struct xring *x, const struct io_uring_cqe *cqe)
{
	struct req *r;
	int got, may_empty;

	if (cqe->user_data & TAG_BIT) {
		tag_done(x, cqe->user_data, cqe->res);
		return;
	}
	if (cqe->user_data >= MAX_REQS || !x->reqs[cqe->user_data].used) {
		fail("%s: completion for no request (user_data %llu)", x->name,
		     (unsigned long long)cqe->user_data);
		return;
	}
	r = &x->reqs[cqe->user_data];
	if (r->scratch) {
		count(C_SCRATCH, 1);
	} else {
		pthread_mutex_lock(&x->lock);
		/* empty at some point while it could have been imported */
		may_empty = x->sqpoll || r->empty0 || r->empty1 || r->upd0 ||
			    r->upd1 || r->gen0 != r->gen1;
		pthread_mutex_unlock(&x->lock);
		got = judge_io(x->name, x->pool, r, cqe->res, may_empty);
		if (got == 3 && r->content == 0)
			fail("%s slot %u: WRITE_FIXED succeeded on a slot that was certainly empty",
			     x->name, r->slot);
		if (got >= 0 && r->content >= 0 && got != 3 && got != r->content)
			fail("%s slot %u: the request used %s, the slot held %s when it was submitted",
			     x->name, r->slot, got == 0 ? "nothing" : got == 1 ? "A" : "B",
			     r->content == 0 ? "nothing" : r->content == 1 ? "A" : "B");
		if (got >= 0)
			count(r->op == IORING_OP_READ_FIXED ?
			      (got == 0 ? C_READ_EFAULT : got == 1 ? C_READ_A : C_READ_B) :
			      (got == 0 ? C_WRITE_EFAULT : C_WRITE), 1);
		if (got >= 0 && r->op == IORING_OP_READ_FIXED)
			count(C_READ, 1);
		unpick_io(x->pool, r);
	}
	pthread_mutex_lock(&x->lock);
	r->used = 0;
	pthread_mutex_unlock(&x->lock);
	x->inflight--;
}

static int io_reap(struct xring *x, int wait)
{
	struct __kernel_timespec ts = { .tv_sec = WAIT_SEC };
	struct __kernel_timespec nap = { .tv_nsec = 2 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(&x->ring, &cqe, wait ? &ts : &nap);
	if (ret && wait) {
		fail("%s: %u requests in flight and %u tags owed, nothing completed in %d s",
		     x->name, x->inflight, x->tags_owed, WAIT_SEC);
		return -1;
	}
	while (io_uring_peek_cqe(&x->ring, &cqe) == 0) {
		io_complete(x, cqe);
		io_uring_cqe_seen(&x->ring, cqe);
	}
	return 0;
}

static void *io_thread(void *arg)
{
	struct xring *x = arg;

	while (running()) {
		io_submit_some(x, 1 + rnd_below(&x->io_rng, 4));
		if (io_reap(x, x->inflight >= MAX_INFLIGHT))
			return NULL;
	}
	/* every request completes, and every tag owed arrives */
	while (x->inflight || !__atomic_load_n(&ctl_done_flag[x->index], __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&x->tags_owed, __ATOMIC_RELAXED))
		if (io_reap(x, x->inflight || x->tags_owed))
			return NULL;
	return NULL;
}

/* ---- the control thread of a ring: tagged updates ---- */

/* Put @content (0 empty, 1 A, 2 B) into @slot with a new tag. */
static void ctl_set(struct xring *x, unsigned int slot, int content)
{
	struct slot *s = &x->slots[slot];
	unsigned int t = 0, old;
	int ret, dfd;

	pthread_mutex_lock(&x->lock);
	if (content && x->next_tag >= MAX_TAGS) {
		pthread_mutex_unlock(&x->lock);
		return;		/* out of tag numbers: only clears from now */
	}
	if (content) {
		t = x->next_tag++;
		x->tags[t] = TAG_INSTALLING;
	}
	old = s->tag;
	if (old) {
		x->tags[old] = TAG_LEAVING;
		x->tags_owed++;
	}
	s->gen++;
	s->updating = 1;
	pthread_mutex_unlock(&x->lock);

	dfd = content ? x->pool->buf[slot][content - 1]->dmabuf_fd : -1;
	ret = td_update_tagged(x->ring.ring_fd, slot, content ? nvme : -1, dfd,
			       content ? tag_value(x, t) : 0);

	pthread_mutex_lock(&x->lock);
	s->updating = 0;
	if (ret == 1) {
		/* unless its CQE came already (then it is TAG_DONE) */
		if (old && x->tags[old] == TAG_LEAVING)
			x->tags[old] = TAG_OWED;
		s->content = content;
		s->tag = t;
		if (t)
			x->tags[t] = TAG_LIVE;
		count(content ? C_UPDATE : C_CLEAR, 1);
	} else {
		fail("%s slot %u: update to %s: %d (%s)", x->name, slot,
		     content == 0 ? "empty" : content == 1 ? "A" : "B", ret,
		     t_errname(ret));
		if (old && x->tags[old] == TAG_LEAVING) {
			x->tags[old] = TAG_LIVE;
			x->tags_owed--;
		} else if (old) {
			fail("%s slot %u: tag %u was posted, yet the update that replaced it failed",
			     x->name, slot, old);
		}
		if (t)
			x->tags[t] = TAG_NONE;
	}
	pthread_mutex_unlock(&x->lock);
}

static void *ctl_thread(void *arg)
{
	struct xring *x = arg;
	struct rng *g = &x->ctl_rng;
	unsigned int i;

	while (running()) {
		i = rnd_below(g, NSLOTS);
		/* mostly A <-> B swaps, sometimes empty */
		ctl_set(x, i, chance(g, 20) ? 0 : 1 + (int)rnd_below(g, 2));
		pause_us(rnd_below(g, 3000));
	}
	for (i = 0; i < NSLOTS; i++)
		if (x->slots[i].content)
			ctl_set(x, i, 0);
	__atomic_store_n(&ctl_done_flag[x->index], 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- the clone thread ---- */

struct clone_ctx {
	struct xring	*src;
	struct rng	rng;
};

/*
 * One cloned ring: a few checked requests (each slot must behave the
 * same way every time: the clone's table is fixed), then an exit with
 * scratch I/O in flight, or a table unregister first.
 */
static void clone_round(struct clone_ctx *cc)
{
	struct xring *x = cc->src;
	struct pool *p = x->pool;
	struct rng *g = &cc->rng;
	int seen[NSLOTS];
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = WAIT_SEC };
	unsigned int i, n, inflight = 0;
	struct req r;
	int ret, got;

	ret = io_uring_queue_init(16, &ring, 0);
	if (ret) {
		fail("clone: io_uring_queue_init: %s", t_errname(ret));
		return;
	}
	ret = td_clone_buffers(ring.ring_fd, x->ring.ring_fd);
	if (ret) {
		fail("clone: IORING_REGISTER_CLONE_BUFFERS: %d (%s)", ret,
		     t_errname(ret));
		io_uring_queue_exit(&ring);
		return;
	}
	count(C_CLONE, 1);
	for (i = 0; i < NSLOTS; i++)
		seen[i] = -1;
	n = 1 + rnd_below(g, 6);
	for (i = 0; i < n && running(); i++) {
		memset(&r, 0, sizeof(r));
		if (pick_io(g, p, &r, 0))
			continue;
		if (queue_io(&ring, p, &r, 1, chance(g, 30)) ||
		    io_uring_submit(&ring) != 1) {
			fail("clone: submit failed");
			unpick_io(p, &r);
			break;
		}
		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (ret) {
			fail("clone: a request did not complete in %d s", WAIT_SEC);
			break;	/* claims stay: the request may still run */
		}
		got = judge_io("clone", p, &r, cqe->res, 1);
		io_uring_cqe_seen(&ring, cqe);
		unpick_io(p, &r);
		if (got < 0)
			break;
		count(C_CLONE_IO, 1);
		/* 0 none, 1 A, 2 B, 3 a buffer (a write does not say which) */
		if (seen[r.slot] < 0 || seen[r.slot] == got ||
		    (seen[r.slot] == 3 && got) || (seen[r.slot] && got == 3)) {
			if (seen[r.slot] <= 0 || seen[r.slot] == 3)
				seen[r.slot] = got;
		} else {
			fail("clone slot %u: one request used %d, a later one %d (0 none, 1 A, 2 B, 3 some buffer): the cloned table changed",
			     r.slot, seen[r.slot], got);
		}
	}
	/* scratch I/O left in flight for the exit or the unregister */
	n = rnd_below(g, 4);
	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		pick_io(g, p, &r, 1);
		if (!queue_io(&ring, p, &r, 2, chance(g, 50)))
			inflight++;
	}
	if (inflight)
		io_uring_submit(&ring);
	if (chance(g, 30)) {
		ret = io_uring_unregister_buffers(&ring);
		if (ret)
			fail("clone: unregister of the cloned table: %s", t_errname(ret));
		else
			count(inflight ? C_CLONE_UNREG : C_UNREG_TABLE, 1);
	}
	if (inflight && io_uring_cq_ready(&ring) < inflight)
		count(C_CLONE_EXIT_INFLIGHT, 1);
	io_uring_queue_exit(&ring);
	count(C_RING_EXIT, 1);
}

static void *clone_thread(void *arg)
{
	struct clone_ctx *cc = arg;

	while (running()) {
		clone_round(cc);
		pause_us(rnd_below(&cc->rng, 5000));
	}
	return NULL;
}

/* ---- the exit thread: dma-bufs of its own, gone right after the exit ---- */

#define EXIT_SLOTS	4
/*
 * The exit rings' dma-bufs and I/O: up to 1 MiB per request, so that
 * an exit finds it still running; it stays within the scratch chunks.
 */
#define EXIT_BUF_SIZE	(1024 * 1024)

static unsigned int exit_io_len(struct rng *g)
{
	return 4096u << rnd_below(g, 9);	/* 4 KiB .. 1 MiB */
}

static uint64_t exit_io_off(struct rng *g, uint64_t scratch_off)
{
	return scratch_off + (uint64_t)rnd_below(g, SCRATCH_CHUNKS / 2) * CHUNK;
}

static void exit_round(struct rng *g, uint64_t scratch_off)
{
	struct io_uring_udmabuf *ub[EXIT_SLOTS] = { NULL };
	struct io_uring ring;
	unsigned int i, n, owed = 0, submitted = 0;
	int ret;

	ret = io_uring_queue_init(16, &ring, chance(g, 30) ? IORING_SETUP_SQPOLL : 0);
	if (ret) {
		fail("exit: io_uring_queue_init: %s", t_errname(ret));
		return;
	}
	ret = io_uring_register_dmabuf_table(&ring, EXIT_SLOTS);
	if (ret) {
		fail("exit: sparse table: %s", t_errname(ret));
		goto out;
	}
	for (i = 0; i < EXIT_SLOTS; i++) {
		ret = io_uring_udmabuf_alloc(EXIT_BUF_SIZE, &ub[i]);
		if (ret) {
			fail("exit: udmabuf: %s", t_errname(ret));
			goto out;
		}
		ret = td_update_tagged(ring.ring_fd, i, nvme, ub[i]->dmabuf_fd,
				       TAG_BIT | 0x7fffffff00000000ull | i);
		if (ret != 1) {
			fail("exit: tagged update: %d (%s)", ret, t_errname(ret));
			goto out;
		}
	}
	n = 1 + rnd_below(g, 8);
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		unsigned int len = exit_io_len(g);

		if (!sqe)
			break;
		io_uring_prep_rw(chance(g, 50) ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED,
				 sqe, nvme, NULL, len, exit_io_off(g, scratch_off));
		sqe->buf_index = (__u16)rnd_below(g, EXIT_SLOTS);
		if (chance(g, 50))
			io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		submitted++;
	}
	io_uring_submit(&ring);
	/* a slot cleared under the I/O: its tag is owed when the ring dies */
	if (chance(g, 60)) {
		ret = td_update_tagged(ring.ring_fd, rnd_below(g, EXIT_SLOTS), -1, -1, 0);
		if (ret != 1)
			fail("exit: clear with I/O in flight: %d (%s)", ret, t_errname(ret));
		else
			owed++;
	}
	/* often, and until one exit has caught I/O in flight, at once */
	if (chance(g, 50) && __atomic_load_n(&counters[C_EXIT_INFLIGHT], __ATOMIC_RELAXED))
		pause_us(rnd_below(g, 1000));
	if (io_uring_cq_ready(&ring) < submitted + owed)
		count(C_EXIT_INFLIGHT, 1);
	count(C_EXIT_TAGS_OWED, owed);
out:
	io_uring_queue_exit(&ring);
	count(C_RING_EXIT, 1);
	/* the ring's references alone keep the dma-bufs now */
	for (i = 0; i < EXIT_SLOTS; i++)
		io_uring_udmabuf_free(ub[i]);
}

/*
 * A ring whose SQ and CQ live in our own memory (IORING_SETUP_NO_MMAP,
 * 6.5 on): after the ring exits, what the kernel posted while tearing it
 * down is still there to read. liburing 2.3 cannot set one up, so this
 * is the little that is needed by hand.
 */
#define TD_SETUP_NO_MMAP	(1U << 14)
#define RAW_SQ_ENTRIES		8
#define RAW_CQ_ENTRIES		64
#define RAW_RINGS_LEN		(2 * 4096)
#define RAW_SQES_LEN		4096

struct raw_ring {
	int			fd;
	unsigned char		*rings;
	struct io_uring_sqe	*sqes;
	struct io_uring_params	p;
	unsigned int		sq_tail;
};

static int raw_ring_init(struct raw_ring *rr)
{
	long ret;

	memset(rr, 0, sizeof(*rr));
	rr->fd = -1;
	rr->rings = mmap(NULL, RAW_RINGS_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	rr->sqes = mmap(NULL, RAW_SQES_LEN, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (rr->rings == MAP_FAILED || rr->sqes == MAP_FAILED)
		return -ENOMEM;
	rr->p.flags = TD_SETUP_NO_MMAP | IORING_SETUP_CQSIZE;
	rr->p.cq_entries = RAW_CQ_ENTRIES;
	rr->p.sq_off.resv2 = (__u64)(uintptr_t)rr->sqes;	/* user_addr */
	rr->p.cq_off.resv2 = (__u64)(uintptr_t)rr->rings;	/* user_addr */
	ret = syscall(__NR_io_uring_setup, RAW_SQ_ENTRIES, &rr->p);
	if (ret < 0)
		return -errno;
	rr->fd = (int)ret;
	return 0;
}

static unsigned int *raw_u32(struct raw_ring *rr, __u32 off)
{
	return (unsigned int *)(rr->rings + off);
}

/* Queue @sqe and submit it: 0 or -errno. */
static int raw_submit(struct raw_ring *rr, const struct io_uring_sqe *sqe)
{
	unsigned int mask = *raw_u32(rr, rr->p.sq_off.ring_mask);
	unsigned int idx = rr->sq_tail & mask;
	long ret;

	rr->sqes[idx] = *sqe;
	raw_u32(rr, rr->p.sq_off.array)[idx] = idx;
	__atomic_store_n(raw_u32(rr, rr->p.sq_off.tail), ++rr->sq_tail,
			 __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, rr->fd, 1, 0, 0, NULL, 0);
	return ret == 1 ? 0 : ret < 0 ? -errno : -EIO;
}

/* The CQEs posted so far (we never consume any): count, and *cqes. */
static unsigned int raw_cqes(struct raw_ring *rr, struct io_uring_cqe **cqes)
{
	*cqes = (struct io_uring_cqe *)(rr->rings + rr->p.cq_off.cqes);
	return __atomic_load_n(raw_u32(rr, rr->p.cq_off.tail), __ATOMIC_ACQUIRE);
}

static void raw_ring_free(struct raw_ring *rr)
{
	if (rr->fd >= 0)
		close(rr->fd);
	if (rr->rings != MAP_FAILED && rr->rings)
		munmap(rr->rings, RAW_RINGS_LEN);
	if (rr->sqes != MAP_FAILED && rr->sqes)
		munmap(rr->sqes, RAW_SQES_LEN);
}

/* How many CQEs in @c[0..n) carry tag @v. */
static unsigned int tag_seen(const struct io_uring_cqe *c, unsigned int n, __u64 v)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++)
		k += c[i].user_data == v;
	return k;
}

/*
 * Exit with tagged dma-buf slots, I/O in flight and a slot just cleared,
 * and read the CQ afterwards: every tag owed (cleared or replaced) must
 * arrive exactly once, a tag of a slot still live at the exit at most
 * once, and nothing we never registered.
 */
static void observed_exit_round(struct rng *g, uint64_t scratch_off,
				unsigned int round)
{
	struct io_uring_udmabuf *ub[EXIT_SLOTS + 1] = { NULL };
	struct io_uring_rsrc_register reg = {
		.nr = EXIT_SLOTS, .flags = IORING_RSRC_REGISTER_SPARSE,
	};
	__u64 tag[EXIT_SLOTS + 1];
	int owed[EXIT_SLOTS + 1] = { 0 };
	struct io_uring_cqe *c;
	struct io_uring_sqe sqe;
	struct raw_ring rr;
	unsigned int i, n, k, nposted = 0, live_posted = 0;
	uint64_t end;
	int ret, slot;

	ret = raw_ring_init(&rr);
	if (ret) {
		fail("exit: IORING_SETUP_NO_MMAP ring: %s", t_errname(ret));
		goto out;
	}
	ret = t_sys_register(rr.fd, IORING_REGISTER_BUFFERS2, &reg, sizeof(reg));
	if (ret) {
		fail("exit: sparse table on the NO_MMAP ring: %s", t_errname(ret));
		goto out;
	}
	for (i = 0; i <= EXIT_SLOTS; i++) {
		tag[i] = TAG_BIT | 0x7ffffffe00000000ull | (__u64)round << 8 | i;
		ret = io_uring_udmabuf_alloc(EXIT_BUF_SIZE, &ub[i]);
		if (ret) {
			fail("exit: udmabuf: %s", t_errname(ret));
			goto out;
		}
	}
	for (i = 0; i < EXIT_SLOTS; i++) {
		ret = td_update_tagged(rr.fd, i, nvme, ub[i]->dmabuf_fd, tag[i]);
		if (ret != 1) {
			fail("exit: tagged update: %d (%s)", ret, t_errname(ret));
			goto out;
		}
	}
	n = 1 + rnd_below(g, RAW_SQ_ENTRIES - 1);
	for (i = 0; i < n; i++) {
		memset(&sqe, 0, sizeof(sqe));
		io_uring_prep_rw(chance(g, 50) ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED,
				 &sqe, nvme, NULL, exit_io_len(g),
				 exit_io_off(g, scratch_off));
		sqe.buf_index = (__u16)rnd_below(g, EXIT_SLOTS);
		sqe.user_data = i;
		if (chance(g, 50))
			sqe.flags |= IOSQE_ASYNC;
		ret = raw_submit(&rr, &sqe);
		if (ret) {
			fail("exit: submit on the NO_MMAP ring: %s", t_errname(ret));
			break;
		}
	}
	/* one slot cleared, one replaced: both of their tags are owed */
	slot = (int)rnd_below(g, EXIT_SLOTS);
	if (td_update_tagged(rr.fd, (unsigned int)slot, -1, -1, 0) == 1)
		owed[slot] = 1;
	k = ((unsigned int)slot + 1) % EXIT_SLOTS;
	if (td_update_tagged(rr.fd, k, nvme, ub[EXIT_SLOTS]->dmabuf_fd,
			     tag[EXIT_SLOTS]) == 1)
		owed[k] = 1;
	if (!owed[slot] || !owed[k])
		fail("exit: clearing / replacing a slot with I/O in flight failed");
	if (chance(g, 50) && __atomic_load_n(&counters[C_EXIT_INFLIGHT], __ATOMIC_RELAXED))
		pause_us(rnd_below(g, 1000));
	nposted = raw_cqes(&rr, &c);
	if (nposted < n + 2)
		count(C_EXIT_INFLIGHT, 1);
	close(rr.fd);
	rr.fd = -1;
	count(C_RING_EXIT, 1);

	/* ring exit is asynchronous: give the teardown its time */
	end = t_now_ns() + 10 * 1000000000ull;
	for (;;) {
		unsigned int missing = 0;

		nposted = raw_cqes(&rr, &c);
		for (i = 0; i < EXIT_SLOTS; i++)
			missing += owed[i] && !tag_seen(c, nposted, tag[i]);
		if (!missing || t_now_ns() > end)
			break;
		pause_us(20000);
	}
	pause_us(100000);
	nposted = raw_cqes(&rr, &c);
	if (nposted > RAW_CQ_ENTRIES) {
		fail("exit: %u CQEs in a CQ of %u", nposted, RAW_CQ_ENTRIES);
		goto out;
	}
	for (i = 0; i <= EXIT_SLOTS; i++) {
		unsigned int times = tag_seen(c, nposted, tag[i]);

		if (i < EXIT_SLOTS && owed[i] && times != 1)
			fail("exit: tag of cleared/replaced slot %u posted %u times across the ring exit",
			     i, times);
		else if (times > 1)
			fail("exit: tag of slot %u, live at the exit, posted %u times", i,
			     times);
		else if (!(i < EXIT_SLOTS && owed[i]))
			live_posted += times;
		if (i < EXIT_SLOTS && owed[i] && times == 1)
			count(C_EXIT_TAG_SEEN, 1);
	}
	for (i = 0; i < nposted; i++) {
		__u64 v = c[i].user_data;

		if (v & TAG_BIT) {
			for (k = 0; k <= EXIT_SLOTS && v != tag[k]; k++)
				;
			if (k > EXIT_SLOTS)
				fail("exit: a tag CQE %#llx that was never registered",
				     (unsigned long long)v);
		} else if (v >= n) {
			fail("exit: a CQE for no request (user_data %llu)",
			     (unsigned long long)v);
		}
	}
	count(C_EXIT_TAG_LIVE, live_posted);
out:
	raw_ring_free(&rr);
	for (i = 0; i <= EXIT_SLOTS; i++)
		io_uring_udmabuf_free(ub[i]);
}

struct exit_ctx {
	struct rng	rng;
	uint64_t	scratch_off;
};

static void *exit_thread(void *arg)
{
	struct exit_ctx *ec = arg;
	unsigned int round = 0;

	while (running()) {
		if (round++ % 2)
			observed_exit_round(&ec->rng, ec->scratch_off, round);
		else
			exit_round(&ec->rng, ec->scratch_off);
		pause_us(rnd_below(&ec->rng, 3000));
	}
	return NULL;
}

/* ---- threads with stacks of our own, so /proc/self/maps can return ---- */

struct thread {
	pthread_t	tid;
	void		*stack;
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

static void thread_join(struct thread *t)
{
	if (!t->stack)
		return;
	pthread_join(t->tid, NULL);
	munmap(t->stack, STACK_SIZE);
	t->stack = NULL;
}

/* ---- setup, run, teardown ---- */

static int xring_init(struct xring *x, const char *name, unsigned int index,
		      int sqpoll, struct pool *p, uint32_t seed)
{
	struct io_uring_params prm;
	int ret;

	memset(x, 0, sizeof(*x));
	x->name = name;
	x->index = index;
	x->sqpoll = sqpoll;
	x->pool = p;
	x->next_tag = 1;
	pthread_mutex_init(&x->lock, NULL);
	rng_init(&x->io_rng, seed, 10 + index * 2);
	rng_init(&x->ctl_rng, seed, 11 + index * 2);
	x->tags = calloc(MAX_TAGS, 1);
	if (!x->tags) {
		t_fail("no memory for tags");
		return T_EXIT_FAIL;
	}
	memset(&prm, 0, sizeof(prm));
	if (sqpoll) {
		prm.flags = IORING_SETUP_SQPOLL;
		prm.sq_thread_idle = 10;
	}
	ret = io_uring_queue_init_params(RING_ENTRIES, &x->ring, &prm);
	if (ret) {
		t_fail("%s: io_uring_queue_init: %s", name, t_errname(ret));
		return T_EXIT_FAIL;
	}
	ret = io_uring_register_dmabuf_table(&x->ring, NSLOTS);
	if (ret) {
		t_fail("%s: dmabuf table: %s", name, t_errname(ret));
		return T_EXIT_FAIL;
	}
	return 0;
}

/* After the run: nothing in flight, nothing owed; unregister or just exit. */
static void xring_teardown(struct xring *x, int unregister)
{
	unsigned int t, live = 0;

	for (t = 1; t < x->next_tag; t++) {
		if (x->tags[t] == TAG_OWED || x->tags[t] == TAG_LEAVING)
			fail("%s: tag %u never posted after its slot was cleared",
			     x->name, t);
		if (x->tags[t] == TAG_LIVE)
			live++;
	}
	if (live)
		fail("%s: %u tagged buffers still in slots after the final clear",
		     x->name, live);
	if (unregister) {
		int ret = io_uring_unregister_buffers(&x->ring);

		if (ret)
			fail("%s: table unregister: %s", x->name, t_errname(ret));
		else
			count(C_UNREG_TABLE, 1);
	}
	io_uring_queue_exit(&x->ring);
	count(C_RING_EXIT, 1);
	free(x->tags);
	pthread_mutex_destroy(&x->lock);
}

static void print_counts(double secs)
{
	unsigned int i;

	printf("dmabuf-stress: operations in %.1f s:\n", secs);
	for (i = 0; i < NR_COUNTERS; i++)
		printf("  %-40s %10llu  %8.1f/s\n", counter_name[i], counters[i],
		       counters[i] / secs);
	fflush(stdout);
}

static void check_coverage(void)
{
	/*
	 * The emulated NVMe completes fast: the exit thread's rings catch
	 * their I/O in flight only now and then, the clones (which exit
	 * right after submitting) more often; one of them must.
	 */
	unsigned long long exits = counters[C_EXIT_INFLIGHT] +
				   counters[C_CLONE_EXIT_INFLIGHT] +
				   counters[C_CLONE_UNREG];

	if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
		return;

	if (!counters[C_READ_A] || !counters[C_READ_B] || !counters[C_WRITE] ||
	    !counters[C_TAG] || !counters[C_CLONE_IO] || !exits)
		fail("coverage: reads into A %llu, into B %llu, writes %llu, tags %llu, clone I/O %llu, exits or table unregisters with I/O in flight %llu: each must happen",
		     counters[C_READ_A], counters[C_READ_B], counters[C_WRITE],
		     counters[C_TAG], counters[C_CLONE_IO], exits);
}

/* Shmem back to the start: every dma-buf the kernel held is gone. */
static void check_shmem(long shmem0)
{
	uint64_t end = t_now_ns() + 20 * 1000000000ull;
	long now;

	/* ring exits drop their references asynchronously */
	while ((now = t_proc_kb("/proc/meminfo", "Shmem")) > shmem0 + SHMEM_SLACK_KB &&
	       t_now_ns() < end)
		pause_us(200000);
	printf("Shmem %ld kB -> %ld kB\n", shmem0, now);
	if (now > shmem0 + SHMEM_SLACK_KB)
		fail("Shmem is %ld kB, %ld kB at the start: dma-bufs were not released",
		     now, shmem0);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seconds N] [--seed S]\n", argv0);
	exit(2);
}

static void parse_opts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt_seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
	while ((c = getopt_long(argc, argv, "t:s:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			opt_seconds = (unsigned int)strtoul(optarg, NULL, 0);
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

static int open_nvme(void)
{
	const char *dev = td_nvme_path();
	uint64_t size = 0;

	nvme = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (nvme < 0) {
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			return t_skip("no NVMe namespace at %s (the testbed VM has one: make vmcheck)",
				      dev);
		if (errno == EACCES || errno == EPERM)
			return t_skip("%s is not accessible to this user", dev);
		t_fail("open(%s): %s", dev, t_errname(errno));
		return T_EXIT_FAIL;
	}
	if (ioctl(nvme, BLKGETSIZE64, &size) || size < 2 * REGION_SIZE)
		return t_skip("%s: %llu bytes, this test needs 32 MiB or more",
			      dev, (unsigned long long)size);
	region_off = size - REGION_SIZE;
	printf("device %s: %llu MiB, this test uses [%llu, %llu) MiB\n", dev,
	       (unsigned long long)(size >> 20),
	       (unsigned long long)(region_off >> 20),
	       (unsigned long long)(size >> 20));
	return 0;
}

static int run(void)
{
	static struct pool pools[2];
	static struct xring rings[2];
	struct clone_ctx cc;
	struct exit_ctx ec;
	struct thread thr[6];
	unsigned int i, nthr = 0;
	struct rng g;
	uint64_t t0;
	int ret;

	for (i = 0; i < 2; i++) {
		ret = pool_init(&pools[i], region_off + i * POOL_SPAN);
		if (ret)
			return ret;
	}
	ret = xring_init(&rings[0], "plain", 0, 0, &pools[0], opt_seed);
	if (!ret)
		ret = xring_init(&rings[1], "sqpoll", 1, 1, &pools[1], opt_seed);
	if (ret)
		return ret;
	rng_init(&cc.rng, opt_seed, 20);
	cc.src = &rings[0];
	rng_init(&ec.rng, opt_seed, 21);
	/* scratch chunks of the SQPOLL pool: nothing else checks them */
	ec.scratch_off = pools[1].dev_off + (uint64_t)(NCHUNKS - SCRATCH_CHUNKS) * CHUNK;
	rng_init(&g, opt_seed, 22);

	t0 = t_now_ns();
	for (i = 0; i < 2; i++)
		if (thread_start(&thr[nthr++], io_thread, &rings[i]) ||
		    thread_start(&thr[nthr++], ctl_thread, &rings[i]))
			fail("pthread_create");
	if (thread_start(&thr[nthr++], clone_thread, &cc) ||
	    thread_start(&thr[nthr++], exit_thread, &ec))
		fail("pthread_create");
	printf("dmabuf-stress: 2 rings (1 SQPOLL) + clones + exits, %u threads, %u s\n",
	       nthr, opt_seconds);
	fflush(stdout);
	for (i = 0; i < nthr; i++)
		thread_join(&thr[i]);
	for (i = 0; i < 2; i++)
		xring_teardown(&rings[i], chance(&g, 50));
	print_counts((t_now_ns() - t0) / 1e9);
	for (i = 0; i < 2; i++)
		pool_free(&pools[i]);
	return 0;
}

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

int main(int argc, char **argv)
{
	long fds0, maps0, shmem0, fds1, maps1;
	void *p;
	int ret;

	parse_opts(argc, argv);
	printf("dmabuf-stress: seed %u, %u s (rerun: --seed %u --seconds %u)\n",
	       opt_seed, opt_seconds, opt_seed, opt_seconds);
	fflush(stdout);
	ret = td_require_dmabuf();
	if (ret)
		return ret;
	/* keep the heap from adding mappings of its own */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	p = malloc(1024);
	free(p);
	fds0 = t_fd_count();
	/* the first read may have malloc map an arena: count the second */
	maps_lines();
	maps0 = maps_lines();
	t_maps_read(maps_text, sizeof(maps_text));
	shmem0 = t_proc_kb("/proc/meminfo", "Shmem");
	ret = open_nvme();
	if (ret)
		return ret;
	deadline_ns = t_now_ns() + (uint64_t)opt_seconds * 1000000000ull;

	ret = run();
	if (ret)
		return ret;
	close(nvme);
	fds1 = t_fd_count();
	maps1 = maps_lines();
	printf("fds %ld -> %ld, named maps lines (less [heap]) %ld -> %ld\n", fds0, fds1,
	       maps0, maps1);
	if (fds1 != fds0)
		fail("/proc/self/fd has %ld entries, %ld at the start", fds1, fds0);
	if (maps1 != maps0) {
		fail("/proc/self/maps has %ld named lines, %ld at the start", maps1, maps0);
		t_maps_print_new(maps_text, "dmabuf-stress");
	}
	check_coverage();
	check_shmem(shmem0);
	printf("dmabuf-stress: seed %u\n", opt_seed);
	return t_result("dmabuf-stress");
}
