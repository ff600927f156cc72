/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * kmbuf-bench: the data path through the testbed driver, three ways.
 *
 *   kmbuf      kernel-managed ring through liburing-kmbuf: setup/free
 *              handles, io_uring_kmbuf_cqe_buf() to find each buffer,
 *              RECYCLE commands (the kernel consumer recycles).
 *   kmbuf-raw  the same ring and loop with io_uring_register(2), mmap(2)
 *              and the CQE decoded by hand: the cost of the library.
 *   pbuf       an application-provided ring (FILL_PBUF; the driver copies
 *              to user memory) that the application refills itself.
 *
 * Each FILL is one request of the payload size; the consumer reads every
 * byte (a word sum) and spot-checks the pattern. Batches of RING_ENTRIES
 * requests, the previous batch's recycles submitted with them. Every
 * configuration runs for KMBUF_BENCH_SECONDS (default 3) in PASSES
 * interleaved passes, each bounded by MAX_OPS requests too. Prints ops/s,
 * MB/s, the spread between passes ((max - min) / mean) and ratios.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"

#define RING_ENTRIES	8
#define MAX_OPS		200000
#define BGID		3
#define PASSES		3

#define UD_FILL		(1ULL << 32)
#define UD_RECYCLE	(2ULL << 32)

enum mode { MODE_KMBUF, MODE_KMBUF_RAW, MODE_PBUF, NR_MODES };

static const char *const mode_name[NR_MODES] = { "kmbuf", "kmbuf-raw", "pbuf" };

struct result {
	unsigned long long	ops, bytes;
	double			secs;
	unsigned int		errors;
};

struct bench {
	struct io_uring		ring;
	int			drv;
	enum mode		mode;
	unsigned int		size;
	/* MODE_KMBUF */
	struct io_uring_kmbuf	*kb;
	/* MODE_KMBUF_RAW */
	void			*raw_bufs;
	/* MODE_PBUF */
	struct t_pbuf		pb;
	volatile uint64_t	sink;
};

static int raw_setup(struct bench *b)
{
	struct io_uring_kmbuf_reg reg;
	size_t len = (size_t)RING_ENTRIES * b->size;
	void *p;
	long ret;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = b->size;
	reg.ring_entries = RING_ENTRIES;
	reg.bgid = BGID;
	ret = syscall(__NR_io_uring_register, b->ring.ring_fd,
		      IO_URING_KMBUF_REGISTER_OP, &reg, 1);
	if (ret < 0)
		return -errno;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		 b->ring.ring_fd,
		 (off_t)(IO_URING_KMBUF_OFF_RING |
			 (__u64)BGID << IO_URING_KMBUF_OFF_SHIFT));
	if (p == MAP_FAILED) {
		ret = -errno;
		syscall(__NR_io_uring_register, b->ring.ring_fd,
			IO_URING_KMBUF_UNREGISTER_OP, &reg, 1);
		return (int)ret;
	}
	b->raw_bufs = p;
	return 0;
}

static int raw_free(struct bench *b)
{
	struct io_uring_kmbuf_reg reg;

	munmap(b->raw_bufs, (size_t)RING_ENTRIES * b->size);
	memset(&reg, 0, sizeof(reg));
	reg.bgid = BGID;
	if (syscall(__NR_io_uring_register, b->ring.ring_fd,
		    IO_URING_KMBUF_UNREGISTER_OP, &reg, 1) < 0)
		return -errno;
	return 0;
}

static int setup(struct bench *b)
{
	switch (b->mode) {
	case MODE_KMBUF:
		return io_uring_setup_kmbuf_ring(&b->ring, RING_ENTRIES, b->size,
						 BGID, NULL, &b->kb);
	case MODE_KMBUF_RAW:
		return raw_setup(b);
	default:
		return t_pbuf_setup(&b->ring, RING_ENTRIES, b->size, BGID, &b->pb);
	}
}

static int teardown(struct bench *b)
{
	switch (b->mode) {
	case MODE_KMBUF:
		return io_uring_free_kmbuf_ring(&b->ring, b->kb);
	case MODE_KMBUF_RAW:
		return raw_free(b);
	default:
		return t_pbuf_free(&b->ring, &b->pb);
	}
}

