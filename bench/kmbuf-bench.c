/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * kmbuf-bench: the kmbuf data path through the testbed driver, each
 * measured against its limit in the same run. Four tables:
 *
 *   detection   the probes and the generation queries: the first call in
 *               a fresh process vs later calls.
 *   library     the data path through liburing-kmbuf (setup/free handles,
 *               io_uring_kmbuf_cqe_buf()) vs the same loop on raw
 *               io_uring_register(2)/mmap(2) with the CQE decoded by hand,
 *               for the kmbuf generation the kernel runs; pbuf (an
 *               application-provided ring, FILL_PBUF) beside them. The
 *               consumer reads every byte. Plus a setup + free cycle.
 *   copy        FILL with KMBUF_TEST_F_COPY (the driver memcpy()s the
 *               payload into the buffer) -> CQE -> io_uring_kmbuf_cqe_buf()
 *               -> RECYCLE, vs the driver's own timing of memcpy() of the
 *               same size from the same source (KMBUF_TEST_CMD_MEMCPY).
 *   completion  the same cycle with a 64-byte payload vs no-op uring_cmds
 *               (KMBUF_TEST_CMD_NOP) in the same batch shape on the same ring;
 *               the same on a pinned ring (CONNECT, FILL_ATOMIC and
 *               RECYCLE_ATOMIC, as FUSE does), and a profile: RECYCLEs and
 *               FILLs submitted apart, the kernel's time for each.
 * The copy table also has a 1M row on a ring of one buffer (a single
 * destination, as the driver's memcpy has), to tell copy from spread.
 *
 * Each FILL is one request; batches of RING_ENTRIES FILLs, the previous
 * batch's RECYCLEs submitted with them. Every row runs ROUNDS rounds of
 * KMBUF_BENCH_SECONDS / ROUNDS (default 2.1 s per row), the limit and the
 * measured path alternating inside each round (the order flips between
 * rounds), so that drift of a shared or emulated machine hits both alike.
 * KMBUF_BENCH_TABLES (e.g. "copy completion") picks tables, for profiling.
 * Figures are medians over the rounds; a fraction is the median of the
 * per-round fractions, with their interquartile range beside it. The
 * completion table splits each request's time into the part inside
 * io_uring_submit_and_wait() (the kernel: the driver runs the commands
 * inline) and the rest (userspace: SQEs, CQEs, the library's decoding).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define RING_ENTRIES	8
#define MAX_OPS		200000
#define BGID		3
#define ROUNDS		15
#define SMALL_PAYLOAD	64
#define DETECT_LATER	20	/* later calls timed per fresh process */

#define UD_FILL		(1ULL << 32)
#define UD_RECYCLE	(2ULL << 32)
#define UD_CONN		(3ULL << 32)

/* What a cell of a table runs. */
enum path {
	PATH_LIB,		/* pattern FILL, library handle, read every byte */
	PATH_RAW,		/* the same on raw syscalls */
	PATH_PBUF,		/* FILL_PBUF into an application ring */
	PATH_COPY,		/* FILL | F_COPY, library, spot checks only */
	PATH_COPY_SPLIT,	/* the same, RECYCLEs and FILLs submitted apart */
	PATH_PINNED,		/* CONNECT, FILL_ATOMIC + RECYCLE_ATOMIC (FUSE's way) */
	LIMIT_MEMCPY,		/* the driver's timed memcpy() */
	LIMIT_NOP,		/* NOPs in the FILL + RECYCLE batch shape */
	PATH_LIB_SETUP,		/* io_uring_setup_kmbuf_ring + free */
	PATH_RAW_SETUP,		/* register + mmap + unregister + munmap */
};

struct cell {
	unsigned long long	ops, bytes;
	uint64_t		ns;		/* wall clock, or the driver's */
	uint64_t		sub_ns;		/* of that, in submit_and_wait */
	uint64_t		rec_ns;		/* PATH_COPY_SPLIT: RECYCLEs' part */
	unsigned int		errors;
};

struct bench {
	struct io_uring		ring;
	int			drv;
	const struct t_kmbuf_gen *gen;	/* the running one: raw numbers */
	enum path		path;
	unsigned int		size;		/* buffer size */
	unsigned int		len;		/* payload per FILL */
	unsigned int		entries;	/* ring entries = FILLs a batch */
	struct io_uring_kmbuf	*kb;		/* PATH_LIB, PATH_COPY */
	void			*raw_bufs;	/* PATH_RAW */
	struct t_pbuf		pb;		/* PATH_PBUF */
	volatile uint64_t	sink;
};

static double cell_secs = 2.1 / ROUNDS;

static int raw_register(struct bench *b)
{
	struct io_uring_kmbuf_reg reg;
	size_t len = (size_t)b->entries * b->size;
	void *p;
	long ret;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = b->size;
	reg.ring_entries = b->entries;
	reg.bgid = BGID;
	reg.flags = (__u16)b->gen->reg_flags;
	ret = syscall(__NR_io_uring_register, b->ring.ring_fd, b->gen->reg_op,
		      &reg, 1);
	if (ret < 0)
		return -errno;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		 b->ring.ring_fd,
		 (off_t)(b->gen->off_base | (__u64)BGID << IO_URING_KMBUF_OFF_SHIFT));
	if (p == MAP_FAILED) {
		ret = -errno;
		memset(&reg, 0, sizeof(reg));
		reg.bgid = BGID;
		syscall(__NR_io_uring_register, b->ring.ring_fd,
			b->gen->unreg_op, &reg, 1);
		return (int)ret;
	}
	b->raw_bufs = p;
	return 0;
}

/* Unregister first, unmap after: the library's order. */
static int raw_unregister(struct bench *b)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.bgid = BGID;
	if (syscall(__NR_io_uring_register, b->ring.ring_fd, b->gen->unreg_op,
		    &reg, 1) < 0)
		return -errno;
	munmap(b->raw_bufs, (size_t)b->entries * b->size);
	return 0;
}

