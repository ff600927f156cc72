/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of io_uring_dmabuf_sync_begin() / io_uring_dmabuf_sync_end()
 * (src/dmabuf-sync.c): one DMA_BUF_IOCTL_SYNC with the kernel's flags,
 * bad arguments refused before any syscall, the kernel's errors (EINTR
 * included) returned as they are.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <linux/dma-buf.h>
#include <cmocka.h>

#include <liburing-kmbuf.h>
#include "fake-sys.h"
#include "dmabuf-fake-sys.h"

static int fd;

static int setup(void **state)
{
	(void)state;
	fake_reset();
	dfake_reset();
	/* a tracked fd, as the fakes want; no call is logged for it */
	fd = dfake_new_tracked_fd();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(fake_nr_calls(), 0);
	return 0;
}

static void flag_values(void **state)
{
	(void)state;
	assert_int_equal(IO_URING_DMABUF_SYNC_READ, DMA_BUF_SYNC_READ);
	assert_int_equal(IO_URING_DMABUF_SYNC_WRITE, DMA_BUF_SYNC_WRITE);
	assert_int_equal(IO_URING_DMABUF_SYNC_RW, DMA_BUF_SYNC_RW);
}

static void expect_sync(int i, __u64 flags)
{
	const struct dfake_call *c = dfake_call_at(i);

	assert_int_equal(c->op, DF_IOCTL);
	assert_int_equal(c->fd, fd);
	assert_int_equal(c->request, DMA_BUF_IOCTL_SYNC);
	assert_int_equal(c->sync_flags, flags);
}

static void begin_end(void **state)
{
	static const unsigned int dirs[] = {
		IO_URING_DMABUF_SYNC_READ, IO_URING_DMABUF_SYNC_WRITE,
		IO_URING_DMABUF_SYNC_RW,
	};
	int i, n = 0;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(io_uring_dmabuf_sync_begin(fd, dirs[i]), 0);
		expect_sync(n++, DMA_BUF_SYNC_START | dirs[i]);
		assert_int_equal(io_uring_dmabuf_sync_end(fd, dirs[i]), 0);
		expect_sync(n++, DMA_BUF_SYNC_END | dirs[i]);
	}
	assert_int_equal(dfake_nr_calls(), n);
}

static void bad_args(void **state)
{
	(void)state;
	assert_int_equal(io_uring_dmabuf_sync_begin(-1, IO_URING_DMABUF_SYNC_RW),
			 -EBADF);
	assert_int_equal(io_uring_dmabuf_sync_end(-1, IO_URING_DMABUF_SYNC_RW),
			 -EBADF);
	assert_int_equal(io_uring_dmabuf_sync_begin(fd, 0), -EINVAL);
	assert_int_equal(io_uring_dmabuf_sync_end(fd, 0), -EINVAL);
	/* the phase is the function's, not a flag */
	assert_int_equal(io_uring_dmabuf_sync_begin(fd, DMA_BUF_SYNC_END |
						    DMA_BUF_SYNC_READ),
			 -EINVAL);
	assert_int_equal(io_uring_dmabuf_sync_end(fd, DMA_BUF_SYNC_END |
						  DMA_BUF_SYNC_READ),
			 -EINVAL);
	assert_int_equal(io_uring_dmabuf_sync_begin(fd, 1U << 3), -EINVAL);
	assert_int_equal(io_uring_dmabuf_sync_begin(fd, ~0U), -EINVAL);
	assert_int_equal(dfake_nr_calls(), 0);
}

/* The kernel's answer, once: EINTR is not retried. */
static void kernel_errors(void **state)
{
	static const int errs[] = { -EINTR, -ENOTTY, -EINVAL, -EBADF, -EAGAIN };
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		dfake_fail(DF_IOCTL, errs[i]);
		assert_int_equal(io_uring_dmabuf_sync_begin(fd,
					IO_URING_DMABUF_SYNC_READ), errs[i]);
		assert_int_equal(dfake_nr_calls(), 2 * i + 1);
		dfake_fail(DF_IOCTL, errs[i]);
		assert_int_equal(io_uring_dmabuf_sync_end(fd,
					IO_URING_DMABUF_SYNC_READ), errs[i]);
		assert_int_equal(dfake_nr_calls(), 2 * i + 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flag_values, setup, teardown),
		cmocka_unit_test_setup_teardown(begin_end, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(kernel_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
