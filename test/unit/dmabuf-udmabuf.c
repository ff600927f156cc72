/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of io_uring_udmabuf_alloc() / io_uring_udmabuf_free()
 * (src/udmabuf.c): the exact syscalls, and that a failure at any step
 * leaves no fd, mapping or allocation behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/udmabuf.h>
#include <cmocka.h>

#include <liburing-kmbuf.h>
#include "fake-sys.h"
#include "dmabuf-fake-sys.h"

/* fds as dmabuf-fake-sys.c hands them out on the success path */
#define MEMFD		(DFAKE_FIRST_FD)
#define DEVFD		(DFAKE_FIRST_FD + 1)
#define DMABUF_FD	(DFAKE_FIRST_FD + 2)

static size_t page;

static int setup(void **state)
{
	(void)state;
	fake_reset();
	dfake_reset();
	page = (size_t)sysconf(_SC_PAGESIZE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_assert_script_done();
	assert_int_equal(fake_live_allocs(), 0);
	assert_int_equal(dfake_open_fds(), 0);
	return 0;
}

static void expect_no_syscalls(void)
{
	assert_int_equal(dfake_nr_calls(), 0);
	assert_int_equal(fake_nr_calls(), 0);
}

static void invalid_args(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	assert_int_equal(io_uring_udmabuf_alloc(page, NULL), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc(0, &ub), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc(1, &ub), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc(page - 1, &ub), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc(page + 512, &ub), -EINVAL);
#if SIZE_MAX > INT64_MAX
	/* more than an off_t holds (a 32-bit size_t always fits one) */
	assert_int_equal(io_uring_udmabuf_alloc(SIZE_MAX - page + 1, &ub),
			 -EINVAL);
#endif
	assert_ptr_equal(ub, (void *)0x1);
	expect_no_syscalls();
}

static void free_null(void **state)
{
	(void)state;
	io_uring_udmabuf_free(NULL);
	expect_no_syscalls();
}

/* The recipe of doc/abi.md section 3, step by step, up to @upto calls. */
static void expect_steps(size_t size, int upto)
{
	const struct dfake_call *c;
	int i = 0;

	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_MEMFD);
	assert_string_equal(c->name, "liburing-kmbuf-udmabuf");
	assert_int_equal(c->flags, MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (i == upto)
		return;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_FCNTL);
	assert_int_equal(c->fd, MEMFD);
	assert_int_equal(c->cmd, F_ADD_SEALS);
	assert_int_equal(c->arg, F_SEAL_SHRINK);
	if (i == upto)
		return;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_FTRUNCATE);
	assert_int_equal(c->fd, MEMFD);
	assert_int_equal(c->len, (long long)size);
	if (i == upto)
		return;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_OPEN);
	assert_string_equal(c->name, "/dev/udmabuf");
	assert_int_equal(c->flags, O_RDWR | O_CLOEXEC);
	if (i == upto)
		return;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_IOCTL);
	assert_int_equal(c->fd, DEVFD);
	assert_int_equal(c->request, UDMABUF_CREATE);
	assert_int_equal(c->memfd, MEMFD);
	assert_int_equal(c->create_flags, UDMABUF_FLAGS_CLOEXEC);
	assert_int_equal(c->offset, 0);
	assert_int_equal(c->size, size);
	if (i == upto)
		return;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_CLOSE);
	assert_int_equal(c->fd, DEVFD);
}

static void alloc_and_free(void **state)
{
	struct io_uring_udmabuf *ub = NULL;
	const struct fake_call *m;
	size_t size = 16 * page;

	(void)state;
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_udmabuf_alloc(size, &ub), 0);
	assert_non_null(ub);
	assert_int_equal(dfake_nr_calls(), 6);
	expect_steps(size, 6);
	m = fake_call_of(FAKE_MMAP, 0);
	assert_int_equal(m->len, size);
	assert_int_equal(m->prot, PROT_READ | PROT_WRITE);
	assert_int_equal(m->flags, MAP_SHARED);
	assert_int_equal(m->mmap_fd, MEMFD);
	assert_int_equal(m->offset, 0);
	assert_int_equal(ub->dmabuf_fd, DMABUF_FD);
	assert_int_equal(ub->memfd, MEMFD);
	assert_ptr_equal(ub->addr, FAKE_MMAP_ADDR);
	assert_int_equal(ub->size, size);
	/* the memfd and the dma-buf stay open, the device fd does not */
	assert_int_equal(dfake_open_fds(), 2);
	assert_int_equal(fake_live_allocs(), 1);

	fake_push_munmap(0);
	io_uring_udmabuf_free(ub);
	m = fake_call_of(FAKE_MUNMAP, 0);
	assert_ptr_equal(m->addr, FAKE_MMAP_ADDR);
	assert_int_equal(m->len, size);
	assert_int_equal(dfake_nr_calls(), 8);
	assert_int_equal(dfake_call_at(6)->op, DF_CLOSE);
	assert_int_equal(dfake_call_at(6)->fd, DMABUF_FD);
	assert_int_equal(dfake_call_at(7)->op, DF_CLOSE);
	assert_int_equal(dfake_call_at(7)->fd, MEMFD);
}

