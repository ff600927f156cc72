/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of the kmbuf ring calls (src/kmbuf.c, src/register.c) against
 * the fake syscall boundary: argument checking with no syscall, the exact
 * bytes and mmap arguments the kernel would see, error pass-through, and
 * the setup/free handle's unwinding.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <liburing-kmbuf.h>
#include "fake-sys.h"
#include "lib.h"

#define RING_FD		5
#define REG_INDEX	3	/* registered ring index */

static unsigned int page;

static int setup(void **state)
{
	(void)state;
	fake_reset();
	/* the seed's bytes; kmbuf-abi.c covers the other generations */
	kmbuf_abi_reset();
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_SEED), 0);
	return 0;
}

/* Every test must have used its whole script and freed what it got. */
static int teardown(void **state)
{
	(void)state;
	fake_assert_script_done();
	assert_int_equal(fake_live_allocs(), 0);
	return 0;
}

static struct io_uring_kmbuf_reg make_reg(unsigned int buf_size,
					  unsigned int ring_entries,
					  unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = buf_size;
	reg.ring_entries = ring_entries;
	reg.bgid = bgid;
	return reg;
}

/* The 40 bytes io_uring_register(2) must see, built field by offset. */
static void expect_reg_bytes(const struct fake_call *call, int fd,
			     unsigned int opcode, uint32_t buf_size,
			     uint32_t ring_entries, uint16_t bgid)
{
	unsigned char want[40];

	memset(want, 0, sizeof(want));
	memcpy(want + 0, &buf_size, 4);
	memcpy(want + 8, &ring_entries, 4);
	memcpy(want + 12, &bgid, 2);

	assert_int_equal(call->kind, FAKE_REGISTER);
	assert_int_equal(call->fd, fd);
	assert_int_equal(call->opcode, opcode);
	assert_int_equal(call->nr_args, 1);
	assert_non_null(call->arg);
	assert_int_equal(call->arg_len, sizeof(want));
	assert_memory_equal(call->arg_copy, want, sizeof(want));
}

static void expect_mmap(const struct fake_call *call, int fd,
			unsigned short bgid, size_t len)
{
	assert_int_equal(call->kind, FAKE_MMAP);
	assert_int_equal(call->mmap_fd, fd);
	assert_int_equal(call->len, len);
	assert_int_equal(call->prot, PROT_READ | PROT_WRITE);
	assert_int_equal(call->flags, MAP_SHARED | MAP_POPULATE);
	assert_int_equal((uint64_t)call->offset,
			 0x88000000ULL | (uint64_t)bgid << 16);
}

/* --- io_uring_register_kmbuf_ring --- */

static void register_rejects_null_and_flags(void **state)
{
	struct io_uring_kmbuf_reg reg = make_reg(page, 8, 0);
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_register_kmbuf_ring(NULL, &reg, 0), -EINVAL);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, NULL, 0), -EINVAL);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 1), -EINVAL);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 1U << 31),
			 -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

/* The 40 bytes the kernel saw are exactly the caller's struct. */
static void expect_reg_passed(const struct fake_call *call,
			      const struct io_uring_kmbuf_reg *reg)
{
	assert_int_equal(call->kind, FAKE_REGISTER);
	assert_int_equal(call->fd, RING_FD);
	assert_int_equal(call->opcode, IO_URING_KMBUF_REGISTER_OP);
	assert_int_equal(call->nr_args, 1);
	assert_int_equal(call->arg_len, sizeof(*reg));
	assert_memory_equal(call->arg_copy, reg, sizeof(*reg));
}

/*
 * A raw wrapper does not know the kernel's rules: struct flags, resv,
 * entries, sizes and their product all go to the kernel, and the caller
 * gets the kernel's own answer, whatever it is (a later generation's
 * -E2BIG, or 0 from a kernel with other rules).
 */