/*
 * CONNECT pins the ring and stays in flight; DISCONNECT ends it, and both
 * complete with 0. @op is the one to send; CONNECT waits for nothing.
 */
static int connection(struct bench *b, unsigned int op)
{
	struct kmbuf_test_cmd c = { .bgid = BGID };
	unsigned int n = op == KMBUF_TEST_CMD_CONNECT ? 0 : 2;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	struct io_uring_cqe *cqe;
	int ret, bad = 0;

	t_prep_drv(sqe, b->drv, op, &c);
	sqe->user_data = UD_CONN;
	ret = io_uring_submit_and_wait(&b->ring, n);
	if (ret < 0)
		return ret;
	/* CONNECT: a CQE now means the pin failed */
	if (!n && !io_uring_peek_cqe(&b->ring, &cqe)) {
		ret = cqe->res ? cqe->res : -EPROTO;
		io_uring_cqe_seen(&b->ring, cqe);
		return ret;
	}
	while (n--) {
		ret = io_uring_wait_cqe(&b->ring, &cqe);
		if (ret)
			return ret;
		bad |= cqe->res != 0;
		io_uring_cqe_seen(&b->ring, cqe);
	}
	return bad ? -EPROTO : 0;
}

static int setup(struct bench *b)
{
	int ret;

	switch (b->path) {
	case PATH_PINNED:
		ret = io_uring_setup_kmbuf_ring(&b->ring, b->entries, b->size,
						BGID, NULL, &b->kb);
		if (ret)
			return ret;
		ret = connection(b, KMBUF_TEST_CMD_CONNECT);
		if (ret)
			io_uring_free_kmbuf_ring(&b->ring, b->kb);
		return ret;
	case PATH_LIB:
	case PATH_COPY:
	case PATH_COPY_SPLIT:
		return io_uring_setup_kmbuf_ring(&b->ring, b->entries, b->size,
						 BGID, NULL, &b->kb);
	case PATH_RAW:
		return raw_register(b);
	case PATH_PBUF:
		return t_pbuf_setup(&b->ring, b->entries, b->size, BGID, &b->pb);
	default:
		return 0;
	}
}

static int teardown(struct bench *b)
{
	int ret;

	switch (b->path) {
	case PATH_PINNED:
		ret = connection(b, KMBUF_TEST_CMD_DISCONNECT);
		if (ret)
			return ret;
		return io_uring_free_kmbuf_ring(&b->ring, b->kb);
	case PATH_LIB:
	case PATH_COPY:
	case PATH_COPY_SPLIT:
		return io_uring_free_kmbuf_ring(&b->ring, b->kb);
	case PATH_RAW:
		return raw_unregister(b);
	case PATH_PBUF:
		return t_pbuf_free(&b->ring, &b->pb);
	default:
		return 0;
	}
}

/* Where a FILL completion's data is: bid, or -1. */
static int locate(struct bench *b, struct io_uring_cqe *cqe,
		  const unsigned char **data, unsigned int *len)
{
	unsigned int bid;
	void *addr;
	int ret;

	if (b->path == PATH_LIB || b->path == PATH_COPY ||
	    b->path == PATH_COPY_SPLIT || b->path == PATH_PINNED) {
		ret = io_uring_kmbuf_cqe_buf(b->kb, cqe, &addr, len);
		*data = addr;
		return ret < 0 ? -1 : ret;
	}
	if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
		return -1;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (bid >= b->entries || (unsigned int)cqe->res > b->size)
		return -1;
	*data = (const unsigned char *)(b->path == PATH_PBUF ?
					b->pb.bufs : b->raw_bufs) +
		(size_t)bid * b->size;
	*len = (unsigned int)cqe->res;
	return (int)bid;
}

