/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * helper-icount: the inline hot-path helpers of <liburing-kmbuf.h>, each
 * beside the code an application would write instead (the same checks,
 * the same answers), each pair in functions of their own that the
 * compiler may not inline, clone or merge. test/check-helper-icount.sh
 * counts their instructions under callgrind (--toggle-collect=<function>)
 * and fails if a helper costs more than its open-coded form.
 *
 *   helper-icount list        the pairs: "<helper> <open-coded> check|info"
 *   helper-icount build       exit 77 with the reason if this build cannot
 *                             answer (not optimized: the helpers are meant
 *                             to be inlined into optimized code)
 *   helper-icount run NAME    call function NAME ROUNDS x the inputs; prints
 *                             the number of calls
 *   helper-icount check       every pair gives the same answers (no valgrind)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liburing-kmbuf.h>

#define ROUNDS		1000
#define ENTRIES		8
#define BUF_SIZE	4096

/* One call per function: gcc's noipa also stops cloning and folding. */
#if defined(__clang__)
#define MEASURED	__attribute__((noinline, used))
#else
#define MEASURED	__attribute__((noipa, used))
#endif

/* A completion's fields (copied into real CQEs at start) and a bid. */
struct input {
	__s32			res;
	__u32			flags;
	unsigned int		bid;
	struct io_uring_cqe	*cqe;
};

static char bufs[ENTRIES * BUF_SIZE];
static struct io_uring_kmbuf kb = {
	.bufs = bufs, .len = sizeof(bufs), .buf_size = BUF_SIZE,
	.ring_entries = ENTRIES, .bgid = 1,
};

#define BUF(bid)	(IORING_CQE_F_BUFFER | (unsigned int)(bid) << IORING_CQE_BUFFER_SHIFT)

/* Mostly good completions, and each way one can be refused. */
static struct input inputs[] = {
	{ 4096, BUF(0), 0, NULL },
	{ 100, BUF(3), 3, NULL },
	{ 1, BUF(7), 7, NULL },
	{ 4096, BUF(5), 5, NULL },
	{ 0, BUF(2), 2, NULL },
	{ 512, BUF(6), 6, NULL },
	{ 4000, BUF(1), 1, NULL },
	{ 64, BUF(4), 4, NULL },
	{ -ENOBUFS, 0, 8, NULL },	/* the request failed */
	{ 64, 0, 9, NULL },		/* no buffer */
	{ 64, BUF(8), 8, NULL },	/* bid outside the ring */
	{ 4097, BUF(1), 65535, NULL },	/* longer than the buffer */
};
#define NR_INPUTS	(sizeof(inputs) / sizeof(inputs[0]))

/* The answers go here, so that no call is optimized away. */
static volatile unsigned long sink;

/* io_uring_kmbuf_addr */
MEASURED void *addr_helper(const struct io_uring_kmbuf *k, unsigned int bid);
MEASURED void *addr_helper(const struct io_uring_kmbuf *k, unsigned int bid)
{
	return io_uring_kmbuf_addr(k, bid);
}

MEASURED void *addr_open(const struct io_uring_kmbuf *k, unsigned int bid);
MEASURED void *addr_open(const struct io_uring_kmbuf *k, unsigned int bid)
{
	if (bid >= k->ring_entries || !k->bufs)
		return NULL;
	return (char *)k->bufs + (size_t)bid * k->buf_size;
}

/* io_uring_kmbuf_cqe_bid */
MEASURED int cqe_bid_helper(const struct io_uring_cqe *cqe);
MEASURED int cqe_bid_helper(const struct io_uring_cqe *cqe)
{
	return io_uring_kmbuf_cqe_bid(cqe);
}