static void register_passes_kernel_rules_through(void **state)
{
	static const struct {
		unsigned int	buf_size_pages;	/* 0: buf_size below */
		unsigned int	buf_size;
		unsigned int	entries;
		unsigned short	flags;
		int		resv;		/* resv[resv - 1] = 1 */
		int		answer;
	} cases[] = {
		{ 1, 0, 8, 1, 0, -EINVAL },	/* IOU_PBUF_RING_MMAP */
		{ 1, 0, 8, 2, 0, -EINVAL },	/* IOU_PBUF_RING_INC */
		{ 1, 0, 8, 4, 0, 0 },		/* KERNEL_MANAGED, accepted */
		{ 1, 0, 8, 0xffff, 0, -EINVAL },
		{ 1, 0, 8, 0, 1, -EINVAL },
		{ 1, 0, 8, 0, 2, -EINVAL },
		{ 1, 0, 8, 0, 3, -EINVAL },
		{ 1, 0, 0, 0, 0, -EINVAL },
		{ 1, 0, 3, 0, 0, -EINVAL },
		{ 1, 0, 32769, 0, 0, -EINVAL },
		{ 1, 0, 65536, 0, 0, 0 },	/* a kernel that allows more */
		{ 1, 0, UINT_MAX, 0, 0, -EINVAL },
		{ 0, 0, 8, 0, 0, -EINVAL },
		{ 0, 1, 8, 0, 0, -EINVAL },
		{ 0, 512, 8, 0, 0, 0 },		/* sub-page buffers, accepted */
		{ 0, UINT_MAX, 8, 0, 0, -EINVAL },
		{ 0, 0x80000000u, 32768, 0, 0, -E2BIG },  /* fuse generation */
	};
	struct io_uring_kmbuf_reg reg, before;
	struct io_uring ring;
	unsigned int size;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size = cases[i].buf_size_pages ? cases[i].buf_size_pages * page :
						 cases[i].buf_size;
		reg = make_reg(size, cases[i].entries, 5);
		reg.flags = cases[i].flags;
		if (cases[i].resv)
			reg.resv[cases[i].resv - 1] = 1;
		before = reg;
		fake_push_register(cases[i].answer);
		assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0),
				 cases[i].answer);
		expect_reg_passed(fake_call_at((int)i), &before);
		assert_memory_equal(&reg, &before, sizeof(reg));
	}
	assert_int_equal(fake_nr_calls(), (int)i);
}

/* Power-of-two entries up to 32768 and page multiples reach the kernel. */
static void register_accepts_limits(void **state)
{
	static const unsigned int entries[] = { 1, 2, 4096, 32768 };
	/* the largest page multiple a __u32 holds */
	const unsigned int max_size = UINT_MAX - (UINT_MAX % page);
	struct io_uring_kmbuf_reg reg;
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		reg = make_reg(page, entries[i], 0);
		fake_push_register(0);
		assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
		expect_reg_bytes(fake_call_at((int)i), RING_FD,
				 IO_URING_KMBUF_REGISTER_OP, page, entries[i], 0);
	}
	/*
	 * 32768 * (4G - page) needs 47 bits, more than a 32-bit size_t: the
	 * raw wrapper computes nothing and passes it on all the same.
	 */
	reg = make_reg(max_size, 32768, 0);
	fake_push_register(0);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
	expect_reg_bytes(fake_call_at(4), RING_FD, IO_URING_KMBUF_REGISTER_OP,
			 max_size, 32768, 0);
}

static void register_sends_exact_bytes(void **state)
{
	static const unsigned short bgids[] = { 0, 1, 2047, 65535 };
	struct io_uring_kmbuf_reg reg, before;
	struct io_uring ring, ring_before;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	ring_before = ring;
	for (i = 0; i < sizeof(bgids) / sizeof(bgids[0]); i++) {
		reg = make_reg(4 * page, 64, bgids[i]);
		before = reg;
		fake_push_register(0);
		assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
		expect_reg_bytes(fake_call_at((int)i), RING_FD,
				 IO_URING_KMBUF_REGISTER_OP, 4 * page, 64,
				 bgids[i]);
		assert_int_equal(fake_call_at((int)i)->opcode, 38);
		/* caller-owned input is left alone */
		assert_memory_equal(&reg, &before, sizeof(reg));
	}
	assert_memory_equal(&ring, &ring_before, sizeof(ring));
}

