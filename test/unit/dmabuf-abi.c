/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Unit tests of the dmabuf generations (src/abi.c, src/dmabuf.c): the
 * detection against modelled kernels (no sparse tables, mainline, seed,
 * descriptor), the bytes of each generation's entries (-1/-1 in the seed,
 * 0/0 in the descriptors, never mixed up), and the batch update with tags,
 * empty entries and partial application.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
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
#define BLOCK_FD	50	/* a block device opened O_DIRECT */
#define DMABUF_FD	100	/* fds from here up are dma-bufs */
#define MAX_SLOTS	16
#define MAX_SEEN	8

enum { D_NONE, D_SEED, D_DESC };

struct model {
	const char	*name;
	bool		sparse;		/* has IORING_REGISTER_BUFFERS2 sparse */
	int		gen;		/* D_* */
	int		ring_fd;	/* fd of the ring the calls come on */
	/* state */
	unsigned int	table;		/* slots; 0: no table */
	int		slot[MAX_SLOTS];	/* 0 empty, 1 user, 2 dma-buf */
	__u64		tag[MAX_SLOTS];
	/* the last update as the kernel saw it */
	__u32		flags;
	unsigned int	nr;
	__u64		tags_ptr;
	struct io_uring_dmabuf_reg reg[MAX_SEEN];
	struct iovec	iov[MAX_SEEN];
	struct io_uring_dmabuf_desc desc[MAX_SEEN];
	/* entry 0 of each extended update, in order */
	int		nupd;
	struct io_uring_dmabuf_desc hist_desc[MAX_SEEN];
	struct io_uring_dmabuf_reg hist_reg[MAX_SEEN];
};

static struct model model;
#define M (&model)

static int m_queue_init(struct fake_call *call)
{
	(void)call;
	M->ring_fd = FAKE_RING_FD;
	return 0;
}

static void m_queue_exit(struct fake_call *call)
{
	(void)call;
	M->table = 0;
	M->ring_fd = RING_FD;
}

static bool is_dmabuf(int fd)
{
	return fd >= DMABUF_FD;
}

static bool is_open(int fd)
{
	return fd >= 0 && (fd == M->ring_fd || fd == BLOCK_FD ||
			   fd == 0 || is_dmabuf(fd));
}

/* The dma-buf path's checks, in the testbed's order. */
static int m_dmabuf_checks(int target_fd, int dmabuf_fd)
{
	if (!is_open(target_fd))
		return -EBADF;
	if (!is_open(dmabuf_fd))
		return -EBADF;
	if (!is_dmabuf(dmabuf_fd))
		return -EINVAL;
	if (target_fd != BLOCK_FD && target_fd != 0)
		return -EOPNOTSUPP;
	return 0;
}

static int m_seed_entry(unsigned int i, const struct io_uring_dmabuf_reg *r)
{
	const struct iovec *iov = (const void *)(uintptr_t)r->iov_uaddr;
	int ret;

	if (!iov)
		return -EFAULT;
	if (i < MAX_SEEN) {
		M->reg[i] = *r;
		M->iov[i] = *iov;
	}
	if (r->target_fd == -1 && r->dmabuf_fd == -1)
		return iov->iov_base ? 1 : 0;
	if (iov->iov_base || iov->iov_len)
		return -EFAULT;
	ret = m_dmabuf_checks(r->target_fd, r->dmabuf_fd);
	return ret ? ret : 2;
}

static int m_desc_entry(unsigned int i, const struct io_uring_dmabuf_desc *d)
{
	unsigned int k;
	int ret;

	if (i < MAX_SEEN)
		M->desc[i] = *d;
	for (k = 0; k < 6; k++)
		if (d->resv[k])
			return -EINVAL;
	if (d->flags)
		return -EINVAL;
	switch (d->type) {
	case 0:
	case 1:
		if (d->dmabuf_fd || d->target_fd)
			return -EINVAL;
		if (d->type == 0)
			return d->uaddr || d->size ? -EFAULT : 0;
		return 1;
	case 2:
		if (d->uaddr || d->size)
			return -EINVAL;
		ret = m_dmabuf_checks(d->target_fd, d->dmabuf_fd);
		return ret ? ret : 2;
	}
	return -EINVAL;
}

