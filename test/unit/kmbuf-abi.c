/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of the kmbuf generations (src/abi.c, src/probe.c,
 * src/kmbuf.c): the detection against a modelled kernel of every kind the
 * library meets, and the per-generation opcodes, flags and offsets of
 * every call, detected or forced.
 *
 * The models (struct model) answer as the kernel would: an opcode the
 * kernel does not have is -EINVAL, opcode 37 fails the test unless the
 * model is a FUSE-series kernel, anything the model does not expect fails
 * the test, and at the private ring's exit nothing may be left registered
 * or mapped.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
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

static unsigned int page;

enum { M_NONE, M_SEED, M_FUSE, M_FLAG };

struct model {
	const char	*name;
	bool		query;		/* answers IORING_REGISTER_QUERY */
	unsigned int	nr_reg;		/* register opcodes below this exist */
	int		kmbuf;		/* M_* */
	/* state */
	bool		ring;		/* a kmbuf ring at bgid 0 */
	int		maps;
	int		fail_register;	/* answer of the next kmbuf register */
};

static struct model *M;

static const struct model kernels[] = {
	/* Debian 12's 6.1: opcodes up to 25, no QUERY */
	{ .name = "6.1", .nr_reg = 26, .kmbuf = M_NONE },
	/* this machine's 6.18: QUERY says 36 */
	{ .name = "6.18", .query = true, .nr_reg = 36, .kmbuf = M_NONE },
	/* mainline 7.x: ZCRX_CTRL 36, BPF_FILTER 37 */
	{ .name = "7.x", .query = true, .nr_reg = 38, .kmbuf = M_NONE },
	{ .name = "seed", .query = true, .nr_reg = 40, .kmbuf = M_SEED },
	/* the first testbed: seed opcodes on 6.12, no QUERY */
	{ .name = "seed-noquery", .nr_reg = 40, .kmbuf = M_SEED },
	{ .name = "fuse", .query = true, .nr_reg = 39, .kmbuf = M_FUSE },
	/* a FUSE-series backport without QUERY: unprovable, so never asked */
	{ .name = "fuse-noquery", .nr_reg = 39, .kmbuf = M_FUSE },
	{ .name = "flag", .query = true, .nr_reg = 36, .kmbuf = M_FLAG },
	/* the flag generation backported to a kernel without QUERY */
	{ .name = "flag-noquery", .nr_reg = 30, .kmbuf = M_FLAG },
};

static struct model model;

static const struct model *kernel_named(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (!strcmp(kernels[i].name, name))
			return &kernels[i];
	fail_msg("no model %s", name);
	return NULL;
}

static int m_queue_init(struct fake_call *call)
{
	(void)call;
	return 0;
}

/* Leaving the private ring: nothing may be left behind. */
static void m_queue_exit(struct fake_call *call)
{
	(void)call;
	if (M->ring)
		fail_msg("%s: a kmbuf ring is left registered", M->name);
	if (M->maps)
		fail_msg("%s: %d mapping(s) left", M->name, M->maps);
}

static int m_query(struct fake_call *call, const void *arg)
{
	struct io_uring_kmbuf_query_hdr *hdr = (void *)(uintptr_t)arg;
	struct io_uring_kmbuf_query_opcode *op;

	if (call->fd != -1 || call->nr_args != 0)
		fail_msg("QUERY with fd %d, nr_args %u", call->fd, call->nr_args);
	if (!M->query)
		return -EINVAL;
	assert_int_equal(hdr->next_entry, 0);
	assert_int_equal(hdr->query_op, 0);
	assert_int_equal(hdr->result, 0);
	assert_true(hdr->size >= 8);
	op = (void *)(uintptr_t)hdr->query_data;
	memset(op, 0, hdr->size);
	op->nr_request_opcodes = 60;
	op->nr_register_opcodes = M->nr_reg;
	hdr->size = hdr->size < 40 ? hdr->size : 40;	/* a 6.18 answer */
	return 0;
}