static void register_passes_errors_through(void **state)
{
	static const int errs[] = { -EEXIST, -ENOMEM, -EFAULT, -EINVAL, -EPERM };
	struct io_uring_kmbuf_reg reg = make_reg(page, 8, 3);
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_push_register(errs[i]);
		assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0),
				 errs[i]);
	}
	assert_int_equal(fake_nr_calls(), 5);
}

/* --- io_uring_unregister_kmbuf_ring --- */

static void unregister_sends_exact_bytes(void **state)
{
	static const unsigned short bgids[] = { 0, 1, 65535 };
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_unregister_kmbuf_ring(NULL, 0), -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
	for (i = 0; i < sizeof(bgids) / sizeof(bgids[0]); i++) {
		fake_push_register(0);
		assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, bgids[i]), 0);
		/* only bgid set: no flags, resv or stale union bytes */
		expect_reg_bytes(fake_call_at((int)i), RING_FD,
				 IO_URING_KMBUF_UNREGISTER_OP, 0, 0, bgids[i]);
		assert_int_equal(fake_call_at((int)i)->opcode, 39);
	}
}

static void unregister_passes_errors_through(void **state)
{
	static const int errs[] = { -ENOENT, -EBUSY, -EINVAL, -EFAULT };
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_push_register(errs[i]);
		assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, 9), errs[i]);
	}
}

/* --- which fd: the real one, the registered index, or none --- */

static void registered_ring_index_is_used(void **state)
{
	struct io_uring_kmbuf_reg reg = make_reg(page, 4, 7);
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, -1);
	ring.enter_ring_fd = REG_INDEX;
	ring.int_flags = 1;	/* liburing: ring fd registered */

	fake_push_register(0);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
	expect_reg_bytes(fake_call_at(0), REG_INDEX,
			 38 | IO_URING_KMBUF_USE_REGISTERED_RING, page, 4, 7);
	assert_int_equal(fake_call_at(0)->opcode, 0x80000026U);

	fake_push_register(-EBUSY);
	assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, 7), -EBUSY);
	expect_reg_bytes(fake_call_at(1), REG_INDEX,
			 39 | IO_URING_KMBUF_USE_REGISTERED_RING, 0, 0, 7);
}

static void real_fd_preferred_over_index(void **state)
{
	struct io_uring_kmbuf_reg reg = make_reg(page, 4, 7);
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	ring.enter_ring_fd = REG_INDEX;
	ring.int_flags = 1;

	fake_push_register(0);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
	expect_reg_bytes(fake_call_at(0), RING_FD, 38, page, 4, 7);
}

static void no_fd_is_ebadf(void **state)
{
	struct io_uring_kmbuf_reg reg = make_reg(page, 4, 7);
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	struct io_uring ring;
	void *bufs = &bufs;

	(void)state;
	fake_ring_init(&ring, -1);
	ring.enter_ring_fd = REG_INDEX;
	ring.int_flags = 2;	/* some other liburing bit */
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), -EBADF);
	assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, 7), -EBADF);

	/* mmap and setup need the real fd even with a registered index */
	ring.int_flags = 1;
	assert_int_equal(io_uring_mmap_kmbuf(&ring, 7, page, &bufs), -EBADF);
	assert_ptr_equal(bufs, &bufs);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 4, page, 7, NULL, &kb),
			 -EBADF);
	assert_ptr_equal(kb, &kb);
	assert_int_equal(fake_nr_calls(), 0);
}

/* --- io_uring_mmap_kmbuf / io_uring_munmap_kmbuf --- */

