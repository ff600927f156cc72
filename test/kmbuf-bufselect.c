/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Normal requests cannot select from a kmbuf ring in the seed ABI: a read
 * or recv with IOSQE_BUFFER_SELECT on a kmbuf bgid must fail cleanly
 * (-EINVAL or -ENOBUFS, without a buffer and without consuming the data),
 * and must leave the ring whole: every buffer can still be FILLed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

#define BGID	6

static struct io_uring ring;
static int drv;
static unsigned int page;

/* Submit one buffer-select request, return its completion. */
static int run_select(struct io_uring_sqe *sqe, struct t_cqe *out)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	int ret;

	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	ret = io_uring_submit(&ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	if (ret)
		return ret;
	out->res = cqe->res;
	out->flags = cqe->flags;
	io_uring_cqe_seen(&ring, cqe);
	return 0;
}

static void expect_refused(const char *what, const struct t_cqe *c)
{
	if (c->res >= 0)
		t_fail("%s on a kmbuf bgid: expected -EINVAL or -ENOBUFS, got %d (flags %#x)",
		       what, c->res, c->flags);
	else if (c->res != -EINVAL && c->res != -ENOBUFS)
		t_fail("%s on a kmbuf bgid: expected -EINVAL or -ENOBUFS, got %d (%s)",
		       what, c->res, t_errname(c->res));
	if (c->flags & IORING_CQE_F_BUFFER)
		t_fail("%s: refused request carries buffer %u (flags %#x)", what,
		       c->flags >> IORING_CQE_BUFFER_SHIFT, c->flags);
	printf("%s: %d (%s)\n", what, c->res, t_errname(c->res));
}

static void test_requests(void)
{
	struct io_uring_sqe *sqe;
	struct t_cqe c;
	char data[64], back[128];
	int pfd[2], sfd[2], zfd, ret;

	memset(data, 0x5c, sizeof(data));
	if (pipe(pfd)) {
		t_fail("pipe: %s", t_errname(errno));
		return;
	}
	if (write(pfd[1], data, sizeof(data)) != (ssize_t)sizeof(data))
		t_fail("write to pipe failed");
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, pfd[0], NULL, page, 0);
	ret = run_select(sqe, &c);
	if (t_expect("READ from a pipe: submit", ret, 0))
		expect_refused("READ from a pipe", &c);
	/* The refused read consumed nothing. */
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	t_expect("bytes still in the pipe", read(pfd[0], back, sizeof(back)),
		 (long)sizeof(data));
	close(pfd[0]);
	close(pfd[1]);

	zfd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zfd >= 0) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, zfd, NULL, page, 0);
		ret = run_select(sqe, &c);
		if (t_expect("READ from /dev/zero: submit", ret, 0))
			expect_refused("READ from /dev/zero", &c);
		close(zfd);
	} else {
		t_fail("open /dev/zero: %s", t_errname(errno));
	}

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sfd)) {
		t_fail("socketpair: %s", t_errname(errno));
		return;
	}
	if (write(sfd[1], data, sizeof(data)) != (ssize_t)sizeof(data))
		t_fail("write to socket failed");
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv(sqe, sfd[0], NULL, page, 0);
	ret = run_select(sqe, &c);
	if (t_expect("RECV from a socket: submit", ret, 0))
		expect_refused("RECV from a socket", &c);
	t_expect("bytes still in the socket",
		 recv(sfd[0], back, sizeof(back), MSG_DONTWAIT), (long)sizeof(data));
	close(sfd[0]);
	close(sfd[1]);
}

/* All buffers still in the ring: each FILL gets a new bid, then -ENOBUFS. */
static void test_ring_whole(const struct io_uring_kmbuf *kb, unsigned int seed)
{
	unsigned char seen[4] = { 0 };
	struct io_uring_cqe cqe;
	struct t_cqe c;
	unsigned int i, len;
	void *addr;
	int bid;

	for (i = 0; i < kb->ring_entries; i++) {
		if (t_drv_fill(&ring, drv, BGID, page, seed + i, &c)) {
			t_fail("FILL submit failed");
			return;
		}
		t_to_cqe(&c, &cqe);
		bid = io_uring_kmbuf_cqe_buf(kb, &cqe, &addr, &len);
		if (bid < 0 || seen[bid]) {
			t_fail("FILL %u after the refused requests: expected a fresh buffer, got %d (res %d)",
			       i, bid, c.res);
			return;
		}
		seen[bid] = 1;
		if (len != page || t_check_pattern(addr, len, seed + i) != len)
			t_fail("FILL %u: bid %d: expected %u bytes of pattern seed %u, got %u bytes, first wrong byte %zu",
			       i, bid, page, seed + i, len,
			       t_check_pattern(addr, len, seed + i));
	}
	t_expect("FILL with every buffer out",
		 t_drv(&ring, drv, KMBUF_TEST_CMD_FILL, BGID, 0, 8, 1), -ENOBUFS);
	for (i = 0; i < kb->ring_entries; i++)
		t_expect("RECYCLE", t_drv(&ring, drv, KMBUF_TEST_CMD_RECYCLE, BGID,
					  (unsigned short)i, 0, 0), 0);
}

int main(void)
{
	struct io_uring_kmbuf *kb;
	int ret;

	ret = t_require_testbed(&drv, &ring, 8);
	if (ret)
		return ret;
	page = t_page_size();

	ret = io_uring_setup_kmbuf_ring(&ring, 4, page, BGID, NULL, &kb);
	if (!t_expect("setup", ret, 0))
		return t_result("kmbuf-bufselect");
	test_requests();
	test_ring_whole(kb, 10);
	/* Refused again with buffers out of the ring and back. */
	test_requests();
	test_ring_whole(kb, 20);
	t_expect("free", io_uring_free_kmbuf_ring(&ring, kb), 0);

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-bufselect");
}
