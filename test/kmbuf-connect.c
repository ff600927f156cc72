/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * A kernel consumer that pins a kmbuf ring for the life of a connection, the
 * way FUSE over io_uring does, and uses it from atomic context: the driver's
 * CONNECT command pins the ring and stays in flight; FILL_ATOMIC and
 * RECYCLE_ATOMIC select and recycle under a spinlock with interrupts off
 * (the debug kernel's DEBUG_ATOMIC_SLEEP and lockdep report any sleep or
 * mutex in that path, and the VM runner fails on such a report);
 * FILL_DEFERRED holds a buffer across a long-lived command and completes
 * from task work; ring exit cancels what is in flight.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helpers.h"

#define BGID		5
#define ENTRIES		4
#define CONN_UD		0xc0c0c0c0ULL
#define DEFER_UD	0xdefe0000ULL
#define DISC_UD		0xd15cULL

static struct io_uring ring;
static int drvfd;
static unsigned int page;

static void prep(unsigned int op, unsigned short bgid, unsigned short bid,
		 unsigned int len, unsigned int seed, __u64 ud)
{
	struct kmbuf_test_cmd cmd = {
		.bgid = bgid, .bid = bid, .len = len, .seed = seed,
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	t_prep_drv(sqe, drvfd, op, &cmd);
	sqe->user_data = ud;
}

/* Wait up to @ms for one completion: 0 and *out, or -ETIME. */
static int wait_one(struct io_uring *r, unsigned int ms, struct t_cqe *out)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(r, &cqe, &ts);
	if (ret)
		return ret;
	out->res = cqe->res;
	out->flags = cqe->flags;
	out->user_data = cqe->user_data;
	io_uring_cqe_seen(r, cqe);
	return 0;
}

/* The FILL completion @c names a buffer holding @len bytes of @seed. */
static void check_fill(const char *what, const struct t_cqe *c,
		       const struct io_uring_kmbuf *kb, unsigned int len,
		       unsigned int seed, unsigned long *seen)
{
	unsigned int bid = c->flags >> 16;
	size_t bad;

	if (!t_expect(what, c->res, (long)len))
		return;
	if (!(c->flags & IORING_CQE_F_BUFFER) || bid >= ENTRIES) {
		t_fail("%s: cqe flags %#x name no buffer of the ring", what, c->flags);
		return;
	}
	if (*seen & (1UL << bid))
		t_fail("%s: bid %u handed out twice", what, bid);
	*seen |= 1UL << bid;
	bad = t_check_pattern(io_uring_kmbuf_addr(kb, bid), len, seed);
	if (bad != len)
		t_fail("%s: bid %u byte %zu is not the pattern", what, bid, bad);
}

static void test_connection(void)
{
	struct io_uring_kmbuf *kb;
	struct t_cqe c;
	unsigned long seen = 0;
	unsigned int i;
	int ret;

	ret = io_uring_setup_kmbuf_ring(&ring, ENTRIES, 2 * page, BGID, NULL, &kb);
	if (!t_expect("setup", ret, 0))
		return;

	t_expect("FILL_ATOMIC before CONNECT",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_FILL_ATOMIC, BGID, 0, page, 1),
		 -ENOTCONN);
	t_expect("DISCONNECT before CONNECT",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_DISCONNECT, BGID, 0, 0, 0),
		 -ENOTCONN);

	prep(KMBUF_TEST_CMD_CONNECT, BGID, 0, 0, 0, CONN_UD);
	t_expect("submit CONNECT", io_uring_submit(&ring), 1);
	if (!t_expect("CONNECT stays in flight", wait_one(&ring, 100, &c), -ETIME))
		goto out;

	t_expect("a second CONNECT on the same file",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_CONNECT, BGID, 0, 0, 0), -EBUSY);
	t_expect("unregister while connected (pinned)",
		 io_uring_unregister_kmbuf_ring(&ring, BGID), -EBUSY);

	/* every buffer, from atomic context, then an empty ring */
	for (i = 0; i < ENTRIES; i++) {
		struct kmbuf_test_cmd cmd = {
			.bgid = BGID, .len = page + i, .seed = 100 + i,
		};

		ret = t_drv_run(&ring, drvfd, KMBUF_TEST_CMD_FILL_ATOMIC, &cmd, &c);
		if (!t_expect("FILL_ATOMIC submission", ret, 0))
			goto disconnect;
		check_fill("FILL_ATOMIC", &c, kb, page + i, 100 + i, &seen);
	}
	t_expect("FILL_ATOMIC on an empty ring",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_FILL_ATOMIC, BGID, 0, page, 1),
		 -ENOBUFS);
	t_expect("FILL_ATOMIC on another bgid",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_FILL_ATOMIC, BGID + 1, 0, page, 1),
		 -EINVAL);
	for (i = 0; i < ENTRIES; i++)
		t_expect("RECYCLE_ATOMIC",
			 t_drv(&ring, drvfd, KMBUF_TEST_CMD_RECYCLE_ATOMIC, BGID,
			       (unsigned short)i, 0, 0), 0);
	t_expect("RECYCLE_ATOMIC of a buffer already back",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_RECYCLE_ATOMIC, BGID, 0, 0, 0),
		 -EINVAL);
	t_expect("RECYCLE_ATOMIC of a bid past the ring",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_RECYCLE_ATOMIC, BGID, ENTRIES, 0, 0),
		 -EINVAL);

	/* a buffer held across a long-lived command */
	seen = 0;
	prep(KMBUF_TEST_CMD_FILL_DEFERRED, BGID, 300, 3 * page / 2, 77, DEFER_UD);
	t_expect("submit FILL_DEFERRED", io_uring_submit(&ring), 1);
	t_expect("FILL_DEFERRED still in flight after 100 ms",
		 wait_one(&ring, 100, &c), -ETIME);
	t_expect("DISCONNECT while FILL_DEFERRED holds a buffer",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_DISCONNECT, BGID, 0, 0, 0), -EBUSY);
	if (t_expect("FILL_DEFERRED completes", wait_one(&ring, 5000, &c), 0)) {
		t_expect("the completion is FILL_DEFERRED's", (long)c.user_data,
			 (long)DEFER_UD);
		check_fill("FILL_DEFERRED", &c, kb, 3 * page / 2, 77, &seen);
		t_expect("recycle it",
			 t_drv(&ring, drvfd, KMBUF_TEST_CMD_RECYCLE_ATOMIC, BGID,
			       (unsigned short)(c.flags >> 16), 0, 0), 0);
	}