static int m_check_reg(const struct io_uring_kmbuf_reg *r, __u16 flags)
{
	if (r->flags != flags || r->resv[0] || r->resv[1] || r->resv[2])
		return -EINVAL;
	if (!r->ring_entries || (r->ring_entries & (r->ring_entries - 1)))
		return -EINVAL;
	if (!r->buf_size || r->buf_size % page)
		return -EINVAL;
	return 0;
}

static int m_kmbuf_register(struct fake_call *call, __u16 flags)
{
	const struct io_uring_kmbuf_reg *r = (const void *)call->arg_copy;
	int ret;

	assert_int_equal(call->nr_args, 1);
	if (M->fail_register) {
		ret = M->fail_register;
		M->fail_register = 0;
		return ret;
	}
	ret = m_check_reg(r, flags);
	if (ret)
		return ret;
	if (r->bgid != 0)
		fail_msg("%s: the model has bgid 0 only", M->name);
	if (M->ring)
		return -EEXIST;
	M->ring = true;
	return 0;
}

static int m_kmbuf_unregister(struct fake_call *call)
{
	const struct io_uring_kmbuf_reg *r = (const void *)call->arg_copy;

	assert_int_equal(call->nr_args, 1);
	if (r->bgid != 0)
		return -ENOENT;
	if (!M->ring)
		return -ENOENT;
	M->ring = false;
	return 0;
}

static int m_reg(struct fake_call *call, const void *arg)
{
	unsigned int op = call->opcode;
	const struct io_uring_kmbuf_reg *r = (const void *)call->arg_copy;

	if (op == IO_URING_KMBUF_QUERY_OP)
		return m_query(call, arg);
	if (op == 37 && M->kmbuf != M_FUSE)
		fail_msg("opcode 37 sent to %s (BPF_FILTER or unknown there)",
			 M->name);
	if (op >= M->nr_reg)
		return -EINVAL;
	switch (op) {
	case 22:
		if (r->flags & IO_URING_KMBUF_F_KERNEL_MANAGED) {
			if (M->kmbuf != M_FLAG)
				return -EINVAL;	/* an unknown flag */
			return m_kmbuf_register(call, 1 | 4);
		}
		fail_msg("%s: a pbuf ring register (not modelled)", M->name);
		break;
	case 23:
		return m_kmbuf_unregister(call);
	case 37:
		return m_kmbuf_register(call, 0);
	case 38:
		if (M->kmbuf == M_SEED)
			return m_kmbuf_register(call, 0);
		if (M->kmbuf == M_FUSE)
			return m_kmbuf_unregister(call);
		break;
	case 39:
		if (M->kmbuf == M_SEED)
			return m_kmbuf_unregister(call);
		break;
	}
	fail_msg("%s: opcode %u was not expected", M->name, op);
	return -EINVAL;
}

static __u64 m_mmap_base(void)
{
	switch (M->kmbuf) {
	case M_SEED:
	case M_FUSE:
		return 0x88000000ULL;
	case M_FLAG:
		return 0x80000000ULL;
	}
	return 0;
}

static int m_mmap(struct fake_call *call, void **addr)
{
	if (!M->ring || !m_mmap_base() ||
	    (__u64)call->offset != m_mmap_base())
		return -EINVAL;
	M->maps++;
	*addr = FAKE_MMAP_ADDR;
	return 0;
}

static int m_munmap(struct fake_call *call)
{
	assert_ptr_equal(call->addr, FAKE_MMAP_ADDR);
	if (!M->maps)
		fail_msg("%s: munmap of nothing mapped", M->name);
	M->maps--;
	return 0;
}

static const struct fake_kernel model_kernel = {
	.queue_init = m_queue_init,
	.reg = m_reg,
	.mmap = m_mmap,
	.munmap = m_munmap,
	.queue_exit = m_queue_exit,
};

static void use_model(const char *name)
{
	model = *kernel_named(name);
	M = &model;
	fake_kernel = &model_kernel;
}