/* Fail step @op with @err: alloc returns @want, everything is undone. */
static void fail_at(enum dfake_op op, int err, int want, int steps)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	dfake_fail(op, err);
	assert_int_equal(io_uring_udmabuf_alloc(4 * page, &ub), want);
	assert_ptr_equal(ub, (void *)0x1);
	expect_steps(4 * page, steps);
	assert_int_equal(dfake_open_fds(), 0);
	assert_int_equal(fake_nr_calls_of(FAKE_MMAP), 0);
	assert_int_equal(fake_live_allocs(), 0);
}

static void memfd_fails(void **state)
{
	(void)state;
	fail_at(DF_MEMFD, -EMFILE, -EMFILE, 1);
	assert_int_equal(dfake_nr_calls(), 1);
}

static void seal_fails(void **state)
{
	(void)state;
	fail_at(DF_FCNTL, -EPERM, -EPERM, 2);
	assert_int_equal(dfake_nr_calls(), 3);	/* + close(memfd) */
}

static void ftruncate_fails(void **state)
{
	(void)state;
	fail_at(DF_FTRUNCATE, -EFBIG, -EFBIG, 3);
	assert_int_equal(dfake_nr_calls(), 4);
}

static void no_udmabuf_device(void **state)
{
	(void)state;
	fail_at(DF_OPEN, -ENOENT, -ENOENT, 4);
	assert_int_equal(dfake_nr_calls(), 5);
}

/* A device node without a driver behind it is "not available" too. */
static void udmabuf_node_without_driver(void **state)
{
	(void)state;
	fail_at(DF_OPEN, -ENXIO, -ENOENT, 4);
	dfake_reset();
	fail_at(DF_OPEN, -ENODEV, -ENOENT, 4);
}

static void udmabuf_not_permitted(void **state)
{
	(void)state;
	fail_at(DF_OPEN, -EACCES, -EACCES, 4);
}

static void create_fails(void **state)
{
	(void)state;
	/* e.g. above the driver's size_limit_mb */
	fail_at(DF_IOCTL, -EINVAL, -EINVAL, 6);
	assert_int_equal(dfake_nr_calls(), 7);	/* close(dev), close(memfd) */
	assert_int_equal(dfake_call_at(6)->fd, MEMFD);
}

static void mmap_fails(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	fake_push_mmap(-ENOMEM, NULL);
	assert_int_equal(io_uring_udmabuf_alloc(4 * page, &ub), -ENOMEM);
	assert_ptr_equal(ub, (void *)0x1);
	expect_steps(4 * page, 6);
	assert_int_equal(dfake_nr_calls(), 8);
	assert_int_equal(dfake_call_at(6)->fd, DMABUF_FD);
	assert_int_equal(dfake_call_at(7)->fd, MEMFD);
	assert_int_equal(fake_nr_calls_of(FAKE_MUNMAP), 0);
}

static void calloc_fails(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	fake_fail_alloc(1);
	assert_int_equal(io_uring_udmabuf_alloc(page, &ub), -ENOMEM);
	assert_ptr_equal(ub, (void *)0x1);
	expect_no_syscalls();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(invalid_args, setup, teardown),
		cmocka_unit_test_setup_teardown(free_null, setup, teardown),
		cmocka_unit_test_setup_teardown(alloc_and_free, setup, teardown),
		cmocka_unit_test_setup_teardown(memfd_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(seal_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(ftruncate_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(no_udmabuf_device, setup, teardown),
		cmocka_unit_test_setup_teardown(udmabuf_node_without_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(udmabuf_not_permitted, setup, teardown),
		cmocka_unit_test_setup_teardown(create_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(mmap_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(calloc_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