/* Read every byte, as a consumer parsing the request would. */
static uint64_t consume(const unsigned char *p, unsigned int len)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < len / 8; i++)
		sum += w[i];
	for (i = len & ~7u; i < len; i++)
		sum += p[i];
	return sum;
}

/*
 * The RECYCLEs of a split batch, submitted and reaped on their own: 0 or
 * -errno, the time in submit_and_wait added to r->rec_ns.
 */
static int recycle_apart(struct bench *b, unsigned int n, struct cell *r)
{
	struct io_uring_cqe *cqe;
	uint64_t t1 = t_now_ns();
	int ret;

	ret = io_uring_submit_and_wait(&b->ring, n);
	r->rec_ns += t_now_ns() - t1;
	if (ret < 0)
		return ret;
	while (n--) {
		ret = io_uring_wait_cqe(&b->ring, &cqe);
		if (ret)
			return ret;
		if (cqe->res < 0)
			r->errors++;
		io_uring_cqe_seen(&b->ring, cqe);
	}
	return 0;
}

/* FILL -> CQE -> locate -> RECYCLE (pbuf: the application recycles). */
static int run_fill(struct bench *b, struct cell *r)
{
	unsigned short recycle[RING_ENTRIES];
	unsigned int nr_recycle = 0, i, pending, op;
	int copy = b->path == PATH_COPY || b->path == PATH_COPY_SPLIT;
	/* the data path tables read every byte, the others spot-check */
	int read_all = b->path == PATH_LIB || b->path == PATH_RAW ||
		       b->path == PATH_PBUF;
	unsigned int recycle_op = b->path == PATH_PINNED ?
		KMBUF_TEST_CMD_RECYCLE_ATOMIC : KMBUF_TEST_CMD_RECYCLE;
	const unsigned char *data;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	uint64_t t0, t1, deadline;
	unsigned int len;
	int ret, bid;

	ret = setup(b);
	if (ret)
		return ret;
	op = b->path == PATH_PBUF ? KMBUF_TEST_CMD_FILL_PBUF :
	     b->path == PATH_PINNED ? KMBUF_TEST_CMD_FILL_ATOMIC :
	     KMBUF_TEST_CMD_FILL;
	t0 = t_now_ns();
	deadline = t0 + (uint64_t)(cell_secs * 1e9);
	while (r->ops < MAX_OPS && t_now_ns() < deadline) {
		pending = 0;
		for (i = 0; i < nr_recycle; i++) {
			struct kmbuf_test_cmd c = { .bgid = BGID, .bid = recycle[i] };

			if (b->path == PATH_PBUF) {
				t_pbuf_recycle(&b->pb, recycle[i]);
				continue;
			}
			sqe = io_uring_get_sqe(&b->ring);
			t_prep_drv(sqe, b->drv, recycle_op, &c);
			sqe->user_data = UD_RECYCLE;
			pending++;
		}
		nr_recycle = 0;
		if (pending && b->path == PATH_COPY_SPLIT) {
			ret = recycle_apart(b, pending, r);
			if (ret)
				goto out;
			pending = 0;
		}
		for (i = 0; i < b->entries; i++) {
			/* F_COPY: the source holds the pattern of seed 0 */
			struct kmbuf_test_cmd c = {
				.bgid = BGID, .len = b->len,
				.seed = copy ? 0 : (unsigned int)(r->ops + i),
				.flags = copy ? KMBUF_TEST_F_COPY : 0,
			};

			sqe = io_uring_get_sqe(&b->ring);
			t_prep_drv(sqe, b->drv, op, &c);
			sqe->user_data = UD_FILL | c.seed;
			pending++;
		}
		t1 = t_now_ns();
		ret = io_uring_submit_and_wait(&b->ring, pending);
		r->sub_ns += t_now_ns() - t1;
		if (ret < 0)
			goto out;
		while (pending) {
			ret = io_uring_wait_cqe(&b->ring, &cqe);
			if (ret)
				goto out;
			pending--;
			if ((cqe->user_data & ~0xffffffffULL) == UD_RECYCLE) {
				if (cqe->res < 0)
					r->errors++;
				io_uring_cqe_seen(&b->ring, cqe);
				continue;
			}
			bid = locate(b, cqe, &data, &len);
			if (bid < 0 || len != b->len ||
			    data[0] != kmbuf_test_pattern((__u32)cqe->user_data, 0) ||
			    data[len - 1] != kmbuf_test_pattern((__u32)cqe->user_data,
								len - 1)) {
				r->errors++;
			} else {
				if (read_all)
					b->sink += consume(data, len);
				r->bytes += len;
				recycle[nr_recycle++] = (unsigned short)bid;
			}
			io_uring_cqe_seen(&b->ring, cqe);
		}
		r->ops += b->entries;
		if (r->errors)
			break;
	}
	ret = 0;
out:
	r->ns = t_now_ns() - t0;
	if (teardown(b))
		r->errors++;
	return ret;
}

