/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of io_uring_probe_kmbuf() (src/probe.c): how it classifies
 * the kernel's answers into 1 / 0 / -errno, and that its private ring is
 * always exited with nothing left registered, mapped or allocated.
 * io_uring_queue_init/exit are wrapped (-Wl,--wrap) by fake-sys.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <liburing-kmbuf.h>
#include "fake-sys.h"

static int setup(void **state)
{
	(void)state;
	fake_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_assert_script_done();
	assert_int_equal(fake_live_allocs(), 0);
	return 0;
}

/* queue_init(1, ring, 0) first, queue_exit of that ring last. */
static void expect_private_ring(void)
{
	const struct fake_call *init = fake_call_at(0);
	const struct fake_call *last = fake_call_at(fake_nr_calls() - 1);

	assert_int_equal(init->kind, FAKE_QUEUE_INIT);
	assert_int_equal(init->entries, 1);
	assert_int_equal(init->setup_flags, 0);
	assert_int_equal(last->kind, FAKE_QUEUE_EXIT);
	assert_ptr_equal(last->ring, init->ring);
	assert_int_equal(last->fd, FAKE_RING_FD);
	assert_int_equal(fake_nr_calls_of(FAKE_QUEUE_INIT), 1);
	assert_int_equal(fake_nr_calls_of(FAKE_QUEUE_EXIT), 1);
}

/* The first question: unregister bgid 0 on the private ring. */
static void expect_first_unregister(void)
{
	const struct fake_call *c = fake_call_at(1);
	unsigned char zero[40] = { 0 };

	assert_int_equal(c->kind, FAKE_REGISTER);
	assert_int_equal(c->fd, FAKE_RING_FD);
	assert_int_equal(c->opcode, 39);
	assert_int_equal(c->nr_args, 1);
	assert_memory_equal(c->arg_copy, zero, sizeof(zero));
}

/* A kernel without the opcode: -EINVAL means "not supported". */
static void probe_unknown_opcode_is_0(void **state)
{
	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-EINVAL);
	assert_int_equal(io_uring_probe_kmbuf(), 0);
	assert_int_equal(fake_nr_calls(), 3);
	expect_private_ring();
	expect_first_unregister();
}

/* -ENOENT, then a real setup and free: 1, with everything undone. */
static void probe_supported_is_1(void **state)
{
	unsigned int page = (unsigned int)sysconf(_SC_PAGESIZE);
	unsigned char want[40] = { 0 };
	const struct fake_call *c;

	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-ENOENT);
	fake_push_register(0);		/* register bgid 0 */
	fake_push_mmap(0, NULL);
	fake_push_munmap(0);
	fake_push_register(0);		/* unregister bgid 0 */
	assert_int_equal(io_uring_probe_kmbuf(), 1);

	assert_int_equal(fake_nr_calls(), 7);
	expect_private_ring();
	expect_first_unregister();

	c = fake_call_at(2);
	memcpy(want, &page, 4);
	want[8] = 1;			/* ring_entries = 1 */
	assert_int_equal(c->opcode, 38);
	assert_int_equal(c->fd, FAKE_RING_FD);
	assert_memory_equal(c->arg_copy, want, sizeof(want));

	c = fake_call_at(3);
	assert_int_equal(c->kind, FAKE_MMAP);
	assert_int_equal(c->mmap_fd, FAKE_RING_FD);
	assert_int_equal(c->len, page);
	assert_int_equal((uint64_t)c->offset, 0x88000000ULL);

	c = fake_call_at(4);
	assert_int_equal(c->kind, FAKE_MUNMAP);
	assert_ptr_equal(c->addr, FAKE_MMAP_ADDR);
	assert_int_equal(c->len, page);

	c = fake_call_at(5);
	assert_int_equal(c->kind, FAKE_REGISTER);
	assert_int_equal(c->opcode, 39);
	assert_int_equal(c->arg_copy[12] | c->arg_copy[13], 0);
}