static int setup(void **state)
{
	(void)state;
	fake_reset();
	kmbuf_abi_reset();
	M = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (fake_kernel) {
		assert_false(M->ring);
		assert_int_equal(M->maps, 0);
	}
	fake_assert_script_done();
	assert_int_equal(fake_live_allocs(), 0);
	kmbuf_abi_reset();
	return 0;
}

/* --- the exact sequence of each detection ---------------------------------- */

/* One expected call: Q(uery), R(egister) op, MM(ap) offset, MU(nmap). */
enum step_kind { QI, QE, R, MM, MU };
struct step {
	enum step_kind	kind;
	unsigned long long val;	/* R: opcode; MM: offset */
	int		ret;
};

static void expect_steps(const struct step *want, int n)
{
	int i;

	if (fake_nr_calls() != n) {
		for (i = 0; i < fake_nr_calls(); i++)
			print_message("call %d: kind %d op %u ret %d\n", i,
				      fake_call_at(i)->kind,
				      fake_call_at(i)->opcode,
				      fake_call_at(i)->ret);
	}
	assert_int_equal(fake_nr_calls(), n);
	for (i = 0; i < n; i++) {
		const struct fake_call *c = fake_call_at(i);

		switch (want[i].kind) {
		case QI:
			assert_int_equal(c->kind, FAKE_QUEUE_INIT);
			assert_int_equal(c->entries, 1);
			assert_int_equal(c->setup_flags, 0);
			break;
		case QE:
			assert_int_equal(c->kind, FAKE_QUEUE_EXIT);
			assert_int_equal(c->fd, FAKE_RING_FD);
			break;
		case R:
			assert_int_equal(c->kind, FAKE_REGISTER);
			assert_int_equal(c->opcode, want[i].val);
			assert_int_equal(c->ret, want[i].ret);
			/* only QUERY is blind; everything else on the private ring */
			assert_int_equal(c->fd, c->opcode == 35 ? -1 : FAKE_RING_FD);
			break;
		case MM:
			assert_int_equal(c->kind, FAKE_MMAP);
			assert_int_equal((uint64_t)c->offset, want[i].val);
			assert_int_equal(c->mmap_fd, FAKE_RING_FD);
			assert_int_equal(c->len, page);
			assert_int_equal(c->prot, PROT_READ | PROT_WRITE);
			assert_int_equal(c->flags, MAP_SHARED | MAP_POPULATE);
			break;
		case MU:
			assert_int_equal(c->kind, FAKE_MUNMAP);
			assert_int_equal(c->len, page);
			break;
		}
	}
}

/* The 40 bytes of a kmbuf struct: buf_size, entries, bgid 0, flags. */
static void expect_reg_bytes(const struct fake_call *c, uint32_t buf_size,
			     uint32_t entries, uint16_t flags)
{
	unsigned char want[40] = { 0 };

	memcpy(want + 0, &buf_size, 4);
	memcpy(want + 8, &entries, 4);
	memcpy(want + 14, &flags, 2);
	assert_int_equal(c->nr_args, 1);
	assert_int_equal(c->arg_len, 40);
	assert_memory_equal(c->arg_copy, want, 40);
}

static void expect_query_bytes(const struct fake_call *c)
{
	const struct io_uring_kmbuf_query_hdr *h = (const void *)c->arg_copy;

	assert_int_equal(c->opcode, 35);
	assert_int_equal(c->fd, -1);
	assert_int_equal(c->nr_args, 0);
	assert_int_equal(h->next_entry, 0);
	assert_int_not_equal(h->query_data, 0);
	assert_int_equal(h->query_op, 0);
	assert_int_equal(h->size, 48);
	assert_int_equal(h->result, 0);
	assert_int_equal(h->resv[0] | h->resv[1] | h->resv[2], 0);
}

/* Detect on @name: the answer, once; a second call costs no syscall. */
static int detect_on(const char *name)
{
	int abi, n;

	use_model(name);
	abi = io_uring_kmbuf_abi();
	n = fake_nr_calls();
	assert_int_equal(io_uring_kmbuf_abi(), abi);
	assert_int_equal(io_uring_probe_kmbuf(), abi > 0);
	assert_int_equal(fake_nr_calls(), n);
	return abi;
}