/*
 * The completion path's limit: every command of a FILL batch (RECYCLEs
 * and FILLs, 2 * RING_ENTRIES) replaced by a NOP; one "op" per FILL slot.
 */
static int run_nop(struct bench *b, struct cell *r)
{
	struct kmbuf_test_cmd c = { .bgid = BGID };
	struct io_uring_cqe *cqe;
	uint64_t t0, t1, deadline;
	unsigned int i;
	int ret;

	t0 = t_now_ns();
	deadline = t0 + (uint64_t)(cell_secs * 1e9);
	while (r->ops < MAX_OPS && t_now_ns() < deadline) {
		for (i = 0; i < 2 * RING_ENTRIES; i++)
			t_prep_drv(io_uring_get_sqe(&b->ring), b->drv,
				   KMBUF_TEST_CMD_NOP, &c);
		t1 = t_now_ns();
		ret = io_uring_submit_and_wait(&b->ring, 2 * RING_ENTRIES);
		r->sub_ns += t_now_ns() - t1;
		if (ret < 0)
			return ret;
		for (i = 0; i < 2 * RING_ENTRIES; i++) {
			ret = io_uring_wait_cqe(&b->ring, &cqe);
			if (ret)
				return ret;
			if (cqe->res)
				r->errors++;
			io_uring_cqe_seen(&b->ring, cqe);
		}
		r->ops += RING_ENTRIES;
	}
	r->ns = t_now_ns() - t0;
	return 0;
}

/*
 * The copy path's limit: the driver memcpy()s b->len bytes from the FILL
 * source, count times per command, and reports the nanoseconds it took;
 * only those count. About 1 MiB per command.
 */
static int run_memcpy(struct bench *b, struct cell *r)
{
	unsigned int count = b->len >= (1u << 20) / RING_ENTRIES ?
			     RING_ENTRIES : (1u << 20) / b->len;
	uint64_t deadline = t_now_ns() + (uint64_t)(cell_secs * 1e9);
	int res;

	while (t_now_ns() < deadline) {
		res = t_drv(&b->ring, b->drv, KMBUF_TEST_CMD_MEMCPY, 0, 0,
			    b->len, count);
		if (res < 0)
			return res;
		r->ns += (uint64_t)res;
		r->ops += count;
		r->bytes += (unsigned long long)count * b->len;
	}
	return 0;
}

/* One ring set up and freed, through the library or by hand. */
static int run_setup_cycles(struct bench *b, struct cell *r)
{
	uint64_t t0 = t_now_ns(), deadline = t0 + (uint64_t)(cell_secs * 1e9);
	int ret;

	while (r->ops < MAX_OPS && t_now_ns() < deadline) {
		if (b->path == PATH_LIB_SETUP) {
			ret = io_uring_setup_kmbuf_ring(&b->ring, b->entries,
							b->size, BGID, NULL, &b->kb);
			if (!ret)
				ret = io_uring_free_kmbuf_ring(&b->ring, b->kb);
		} else {
			ret = raw_register(b);
			if (!ret)
				ret = raw_unregister(b);
		}
		if (ret)
			return ret;
		r->ops++;
	}
	r->ns = t_now_ns() - t0;
	return 0;
}