static void mmap_rejects_bad_input(void **state)
{
	struct io_uring ring;
	void *bufs = &bufs;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_mmap_kmbuf(NULL, 0, page, &bufs), -EINVAL);
	assert_int_equal(io_uring_mmap_kmbuf(&ring, 0, page, NULL), -EINVAL);
	assert_ptr_equal(bufs, &bufs);
	assert_int_equal(io_uring_munmap_kmbuf(NULL, page), -EINVAL);
	assert_int_equal(io_uring_munmap_kmbuf(&bufs, 0), -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

static void mmap_sends_exact_arguments(void **state)
{
	static const unsigned short bgids[] = { 0, 1, 2047 };
	struct io_uring ring, ring_before;
	void *bufs;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	ring_before = ring;
	for (i = 0; i < sizeof(bgids) / sizeof(bgids[0]); i++) {
		bufs = NULL;
		fake_push_mmap(0, NULL);
		assert_int_equal(io_uring_mmap_kmbuf(&ring, bgids[i], 16 * page,
						     &bufs), 0);
		assert_ptr_equal(bufs, FAKE_MMAP_ADDR);
		expect_mmap(fake_call_at((int)i), RING_FD, bgids[i], 16 * page);
	}
	assert_int_equal((uint64_t)fake_call_at(0)->offset, 0x88000000ULL);
	assert_int_equal((uint64_t)fake_call_at(1)->offset, 0x88010000ULL);
	assert_int_equal((uint64_t)fake_call_at(2)->offset, 0x8fff0000ULL);
	assert_memory_equal(&ring, &ring_before, sizeof(ring));
}

/* Lengths are the kernel's (and mmap(2)'s) business, not the wrapper's. */
static void mmap_passes_length_through(void **state)
{
	const size_t lens[] = { 0, 1, page - 1, page + 1, 3 * (size_t)page / 2 };
	const int answers[] = { -EINVAL, 0, 0, 0, -EINVAL };
	struct io_uring ring;
	void *bufs;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		bufs = NULL;
		fake_push_mmap(answers[i], NULL);
		assert_int_equal(io_uring_mmap_kmbuf(&ring, 3, lens[i], &bufs),
				 answers[i]);
		expect_mmap(fake_call_at((int)i), RING_FD, 3, lens[i]);
		assert_ptr_equal(bufs, answers[i] ? NULL : FAKE_MMAP_ADDR);
	}
}

/*
 * The kernel finds the bgid in offset bits 16..26 (it masks the mmap type
 * with 0xf8000000), so a bgid of 2048 or more has no offset of its own:
 * 2048 would name bgid 0's buffers, 65535 no object at all. The library
 * must refuse those rather than map another ring.
 */
static void mmap_refuses_bgid_without_offset(void **state)
{
	static const unsigned short bgids[] = { 2048, 2049, 4095, 4096, 65535 };
	struct io_uring ring;
	void *bufs = &bufs;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(bgids) / sizeof(bgids[0]); i++)
		assert_int_equal(io_uring_mmap_kmbuf(&ring, bgids[i], page,
						     &bufs), -EINVAL);
	assert_ptr_equal(bufs, &bufs);
	assert_int_equal(fake_nr_calls(), 0);
}

static void mmap_and_munmap_pass_errors_through(void **state)
{
	struct io_uring ring;
	void *bufs = &bufs;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	fake_push_mmap(-EINVAL, NULL);
	assert_int_equal(io_uring_mmap_kmbuf(&ring, 1, page, &bufs), -EINVAL);
	fake_push_mmap(-ENOMEM, NULL);
	assert_int_equal(io_uring_mmap_kmbuf(&ring, 1, page, &bufs), -ENOMEM);
	assert_ptr_equal(bufs, &bufs);

	fake_push_munmap(0);
	assert_int_equal(io_uring_munmap_kmbuf(FAKE_MMAP_ADDR, 2 * page), 0);
	assert_ptr_equal(fake_call_at(2)->addr, FAKE_MMAP_ADDR);
	assert_int_equal(fake_call_at(2)->len, 2 * page);
	fake_push_munmap(-EINVAL);
	assert_int_equal(io_uring_munmap_kmbuf(FAKE_MMAP_ADDR, page), -EINVAL);
}