static void any_37(void)
{
	int i;

	for (i = 0; i < fake_nr_calls(); i++)
		if (fake_call_at(i)->kind == FAKE_REGISTER)
			assert_int_not_equal(fake_call_at(i)->opcode, 37);
}

static void detect_6_1(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, -EINVAL }, { R, 22, -EINVAL },
		{ R, 39, -EINVAL }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("6.1"), IO_URING_KMBUF_ABI_NONE);
	expect_steps(want, 5);
	expect_query_bytes(fake_call_at(1));
	expect_reg_bytes(fake_call_at(2), page, 1, 1 | 4);
	expect_reg_bytes(fake_call_at(3), 0, 0, 0);
}

static void detect_6_18(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, 0 }, { R, 22, -EINVAL }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("6.18"), IO_URING_KMBUF_ABI_NONE);
	expect_steps(want, 4);
	expect_query_bytes(fake_call_at(1));
	expect_reg_bytes(fake_call_at(2), page, 1, 1 | 4);
}

/* BPF_FILTER at 37: no opcode from 37 up is ever sent. */
static void detect_mainline_7(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, 0 }, { R, 22, -EINVAL }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("7.x"), IO_URING_KMBUF_ABI_NONE);
	expect_steps(want, 4);
	any_37();
}

static void detect_seed(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, 0 }, { R, 22, -EINVAL },
		{ R, 39, -ENOENT }, { R, 38, 0 }, { MM, 0x88000000ULL, 0 },
		{ MU, 0, 0 }, { R, 39, 0 }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("seed"), IO_URING_KMBUF_ABI_SEED);
	expect_steps(want, 9);
	expect_reg_bytes(fake_call_at(3), 0, 0, 0);
	expect_reg_bytes(fake_call_at(4), page, 1, 0);
	expect_reg_bytes(fake_call_at(7), 0, 0, 0);
	any_37();
}

static void detect_seed_without_query(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, -EINVAL }, { R, 22, -EINVAL },
		{ R, 39, -ENOENT }, { R, 38, 0 }, { MM, 0x88000000ULL, 0 },
		{ MU, 0, 0 }, { R, 39, 0 }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("seed-noquery"), IO_URING_KMBUF_ABI_SEED);
	expect_steps(want, 9);
}

/* The only kernel that ever sees 37, and only after 38 said -ENOENT. */
static void detect_fuse(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, 0 }, { R, 22, -EINVAL },
		{ R, 38, -ENOENT }, { R, 37, 0 }, { MM, 0x88000000ULL, 0 },
		{ MU, 0, 0 }, { R, 38, 0 }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("fuse"), IO_URING_KMBUF_ABI_FUSE);
	expect_steps(want, 9);
	expect_reg_bytes(fake_call_at(3), 0, 0, 0);
	expect_reg_bytes(fake_call_at(4), page, 1, 0);
}

/* Without QUERY the FUSE pair cannot be told from BPF_FILTER: never asked. */
static void detect_fuse_without_query(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, -EINVAL }, { R, 22, -EINVAL },
		{ R, 39, -EINVAL }, { QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("fuse-noquery"), IO_URING_KMBUF_ABI_NONE);
	expect_steps(want, 5);
	any_37();
}

static void detect_flag(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, 0 }, { R, 22, 0 },
		{ MM, 0x80000000ULL, 0 }, { MU, 0, 0 }, { R, 23, 0 },
		{ QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("flag"), IO_URING_KMBUF_ABI_FLAG);
	expect_steps(want, 7);
	expect_reg_bytes(fake_call_at(2), page, 1, 1 | 4);
	expect_reg_bytes(fake_call_at(5), 0, 0, 0);
}