disconnect:
	/* CONNECT completes with 0 when DISCONNECT ends the connection */
	prep(KMBUF_TEST_CMD_DISCONNECT, BGID, 0, 0, 0, DISC_UD);
	t_expect("submit DISCONNECT", io_uring_submit(&ring), 1);
	for (i = 0; i < 2; i++) {
		if (!t_expect("DISCONNECT and CONNECT complete", wait_one(&ring, 5000, &c), 0))
			break;
		if (c.user_data == DISC_UD)
			t_expect("DISCONNECT", c.res, 0);
		else if (!t_expect("CONNECT ends with 0", c.res, 0) ||
			 !t_expect("no other completion", (long)c.user_data, (long)CONN_UD))
			break;
	}
	t_expect("FILL_ATOMIC after DISCONNECT",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_FILL_ATOMIC, BGID, 0, page, 1),
		 -ENOTCONN);
out:
	t_expect("free after DISCONNECT (unpinned)", io_uring_free_kmbuf_ring(&ring, kb), 0);
}

/*
 * Ring exit with a connection and a FILL_DEFERRED of 20 s in flight must
 * cancel both at once. The ring belongs to uid 65534 with a small
 * RLIMIT_MEMLOCK, so the ring's buffers are charged: the charge comes back
 * only when the exited ring's buffer lists are freed, which waits for every
 * request. A second ring registering the whole limit within 8 s proves the
 * deferred command was cancelled rather than waited for.
 */
static int exit_child(void *arg)
{
	struct rlimit rl;
	struct io_uring r2;
	struct io_uring_kmbuf_reg reg;
	struct t_cqe c;
	uint64_t t0;
	unsigned int limit_pages = 16;
	int ret;

	(void)arg;
	rl.rlim_cur = rl.rlim_max = (rlim_t)limit_pages * page;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setgid(65534) || setuid(65534)) {
		t_fail("dropping to uid 65534 with a small RLIMIT_MEMLOCK: %s",
		       t_errname(errno));
		return T_EXIT_FAIL;
	}
	if (t_ring_init(&ring, 8))
		return T_EXIT_FAIL;
	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = limit_pages;
	reg.bgid = BGID;
	if (!t_expect("register the whole limit", io_uring_register_kmbuf_ring(&ring, &reg, 0), 0))
		return T_EXIT_FAIL;
	/* the driver fd was opened as root, before the drop */
	prep(KMBUF_TEST_CMD_CONNECT, BGID, 0, 0, 0, CONN_UD);
	prep(KMBUF_TEST_CMD_FILL_DEFERRED, BGID, 20000, page, 9, DEFER_UD);
	t_expect("submit CONNECT + FILL_DEFERRED", io_uring_submit(&ring), 2);
	t_expect("both in flight", wait_one(&ring, 200, &c), -ETIME);

	io_uring_queue_exit(&ring);
	t0 = t_now_ns();
	if (t_ring_init(&r2, 4))
		return T_EXIT_FAIL;
	do {
		ret = io_uring_register_kmbuf_ring(&r2, &reg, 0);
		if (ret != -ENOMEM)
			break;
		usleep(20000);
	} while (t_now_ns() - t0 < 8000000000ULL);
	if (t_expect("the whole limit again on a new ring after ring exit", ret, 0))
		printf("ring exit released the pinned ring after %llu ms\n",
		       (unsigned long long)((t_now_ns() - t0) / 1000000));
	io_uring_queue_exit(&r2);
	return t_result("kmbuf-connect ring exit (uid 65534)");
}

int main(void)
{
	int ret;

	ret = t_require_testbed(&drvfd, &ring, 16);
	if (ret)
		return ret;
	page = t_page_size();

	test_connection();
	io_uring_queue_exit(&ring);

	/* root, as /dev/kmbuf_test is root only: the child can drop */
	ret = t_run_child(exit_child, NULL, "ring exit with a connection", 30, 10, NULL);
	if (ret)
		t_fail("ring exit with a connection in flight: exit code %d", ret);
	return t_result("kmbuf-connect");
}