/* --- io_uring_setup_kmbuf_ring --- */

static void setup_rejects_bad_input(void **state)
{
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_setup_kmbuf_ring(NULL, 8, page, 0, NULL, &kb),
			 -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 0, page, 0, NULL, &kb),
			 -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 3, page, 0, NULL, &kb),
			 -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 32769, page, 0, NULL,
						   &kb), -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 65536, page, 0, NULL,
						   &kb), -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, 0, 0, NULL, &kb),
			 -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page + 1, 0, NULL,
						   &kb), -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page / 2, 0, NULL,
						   &kb), -EINVAL);
	/* a bgid whose buffers could be registered but never mapped */
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 2048, NULL,
						   &kb), -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 65535, NULL,
						   &kb), -EINVAL);
	assert_ptr_equal(kb, &kb);
	assert_int_equal(fake_nr_calls(), 0);
}

static void setup_checks_opts(void **state)
{
	struct {
		struct io_uring_kmbuf_opts opts;
		unsigned char newer[24];	/* fields of a newer library */
	} big;
	struct io_uring_kmbuf_opts opts, before;
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);

	memset(&opts, 0, sizeof(opts));
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &opts, &kb),
			 -EINVAL);	/* sz 0 */
	opts.sz = offsetof(struct io_uring_kmbuf_opts, flags);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &opts, &kb),
			 -EINVAL);	/* sz too small to hold flags */
	opts.sz = sizeof(opts);
	opts.flags = 1;
	before = opts;
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &opts, &kb),
			 -EINVAL);
	assert_memory_equal(&opts, &before, sizeof(opts));
	opts.flags = 1U << 31;
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &opts, &kb),
			 -EINVAL);

	memset(&big, 0, sizeof(big));
	big.opts.sz = sizeof(big);
	big.newer[sizeof(big.newer) - 1] = 1;
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &big.opts,
						   &kb), -E2BIG);
	big.newer[sizeof(big.newer) - 1] = 0;
	big.newer[0] = 0x80;
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &big.opts,
						   &kb), -E2BIG);
	assert_ptr_equal(kb, &kb);
	assert_int_equal(fake_nr_calls(), 0);

	/* a bigger struct with zero tail, and the exact size, both work */
	big.newer[0] = 0;
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &big.opts,
						   &kb), 0);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);

	opts.flags = 0;
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &opts, &kb),
			 0);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
}

/*
 * The zero check of a bigger struct starts where the last known field
 * ends, not at sizeof: the padding after flags is where a newer library's
 * first new field goes. Each byte past flags, set alone, is -E2BIG.
 */
static void setup_checks_every_byte_past_flags(void **state)
{
	const size_t old_end = offsetof(struct io_uring_kmbuf_opts, flags) +
			       sizeof(unsigned int);
	const size_t known_end = offsetof(struct io_uring_kmbuf_opts, abi) +
				 sizeof(int);
	union {
		struct io_uring_kmbuf_opts opts;
		unsigned char bytes[sizeof(struct io_uring_kmbuf_opts) + 16];
	} big;
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	size_t sz, i;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	/* the caller's struct is this library's own size, then bigger */
	for (sz = sizeof(big.opts); sz <= sizeof(big.bytes); sz += 8) {
		for (i = known_end; i < sz; i++) {
			memset(&big, 0, sizeof(big));
			big.opts.sz = sz;
			big.bytes[i] = 0x01;
			assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0,
								   &big.opts, &kb),
					 -E2BIG);
		}
	}
	assert_ptr_equal(kb, &kb);
	assert_int_equal(fake_nr_calls(), 0);

	/* an older caller's struct ends at flags: what follows is not its */
	memset(&big, 0xff, sizeof(big));
	big.opts.sz = old_end;
	big.opts.flags = 0;
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, &big.opts,
						   &kb), 0);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
}