static void detect_flag_without_query(void **state)
{
	static const struct step want[] = {
		{ QI, 0, 0 }, { R, 35, -EINVAL }, { R, 22, 0 },
		{ MM, 0x80000000ULL, 0 }, { MU, 0, 0 }, { R, 23, 0 },
		{ QE, 0, 0 },
	};

	(void)state;
	assert_int_equal(detect_on("flag-noquery"), IO_URING_KMBUF_ABI_FLAG);
	expect_steps(want, 7);
}

/* io_uring_setup refused: -errno every time, never cached. */
static void detect_not_cached_on_error(void **state)
{
	static const int errs[] = { -EPERM, -EACCES, -ENOMEM, -ENOSYS };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		fake_reset();
		fake_push_queue_init(errs[i]);
		assert_int_equal(io_uring_kmbuf_abi(), errs[i]);
		assert_int_equal(fake_nr_calls(), 1);
		fake_push_queue_init(errs[i]);
		assert_int_equal(io_uring_probe_kmbuf(), errs[i]);
		assert_int_equal(fake_nr_calls(), 2);
	}
	/* io_uring works again: detected and cached now */
	fake_reset();
	use_model("seed");
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_SEED);
	assert_int_equal(fake_nr_calls(), 9);
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_SEED);
	assert_int_equal(fake_nr_calls(), 9);
}

/* -ENOMEM from the proving register (RLIMIT_MEMLOCK): could not tell. */
static void detect_enomem_not_cached(void **state)
{
	(void)state;
	use_model("flag");
	model.fail_register = -ENOMEM;
	assert_int_equal(io_uring_kmbuf_abi(), -ENOMEM);
	assert_int_equal(fake_nr_calls(), 4);	/* QI, 35, 22, QE */
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_FLAG);
	assert_int_equal(fake_nr_calls(), 4 + 7);
}

/* Answers no kernel of the list gives: -EPROTO, not a guess. */
static void detect_surprises(void **state)
{
	(void)state;
	/* QUERY "succeeds" without filling its header */
	fake_push_queue_init(0);
	fake_push_register(0);
	assert_int_equal(io_uring_kmbuf_abi(), -EPROTO);
	fake_assert_script_done();

	/* no QUERY, and 39 of a free bgid "succeeds" */
	fake_reset();
	fake_push_queue_init(0);
	fake_push_register(-EINVAL);	/* 35 */
	fake_push_register(-EINVAL);	/* 22 */
	fake_push_register(0);		/* 39 */
	assert_int_equal(io_uring_kmbuf_abi(), -EPROTO);
	fake_assert_script_done();

	/* an old kernel that looks fd -1 up first: no QUERY, as -EINVAL */
	fake_reset();
	fake_push_queue_init(0);
	fake_push_register(-EBADF);	/* 35 */
	fake_push_register(-EINVAL);	/* 22 */
	fake_push_register(-EINVAL);	/* 39 */
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_NONE);
}

/* Registered, but the offset does not map: "no", and unregistered again. */
static void detect_mmap_refused(void **state)
{
	(void)state;
	fake_push_queue_init(0);
	fake_push_register(-EINVAL);	/* 35 */
	fake_push_register(-EINVAL);	/* 22 */
	fake_push_register(-ENOENT);	/* 39 */
	fake_push_register(0);		/* 38 */
	fake_push_mmap(-EINVAL, NULL);
	fake_push_register(0);		/* 39 */
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_NONE);
	assert_int_equal(fake_call_at(6)->opcode, 39);
}

/* --- forcing ----------------------------------------------------------------- */