/* Where a FILL completion's data is: bid, or -1. */
static int locate(struct bench *b, struct io_uring_cqe *cqe,
		  const unsigned char **data, unsigned int *len)
{
	unsigned int bid;
	void *addr;
	int ret;

	switch (b->mode) {
	case MODE_KMBUF:
		ret = io_uring_kmbuf_cqe_buf(b->kb, cqe, &addr, len);
		*data = addr;
		return ret < 0 ? -1 : ret;
	case MODE_KMBUF_RAW:
	default:
		if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
			return -1;
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (bid >= RING_ENTRIES || (unsigned int)cqe->res > b->size)
			return -1;
		*data = (const unsigned char *)(b->mode == MODE_PBUF ?
						b->pb.bufs : b->raw_bufs) +
			(size_t)bid * b->size;
		*len = (unsigned int)cqe->res;
		return (int)bid;
	}
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

static int run(struct bench *b, double max_secs, struct result *r)
{
	unsigned short recycle[RING_ENTRIES];
	unsigned int nr_recycle = 0, i, pending;
	const unsigned char *data;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	uint64_t t0, deadline;
	unsigned int len;
	int ret, bid;

	memset(r, 0, sizeof(*r));
	ret = setup(b);
	if (ret)
		return ret;
	t0 = t_now_ns();
	deadline = t0 + (uint64_t)(max_secs * 1e9);
	while (r->ops < MAX_OPS && t_now_ns() < deadline) {
		pending = 0;
		/* pbuf: the application refills; kmbuf: the kernel does. */
		for (i = 0; i < nr_recycle; i++) {
			struct kmbuf_test_cmd c = { .bgid = BGID, .bid = recycle[i] };

			if (b->mode == MODE_PBUF) {
				t_pbuf_recycle(&b->pb, recycle[i]);
				continue;
			}
			sqe = io_uring_get_sqe(&b->ring);
			t_prep_drv(sqe, b->drv, KMBUF_TEST_CMD_RECYCLE, &c);
			sqe->user_data = UD_RECYCLE;
			pending++;
		}
		nr_recycle = 0;
		for (i = 0; i < RING_ENTRIES; i++) {
			struct kmbuf_test_cmd c = {
				.bgid = BGID, .len = b->size,
				.seed = (unsigned int)(r->ops + i),
			};

			sqe = io_uring_get_sqe(&b->ring);
			t_prep_drv(sqe, b->drv, b->mode == MODE_PBUF ?
				   KMBUF_TEST_CMD_FILL_PBUF : KMBUF_TEST_CMD_FILL, &c);
			sqe->user_data = UD_FILL | c.seed;
			pending++;
		}
		ret = io_uring_submit_and_wait(&b->ring, pending);
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
			if (bid < 0 || len != b->size ||
			    data[0] != kmbuf_test_pattern((__u32)cqe->user_data, 0) ||
			    data[len - 1] != kmbuf_test_pattern((__u32)cqe->user_data,
								len - 1)) {
				r->errors++;
			} else {
				b->sink += consume(data, len);
				r->bytes += len;
				recycle[nr_recycle++] = (unsigned short)bid;
			}
			io_uring_cqe_seen(&b->ring, cqe);
		}
		r->ops += RING_ENTRIES;
		if (r->errors)
			break;
	}
	ret = 0;
out:
	r->secs = (double)(t_now_ns() - t0) / 1e9;
	if (teardown(b))
		r->errors++;
	return ret;
}

int main(void)
{
	static const unsigned int sizes[] = { 4096, 65536, 1048576 };
	struct result res[3][NR_MODES];
	struct bench b;
	double secs = 3.0, ops_s[3][NR_MODES], lo[3][NR_MODES], hi[3][NR_MODES];
	const char *env = getenv("KMBUF_BENCH_SECONDS");
	unsigned int s, m, pass, errors = 0;
	int ret;

	if (env && atof(env) > 0)
		secs = atof(env);
	ret = io_uring_probe_kmbuf();
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
	ret = t_require_testdrv(&b.drv);
	if (ret)
		return ret;
	ret = io_uring_queue_init(2 * RING_ENTRIES, &b.ring, 0);
	if (ret) {
		printf("io_uring_queue_init: %s\n", t_errname(ret));
		return T_EXIT_FAIL;
	}

	printf("kmbuf-bench: %u-buffer rings, batches of %u, %u interleaved passes of up to %.2f s or %u requests per configuration\n",
	       RING_ENTRIES, RING_ENTRIES, PASSES, secs / PASSES, MAX_OPS);
	memset(res, 0, sizeof(res));
	memset(lo, 0, sizeof(lo));
	memset(hi, 0, sizeof(hi));
	/* Interleave the passes so drift in a shared machine hits all alike. */
	for (pass = 0; pass < PASSES; pass++) {
		for (s = 0; s < 3; s++) {
			for (m = 0; m < NR_MODES; m++) {
				struct result one;
				double rate;

				b.mode = (enum mode)m;
				b.size = sizes[s];
				ret = run(&b, secs / PASSES, &one);
				if (ret) {
					printf("%s %uK pass %u: failed: %s\n", mode_name[m],
					       sizes[s] / 1024, pass, t_errname(ret));
					errors++;
					continue;
				}
				rate = (double)one.ops / one.secs;
				if (!pass || rate < lo[s][m])
					lo[s][m] = rate;
				if (!pass || rate > hi[s][m])
					hi[s][m] = rate;
				res[s][m].ops += one.ops;
				res[s][m].bytes += one.bytes;
				res[s][m].secs += one.secs;
				res[s][m].errors += one.errors;
			}
		}
	}
	printf("%-10s %9s %10s %12s %10s %8s %7s\n", "mode", "payload", "requests",
	       "ops/s", "MB/s", "spread", "errors");
	for (s = 0; s < 3; s++) {
		for (m = 0; m < NR_MODES; m++) {
			struct result *r = &res[s][m];

			ops_s[s][m] = r->secs > 0 ? (double)r->ops / r->secs : 0;
			printf("%-10s %8uK %10llu %12.0f %10.1f %7.0f%% %7u\n",
			       mode_name[m], sizes[s] / 1024, r->ops, ops_s[s][m],
			       r->secs > 0 ? (double)r->bytes / r->secs / 1e6 : 0,
			       ops_s[s][m] > 0 ? 100 * (hi[s][m] - lo[s][m]) / ops_s[s][m] : 0,
			       r->errors);
			errors += r->errors;
		}
	}
	printf("\nratios (ops/s)      kmbuf/pbuf   kmbuf-raw/kmbuf\n");
	for (s = 0; s < 3; s++)
		printf("%8uK %21.2f %17.2f\n", sizes[s] / 1024,
		       ops_s[s][MODE_PBUF] ? ops_s[s][MODE_KMBUF] / ops_s[s][MODE_PBUF] : 0,
		       ops_s[s][MODE_KMBUF] ? ops_s[s][MODE_KMBUF_RAW] / ops_s[s][MODE_KMBUF] : 0);

	io_uring_queue_exit(&b.ring);
	if (errors)
		printf("kmbuf-bench: %u errors\n", errors);
	return errors ? T_EXIT_FAIL : T_EXIT_PASS;
}