static int run_cell(struct bench *b, enum path path, unsigned int size,
		    unsigned int len, unsigned int entries, struct cell *r)
{
	memset(r, 0, sizeof(*r));
	b->path = path;
	b->size = size;
	b->len = len;
	b->entries = entries ? entries : RING_ENTRIES;
	switch (path) {
	case LIMIT_MEMCPY:
		return run_memcpy(b, r);
	case LIMIT_NOP:
		return run_nop(b, r);
	case PATH_LIB_SETUP:
	case PATH_RAW_SETUP:
		return run_setup_cycles(b, r);
	default:
		return run_fill(b, r);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned int n)
{
	double s[ROUNDS * 4];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* "q1-q3": the interquartile range of @v, as text in @buf */
static const char *iqr(const double *v, unsigned int n, char *buf, size_t len)
{
	double s[ROUNDS * 4];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	snprintf(buf, len, "%.2f-%.2f", s[n / 4], s[(3 * n) / 4]);
	return buf;
}

/*
 * One table row: the measured path and its limit(s), ROUNDS rounds, the
 * order flipped every round. rate[k][round] is ops per second of column
 * k (the driver's nanoseconds for LIMIT_MEMCPY), mbs[k][round] MB/s.
 */
#define MAX_COLS	4
struct row {
	const char	*name;
	unsigned int	size, len, nr;
	unsigned int	entries;		/* 0: RING_ENTRIES */
	enum path	col[MAX_COLS];
	double		rate[MAX_COLS][ROUNDS], mbs[MAX_COLS][ROUNDS];
	double		sub_us[MAX_COLS][ROUNDS];	/* per op */
	double		rec_us[MAX_COLS][ROUNDS];	/* per op */
	int		failed;
};

static unsigned int failures;

static void run_rows(struct bench *b, struct row *rows, unsigned int nr_rows)
{
	unsigned int round, i, k, kk;
	struct cell c;
	int ret;

	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < nr_rows; i++) {
			struct row *w = &rows[i];

			if (w->failed)
				continue;
			for (kk = 0; kk < w->nr; kk++) {
				k = round % 2 ? w->nr - 1 - kk : kk;
				ret = run_cell(b, w->col[k], w->size, w->len,
					       w->entries, &c);
				if (!ret && (c.errors || !c.ns || !c.ops))
					ret = -EPROTO;
				if (ret) {
					printf("%s, column %u, round %u: %s (%u errors)\n",
					       w->name, k, round, t_errname(ret),
					       c.errors);
					w->failed = 1;
					failures++;
					break;
				}
				w->rate[k][round] = (double)c.ops * 1e9 / (double)c.ns;
				w->mbs[k][round] = (double)c.bytes * 1e3 / (double)c.ns;
				w->sub_us[k][round] = (double)c.sub_ns / 1e3 / (double)c.ops;
				w->rec_us[k][round] = (double)c.rec_ns / 1e3 / (double)c.ops;
			}
		}
	}
}

/*
 * Median over the rounds of column a / column b (ops/s; MB/s if @mbs),
 * its interquartile range in @range.
 */
static double fraction(const struct row *w, unsigned int a, unsigned int b,
		       int mbs, char *range, size_t len)
{
	const double (*v)[ROUNDS] = mbs ? w->mbs : w->rate;
	double f[ROUNDS];
	unsigned int r;

	for (r = 0; r < ROUNDS; r++)
		f[r] = v[b][r] > 0 ? v[a][r] / v[b][r] : 0;
	iqr(f, ROUNDS, range, len);
	return median(f, ROUNDS);
}

static const char *size_name(unsigned int n)
{
	static char buf[4][16];
	static unsigned int i;
	char *p = buf[i++ % 4];

	if (n >= 1048576 && n % 1048576 == 0)
		snprintf(p, 16, "%uM", n / 1048576);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(p, 16, "%uK", n / 1024);
	else
		snprintf(p, 16, "%u", n);
	return p;
}

static const unsigned int sizes[] = { 4096, 65536, 1048576 };
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

static void table_library(struct bench *b)
{
	struct row rows[NR_SIZES + 1];
	char r1[32], r2[32];
	unsigned int s;
	double f, p;

	memset(rows, 0, sizeof(rows));
	for (s = 0; s < NR_SIZES; s++) {
		rows[s] = (struct row){
			.name = "library", .size = sizes[s], .len = sizes[s],
			.nr = 3, .col = { PATH_LIB, PATH_RAW, PATH_PBUF },
		};
	}
	rows[s] = (struct row){
		.name = "library setup+free", .size = 65536, .nr = 2,
		.col = { PATH_LIB_SETUP, PATH_RAW_SETUP },
	};
	run_rows(b, rows, NR_SIZES + 1);

	printf("\nlibrary (generation %s): kmbuf through liburing-kmbuf vs the same loop on raw syscalls\n"
	       "(the limit); pattern FILL, the consumer reads every byte; pbuf (FILL_PBUF) beside it\n",
	       b->gen->name);
	printf("%-8s %11s %11s %11s %8s %11s %10s %11s\n", "payload", "kmbuf op/s",
	       "raw op/s", "pbuf op/s", "lib/raw", "iqr", "kmbuf/pbuf", "iqr");
	for (s = 0; s < NR_SIZES; s++) {
		struct row *w = &rows[s];

		if (w->failed) {
			printf("%-8s failed\n", size_name(w->size));
			continue;
		}
		f = fraction(w, 0, 1, 0, r1, sizeof(r1));
		p = fraction(w, 0, 2, 0, r2, sizeof(r2));
		printf("%-8s %11.0f %11.0f %11.0f %8.2f %11s %10.2f %11s\n",
		       size_name(w->size), median(w->rate[0], ROUNDS),
		       median(w->rate[1], ROUNDS), median(w->rate[2], ROUNDS),
		       f, r1, p, r2);
	}
	if (!rows[s].failed) {
		f = fraction(&rows[s], 0, 1, 0, r1, sizeof(r1));
		printf("%-8s %8.1f us %8.1f us %11s %8.2f %11s   (8 x 64K ring, setup + free)\n",
		       "setup", 1e6 / median(rows[s].rate[0], ROUNDS),
		       1e6 / median(rows[s].rate[1], ROUNDS), "", f, r1);
	}
}