static int m_update(struct fake_call *call, const void *arg)
{
	const struct io_uring_dmabuf_update *up = arg;
	const __u64 *tags = (const void *)(uintptr_t)up->tags;
	unsigned int i, done = 0;
	int ret = 0;

	assert_int_equal(call->nr_args, sizeof(*up));
	if (!M->table)
		return -ENXIO;
	M->flags = up->flags;
	M->nr = up->nr;
	M->tags_ptr = up->tags;
	if (up->flags) {
		if ((M->gen == D_SEED && up->flags != 1) ||
		    (M->gen == D_DESC && up->flags != 2) || M->gen == D_NONE)
			return -EINVAL;
	}
	if (up->offset + up->nr > M->table)
		return -EINVAL;
	if (up->flags && up->nr && M->nupd < MAX_SEEN) {
		if (M->gen == D_DESC)
			memcpy(&M->hist_desc[M->nupd],
			       (const void *)(uintptr_t)up->data,
			       sizeof(struct io_uring_dmabuf_desc));
		else
			memcpy(&M->hist_reg[M->nupd],
			       (const void *)(uintptr_t)up->data,
			       sizeof(struct io_uring_dmabuf_reg));
		M->nupd++;
	}
	for (i = 0; i < up->nr; i++) {
		__u64 tag = tags ? tags[i] : 0;

		if (!up->flags) {
			const struct iovec *iov =
				(const void *)(uintptr_t)up->data;

			ret = iov[i].iov_base ? 1 : 0;
		} else if (M->gen == D_SEED) {
			const struct io_uring_dmabuf_reg *r =
				(const void *)(uintptr_t)up->data;

			ret = m_seed_entry(i, &r[i]);
		} else {
			const struct io_uring_dmabuf_desc *d =
				(const void *)(uintptr_t)up->data;

			ret = m_desc_entry(i, &d[i]);
		}
		if (ret >= 0 && tag && ret == 0)
			ret = -EINVAL;	/* a tag needs a buffer */
		if (ret < 0)
			break;
		M->slot[up->offset + i] = ret;
		M->tag[up->offset + i] = tag;
		done++;
	}
	return done ? (int)done : ret;
}

static int m_reg(struct fake_call *call, const void *arg)
{
	const struct io_uring_rsrc_register *rr = arg;

	switch (call->opcode & ~IO_URING_KMBUF_USE_REGISTERED_RING) {
	case IORING_REGISTER_BUFFERS2:
		if (!M->sparse)
			return -EINVAL;
		assert_int_equal(rr->flags, IORING_RSRC_REGISTER_SPARSE);
		if (M->table)
			return -EBUSY;
		M->table = rr->nr;
		memset(M->slot, 0, sizeof(M->slot));
		return 0;
	case IO_URING_DMABUF_UPDATE_OP:
		return m_update(call, arg);
	}
	fail_msg("%s: opcode %u was not expected", M->name, call->opcode);
	return -EINVAL;
}

static int m_mmap(struct fake_call *call, void **addr)
{
	(void)call;
	(void)addr;
	fail_msg("a dmabuf call mapped something");
	return -EINVAL;
}

static int m_munmap(struct fake_call *call)
{
	(void)call;
	fail_msg("a dmabuf call unmapped something");
	return -EINVAL;
}

static const struct fake_kernel model_kernel = {
	.queue_init = m_queue_init,
	.reg = m_reg,
	.mmap = m_mmap,
	.munmap = m_munmap,
	.queue_exit = m_queue_exit,
};

static void use_model(const char *name, bool sparse, int gen)
{
	memset(&model, 0, sizeof(model));
	model.name = name;
	model.sparse = sparse;
	model.gen = gen;
	model.ring_fd = RING_FD;
	fake_kernel = &model_kernel;
}

static int setup(void **state)
{
	(void)state;
	fake_reset();
	kmbuf_abi_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_assert_script_done();
	assert_int_equal(fake_live_allocs(), 0);
	kmbuf_abi_reset();
	return 0;
}

