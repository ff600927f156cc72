/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Kernel bvec buffers in the registered buffer table (io_buffer_register_bvec
 * and io_buffer_unregister, seen through the testbed driver): the driver
 * places pages of its own, holding a pattern, into a sparse table slot with a
 * direction mask; READ_FIXED and WRITE_FIXED on that index move the right
 * bytes both ways; the wrong direction is -EFAULT and changes nothing; an
 * index outside the table is -EINVAL, an occupied one -EBUSY; the release
 * callback runs exactly once, after in-flight I/O has ended, whoever empties
 * the slot (the driver, an update from userspace, ring exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

#define NR_SLOTS	4
#define BUF_PAGES	4

static struct io_uring ring;
static int drvfd, filefd;
static unsigned int page;

static int released(void)
{
	return t_drv(&ring, drvfd, KMBUF_TEST_CMD_BVEC_RELEASED, 0, 0, 0, 0);
}

/* Wait up to 5 s for the release count to reach @want. */
static int wait_released(int want)
{
	uint64_t t0 = t_now_ns();
	int n;

	while ((n = released()) < want && t_now_ns() - t0 < 5000000000ULL)
		usleep(10000);
	return n;
}

static int reg_bvec(unsigned short index, unsigned int len, unsigned int seed,
		    unsigned short dir)
{
	return t_drv(&ring, drvfd, KMBUF_TEST_CMD_REG_BVEC, index, dir, len, seed);
}

static int bvec_check(unsigned short index, unsigned int len, unsigned int seed)
{
	return t_drv(&ring, drvfd, KMBUF_TEST_CMD_BVEC_CHECK, index, 0, len, seed);
}

/* One READ_FIXED/WRITE_FIXED at @buf_off of slot @index: cqe->res. */
static int rw_fixed(int write, int fd, unsigned short index, size_t buf_off,
		    unsigned int len, off_t file_off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int ret;

	/* a kernel buffer's base address is 0: addr is an offset into it */
	if (write)
		io_uring_prep_write_fixed(sqe, fd, (void *)buf_off, len, file_off, index);
	else
		io_uring_prep_read_fixed(sqe, fd, (void *)buf_off, len, file_off, index);
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}

/* Fill the file with @len bytes of pattern @seed. */
static int file_pattern(unsigned int len, unsigned int seed)
{
	unsigned char *p = malloc(len);
	unsigned int i;
	ssize_t n;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < len; i++)
		p[i] = kmbuf_test_pattern(seed, i);
	n = pwrite(filefd, p, len, 0);
	free(p);
	return n == (ssize_t)len ? 0 : -EIO;
}

static void test_errors(void)
{
	unsigned int len = BUF_PAGES * page;

	t_expect("index past the table", reg_bvec(NR_SLOTS, len, 1, 3), -EINVAL);
	t_expect("no direction", reg_bvec(0, len, 1, 0), -EINVAL);
	t_expect("unregister an empty slot",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_UNREG_BVEC, 3, 0, 0, 0), -EINVAL);
	t_expect("unregister past the table",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_UNREG_BVEC, NR_SLOTS, 0, 0, 0), -EINVAL);
	if (!t_expect("register slot 0", reg_bvec(0, len, 1, 3), 0))
		return;
	t_expect("register slot 0 again (occupied)", reg_bvec(0, len, 2, 3), -EBUSY);
	t_expect("the first buffer is still there", bvec_check(0, len, 1), 0);
	t_expect("and the check can fail", bvec_check(0, len, 2), -EILSEQ);
}

/* WRITE_FIXED from slot 0 and READ_FIXED into it, both verified. */
static void test_data(void)
{
	unsigned int len = 2 * page + 100, off = 1000, i;
	unsigned char *p = malloc(BUF_PAGES * page);
	int ret;

	if (!p) {
		t_fail("malloc");
		return;
	}
	ret = rw_fixed(1, filefd, 0, off, len, 0);
	if (t_expect("WRITE_FIXED from the driver's pages", ret, (long)len)) {
		t_expect("read the file back", pread(filefd, p, len, 0), (long)len);
		for (i = 0; i < len; i++)
			if (p[i] != kmbuf_test_pattern(1, off + i)) {
				t_fail("file byte %u is not driver byte %u", i, off + i);
				break;
			}
	}
	free(p);

	if (file_pattern(BUF_PAGES * page, 22)) {
		t_fail("writing the file");
		return;
	}
	ret = rw_fixed(0, filefd, 0, 0, BUF_PAGES * page, 0);
	if (t_expect("READ_FIXED into the driver's pages", ret, (long)(BUF_PAGES * page)))
		t_expect("the driver's pages hold the file now",
			 bvec_check(0, BUF_PAGES * page, 22), 0);
}

