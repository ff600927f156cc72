/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of io_uring_udmabuf_alloc(), io_uring_udmabuf_alloc_flags()
 * and io_uring_udmabuf_free() (src/udmabuf.c): the exact syscalls, and
 * that a failure at any step leaves no fd, mapping or allocation behind,
 * also when huge pages fail and the fallback takes over.
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
#include <linux/memfd.h>
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
	assert_int_equal(ub->page_size, page);
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

/* --- io_uring_udmabuf_alloc_flags() ------------------------------------- */

#define HUGE		((size_t)2 << 20)
#define HUGE_FLAGS	(MFD_HUGETLB | MFD_ALLOW_SEALING | MFD_CLOEXEC)

static void flags_invalid(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	/* the size rules of io_uring_udmabuf_alloc() */
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_HUGETLB, NULL), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(0,
				IO_URING_UDMABUF_HUGETLB, &ub), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(page + 1,
				IO_URING_UDMABUF_HUGETLB, &ub), -EINVAL);
	/* unknown bits, between the flags and the size field */
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE, 1U << 2, &ub),
			 -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE, 1U << 25, &ub),
			 -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_HUGETLB | (1U << 2), &ub),
			 -EINVAL);
	/* modifiers of HUGETLB, alone */
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_FALLBACK, &ub), -EINVAL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_HUGE_2MB, &ub), -EINVAL);
	assert_ptr_equal(ub, (void *)0x1);
	expect_no_syscalls();
}

/* The same encoding as memfd_create(2)'s, so MFD_HUGE_* work too. */
static void flags_encoding(void **state)
{
	(void)state;
	assert_int_equal(IO_URING_UDMABUF_HUGE_SHIFT, MFD_HUGE_SHIFT);
	assert_int_equal(IO_URING_UDMABUF_HUGE_MASK, MFD_HUGE_MASK);
	assert_int_equal(IO_URING_UDMABUF_HUGE_2MB, MFD_HUGE_2MB);
	assert_int_equal(IO_URING_UDMABUF_HUGE_1GB, MFD_HUGE_1GB);
}

/* flags 0 is io_uring_udmabuf_alloc(), call for call. */
static void flags_zero_is_alloc(void **state)
{
	struct io_uring_udmabuf *ub = NULL;

	(void)state;
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(4 * page, 0, &ub), 0);
	assert_int_equal(dfake_nr_calls(), 6);
	expect_steps(4 * page, 6);
	assert_int_equal(ub->page_size, page);
	fake_push_munmap(0);
	io_uring_udmabuf_free(ub);
}

/*
 * The huge-page recipe from call @first on: memfd_create, fstat, seal,
 * ftruncate, fallocate, open, UDMABUF_CREATE, close(dev), up to @upto
 * calls; @memfd is the fd the memfd got. Returns the index after it.
 */
static int expect_huge_steps(int first, size_t size, unsigned int mfd_flags,
			     int memfd, int upto)
{
	const struct dfake_call *c;
	int i = first;

	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_MEMFD);
	assert_string_equal(c->name, "liburing-kmbuf-udmabuf");
	assert_int_equal(c->flags, mfd_flags);
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_FSTAT);
	assert_int_equal(c->fd, memfd);
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_FCNTL);
	assert_int_equal(c->fd, memfd);
	assert_int_equal(c->cmd, F_ADD_SEALS);
	assert_int_equal(c->arg, F_SEAL_SHRINK);
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_FTRUNCATE);
	assert_int_equal(c->len, (long long)size);
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_FALLOCATE);
	assert_int_equal(c->fd, memfd);
	assert_int_equal(c->offset_arg, 0);
	assert_int_equal(c->len, (long long)size);
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_OPEN);
	assert_string_equal(c->name, "/dev/udmabuf");
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_IOCTL);
	assert_int_equal(c->request, UDMABUF_CREATE);
	assert_int_equal(c->memfd, memfd);
	assert_int_equal(c->create_flags, UDMABUF_FLAGS_CLOEXEC);
	assert_int_equal(c->offset, 0);
	assert_int_equal(c->size, size);
	if (i - first == upto)
		return i;
	c = dfake_call_at(i++);
	assert_int_equal(c->op, DF_CLOSE);
	assert_int_equal(c->fd, memfd + 1);	/* the device */
	return i;
}