/* --- detection ---------------------------------------------------------------- */

static void expect_call(int i, unsigned int opcode, __u32 flags, int ret)
{
	const struct fake_call *c = fake_call_at(i);
	const struct io_uring_dmabuf_update *up = (const void *)c->arg_copy;

	assert_int_equal(c->kind, FAKE_REGISTER);
	assert_int_equal(c->fd, FAKE_RING_FD);
	assert_int_equal(c->opcode, opcode);
	assert_int_equal(c->ret, ret);
	if (opcode == 16) {
		assert_int_equal(up->flags, flags);
		assert_int_equal(up->nr, 1);
		assert_int_equal(up->offset, 0);
		assert_int_equal(up->tags, 0);
	}
}

static int detect(void)
{
	int abi = io_uring_dmabuf_abi();
	int n = fake_nr_calls();

	assert_int_equal(io_uring_dmabuf_abi(), abi);
	assert_int_equal(io_uring_probe_dmabuf(), abi > 0);
	assert_int_equal(fake_nr_calls(), n);
	assert_int_equal(fake_call_at(0)->kind, FAKE_QUEUE_INIT);
	assert_int_equal(fake_call_at(n - 1)->kind, FAKE_QUEUE_EXIT);
	return abi;
}

static void detect_no_sparse(void **state)
{
	(void)state;
	use_model("5.15", false, D_NONE);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_NONE);
	assert_int_equal(fake_nr_calls(), 3);
	expect_call(1, 15, 0, -EINVAL);
}

static void detect_mainline(void **state)
{
	(void)state;
	use_model("6.18", true, D_NONE);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_NONE);
	assert_int_equal(fake_nr_calls(), 5);
	expect_call(1, 15, 0, 0);
	expect_call(2, 16, 2, -EINVAL);
	expect_call(3, 16, 1, -EINVAL);
}

static void detect_seed(void **state)
{
	(void)state;
	use_model("seed", true, D_SEED);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_SEED);
	assert_int_equal(fake_nr_calls(), 6);
	expect_call(1, 15, 0, 0);
	expect_call(2, 16, 2, -EINVAL);
	expect_call(3, 16, 1, 1);
	expect_call(4, 16, 1, -EBADF);
	/* the seed's "no fd" is -1/-1; its dma-buf probe: ring fd, no dma-buf */
	assert_int_equal(model.reg[0].target_fd, FAKE_RING_FD);
	assert_int_equal(model.reg[0].dmabuf_fd, -1);
}

static void detect_desc(void **state)
{
	(void)state;
	use_model("desc", true, D_DESC);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_DESC);
	assert_int_equal(fake_nr_calls(), 5);
	expect_call(1, 15, 0, 0);
	expect_call(2, 16, 2, 1);
	expect_call(3, 16, 2, -EINVAL);
	/* the second descriptor: DMABUF, the ring fd as both fds */
	assert_int_equal(model.desc[0].type, 2);
	assert_int_equal(model.desc[0].dmabuf_fd, FAKE_RING_FD);
	assert_int_equal(model.desc[0].target_fd, FAKE_RING_FD);
	assert_int_equal(model.desc[0].size | model.desc[0].uaddr, 0);
}

/* The first descriptor was EMPTY with fds 0/0, the seed's entry -1/-1. */
static void detect_no_fd_values(void **state)
{
	const struct io_uring_dmabuf_desc zero = { 0 };

	(void)state;
	use_model("desc", true, D_DESC);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_DESC);
	assert_int_equal(model.nupd, 2);
	assert_memory_equal(&model.hist_desc[0], &zero, sizeof(zero));

	fake_reset();
	kmbuf_abi_reset();
	use_model("seed", true, D_SEED);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_SEED);
	assert_int_equal(model.nupd, 2);	/* flag 2 was refused first */
	assert_int_equal(model.hist_reg[0].target_fd, -1);
	assert_int_equal(model.hist_reg[0].dmabuf_fd, -1);
	assert_int_equal(model.hist_reg[1].target_fd, FAKE_RING_FD);
	assert_int_equal(model.hist_reg[1].dmabuf_fd, -1);
}