static void table_copy(struct bench *b)
{
	struct row rows[NR_SIZES + 1];
	double f, path_us, lim_us;
	char r1[32], name[32];
	unsigned int s;

	memset(rows, 0, sizeof(rows));
	for (s = 0; s < NR_SIZES; s++)
		rows[s] = (struct row){
			.name = "copy", .size = sizes[s], .len = sizes[s], .nr = 2,
			.col = { PATH_COPY, LIMIT_MEMCPY },
		};
	/* the profile of the 1M row: a ring of one buffer, as hot as memcpy's */
	rows[s] = rows[s - 1];
	rows[s].entries = 1;
	run_rows(b, rows, NR_SIZES + 1);

	printf("\ncopy path: FILL (KMBUF_TEST_F_COPY) -> CQE -> io_uring_kmbuf_cqe_buf -> RECYCLE, vs the\n"
	       "limit: the driver's memcpy() of the same size from the same source (KMBUF_TEST_CMD_MEMCPY);\n"
	       "the last row: a 1-buffer ring, one destination like memcpy's (%u buffers above)\n",
	       RING_ENTRIES);
	printf("%-8s %10s %11s %9s %11s %10s %10s %10s\n", "payload", "path MB/s",
	       "limit MB/s", "fraction", "iqr", "path us", "memcpy us",
	       "rest us");
	for (s = 0; s <= NR_SIZES; s++) {
		struct row *w = &rows[s];

		snprintf(name, sizeof(name), "%s%s", size_name(w->size),
			 w->entries == 1 ? " x1" : "");
		if (w->failed) {
			printf("%-8s failed\n", name);
			continue;
		}
		f = fraction(w, 0, 1, 1, r1, sizeof(r1));
		path_us = 1e6 / median(w->rate[0], ROUNDS);
		lim_us = 1e6 / median(w->rate[1], ROUNDS);
		printf("%-8s %10.1f %11.1f %9.2f %11s %10.2f %10.2f %10.2f\n",
		       name, median(w->mbs[0], ROUNDS), median(w->mbs[1], ROUNDS),
		       f, r1, path_us, lim_us, path_us - lim_us);
	}
}

static void table_completion(struct bench *b)
{
	struct row w = {
		.name = "completion", .size = 4096, .len = SMALL_PAYLOAD, .nr = 4,
		.col = { PATH_COPY, LIMIT_NOP, PATH_COPY_SPLIT, PATH_PINNED },
	};
	double f, us[2], kern[2];
	unsigned int k;
	char r1[32];

	run_rows(b, &w, 1);
	printf("\ncompletion path: FILL (%u bytes, F_COPY) -> CQE -> io_uring_kmbuf_cqe_buf -> RECYCLE, vs the\n"
	       "limit: NOP uring_cmds in the same batch shape on the same ring (%u NOPs per %u buffers);\n"
	       "per buffer: all, inside io_uring_submit_and_wait (kernel), the rest (user)\n",
	       SMALL_PAYLOAD, 2 * RING_ENTRIES, RING_ENTRIES);
	printf("%-8s %11s %11s %9s %11s %8s %8s %8s %8s %8s %8s\n", "payload",
	       "path op/s", "limit op/s", "fraction", "iqr", "path us",
	       "kernel", "user", "limit us", "kernel", "user");
	if (w.failed) {
		printf("%-8s failed\n", size_name(w.len));
		return;
	}
	f = fraction(&w, 0, 1, 0, r1, sizeof(r1));
	for (k = 0; k < 2; k++) {
		us[k] = 1e6 / median(w.rate[k], ROUNDS);
		kern[k] = median(w.sub_us[k], ROUNDS);
	}
	printf("%-8s %11.0f %11.0f %9.2f %11s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n",
	       size_name(w.len), median(w.rate[0], ROUNDS),
	       median(w.rate[1], ROUNDS), f, r1, us[0], kern[0],
	       us[0] - kern[0], us[1], kern[1], us[1] - kern[1]);
	/* a pinned ring, as FUSE uses it: no lookup, no references per FILL */
	f = fraction(&w, 3, 1, 0, r1, sizeof(r1));
	printf("%-8s %11.0f %11s %9.2f %11s %8.2f %8.2f %8.2f   (pinned ring: CONNECT, FILL_ATOMIC + RECYCLE_ATOMIC; pattern payload)\n",
	       "64 pin", median(w.rate[3], ROUNDS), "", f, r1,
	       1e6 / median(w.rate[3], ROUNDS), median(w.sub_us[3], ROUNDS),
	       1e6 / median(w.rate[3], ROUNDS) - median(w.sub_us[3], ROUNDS));
	/* the profile: RECYCLEs and FILLs in submits of their own */
	printf("profile, RECYCLEs and FILLs submitted apart, kernel us per command: FILL %.2f, RECYCLE %.2f, NOP %.2f\n",
	       median(w.sub_us[2], ROUNDS), median(w.rec_us[2], ROUNDS),
	       kern[1] / 2);
}