static void force_values(void **state)
{
	(void)state;
	assert_int_equal(io_uring_kmbuf_force_abi(4), -EINVAL);
	assert_int_equal(io_uring_kmbuf_force_abi(-2), -EINVAL);
	assert_int_equal(io_uring_dmabuf_force_abi(3), -EINVAL);
	assert_int_equal(io_uring_dmabuf_force_abi(-2), -EINVAL);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_FUSE), 0);
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_FUSE);
	assert_int_equal(io_uring_probe_kmbuf(), 1);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_NONE), 0);
	assert_int_equal(io_uring_probe_kmbuf(), 0);
	assert_int_equal(fake_nr_calls(), 0);
	/* back to detection */
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_DETECT), 0);
	use_model("6.18");
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_NONE);
	assert_int_equal(fake_nr_calls(), 4);
	/* a force wins over the cache, and lifting it finds the cache again */
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_SEED), 0);
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_SEED);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_DETECT), 0);
	assert_int_equal(io_uring_kmbuf_abi(), IO_URING_KMBUF_ABI_NONE);
	assert_int_equal(fake_nr_calls(), 4);
}

/* Forced "none": every kmbuf call says -EINVAL without a syscall. */
static void force_none(void **state)
{
	struct io_uring_kmbuf_reg reg = { .buf_size = 4096, .ring_entries = 1 };
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;
	void *bufs;

	(void)state;
	reg.buf_size = page;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_NONE), 0);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), -EINVAL);
	assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, 0), -EINVAL);
	assert_int_equal(io_uring_mmap_kmbuf(&ring, 0, page, &bufs), -EINVAL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 1, page, 0, NULL, &kb),
			 -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

/* The raw wrappers on a caller's ring, in generation @abi. */
static void raw_calls_in(int abi, unsigned int reg_op, unsigned int unreg_op,
			 uint16_t flags, uint64_t base)
{
	struct io_uring_kmbuf_reg reg, before;
	struct io_uring ring;
	const struct fake_call *c;
	void *bufs = NULL;

	fake_reset();
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_kmbuf_force_abi(abi), 0);
	memset(&reg, 0, sizeof(reg));
	reg.buf_size = 2 * page;
	reg.ring_entries = 8;
	reg.bgid = 9;
	before = reg;

	fake_push_register(0);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
	/* the caller's struct is input: the generation's flags go in a copy */
	assert_memory_equal(&reg, &before, sizeof(reg));
	c = fake_call_at(0);
	assert_int_equal(c->fd, RING_FD);
	assert_int_equal(c->opcode, reg_op);
	{
		unsigned char want[40] = { 0 };
		uint32_t v = 2 * page, e = 8;
		uint16_t bgid = 9;

		memcpy(want, &v, 4);
		memcpy(want + 8, &e, 4);
		memcpy(want + 12, &bgid, 2);
		memcpy(want + 14, &flags, 2);
		assert_memory_equal(c->arg_copy, want, 40);
	}

	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_mmap_kmbuf(&ring, 9, 16 * page, &bufs), 0);
	c = fake_call_at(1);
	assert_int_equal((uint64_t)c->offset, base | 9ULL << 16);
	assert_int_equal(c->len, 16 * page);

	fake_push_register(0);
	assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, 9), 0);
	c = fake_call_at(2);
	assert_int_equal(c->opcode, unreg_op);
	assert_int_equal(c->arg_copy[12], 9);
	assert_int_equal(c->arg_copy[14] | c->arg_copy[15], 0);
	assert_int_equal(fake_nr_calls(), 3);
	fake_assert_script_done();
}

static void raw_calls_per_generation(void **state)
{
	(void)state;
	raw_calls_in(IO_URING_KMBUF_ABI_SEED, 38, 39, 0, 0x88000000ULL);
	raw_calls_in(IO_URING_KMBUF_ABI_FUSE, 37, 38, 0, 0x88000000ULL);
	raw_calls_in(IO_URING_KMBUF_ABI_FLAG, 22, 23, 1 | 4, 0x80000000ULL);
}

/* The raw register ORs the generation's flags into what the caller set;
 * the generation's own bits the caller may not set. */
static void raw_flag_keeps_caller_flags(void **state)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_FLAG), 0);
	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = 1;
	reg.flags = IO_URING_KMBUF_F_INC;
	fake_push_register(-EINVAL);
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), -EINVAL);
	assert_int_equal(fake_call_at(0)->arg_copy[14], 1 | 2 | 4);
	assert_int_equal(reg.flags, IO_URING_KMBUF_F_INC);
	/* the generation's own bits from the caller: refused, as in the seed */
	reg.flags = IO_URING_KMBUF_F_MMAP;
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), -EINVAL);
	reg.flags = IO_URING_KMBUF_F_KERNEL_MANAGED;
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), -EINVAL);
	assert_int_equal(fake_nr_calls(), 1);
}