static void huge_alloc_and_free(void **state)
{
	struct io_uring_udmabuf *ub = NULL;
	const struct fake_call *m;
	size_t size = 2 * HUGE;

	(void)state;
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(size,
				IO_URING_UDMABUF_HUGETLB, &ub), 0);
	assert_int_equal(dfake_nr_calls(), 8);
	expect_huge_steps(0, size, HUGE_FLAGS, MEMFD, 8);
	m = fake_call_of(FAKE_MMAP, 0);
	assert_int_equal(m->len, size);
	assert_int_equal(m->prot, PROT_READ | PROT_WRITE);
	assert_int_equal(m->flags, MAP_SHARED);
	assert_int_equal(m->mmap_fd, MEMFD);
	assert_int_equal(ub->memfd, MEMFD);
	assert_int_equal(ub->dmabuf_fd, DMABUF_FD);
	assert_ptr_equal(ub->addr, FAKE_MMAP_ADDR);
	assert_int_equal(ub->size, size);
	assert_int_equal(ub->page_size, HUGE);
	assert_int_equal(dfake_open_fds(), 2);
	fake_push_munmap(0);
	io_uring_udmabuf_free(ub);
	assert_int_equal(fake_call_of(FAKE_MUNMAP, 0)->len, size);
}

/* A page size in the flags goes to memfd_create(2) as it is. */
static void huge_page_size_flag(void **state)
{
	struct io_uring_udmabuf *ub = NULL;
	size_t gib = (size_t)1 << 30;

	(void)state;
	if (SIZE_MAX / 2 < gib)
		skip();
	dfake_set_blksize(gib, page);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(gib,
				IO_URING_UDMABUF_HUGETLB |
				IO_URING_UDMABUF_HUGE_1GB, &ub), 0);
	expect_huge_steps(0, gib, HUGE_FLAGS | MFD_HUGE_1GB, MEMFD, 8);
	assert_int_equal(ub->page_size, gib);
	fake_push_munmap(0);
	io_uring_udmabuf_free(ub);
}

/*
 * Fail huge step @op with @err (0: no step fails), no fallback: @want,
 * everything undone.
 */
static void huge_fail_at(enum dfake_op op, int err, int want, int steps,
			 size_t size)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	if (err)
		dfake_fail(op, err);
	assert_int_equal(io_uring_udmabuf_alloc_flags(size,
				IO_URING_UDMABUF_HUGETLB, &ub), want);
	assert_ptr_equal(ub, (void *)0x1);
	expect_huge_steps(0, size, HUGE_FLAGS, MEMFD, steps);
	assert_int_equal(dfake_open_fds(), 0);
	assert_int_equal(fake_nr_calls_of(FAKE_MMAP), 0);
	assert_int_equal(fake_live_allocs(), 0);
}

static void huge_no_hugetlbfs(void **state)
{
	(void)state;
	/* no CONFIG_HUGETLBFS */
	huge_fail_at(DF_MEMFD, -ENOSYS, -ENOSYS, 1, HUGE);
	assert_int_equal(dfake_nr_calls(), 1);
	/* no pool of the size asked for */
	dfake_reset();
	huge_fail_at(DF_MEMFD, -ENODEV, -ENODEV, 1, HUGE);
}

/* A size that is no multiple of the huge page size: -EINVAL, no seal. */
static void huge_size_not_multiple(void **state)
{
	(void)state;
	huge_fail_at(DF_FSTAT, 0, -EINVAL, 2, HUGE + page);
	assert_int_equal(dfake_nr_calls(), 3);	/* + close(memfd) */
	assert_int_equal(dfake_call_at(2)->op, DF_CLOSE);
	assert_int_equal(dfake_call_at(2)->fd, MEMFD);
}

static void huge_fstat_fails(void **state)
{
	(void)state;
	huge_fail_at(DF_FSTAT, -EIO, -EIO, 2, HUGE);
	assert_int_equal(dfake_nr_calls(), 3);
}

/* No free huge pages: fallocate(2) says so. */
static void huge_no_free_pages(void **state)
{
	(void)state;
	huge_fail_at(DF_FALLOCATE, -ENOSPC, -ENOSPC, 5, HUGE);
	assert_int_equal(dfake_nr_calls(), 6);
	assert_int_equal(dfake_call_at(5)->fd, MEMFD);
}

static void huge_create_fails(void **state)
{
	(void)state;
	huge_fail_at(DF_IOCTL, -EINVAL, -EINVAL, 8, HUGE);
	assert_int_equal(dfake_nr_calls(), 9);
}

static void huge_mmap_fails(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	fake_push_mmap(-ENOMEM, NULL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_HUGETLB, &ub), -ENOMEM);
	assert_ptr_equal(ub, (void *)0x1);
	assert_int_equal(dfake_nr_calls(), 10);
	assert_int_equal(dfake_call_at(8)->fd, DMABUF_FD);
	assert_int_equal(dfake_call_at(9)->fd, MEMFD);
	assert_int_equal(dfake_open_fds(), 0);
}