/* Could not tell: the unregister's -errno is the answer. */
static void probe_passes_other_errors(void **state)
{
	static const int errs[] = { -EPERM, -ENOMEM, -EFAULT, -EBADF, -EOPNOTSUPP };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_reset();
		fake_push_queue_init(0);
		fake_push_register(errs[i]);
		assert_int_equal(io_uring_probe_kmbuf(), errs[i]);
		assert_int_equal(fake_nr_calls(), 3);
		expect_private_ring();
	}
}

/* Unregistering nothing "succeeds": not a kmbuf kernel we understand. */
static void probe_unexpected_success_is_eproto(void **state)
{
	(void)state;
	fake_push_queue_init(0);
	fake_push_register(0);
	assert_int_equal(io_uring_probe_kmbuf(), -EPROTO);
	assert_int_equal(fake_nr_calls(), 3);
	expect_private_ring();
}

/* -ENOENT but registration is refused: 0 for -EINVAL, else the error. */
static void probe_register_refused(void **state)
{
	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-ENOENT);
	fake_push_register(-EINVAL);
	assert_int_equal(io_uring_probe_kmbuf(), 0);
	assert_int_equal(fake_nr_calls(), 4);
	expect_private_ring();

	fake_reset();
	fake_push_queue_init(0);
	fake_push_register(-ENOENT);
	fake_push_register(-ENOMEM);	/* RLIMIT_MEMLOCK: could not tell */
	assert_int_equal(io_uring_probe_kmbuf(), -ENOMEM);
	assert_int_equal(fake_nr_calls(), 4);
	expect_private_ring();
}

/* Registered but not mappable: unregistered again, reported "no". */
static void probe_mmap_refused(void **state)
{
	const struct fake_call *c;

	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-ENOENT);
	fake_push_register(0);
	fake_push_mmap(-EINVAL, NULL);
	fake_push_register(0);
	assert_int_equal(io_uring_probe_kmbuf(), 0);
	assert_int_equal(fake_nr_calls(), 6);
	c = fake_call_at(4);
	assert_int_equal(c->kind, FAKE_REGISTER);
	assert_int_equal(c->opcode, 39);
	expect_private_ring();
}

/* unregister fails (-EBUSY): the error, and still nothing mapped. */
static void probe_free_fails(void **state)
{
	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-ENOENT);
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	fake_push_munmap(0);
	fake_push_register(-EBUSY);
	assert_int_equal(io_uring_probe_kmbuf(), -EBUSY);
	assert_int_equal(fake_nr_calls_of(FAKE_MMAP),
			 fake_nr_calls_of(FAKE_MUNMAP));
	expect_private_ring();
	/* teardown checks the handle was freed */
}

/* the final unregister says -ENOENT: passed through. */
static void probe_free_enoent(void **state)
{
	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-ENOENT);
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	fake_push_munmap(0);
	fake_push_register(-ENOENT);
	assert_int_equal(io_uring_probe_kmbuf(), -ENOENT);
	assert_int_equal(fake_nr_calls(), 7);
	expect_private_ring();
	/* teardown checks nothing is left allocated (ASan: no double free) */
}

/* queue_init fails: its -errno, and no queue_exit of a ring never made. */
static void probe_queue_init_fails(void **state)
{
	static const int errs[] = { -ENOMEM, -EPERM, -ENOSYS, -EMFILE };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_reset();
		fake_push_queue_init(errs[i]);
		assert_int_equal(io_uring_probe_kmbuf(), errs[i]);
		assert_int_equal(fake_nr_calls(), 1);
		assert_int_equal(fake_call_at(0)->kind, FAKE_QUEUE_INIT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(probe_unknown_opcode_is_0),
		T(probe_supported_is_1),
		T(probe_passes_other_errors),
		T(probe_unexpected_success_is_eproto),
		T(probe_register_refused),
		T(probe_mmap_refused),
		T(probe_free_fails),
		T(probe_free_enoent),
		T(probe_queue_init_fails),
#undef T
	};

	return cmocka_run_group_tests_name("kmbuf-probe", tests, NULL, NULL) ?
		1 : 0;
}