static void detect_errors_not_cached(void **state)
{
	(void)state;
	fake_push_queue_init(-EPERM);
	assert_int_equal(io_uring_dmabuf_abi(), -EPERM);
	fake_push_queue_init(0);
	fake_push_register(-ENOMEM);	/* the table */
	assert_int_equal(io_uring_probe_dmabuf(), -ENOMEM);
	fake_push_queue_init(0);
	fake_push_register(0);		/* 15 */
	fake_push_register(2);		/* flag 2 applies two of one: nonsense */
	assert_int_equal(io_uring_dmabuf_abi(), -EPROTO);
	fake_push_queue_init(0);
	fake_push_register(0);		/* 15 */
	fake_push_register(1);		/* flag 2, EMPTY */
	fake_push_register(1);		/* the ring taken as a dma-buf */
	assert_int_equal(io_uring_dmabuf_abi(), -EPROTO);
	fake_assert_script_done();
	/* finally an answer: cached */
	fake_reset();
	use_model("seed", true, D_SEED);
	assert_int_equal(detect(), IO_URING_DMABUF_ABI_SEED);
}

static void force_dmabuf(void **state)
{
	struct io_uring ring;

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_dmabuf_force_abi(IO_URING_DMABUF_ABI_DESC), 0);
	assert_int_equal(io_uring_dmabuf_abi(), IO_URING_DMABUF_ABI_DESC);
	assert_int_equal(io_uring_probe_dmabuf(), 1);
	assert_int_equal(io_uring_dmabuf_force_abi(IO_URING_DMABUF_ABI_NONE), 0);
	assert_int_equal(io_uring_probe_dmabuf(), 0);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 0, BLOCK_FD,
							 DMABUF_FD), -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

/* --- the single-slot calls in each generation --------------------------------- */

static void register_buffer_in(int abi, int gen)
{
	struct io_uring ring;
	const struct fake_call *c;
	const struct io_uring_dmabuf_update *up;

	fake_reset();
	use_model("m", true, gen);
	model.table = 4;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_dmabuf_force_abi(abi), 0);
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 3, BLOCK_FD,
							 DMABUF_FD), 0);
	assert_int_equal(model.slot[3], 2);
	c = fake_call_at(0);
	up = (const void *)c->arg_copy;
	assert_int_equal(c->opcode, 16);
	assert_int_equal(up->offset, 3);
	assert_int_equal(up->nr, 1);
	assert_int_equal(up->flags, abi == IO_URING_DMABUF_ABI_SEED ? 1 : 2);
	if (abi == IO_URING_DMABUF_ABI_SEED) {
		assert_int_equal(model.reg[0].target_fd, BLOCK_FD);
		assert_int_equal(model.reg[0].dmabuf_fd, DMABUF_FD);
		assert_null(model.iov[0].iov_base);
		assert_int_equal(model.iov[0].iov_len, 0);
	} else {
		assert_int_equal(model.desc[0].type, 2);
		assert_int_equal(model.desc[0].target_fd, BLOCK_FD);
		assert_int_equal(model.desc[0].dmabuf_fd, DMABUF_FD);
	}
	/* the kernel's refusal, as it is */
	assert_int_equal(io_uring_register_dmabuf_buffer(&ring, 3, RING_FD,
							 DMABUF_FD), -EOPNOTSUPP);
	/* unregister: a plain update, the same in both generations */
	assert_int_equal(io_uring_unregister_dmabuf_buffer(&ring, 3), 0);
	assert_int_equal(model.slot[3], 0);
	assert_int_equal(model.flags, 0);
}

static void register_per_generation(void **state)
{
	(void)state;
	register_buffer_in(IO_URING_DMABUF_ABI_SEED, D_SEED);
	register_buffer_in(IO_URING_DMABUF_ABI_DESC, D_DESC);
}

/* --- the batch ------------------------------------------------------------------ */

static char user_mem[8192];