MEASURED int cqe_bid_open(const struct io_uring_cqe *cqe);
MEASURED int cqe_bid_open(const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return -ENOBUFS;
	return (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

/* io_uring_kmbuf_cqe_buf */
MEASURED int cqe_buf_helper(const struct io_uring_kmbuf *k,
			    const struct io_uring_cqe *cqe, void **addr,
			    unsigned int *len);
MEASURED int cqe_buf_helper(const struct io_uring_kmbuf *k,
			    const struct io_uring_cqe *cqe, void **addr,
			    unsigned int *len)
{
	return io_uring_kmbuf_cqe_buf(k, cqe, addr, len);
}

MEASURED int cqe_buf_open(const struct io_uring_kmbuf *k,
			  const struct io_uring_cqe *cqe, void **addr,
			  unsigned int *len);
MEASURED int cqe_buf_open(const struct io_uring_kmbuf *k,
			  const struct io_uring_cqe *cqe, void **addr,
			  unsigned int *len)
{
	unsigned int bid;

	if (cqe->res < 0)
		return cqe->res;
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return -ENOBUFS;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (bid >= k->ring_entries || (unsigned int)cqe->res > k->buf_size ||
	    !k->bufs)
		return -ERANGE;
	*addr = (char *)k->bufs + (size_t)bid * k->buf_size;
	*len = (unsigned int)cqe->res;
	return (int)bid;
}

/* io_uring_for_each_kmbuf: a sum of the addresses, so nothing is dropped */
MEASURED unsigned long for_each_helper(const struct io_uring_kmbuf *k);
MEASURED unsigned long for_each_helper(const struct io_uring_kmbuf *k)
{
	unsigned long sum = 0;
	unsigned int bid;
	void *addr;

	io_uring_for_each_kmbuf(k, bid, addr)
		sum += (unsigned long)addr;
	return sum;
}

MEASURED unsigned long for_each_open(const struct io_uring_kmbuf *k);
MEASURED unsigned long for_each_open(const struct io_uring_kmbuf *k)
{
	unsigned long sum = 0;
	unsigned int bid;

	if (!k->bufs)
		return 0;
	for (bid = 0; bid < k->ring_entries; bid++)
		sum += (unsigned long)((char *)k->bufs + (size_t)bid * k->buf_size);
	return sum;
}

/* One call of a pair's function on input @in: an answer to compare. */
struct pair {
	const char	*helper, *open;
	unsigned long	(*call[2])(const struct input *in);
	const char	*kind;	/* "check", or "info": counted, never a failure */
};

static unsigned long call_addr_helper(const struct input *in)
{
	return (unsigned long)addr_helper(&kb, in->bid);
}

static unsigned long call_addr_open(const struct input *in)
{
	return (unsigned long)addr_open(&kb, in->bid);
}

static unsigned long call_bid_helper(const struct input *in)
{
	return (unsigned long)cqe_bid_helper(in->cqe);
}

static unsigned long call_bid_open(const struct input *in)
{
	return (unsigned long)cqe_bid_open(in->cqe);
}

static unsigned long call_buf_helper(const struct input *in)
{
	void *addr = NULL;
	unsigned int len = 0;
	int ret = cqe_buf_helper(&kb, in->cqe, &addr, &len);

	return (unsigned long)ret ^ (unsigned long)addr ^ len;
}

static unsigned long call_buf_open(const struct input *in)
{
	void *addr = NULL;
	unsigned int len = 0;
	int ret = cqe_buf_open(&kb, in->cqe, &addr, &len);

	return (unsigned long)ret ^ (unsigned long)addr ^ len;
}

static unsigned long call_for_each_helper(const struct input *in)
{
	(void)in;
	return for_each_helper(&kb);
}

static unsigned long call_for_each_open(const struct input *in)
{
	(void)in;
	return for_each_open(&kb);
}

/*
 * io_uring_for_each_kmbuf is a macro over a loop, for setup time, not a
 * hot-path function: the open-coded loop tests bufs once and the compiler
 * reshapes it freely (clang computes it in closed form), the macro's body
 * may change the handle, so it retests per iteration. Counted, shown, not
 * a failure.
 */
static const struct pair pairs[] = {
	{ "addr_helper", "addr_open", { call_addr_helper, call_addr_open },
	  "check" },
	{ "cqe_bid_helper", "cqe_bid_open", { call_bid_helper, call_bid_open },
	  "check" },
	{ "cqe_buf_helper", "cqe_buf_open", { call_buf_helper, call_buf_open },
	  "check" },
	{ "for_each_helper", "for_each_open",
	  { call_for_each_helper, call_for_each_open }, "info" },
};
#define NR_PAIRS	(sizeof(pairs) / sizeof(pairs[0]))

static int usage(void)
{
	fprintf(stderr, "usage: helper-icount list | build | check | run FUNCTION\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct io_uring_cqe *cqes;
	unsigned int i, j, k, r;

	cqes = calloc(NR_INPUTS, sizeof(*cqes));
	if (!cqes)
		return 1;
	for (i = 0; i < NR_INPUTS; i++) {
		cqes[i].user_data = i;
		cqes[i].res = inputs[i].res;
		cqes[i].flags = inputs[i].flags;
		inputs[i].cqe = &cqes[i];
	}

	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (i = 0; i < NR_PAIRS; i++)
			printf("%s %s %s\n", pairs[i].helper, pairs[i].open,
			       pairs[i].kind);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "build")) {
#ifndef __OPTIMIZE__
		printf("SKIP: built without optimization (-O0): the helpers are meant to be inlined into optimized code\n");
		return 77;
#else
		return 0;
#endif
	}
	if (argc == 2 && !strcmp(argv[1], "check")) {
		int bad = 0;

		for (i = 0; i < NR_PAIRS; i++)
			for (j = 0; j < NR_INPUTS; j++)
				if (pairs[i].call[0](&inputs[j]) !=
				    pairs[i].call[1](&inputs[j])) {
					printf("FAIL: %s and %s differ on input %u\n",
					       pairs[i].helper, pairs[i].open, j);
					bad = 1;
				}
		return bad;
	}
	if (argc != 3 || strcmp(argv[1], "run"))
		return usage();
	for (i = 0; i < NR_PAIRS; i++) {
		for (j = 0; j < 2; j++) {
			if (strcmp(argv[2], j ? pairs[i].open : pairs[i].helper))
				continue;
			for (r = 0; r < ROUNDS; r++)
				for (k = 0; k < NR_INPUTS; k++)
					sink += pairs[i].call[j](&inputs[k]);
			printf("%u\n", (unsigned int)(ROUNDS * NR_INPUTS));
			return 0;
		}
	}
	return usage();
}