/*
 * Detection: each sample is a fresh child process (forked before this
 * process called anything that could cache), which times its first call
 * and then DETECT_LATER more. A table, so a new query is one line.
 */
struct detector {
	const char	*name;
	int		(*fn)(void);
};

static const struct detector detectors[] = {
	{ "io_uring_probe_kmbuf()", io_uring_probe_kmbuf },
	{ "io_uring_probe_dmabuf()", io_uring_probe_dmabuf },
	{ "io_uring_kmbuf_abi()", io_uring_kmbuf_abi },
	{ "io_uring_dmabuf_abi()", io_uring_dmabuf_abi },
};
#define NR_DETECTORS	(sizeof(detectors) / sizeof(detectors[0]))

/* In the child: {first ns, median later ns, answer} through @fd. */
static void detect_child(const struct detector *d, int fd)
{
	double t[3], later[DETECT_LATER];
	uint64_t t0;
	unsigned int i;
	int ret;

	t0 = t_now_ns();
	ret = d->fn();
	t[0] = (double)(t_now_ns() - t0);
	for (i = 0; i < DETECT_LATER; i++) {
		t0 = t_now_ns();
		d->fn();
		later[i] = (double)(t_now_ns() - t0);
	}
	qsort(later, DETECT_LATER, sizeof(later[0]), cmp_double);
	t[1] = later[DETECT_LATER / 2];
	t[2] = ret;
	_exit(write(fd, t, sizeof(t)) == sizeof(t) ? 0 : 1);
}

static int table_detection(void)
{
	double first[NR_DETECTORS][ROUNDS], later[NR_DETECTORS][ROUNDS];
	int answer[NR_DETECTORS];
	unsigned int round, i;
	int fds[2], status;
	double t[3];
	pid_t pid;

	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < NR_DETECTORS; i++) {
			if (pipe(fds))
				return -errno;
			fflush(stdout);
			pid = fork();
			if (pid < 0)
				return -errno;
			if (!pid) {
				close(fds[0]);
				detect_child(&detectors[i], fds[1]);
			}
			close(fds[1]);
			if (read(fds[0], t, sizeof(t)) != sizeof(t))
				t[0] = t[1] = t[2] = -1;
			close(fds[0]);
			if (waitpid(pid, &status, 0) != pid || status || t[0] < 0) {
				printf("detection: %s: the child failed\n",
				       detectors[i].name);
				return -EPROTO;
			}
			first[i][round] = t[0];
			later[i][round] = t[1];
			answer[i] = (int)t[2];
		}
	}
	printf("\ndetection: first call in a fresh process vs later calls (median of %u processes, %u later calls each)\n",
	       ROUNDS, DETECT_LATER);
	printf("%-26s %7s %10s %10s %8s\n", "call", "answer", "first us",
	       "later us", "first/later");
	for (i = 0; i < NR_DETECTORS; i++) {
		double f = median(first[i], ROUNDS) / 1e3;
		double l = median(later[i], ROUNDS) / 1e3;

		printf("%-26s %7d %10.1f %10.2f %8.1f\n", detectors[i].name,
		       answer[i], f, l, l > 0 ? f / l : 0);
	}
	return 0;
}

/*
 * The commands of issue 12 answer -EINVAL on an older driver: say so
 * instead of printing figures of something else.
 */