static void setup_registers_maps_and_frees(void **state)
{
	static const unsigned short bgids[] = { 0, 1, 2047 };
	struct io_uring_kmbuf *kb;
	struct io_uring ring, ring_before;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	ring_before = ring;
	for (i = 0; i < sizeof(bgids) / sizeof(bgids[0]); i++) {
		fake_reset();
		kb = NULL;
		fake_push_register(0);
		fake_push_mmap(0, NULL);
		assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 256, 2 * page,
							   bgids[i], NULL, &kb),
				 0);
		assert_non_null(kb);
		assert_int_equal(fake_live_allocs(), 1);
		assert_ptr_equal(kb->bufs, FAKE_MMAP_ADDR);
		assert_int_equal(kb->len, 256 * 2 * (size_t)page);
		assert_int_equal(kb->buf_size, 2 * page);
		assert_int_equal(kb->ring_entries, 256);
		assert_int_equal(kb->bgid, bgids[i]);

		assert_int_equal(fake_nr_calls(), 2);
		expect_reg_bytes(fake_call_at(0), RING_FD, 38, 2 * page, 256,
				 bgids[i]);
		expect_mmap(fake_call_at(1), RING_FD, bgids[i], kb->len);

		/* free: unregister the same bgid first, then unmap */
		fake_push_register(0);
		fake_push_munmap(0);
		assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
		assert_int_equal(fake_nr_calls(), 4);
		expect_reg_bytes(fake_call_at(2), RING_FD, 39, 0, 0, bgids[i]);
		assert_int_equal(fake_call_at(3)->kind, FAKE_MUNMAP);
		assert_ptr_equal(fake_call_at(3)->addr, FAKE_MMAP_ADDR);
		assert_int_equal(fake_call_at(3)->len, 256 * 2 * (size_t)page);
		assert_int_equal(fake_live_allocs(), 0);
	}
	assert_memory_equal(&ring, &ring_before, sizeof(ring));
}

/* The region length is computed in size_t: 32768 * (4G - page) bytes. */
static void setup_len_does_not_truncate(void **state)
{
	/* the most the seed's page count (32 bits) allows for 32768 buffers */
	const unsigned int max_size = (UINT_MAX / 32768) * page;
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
#if SIZE_MAX > UINT32_MAX
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 32768, max_size, 5,
						   NULL, &kb), 0);
	assert_int_equal(kb->len, (size_t)32768 * max_size);
	expect_mmap(fake_call_at(1), RING_FD, 5, (size_t)32768 * max_size);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
#else
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 32768, max_size, 5,
						   NULL, &kb), -EINVAL);
	assert_null(kb);
	assert_int_equal(fake_nr_calls(), 0);
#endif
}

static void setup_passes_register_errors_through(void **state)
{
	static const int errs[] = { -EEXIST, -ENOMEM, -EFAULT, -EINVAL };
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_push_register(errs[i]);
		assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 4,
							   NULL, &kb), errs[i]);
		assert_ptr_equal(kb, &kb);
		assert_int_equal(fake_live_allocs(), 0);
	}
	/* nothing but the failed registrations */
	assert_int_equal(fake_nr_calls_of(FAKE_REGISTER), 4);
	assert_int_equal(fake_nr_calls(), 4);
}

