/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of the dmabuf table/slot calls (src/dmabuf.c) in the seed
 * generation, forced: argument checks before any syscall, the exact bytes
 * the kernel gets, result normalisation. The detection behind
 * io_uring_probe_dmabuf() and the descriptor generation: dmabuf-abi.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/uio.h>
#include <cmocka.h>

#include <liburing-kmbuf.h>
#include "fake-sys.h"
#include "lib.h"

#define RING_FD		5
#define REG_INDEX	2

/* What the hook copies into call->extra, past the top-level argument. */
struct dmabuf_extra {
	unsigned char	entry[16];	/* io_uring_dmabuf_reg (extended) */
	unsigned char	iov[sizeof(struct iovec)];	/* what it, or data, points to */
	unsigned char	rsrc_reg[32];	/* io_uring_rsrc_register (opcode 15) */
};

/* Copy what the argument points to while the pointers are valid. */
static void dmabuf_hook(struct fake_call *call, const void *arg)
{
	struct dmabuf_extra *x = (struct dmabuf_extra *)call->extra;
	unsigned int op = call->opcode & ~IO_URING_KMBUF_USE_REGISTERED_RING;

	assert_true(sizeof(*x) <= sizeof(call->extra));
	call->extra_len = sizeof(*x);
	memset(x, 0, sizeof(*x));
	if (op == IORING_REGISTER_BUFFERS2) {
		memcpy(x->rsrc_reg, arg, sizeof(x->rsrc_reg));
	} else if (op == IO_URING_DMABUF_UPDATE_OP) {
		const struct io_uring_dmabuf_update *up = arg;
		const void *iov = (const void *)(uintptr_t)up->data;

		if (up->flags & IO_URING_DMABUF_F_EXTENDED_UPDATE) {
			const struct io_uring_dmabuf_reg *reg = iov;

			memcpy(x->entry, reg, sizeof(x->entry));
			iov = (const void *)(uintptr_t)reg->iov_uaddr;
		}
		memcpy(x->iov, iov, sizeof(x->iov));
	}
}

static int setup(void **state)
{
	(void)state;
	fake_reset();
	fake_register_hook = dmabuf_hook;
	/* the seed's bytes; dmabuf-abi.c covers detection and the other one */
	kmbuf_abi_reset();
	assert_int_equal(io_uring_dmabuf_force_abi(IO_URING_DMABUF_ABI_SEED), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_assert_script_done();
	assert_int_equal(fake_live_allocs(), 0);
	return 0;
}

static const struct dmabuf_extra *extra_of(const struct fake_call *c)
{
	return (const struct dmabuf_extra *)c->extra;
}

/* Little-endian bytes of an extended update of one entry at @index. */
static void expect_update(const struct fake_call *c, int fd, unsigned int index,
			  unsigned int flags)
{
	const struct io_uring_dmabuf_update *up =
		(const struct io_uring_dmabuf_update *)c->arg_copy;
	unsigned char zero[sizeof(struct iovec)] = { 0 };

	assert_int_equal(c->kind, FAKE_REGISTER);
	assert_int_equal(c->fd, fd);
	assert_int_equal(c->opcode, 16);
	assert_int_equal(c->nr_args, 32);
	assert_int_equal(c->arg_len, 32);
	assert_int_equal(up->offset, index);
	assert_int_equal(up->flags, flags);
	assert_int_not_equal(up->data, 0);
	assert_int_equal(up->tags, 0);
	assert_int_equal(up->nr, 1);
	assert_int_equal(up->resv2, 0);
	/* the iovec is always empty */
	assert_memory_equal(extra_of(c)->iov, zero, sizeof(zero));
}

static void expect_entry(const struct fake_call *c, int target_fd,
			 int dmabuf_fd)
{
	const unsigned char *e = extra_of(c)->entry;
	__s32 t, d;
	__u64 iov;

	memcpy(&iov, e, 8);
	memcpy(&t, e + 8, 4);
	memcpy(&d, e + 12, 4);
	assert_int_not_equal(iov, 0);
	assert_int_equal(t, target_fd);
	assert_int_equal(d, dmabuf_fd);
}

static void table_invalid(void **state)
{
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_register_dmabuf_table(NULL, 4), -EINVAL);
	assert_int_equal(io_uring_register_dmabuf_table(&ring, 0), -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

static void table_bytes(void **state)
{
	struct io_uring ring;
	const struct io_uring_rsrc_register *rr;
	const struct fake_call *c;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	fake_push_register(0);
	assert_int_equal(io_uring_register_dmabuf_table(&ring, 64), 0);
	c = fake_call_at(0);
	assert_int_equal(c->fd, RING_FD);
	assert_int_equal(c->opcode, 15);
	assert_int_equal(c->nr_args, 32);
	rr = (const struct io_uring_rsrc_register *)extra_of(c)->rsrc_reg;
	assert_int_equal(rr->nr, 64);
	assert_int_equal(rr->flags, IORING_RSRC_REGISTER_SPARSE);
	assert_int_equal(rr->resv2, 0);
	assert_int_equal(rr->data, 0);
	assert_int_equal(rr->tags, 0);

	fake_push_register(-EBUSY);
	assert_int_equal(io_uring_register_dmabuf_table(&ring, 64), -EBUSY);
}

/* A ring known only by its registered index (liburing's ring_fd -1). */
static void table_registered_ring(void **state)
{
	struct io_uring ring;
	const struct fake_call *c;

	(void)state;
	fake_ring_init(&ring, -1);
	ring.enter_ring_fd = 3;
	ring.int_flags = 1;	/* INT_FLAG_REG_RING */
	fake_push_register(0);
	assert_int_equal(io_uring_register_dmabuf_table(&ring, 8), 0);
	c = fake_call_at(0);
	assert_int_equal(c->fd, 3);
	assert_int_equal(c->opcode, 15U | IO_URING_KMBUF_USE_REGISTERED_RING);

	fake_push_register(1);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 1, 10, 11), 0);
	c = fake_call_at(1);
	assert_int_equal(c->fd, 3);
	assert_int_equal(c->opcode, 16U | IO_URING_KMBUF_USE_REGISTERED_RING);

	/* neither a real fd nor a registered one */
	ring.int_flags = 0;
	assert_int_equal(io_uring_register_dmabuf_table(&ring, 8), -EBADF);
	assert_int_equal(io_uring_unregister_dmabuf_buffer(&ring, 0), -EBADF);
	assert_int_equal(fake_nr_calls(), 2);
}