/* Not forced: the first raw call detects on a private ring, then acts. */
static void raw_call_detects_first(void **state)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring ring;
	const struct fake_call *c;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = 4;
	reg.bgid = 0;
	use_model("fuse");
	assert_int_equal(io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
	assert_int_equal(fake_nr_calls(), 10);
	c = fake_call_at(9);
	assert_int_equal(c->fd, RING_FD);
	assert_int_equal(c->opcode, 37);
	assert_int_equal(io_uring_unregister_kmbuf_ring(&ring, 0), 0);
	assert_int_equal(fake_nr_calls(), 11);
	assert_int_equal(fake_call_at(10)->opcode, 38);
}

/* setup + free in generation @abi, forced process-wide or through @opts. */
static void setup_free_in(int abi, const struct io_uring_kmbuf_opts *opts,
			  unsigned int reg_op, unsigned int unreg_op,
			  uint16_t flags, uint64_t base)
{
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;
	const struct fake_call *c;

	fake_reset();
	fake_ring_init(&ring, RING_FD);
	if (abi)
		assert_int_equal(io_uring_kmbuf_force_abi(abi), 0);
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 4, page, 3, opts, &kb),
			 0);
	c = fake_call_at(0);
	assert_int_equal(c->opcode, reg_op);
	assert_int_equal(c->arg_copy[14], flags);
	c = fake_call_at(1);
	assert_int_equal((uint64_t)c->offset, base | 3ULL << 16);
	assert_int_equal(c->len, 4 * page);

	/* a force after setup does not change the handle's generation */
	assert_int_equal(io_uring_kmbuf_force_abi(abi == IO_URING_KMBUF_ABI_SEED ?
			IO_URING_KMBUF_ABI_FLAG : IO_URING_KMBUF_ABI_SEED), 0);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
	c = fake_call_at(2);
	assert_int_equal(c->opcode, unreg_op);
	assert_int_equal(c->arg_copy[12], 3);
	assert_int_equal(fake_call_at(3)->kind, FAKE_MUNMAP);
	fake_assert_script_done();
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_DETECT), 0);
}

static void setup_free_per_generation(void **state)
{
	(void)state;
	setup_free_in(IO_URING_KMBUF_ABI_SEED, NULL, 38, 39, 0, 0x88000000ULL);
	setup_free_in(IO_URING_KMBUF_ABI_FUSE, NULL, 37, 38, 0, 0x88000000ULL);
	setup_free_in(IO_URING_KMBUF_ABI_FLAG, NULL, 22, 23, 5, 0x80000000ULL);
}

/* The per-call choice wins over the process's (forced or detected). */
static void setup_opts_abi(void **state)
{
	struct io_uring_kmbuf_opts opts;

	(void)state;
	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	opts.abi = IO_URING_KMBUF_ABI_FUSE;
	setup_free_in(IO_URING_KMBUF_ABI_SEED, &opts, 37, 38, 0, 0x88000000ULL);
	opts.abi = IO_URING_KMBUF_ABI_FLAG;
	setup_free_in(IO_URING_KMBUF_ABI_SEED, &opts, 22, 23, 5, 0x80000000ULL);
	/* not forced and not detected: the option alone, no detection */
	opts.abi = IO_URING_KMBUF_ABI_SEED;
	setup_free_in(0, &opts, 38, 39, 0, 0x88000000ULL);
}