static int check_driver(struct bench *b)
{
	struct t_cqe cqe;
	struct kmbuf_test_cmd fill = {
		.bgid = BGID, .len = 4096, .flags = KMBUF_TEST_F_COPY,
	};
	int ret, bid;

	ret = t_drv(&b->ring, b->drv, KMBUF_TEST_CMD_NOP, 0, 0, 0, 0);
	if (ret) {
		printf("kmbuf-bench: KMBUF_TEST_CMD_NOP answered %s: this kernel's test driver predates the NOP, MEMCPY and FILL-copy commands (boot the testbed kernel of this tree)\n",
		       t_errname(ret));
		return -ENOTSUP;
	}
	ret = t_drv(&b->ring, b->drv, KMBUF_TEST_CMD_MEMCPY, 0, 0, 4096, 1);
	if (ret < 0) {
		printf("kmbuf-bench: KMBUF_TEST_CMD_MEMCPY answered %s: this kernel's test driver lacks it\n",
		       t_errname(ret));
		return -ENOTSUP;
	}
	ret = io_uring_setup_kmbuf_ring(&b->ring, 1, 4096, BGID, NULL, &b->kb);
	if (ret) {
		printf("kmbuf-bench: io_uring_setup_kmbuf_ring: %s\n", t_errname(ret));
		return ret;
	}
	ret = t_drv_run(&b->ring, b->drv, KMBUF_TEST_CMD_FILL, &fill, &cqe);
	if (!ret && cqe.res >= 0) {
		bid = (int)(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
		if (cqe.res != 4096 || bid != 0 ||
		    t_check_pattern(b->kb->bufs, 4096, 0) != 4096) {
			printf("kmbuf-bench: FILL with KMBUF_TEST_F_COPY delivered res %d, bid %d, not the pattern of seed 0\n",
			       cqe.res, bid);
			ret = -EPROTO;
		}
	} else {
		ret = ret ? ret : cqe.res;
		printf("kmbuf-bench: FILL with KMBUF_TEST_F_COPY answered %s: this kernel's test driver lacks it\n",
		       t_errname(ret));
		ret = -ENOTSUP;
	}
	/* its buffer is out of the ring: freeing the ring frees it too */
	if (io_uring_free_kmbuf_ring(&b->ring, b->kb) && !ret)
		ret = -EPROTO;
	return ret;
}

/* KMBUF_BENCH_TABLES: the tables to run (a list of names), else all. */
static int want(const char *table)
{
	const char *list = getenv("KMBUF_BENCH_TABLES");

	return !list || !*list || strstr(list, table);
}

int main(void)
{
	const char *env = getenv("KMBUF_BENCH_SECONDS");
	struct bench b;
	int ret;

	if (env && atof(env) > 0)
		cell_secs = atof(env) / ROUNDS;
	/* before anything else: the children must start with nothing cached */
	printf("kmbuf-bench: %u-buffer rings, batches of %u, %u rounds of %.2f s per row and column\n",
	       RING_ENTRIES, RING_ENTRIES, ROUNDS, cell_secs);
	if (want("detection") && table_detection())
		failures++;
	ret = io_uring_probe_kmbuf();
	if (ret == 0 && t_kmbuf_gen()->has_switch) {
		/* the testbed speaks a generation the library does not */
		printf("kmbuf-bench: the testbed kernel runs kmbuf.abi=%s and io_uring_probe_kmbuf() says 0: this library does not speak that generation\n",
		       t_kmbuf_gen()->name);
		return T_EXIT_FAIL;
	}
	if (ret == 0) {
		printf("SKIP: kernel lacks kmbuf rings (io_uring_probe_kmbuf() = 0)\n");
		return T_EXIT_SKIP;
	}
	if (ret < 0) {
		printf("kmbuf-bench: io_uring_probe_kmbuf() could not tell: %s\n",
		       t_errname(ret));
		return ret == -ENOSYS || ret == -EPERM ? T_EXIT_SKIP : T_EXIT_FAIL;
	}
	memset(&b, 0, sizeof(b));
	/* the raw rows use the tests' own numbers, not the library's */
	b.gen = t_kmbuf_gen();
	if (io_uring_kmbuf_abi() != b.gen->abi) {
		printf("kmbuf-bench: the library uses kmbuf generation %d, the kernel runs %s\n",
		       io_uring_kmbuf_abi(), b.gen->name);
		return T_EXIT_FAIL;
	}
	ret = t_require_testdrv(&b.drv);
	if (ret)
		return ret;
	ret = io_uring_queue_init(2 * RING_ENTRIES, &b.ring, 0);
	if (ret) {
		printf("io_uring_queue_init: %s\n", t_errname(ret));
		return T_EXIT_FAIL;
	}

	if (want("library"))
		table_library(&b);
	ret = check_driver(&b);
	if (ret) {
		failures++;
	} else {
		if (want("copy"))
			table_copy(&b);
		if (want("completion"))
			table_completion(&b);
	}

	io_uring_queue_exit(&b.ring);
	if (failures)
		printf("kmbuf-bench: %u failures\n", failures);
	return failures ? T_EXIT_FAIL : T_EXIT_PASS;
}