/* Register OK, mmap fails: unregister the same bgid, return mmap's error. */
static void setup_unwinds_when_mmap_fails(void **state)
{
	static const int errs[] = { -ENOMEM, -EINVAL, -EAGAIN };
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_reset();
		fake_push_register(0);
		fake_push_mmap(errs[i], NULL);
		/* the unregister's own failure must not mask mmap's error */
		fake_push_register(i == 2 ? -ENOENT : 0);
		assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 77,
							   NULL, &kb), errs[i]);
		assert_ptr_equal(kb, &kb);
		assert_int_equal(fake_nr_calls(), 3);
		expect_reg_bytes(fake_call_at(0), RING_FD, 38, page, 8, 77);
		expect_mmap(fake_call_at(1), RING_FD, 77, 8 * (size_t)page);
		expect_reg_bytes(fake_call_at(2), RING_FD, 39, 0, 0, 77);
		assert_int_equal(fake_nr_calls_of(FAKE_MUNMAP), 0);
		assert_int_equal(fake_live_allocs(), 0);
	}
}

static void setup_handles_alloc_failure(void **state)
{
	struct io_uring_kmbuf *kb = (struct io_uring_kmbuf *)&kb;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	fake_fail_alloc(1);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 8, page, 0, NULL, &kb),
			 -ENOMEM);
	assert_ptr_equal(kb, &kb);
	assert_int_equal(fake_nr_calls(), 0);
}

/* --- io_uring_free_kmbuf_ring --- */

static struct io_uring_kmbuf *setup_one(struct io_uring *ring,
					unsigned short bgid)
{
	struct io_uring_kmbuf *kb = NULL;

	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(ring, 4, page, bgid, NULL, &kb),
			 0);
	return kb;
}

static void free_rejects_null(void **state)
{
	struct io_uring ring;
	struct io_uring_kmbuf *kb;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	kb = setup_one(&ring, 1);
	assert_int_equal(io_uring_free_kmbuf_ring(NULL, kb), -EINVAL);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, NULL), -EINVAL);
	assert_int_equal(fake_nr_calls(), 2);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
}

/*
 * Any error of the unregister step (a pinned ring's -EBUSY above all)
 * changes nothing: no munmap, no new mapping, the handle byte for byte as
 * it was, still allocated. A retry then frees it.
 */
static void free_error_changes_nothing(void **state)
{
	static const int errs[] = {
		-EBUSY, -ENOENT, -EINVAL, -EBADF, -EEXIST, -EACCES, -EOPNOTSUPP,
	};
	struct io_uring_kmbuf *kb, before;
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	kb = setup_one(&ring, 9);
	before = *kb;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_push_register(errs[i]);
		assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), errs[i]);
		expect_reg_bytes(fake_call_at(2 + (int)i), RING_FD, 39, 0, 0, 9);
		assert_memory_equal(kb, &before, sizeof(before));
		assert_int_equal(fake_live_allocs(), 1);
	}
	assert_int_equal(fake_nr_calls_of(FAKE_MUNMAP), 0);
	assert_int_equal(fake_nr_calls_of(FAKE_MMAP), 1);	/* setup's */

	/* unpinned later: the retry unregisters, then unmaps the same mapping */
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
	expect_reg_bytes(fake_call_at(2 + (int)i), RING_FD, 39, 0, 0, 9);
	assert_ptr_equal(fake_call_at(3 + (int)i)->addr, FAKE_MMAP_ADDR);
	assert_int_equal(fake_call_at(3 + (int)i)->len, 4 * (size_t)page);
}

/*
 * Once unregister has returned 0 the handle owns nothing in the kernel,
 * so free frees it and says 0 even if munmap (which cannot fail on the
 * mapping setup made) did: the return value alone says "freed".
 */
static void free_after_unregister_always_frees(void **state)
{
	struct io_uring ring;
	struct io_uring_kmbuf *kb;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	kb = setup_one(&ring, 3);
	fake_push_register(0);
	fake_push_munmap(-EINVAL);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
	assert_int_equal(fake_nr_calls(), 4);
	assert_int_equal(fake_live_allocs(), 0);
}