/* An old caller's struct ends before abi: whatever follows is not read. */
static void setup_opts_old_size(void **state)
{
	struct {
		struct io_uring_kmbuf_opts opts;
		int after;
	} o;
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_SEED), 0);
	memset(&o, 0, sizeof(o));
	o.opts.sz = offsetof(struct io_uring_kmbuf_opts, abi);
	o.opts.abi = 77;	/* beyond sz: not the caller's field */
	fake_push_register(0);
	fake_push_mmap(0, NULL);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 1, page, 0, &o.opts, &kb),
			 0);
	assert_int_equal(fake_call_at(0)->opcode, 38);
	fake_push_register(0);
	fake_push_munmap(0);
	assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
}

static void setup_opts_bad_abi(void **state)
{
	static const int bad[] = { -1, 4, 100, INT_MIN };
	struct io_uring_kmbuf_opts opts;
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;
	size_t i;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&opts, 0, sizeof(opts));
		opts.sz = sizeof(opts);
		opts.abi = bad[i];
		assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 1, page, 0,
							   &opts, &kb), -EINVAL);
	}
	assert_int_equal(fake_nr_calls(), 0);
	assert_null(kb);
}

/* The page-count rule follows the generation; checked before any syscall. */
static void setup_page_count_rule(void **state)
{
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;
	/* (buf_size / page) * entries = 2^20 * 2^13 > UINT_MAX, with 4 KiB pages */
	unsigned int buf_size = (unsigned int)((1ULL << 32) - page);
	unsigned int entries = 8192;

	(void)state;
	if ((__u64)(buf_size / page) * entries <= UINT_MAX)
		skip();
	/* 32 bits: the region does not fit a size_t, -EINVAL before this rule */
	if ((__u64)buf_size * entries > SIZE_MAX)
		skip();
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_SEED), 0);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, entries, buf_size, 0,
						   NULL, &kb), -EINVAL);
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_FUSE), 0);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, entries, buf_size, 0,
						   NULL, &kb), -E2BIG);
	assert_int_equal(fake_nr_calls(), 0);
	/* the flag generation leaves it to its kernel */
	assert_int_equal(io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_FLAG), 0);
	fake_push_register(-ENOMEM);
	assert_int_equal(io_uring_setup_kmbuf_ring(&ring, entries, buf_size, 0,
						   NULL, &kb), -ENOMEM);
	assert_int_equal(fake_call_at(0)->opcode, 22);
	assert_null(kb);
}

/* Setup on a model kernel: detect, register, map; free: nothing left. */
static void setup_free_detected(void **state)
{
	static const char *const names[] = { "seed", "fuse", "flag" };
	struct io_uring_kmbuf *kb = NULL;
	struct io_uring ring;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		fake_reset();
		kmbuf_abi_reset();
		use_model(names[i]);
		fake_ring_init(&ring, RING_FD);
		assert_int_equal(io_uring_setup_kmbuf_ring(&ring, 1, page, 0,
							   NULL, &kb), 0);
		assert_true(model.ring);
		assert_int_equal(model.maps, 1);
		assert_int_equal(io_uring_free_kmbuf_ring(&ring, kb), 0);
		assert_false(model.ring);
		assert_int_equal(model.maps, 0);
		assert_int_equal(fake_live_allocs(), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(detect_6_1),
		T(detect_6_18),
		T(detect_mainline_7),
		T(detect_seed),
		T(detect_seed_without_query),
		T(detect_fuse),
		T(detect_fuse_without_query),
		T(detect_flag),
		T(detect_flag_without_query),
		T(detect_not_cached_on_error),
		T(detect_enomem_not_cached),
		T(detect_surprises),
		T(detect_mmap_refused),
		T(force_values),
		T(force_none),
		T(raw_calls_per_generation),
		T(raw_flag_keeps_caller_flags),
		T(raw_call_detects_first),
		T(setup_free_per_generation),
		T(setup_opts_abi),
		T(setup_opts_old_size),
		T(setup_opts_bad_abi),
		T(setup_page_count_rule),
		T(setup_free_detected),
#undef T
	};

	page = (unsigned int)sysconf(_SC_PAGESIZE);
	return cmocka_run_group_tests_name("kmbuf-abi", tests, NULL, NULL) ?
		1 : 0;
}