/* A source-only and a destination-only slot refuse the other direction. */
static void test_directions(void)
{
	unsigned int len = BUF_PAGES * page;
	int rel0 = released();

	if (!t_expect("register slot 1, source only",
		      reg_bvec(1, len, 33, KMBUF_TEST_BUF_SOURCE), 0))
		return;
	if (file_pattern(len, 44))
		t_fail("writing the file");
	t_expect("READ_FIXED into a source-only buffer",
		 rw_fixed(0, filefd, 1, 0, len, 0), -EFAULT);
	t_expect("and none of its bytes changed", bvec_check(1, len, 33), 0);
	t_expect("WRITE_FIXED from it", rw_fixed(1, filefd, 1, 0, page, 0), (long)page);

	if (!t_expect("register slot 2, destination only",
		      reg_bvec(2, len, 55, KMBUF_TEST_BUF_DEST), 0))
		return;
	t_expect("WRITE_FIXED from a destination-only buffer",
		 rw_fixed(1, filefd, 2, 0, page, 0), -EFAULT);
	t_expect("READ_FIXED into it", rw_fixed(0, filefd, 2, 0, page, 0), (long)page);

	t_expect("unregister slot 1",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_UNREG_BVEC, 1, 0, 0, 0), 0);
	t_expect("released once, nothing in flight", wait_released(rel0 + 1), rel0 + 1);
	t_expect("unregister slot 1 again",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_UNREG_BVEC, 1, 0, 0, 0), -EINVAL);
	t_expect("its pages are gone", bvec_check(1, page, 33), -ENOENT);
}

/* The release waits for a READ_FIXED that is still in flight. */
static void test_release_after_io(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_nsec = 200000000 };
	char msg[100];
	int pfd[2], rel0, ret;

	if (pipe(pfd)) {
		t_fail("pipe: %s", t_errname(errno));
		return;
	}
	rel0 = released();
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, pfd[0], (void *)0, sizeof(msg), 0, 2);
	sqe->user_data = 42;
	t_expect("submit READ_FIXED from an empty pipe", io_uring_submit(&ring), 1);
	t_expect("it waits for data", io_uring_wait_cqe_timeout(&ring, &cqe, &ts), -ETIME);

	t_expect("unregister slot 2 while the read is in flight",
		 t_drv(&ring, drvfd, KMBUF_TEST_CMD_UNREG_BVEC, 2, 0, 0, 0), 0);
	usleep(100000);
	t_expect("not released while the read holds it", released(), rel0);

	memset(msg, 'x', sizeof(msg));
	t_expect("feed the pipe", write(pfd[1], msg, sizeof(msg)), (long)sizeof(msg));
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (t_expect("the read completes", ret, 0)) {
		t_expect("into the unregistered buffer", cqe->res, (long)sizeof(msg));
		io_uring_cqe_seen(&ring, cqe);
	}
	t_expect("released once the read is done", wait_released(rel0 + 1), rel0 + 1);
	close(pfd[0]);
	close(pfd[1]);
}

/* Userspace emptying the slot and ring exit release it too, once each. */
static void test_release_by_others(void)
{
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	int rel0 = released();

	if (!t_expect("register slot 3", reg_bvec(3, page, 66, 3), 0))
		return;
	t_expect("empty slot 3 with a buffer update from userspace",
		 io_uring_register_buffers_update_tag(&ring, 3, &iov, NULL, 1), 1);
	t_expect("released by the update", wait_released(rel0 + 1), rel0 + 1);

	/* slot 0 is still registered: ring exit releases it */
	io_uring_queue_exit(&ring);
	if (t_ring_init(&ring, 8)) {
		t_fail("a new ring");
		return;
	}
	t_expect("released by ring exit", wait_released(rel0 + 2), rel0 + 2);
	usleep(200000);
	t_expect("and only once", released(), rel0 + 2);
}

int main(void)
{
	char path[] = "/tmp/kmbuf-bvec.XXXXXX";
	int ret;

	ret = t_require_testbed(&drvfd, &ring, 8);
	if (ret)
		return ret;
	page = t_page_size();
	filefd = mkstemp(path);
	if (filefd < 0) {
		t_fail("mkstemp: %s", t_errname(errno));
		return T_EXIT_FAIL;
	}
	unlink(path);

	t_expect("REG_BVEC on a ring without a buffer table",
		 reg_bvec(0, page, 1, 3), -EINVAL);
	ret = io_uring_register_buffers_sparse(&ring, NR_SLOTS);
	if (!t_expect("sparse table", ret, 0))
		return t_result("kmbuf-bvec");

	test_errors();
	test_data();
	test_directions();
	test_release_after_io();
	test_release_by_others();

	io_uring_queue_exit(&ring);
	close(filefd);
	return t_result("kmbuf-bvec");
}
