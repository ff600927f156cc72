/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * kmbuf-fuse-server: the request loop of a FUSE-over-io_uring style server
 * on a kernel-managed buffer ring.
 *
 * The kernel owns the request buffers: the server only says how many and
 * how big, maps them, and learns from each completion which buffer a
 * request landed in. Here the testbed driver /dev/kmbuf_test plays the
 * kernel side: each FILL command is "a request arrives" (the driver picks a
 * buffer from the ring and writes the request into it), and each RECYCLE is
 * "the server commits its answer", which hands the buffer back. As in FUSE,
 * the server returns the buffers of one batch together with fetching the
 * next one, in the same submission.
 *
 * Build with liburing-kmbuf; run on a kernel with kmbuf rings and the
 * testbed driver. Exits 77 with the reason when either is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing-kmbuf.h>
#include "kmbuf_testdrv.h"

#define NR_BUFS		16		/* request buffers in the ring */
#define BUF_SIZE	(64 * 1024)	/* the largest request we accept */
#define BGID		1
#define ROUNDS		64

/* user_data: what kind of SQE a completion belongs to, and its number. */
#define UD_REQUEST	(1ULL << 32)
#define UD_COMMIT	(2ULL << 32)

struct server {
	struct io_uring		ring;
	struct io_uring_kmbuf	*kb;
	int			dev;
	/* buffers handled in this batch, to hand back with the next one */
	unsigned short		done[NR_BUFS];
	unsigned int		nr_done;
	/* the report */
	unsigned long long	requests, bytes;
	uint32_t		checksum;
	unsigned char		used[NR_BUFS];
	unsigned int		errors;
};