/* EMPTY, DMABUF, USER, DMABUF on fd 0: every kind, fd 0 a real fd. */
static const struct io_uring_dmabuf_entry batch[4] = {
	{ .kind = IO_URING_DMABUF_ENTRY_EMPTY },
	{ .kind = IO_URING_DMABUF_ENTRY_DMABUF, .target_fd = BLOCK_FD,
	  .dmabuf_fd = DMABUF_FD },
	{ .kind = IO_URING_DMABUF_ENTRY_USER, .addr = user_mem,
	  .len = sizeof(user_mem) },
	{ .kind = IO_URING_DMABUF_ENTRY_DMABUF, .target_fd = 0,
	  .dmabuf_fd = DMABUF_FD + 1 },
};

static const __u64 batch_tags[4] = { 0, 0x1111, 0x2222, 0x3333 };

static void batch_seed_bytes(void **state)
{
	struct io_uring ring;

	(void)state;
	use_model("seed", true, D_SEED);
	model.table = 8;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_dmabuf_force_abi(IO_URING_DMABUF_ABI_SEED), 0);
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 2, batch,
							batch_tags, 4), 4);
	assert_int_equal(fake_nr_calls(), 1);
	assert_int_equal(model.flags, 1);
	assert_int_equal(model.nr, 4);
	assert_int_equal(model.tags_ptr, (__u64)(uintptr_t)batch_tags);
	/* EMPTY: an empty iovec and -1/-1 */
	assert_int_equal(model.reg[0].target_fd, -1);
	assert_int_equal(model.reg[0].dmabuf_fd, -1);
	assert_null(model.iov[0].iov_base);
	assert_int_equal(model.iov[0].iov_len, 0);
	assert_int_equal(model.reg[1].target_fd, BLOCK_FD);
	assert_int_equal(model.reg[1].dmabuf_fd, DMABUF_FD);
	assert_null(model.iov[1].iov_base);
	/* USER: the memory in the iovec, -1/-1 */
	assert_int_equal(model.reg[2].target_fd, -1);
	assert_int_equal(model.reg[2].dmabuf_fd, -1);
	assert_ptr_equal(model.iov[2].iov_base, user_mem);
	assert_int_equal(model.iov[2].iov_len, sizeof(user_mem));
	/* fd 0 stays fd 0 */
	assert_int_equal(model.reg[3].target_fd, 0);
	assert_int_equal(model.reg[3].dmabuf_fd, DMABUF_FD + 1);
	assert_int_equal(model.slot[2], 0);
	assert_int_equal(model.slot[3], 2);
	assert_int_equal(model.slot[4], 1);
	assert_int_equal(model.slot[5], 2);
	assert_int_equal(model.tag[3], 0x1111);
	assert_int_equal(model.tag[5], 0x3333);
}

static void batch_desc_bytes(void **state)
{
	struct io_uring ring;
	unsigned int i, k;

	(void)state;
	use_model("desc", true, D_DESC);
	model.table = 8;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_dmabuf_force_abi(IO_URING_DMABUF_ABI_DESC), 0);
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 2, batch,
							batch_tags, 4), 4);
	assert_int_equal(fake_nr_calls(), 1);
	assert_int_equal(model.flags, 2);
	assert_int_equal(model.nr, 4);
	assert_int_equal(model.tags_ptr, (__u64)(uintptr_t)batch_tags);
	/* EMPTY: type 0, fds 0/0 */
	assert_int_equal(model.desc[0].type, 0);
	assert_int_equal(model.desc[0].target_fd, 0);
	assert_int_equal(model.desc[0].dmabuf_fd, 0);
	assert_int_equal(model.desc[1].type, 2);
	assert_int_equal(model.desc[1].target_fd, BLOCK_FD);
	assert_int_equal(model.desc[1].dmabuf_fd, DMABUF_FD);
	assert_int_equal(model.desc[1].uaddr | model.desc[1].size, 0);
	/* USER: UADDR with fds 0/0 */
	assert_int_equal(model.desc[2].type, 1);
	assert_int_equal(model.desc[2].uaddr, (__u64)(uintptr_t)user_mem);
	assert_int_equal(model.desc[2].size, sizeof(user_mem));
	assert_int_equal(model.desc[2].target_fd, 0);
	assert_int_equal(model.desc[2].dmabuf_fd, 0);
	assert_int_equal(model.desc[3].type, 2);
	assert_int_equal(model.desc[3].target_fd, 0);
	assert_int_equal(model.desc[3].dmabuf_fd, DMABUF_FD + 1);
	for (i = 0; i < 4; i++) {
		assert_int_equal(model.desc[i].flags, 0);
		for (k = 0; k < 6; k++)
			assert_int_equal(model.desc[i].resv[k], 0);
	}
	assert_int_equal(model.slot[3], 2);
	assert_int_equal(model.slot[4], 1);
	assert_int_equal(model.tag[4], 0x2222);
}