/*
 * Fail huge step @op with @err (0: none fails) under FALLBACK: the huge
 * attempt (@steps calls, then its close(memfd) when it got one) is
 * undone, then base pages succeed.
 */
static void fallback_after(enum dfake_op op, int err, int steps, size_t size)
{
	struct io_uring_udmabuf *ub = NULL;
	int i, base_memfd;

	if (err)
		dfake_fail(op, err);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(size,
				IO_URING_UDMABUF_HUGETLB |
				IO_URING_UDMABUF_FALLBACK, &ub), 0);
	i = expect_huge_steps(0, size, HUGE_FLAGS, MEMFD, steps);
	if (!(op == DF_MEMFD && err)) {
		assert_int_equal(dfake_call_at(i)->op, DF_CLOSE);
		assert_int_equal(dfake_call_at(i)->fd, MEMFD);
		i++;
	}
	/* then io_uring_udmabuf_alloc()'s steps */
	assert_int_equal(dfake_call_at(i)->op, DF_MEMFD);
	base_memfd = dfake_call_at(i)->ret;
	assert_int_equal(dfake_call_at(i)->flags, MFD_ALLOW_SEALING | MFD_CLOEXEC);
	assert_int_equal(dfake_call_at(i + 1)->op, DF_FCNTL);
	assert_int_equal(dfake_call_at(i + 2)->op, DF_FTRUNCATE);
	assert_int_equal(dfake_call_at(i + 3)->op, DF_OPEN);
	assert_int_equal(dfake_call_at(i + 4)->op, DF_IOCTL);
	assert_int_equal(dfake_call_at(i + 4)->memfd, base_memfd);
	assert_int_equal(dfake_call_at(i + 5)->op, DF_CLOSE);
	assert_int_equal(dfake_nr_calls(), i + 6);
	assert_int_equal(ub->memfd, base_memfd);
	assert_int_equal(ub->page_size, page);
	assert_int_equal(ub->size, size);
	assert_int_equal(fake_nr_calls_of(FAKE_MMAP), 1);
	assert_int_equal(fake_call_of(FAKE_MMAP, 0)->mmap_fd, base_memfd);
	assert_int_equal(dfake_open_fds(), 2);
	fake_push_munmap(0);
	io_uring_udmabuf_free(ub);
}

static void fallback_no_hugetlbfs(void **state)
{
	(void)state;
	fallback_after(DF_MEMFD, -ENOSYS, 1, HUGE);
}

static void fallback_no_free_pages(void **state)
{
	(void)state;
	fallback_after(DF_FALLOCATE, -ENOSPC, 5, HUGE);
}

static void fallback_create_refused(void **state)
{
	(void)state;
	fallback_after(DF_IOCTL, -EINVAL, 8, HUGE);
}

/* The huge page size does not divide @size: base pages still can. */
static void fallback_size_not_multiple(void **state)
{
	(void)state;
	fallback_after(DF_FSTAT, 0, 2, HUGE + page);
}

/* Both attempts fail: the base attempt's error, and nothing left. */
static void fallback_fails_too(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	dfake_fail(DF_FALLOCATE, -ENOSPC);
	fake_push_mmap(-ENOMEM, NULL);
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_HUGETLB |
				IO_URING_UDMABUF_FALLBACK, &ub), -ENOMEM);
	assert_ptr_equal(ub, (void *)0x1);
	assert_int_equal(dfake_open_fds(), 0);
	assert_int_equal(fake_live_allocs(), 0);
	assert_int_equal(fake_nr_calls_of(FAKE_MUNMAP), 0);
}

static void flags_calloc_fails(void **state)
{
	struct io_uring_udmabuf *ub = (void *)0x1;

	(void)state;
	fake_fail_alloc(1);
	assert_int_equal(io_uring_udmabuf_alloc_flags(HUGE,
				IO_URING_UDMABUF_HUGETLB |
				IO_URING_UDMABUF_FALLBACK, &ub), -ENOMEM);
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
		cmocka_unit_test_setup_teardown(flags_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(flags_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(flags_zero_is_alloc, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_alloc_and_free, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_page_size_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_no_hugetlbfs, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_size_not_multiple, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_fstat_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_no_free_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_create_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(huge_mmap_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(fallback_no_hugetlbfs, setup, teardown),
		cmocka_unit_test_setup_teardown(fallback_no_free_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(fallback_create_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(fallback_size_not_multiple, setup, teardown),
		cmocka_unit_test_setup_teardown(fallback_fails_too, setup, teardown),
		cmocka_unit_test_setup_teardown(flags_calloc_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