/* The handle remembers its ring: another one is refused, nothing done. */
static void free_with_another_ring_is_einval(void **state)
{
	struct io_uring ring_a, ring_b, copy_a;
	struct io_uring_kmbuf *kb, before;

	(void)state;
	fake_ring_init(&ring_a, RING_FD);
	fake_ring_init(&ring_b, RING_FD + 1);
	kb = setup_one(&ring_a, 6);
	before = *kb;
	assert_int_equal(io_uring_free_kmbuf_ring(&ring_b, kb), -EINVAL);
	/* the same fd in another struct io_uring is still another ring */
	copy_a = ring_a;
	assert_int_equal(io_uring_free_kmbuf_ring(&copy_a, kb), -EINVAL);
	assert_int_equal(fake_nr_calls(), 2);
	assert_memory_equal(kb, &before, sizeof(before));

	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring_a, kb), 0);
	expect_reg_bytes(fake_call_at(2), RING_FD, 39, 0, 0, 6);
}

/*
 * After io_uring_queue_exit() (or any error the caller gives up on) the
 * handle is released without a word to any ring: munmap and free only.
 */
static void free_handle_unmaps_and_frees(void **state)
{
	struct io_uring ring;
	struct io_uring_kmbuf *kb;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	kb = setup_one(&ring, 8);
	fake_push_register(-EBADF);	/* the ring is gone */
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), -EBADF);
	assert_int_equal(fake_live_allocs(), 1);

	fake_push_munmap(0);
	io_uring_free_kmbuf_handle(kb);
	assert_int_equal(fake_nr_calls(), 4);
	assert_int_equal(fake_call_at(3)->kind, FAKE_MUNMAP);
	assert_ptr_equal(fake_call_at(3)->addr, FAKE_MMAP_ADDR);
	assert_int_equal(fake_call_at(3)->len, 4 * (size_t)page);
	assert_int_equal(fake_nr_calls_of(FAKE_REGISTER), 2);
	assert_int_equal(fake_live_allocs(), 0);

	io_uring_free_kmbuf_handle(NULL);
	assert_int_equal(fake_nr_calls(), 4);
}

/* A ring whose real fd was closed after setup frees via the index. */
static void free_through_registered_index(void **state)
{
	struct io_uring ring;
	struct io_uring_kmbuf *kb;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	kb = setup_one(&ring, 4);
	ring.ring_fd = -1;
	ring.enter_ring_fd = REG_INDEX;
	ring.int_flags = 1;

	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
	expect_reg_bytes(fake_call_at(2), REG_INDEX,
			 39 | IO_URING_KMBUF_USE_REGISTERED_RING, 0, 0, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(register_rejects_null_and_flags),
		T(register_passes_kernel_rules_through),
		T(register_accepts_limits),
		T(register_sends_exact_bytes),
		T(register_passes_errors_through),
		T(unregister_sends_exact_bytes),
		T(unregister_passes_errors_through),
		T(registered_ring_index_is_used),
		T(real_fd_preferred_over_index),
		T(no_fd_is_ebadf),
		T(mmap_rejects_bad_input),
		T(mmap_sends_exact_arguments),
		T(mmap_passes_length_through),
		T(mmap_refuses_bgid_without_offset),
		T(mmap_and_munmap_pass_errors_through),
		T(setup_rejects_bad_input),
		T(setup_checks_opts),
		T(setup_checks_every_byte_past_flags),
		T(setup_registers_maps_and_frees),
		T(setup_len_does_not_truncate),
		T(setup_passes_register_errors_through),
		T(setup_unwinds_when_mmap_fails),
		T(setup_handles_alloc_failure),
		T(free_rejects_null),
		T(free_error_changes_nothing),
		T(free_after_unregister_always_frees),
		T(free_with_another_ring_is_einval),
		T(free_handle_unmaps_and_frees),
		T(free_through_registered_index),
#undef T
	};

	page = (unsigned int)sysconf(_SC_PAGESIZE);
	return cmocka_run_group_tests_name("kmbuf-api", tests, NULL, NULL) ? 1 : 0;
}