static void register_invalid(void **state)
{
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_register_dmabuf_buffer(NULL, 0, 3, 4), -EINVAL);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, -1, 4), -EBADF);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, 3, -1), -EBADF);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, -1, -1), -EBADF);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, -5, 4), -EBADF);
	assert_int_equal(io_uring_unregister_dmabuf_buffer(NULL, 0), -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

static void register_bytes(void **state)
{
	struct io_uring ring;
	const struct fake_call *c;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	fake_push_register(1);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, REG_INDEX, 8, 9), 0);
	c = fake_call_at(0);
	expect_update(c, RING_FD, REG_INDEX, 1);
	expect_entry(c, 8, 9);
	/* fd 0 is a valid fd */
	fake_push_register(1);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, 0, 0), 0);
	expect_entry(fake_call_at(1), 0, 0);
}

/* The kernel's count 1 is success; errors pass; other counts are -EPROTO. */
static void register_results(void **state)
{
	static const struct {
		int kernel, want;
	} r[] = {
		{ 1, 0 }, { 0, -EPROTO }, { 2, -EPROTO }, { -EBADF, -EBADF },
		{ -EINVAL, -EINVAL }, { -EOPNOTSUPP, -EOPNOTSUPP },
		{ -EFAULT, -EFAULT }, { -ENXIO, -ENXIO }, { -ENOMEM, -ENOMEM },
		{ -EOVERFLOW, -EOVERFLOW },
	};
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		fake_push_register(r[i].kernel);
		assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, 3, 4),
				 r[i].want);
		fake_push_register(r[i].kernel);
		assert_int_equal(io_uring_unregister_dmabuf_buffer(&ring, 0),
				 r[i].want);
	}
}

/* Clearing is a plain update (no flags) of one empty iovec. */
static void unregister_bytes(void **state)
{
	struct io_uring ring;
	const struct fake_call *c;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	fake_push_register(1);
	assert_int_equal(io_uring_unregister_dmabuf_buffer(&ring, 7), 0);
	c = fake_call_at(0);
	expect_update(c, RING_FD, 7, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(table_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(table_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(table_registered_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(register_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(register_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(register_results, setup, teardown),
		cmocka_unit_test_setup_teardown(unregister_bytes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