/* FNV-1a over a request: what a real server would do is parse it. */
static uint32_t fnv1a(uint32_t h, const unsigned char *p, size_t len)
{
	while (len--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

static void prep_cmd(struct io_uring_sqe *sqe, int dev, unsigned int op,
		     const struct kmbuf_test_cmd *cmd, unsigned long long ud)
{
	/* liburing 2.3 has no io_uring_prep_uring_cmd() */
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, dev, NULL, 0, 0);
	sqe->cmd_op = op;
	memset(sqe->cmd, 0, 16);
	memcpy(sqe->cmd, cmd, sizeof(*cmd));
	sqe->user_data = ud;
}

/* The size of request @n: anything from a header to a full buffer. */
static unsigned int request_len(unsigned long long n)
{
	static const unsigned int sizes[] = { 80, 4096, 300, BUF_SIZE, 17,
					      32768, 1, 65000 };

	return sizes[n % (sizeof(sizes) / sizeof(sizes[0]))];
}

/*
 * One round: commit the previous batch's buffers and fetch @nr new
 * requests in a single submission (commits first: SQEs issue in order),
 * then handle every completion.
 */
static int serve_round(struct server *s, unsigned int nr)
{
	unsigned int i, pending = 0;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	for (i = 0; i < s->nr_done; i++) {
		struct kmbuf_test_cmd c = { .bgid = BGID, .bid = s->done[i] };

		sqe = io_uring_get_sqe(&s->ring);
		prep_cmd(sqe, s->dev, KMBUF_TEST_CMD_RECYCLE, &c, UD_COMMIT | i);
		pending++;
	}
	s->nr_done = 0;
	for (i = 0; i < nr; i++) {
		unsigned long long n = s->requests + i;
		struct kmbuf_test_cmd c = {
			.bgid = BGID,
			.len = request_len(n),
			.seed = (unsigned int)n,
		};

		sqe = io_uring_get_sqe(&s->ring);
		prep_cmd(sqe, s->dev, KMBUF_TEST_CMD_FILL, &c, UD_REQUEST | n);
		pending++;
	}
	ret = io_uring_submit_and_wait(&s->ring, pending);
	if (ret < 0)
		return ret;

	while (pending) {
		unsigned int len, seed, j;
		unsigned char *req;
		void *addr;
		int bid;

		ret = io_uring_wait_cqe(&s->ring, &cqe);
		if (ret)
			return ret;
		pending--;
		if ((cqe->user_data & ~0xffffffffULL) == UD_COMMIT) {
			if (cqe->res < 0) {
				fprintf(stderr, "commit failed: %s\n", strerror(-cqe->res));
				s->errors++;
			}
			io_uring_cqe_seen(&s->ring, cqe);
			continue;
		}
		/* A request: find its buffer by the id in the completion. */
		bid = io_uring_kmbuf_cqe_buf(s->kb, cqe, &addr, &len);
		seed = (unsigned int)cqe->user_data;
		io_uring_cqe_seen(&s->ring, cqe);
		if (bid < 0) {
			fprintf(stderr, "request %u: no buffer: %s\n", seed,
				strerror(-bid));
			s->errors++;
			continue;
		}
		req = addr;
		/* "Handle" it: check what the kernel wrote, checksum it. */
		for (j = 0; j < len; j++)
			if (req[j] != kmbuf_test_pattern(seed, j))
				break;
		if (j != len || len != request_len(seed)) {
			fprintf(stderr, "request %u in buffer %d: %u bytes, corrupt at %u\n",
				seed, bid, len, j);
			s->errors++;
		}
		s->checksum = fnv1a(s->checksum, req, len);
		s->bytes += len;
		s->used[bid] = 1;
		s->done[s->nr_done++] = (unsigned short)bid;
	}
	s->requests += nr;
	return 0;
}

int main(void)
{
	struct server s = { .checksum = 2166136261u };
	unsigned int round, used = 0, i;
	int ret;

	ret = io_uring_probe_kmbuf();
	if (ret == 0) {
		printf("kmbuf-fuse-server: kernel lacks kmbuf rings, nothing to demonstrate\n");
		return 77;
	}
	if (ret < 0) {
		fprintf(stderr, "kmbuf-fuse-server: cannot probe kmbuf rings: %s\n",
			strerror(-ret));
		return ret == -ENOSYS || ret == -EPERM ? 77 : 1;
	}
	s.dev = open(KMBUF_TEST_DEVICE, O_RDWR | O_CLOEXEC);
	if (s.dev < 0) {
		printf("kmbuf-fuse-server: testbed driver %s not present: %s\n",
		       KMBUF_TEST_DEVICE, strerror(errno));
		return 77;
	}
	ret = io_uring_queue_init(2 * NR_BUFS, &s.ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	/* The kernel allocates NR_BUFS x BUF_SIZE; we map them. */
	ret = io_uring_setup_kmbuf_ring(&s.ring, NR_BUFS, BUF_SIZE, BGID, NULL, &s.kb);
	if (ret) {
		fprintf(stderr, "io_uring_setup_kmbuf_ring: %s\n", strerror(-ret));
		return 1;
	}

	for (round = 0; round < ROUNDS; round++) {
		/* Fewer requests some rounds: the ring is not always full. */
		ret = serve_round(&s, round % 4 ? NR_BUFS : NR_BUFS / 2 + 1);
		if (ret) {
			fprintf(stderr, "round %u: %s\n", round, strerror(-ret));
			s.errors++;
			break;
		}
	}

	ret = io_uring_free_kmbuf_ring(&s.ring, s.kb);
	if (ret) {
		fprintf(stderr, "io_uring_free_kmbuf_ring: %s\n", strerror(-ret));
		s.errors++;
	}
	io_uring_queue_exit(&s.ring);
	close(s.dev);

	for (i = 0; i < NR_BUFS; i++)
		used += s.used[i];
	printf("kmbuf-fuse-server: %u rounds, %llu requests, %llu bytes, %u of %u buffers used (%u KiB each), checksum %08x, %u errors\n",
	       round, s.requests, s.bytes, used, NR_BUFS, BUF_SIZE / 1024,
	       (unsigned int)s.checksum, s.errors);
	return s.errors ? 1 : 0;
}