/* Stops at the first refused entry: the count so far, or its -errno. */
static void batch_partial_in(int abi, int gen)
{
	struct io_uring_dmabuf_entry e[3];
	struct io_uring ring;

	fake_reset();
	use_model("m", true, gen);
	model.table = 8;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_dmabuf_force_abi(abi), 0);
	memcpy(e, batch, sizeof(e));
	e[1].dmabuf_fd = BLOCK_FD;	/* not a dma-buf: -EINVAL there */
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 3), 1);
	assert_int_equal(model.slot[2], 0);	/* not reached */
	/* the caller resumes at the refused entry and gets its error */
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 1, &e[1], NULL, 2),
			 -EINVAL);
	assert_int_equal(fake_nr_calls(), 2);
}

static void batch_partial(void **state)
{
	(void)state;
	batch_partial_in(IO_URING_DMABUF_ABI_SEED, D_SEED);
	batch_partial_in(IO_URING_DMABUF_ABI_DESC, D_DESC);
}

/* Entries the library refuses before the kernel sees any of the batch. */
static void batch_invalid(void **state)
{
	struct io_uring_dmabuf_entry e[2];
	struct io_uring ring;
	__u64 tags[2] = { 0, 0 };

	(void)state;
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_dmabuf_force_abi(IO_URING_DMABUF_ABI_DESC), 0);
	memcpy(e, batch, sizeof(e));
	assert_int_equal(io_uring_update_dmabuf_buffers(NULL, 0, e, NULL, 2),
			 -EINVAL);
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, NULL, NULL, 2),
			 -EINVAL);
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 0),
			 -EINVAL);
	/* an EMPTY entry with the seed's -1/-1 habit */
	e[0].target_fd = e[0].dmabuf_fd = -1;
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 2),
			 -EINVAL);
	memcpy(e, batch, sizeof(e));
	e[1].dmabuf_fd = -1;
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 2),
			 -EBADF);
	memcpy(e, batch, sizeof(e));
	e[1].len = 4096;
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 2),
			 -EINVAL);
	memcpy(e, batch, sizeof(e));
	e[1].flags = 1;
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 2),
			 -EINVAL);
	memcpy(e, batch, sizeof(e));
	e[1].kind = 3;
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, NULL, 2),
			 -EINVAL);
	/* a tag on an EMPTY entry: nothing would ever release it */
	memcpy(e, batch, sizeof(e));
	tags[0] = 5;
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, e, tags, 2),
			 -EINVAL);
	assert_int_equal(fake_nr_calls(), 0);
}

/* Not forced: the batch detects first, then sends the generation's bytes. */
static void batch_detects_first(void **state)
{
	struct io_uring ring;

	(void)state;
	use_model("desc", true, D_DESC);
	fake_ring_init(&ring, RING_FD);
	assert_int_equal(io_uring_update_dmabuf_buffers(&ring, 0, batch, NULL, 4),
			 -ENXIO);	/* the private ring's table is gone */
	assert_int_equal(fake_nr_calls(), 6);
	assert_int_equal(model.flags, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(detect_no_sparse),
		T(detect_mainline),
		T(detect_seed),
		T(detect_desc),
		T(detect_no_fd_values),
		T(detect_errors_not_cached),
		T(force_dmabuf),
		T(register_per_generation),
		T(batch_seed_bytes),
		T(batch_desc_bytes),
		T(batch_partial),
		T(batch_invalid),
		T(batch_detects_first),
#undef T
	};

	return cmocka_run_group_tests_name("dmabuf-abi", tests, NULL, NULL) ?
		1 : 0;
}
