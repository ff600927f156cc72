/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Which generation of each kernel ABI the process uses: one table row per
 * generation, a process-wide force, and the detection's answer, found
 * once and cached.
 *
 * The fast path is one atomic load. The first caller runs the detection
 * under a mutex, so concurrent first callers wait for one detection
 * instead of running several; only a definitive answer (a generation, or
 * "none") is cached. A -errno (io_uring_setup refused with -EPERM, -ENOMEM,
 * a surprise the library does not understand) is returned to the caller
 * and asked again next time, so a process that gets io_uring later, or
 * has memory again, is not stuck with a wrong "no".
 */
#include <errno.h>
#include <pthread.h>

#include "lib.h"

static const struct kmbuf_gen kmbuf_gens[] = {
	{
		.abi = IO_URING_KMBUF_ABI_SEED,
		.reg_op = IO_URING_KMBUF_REGISTER_OP,
		.unreg_op = IO_URING_KMBUF_UNREGISTER_OP,
		.mmap_base = IO_URING_KMBUF_OFF_RING,
		.pages_err = -EINVAL,
		.unreg_proves = 1,
	},
	{
		.abi = IO_URING_KMBUF_ABI_FUSE,
		.reg_op = IO_URING_KMBUF_FUSE_REGISTER_OP,
		.unreg_op = IO_URING_KMBUF_FUSE_UNREGISTER_OP,
		.mmap_base = IO_URING_KMBUF_OFF_RING,
		.pages_err = -E2BIG,
		.unreg_proves = 1,
	},
	{
		.abi = IO_URING_KMBUF_ABI_FLAG,
		.reg_op = IO_URING_KMBUF_PBUF_REGISTER_OP,
		.unreg_op = IO_URING_KMBUF_PBUF_UNREGISTER_OP,
		.reg_flags = IO_URING_KMBUF_F_MMAP |
			     IO_URING_KMBUF_F_KERNEL_MANAGED,
		.mmap_base = IO_URING_KMBUF_OFF_PBUF_RING,
		/* the posting says nothing of it: the kernel answers */
		.pages_err = 0,
		/* 23 on a free bgid is -ENOENT on every kernel since 5.19 */
		.unreg_proves = 0,
	},
};

static const struct dmabuf_gen dmabuf_gens[] = {
	{
		.abi = IO_URING_DMABUF_ABI_SEED,
		.update_flag = IO_URING_DMABUF_F_EXTENDED_UPDATE,
		.entry_size = sizeof(struct io_uring_dmabuf_reg),
	},
	{
		.abi = IO_URING_DMABUF_ABI_DESC,
		.update_flag = IO_URING_DMABUF_F_UPDATE_EXTENDED,
		.entry_size = sizeof(struct io_uring_dmabuf_desc),
	},
};

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

const struct kmbuf_gen *kmbuf_gen_of(int abi)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(kmbuf_gens); i++)
		if (kmbuf_gens[i].abi == abi)
			return &kmbuf_gens[i];
	return NULL;
}

const struct dmabuf_gen *dmabuf_gen_of(int abi)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(dmabuf_gens); i++)
		if (dmabuf_gens[i].abi == abi)
			return &dmabuf_gens[i];
	return NULL;
}

/* No value: neither forced nor detected yet. */
#define ABI_UNSET	(-1)

struct abi_state {
	int		forced;		/* ABI_UNSET or a value; atomic */
	int		detected;	/* ABI_UNSET or a value >= 0; atomic */
	int		max;		/* the highest generation value */
	int		(*detect)(struct io_uring *ring);
	pthread_mutex_t	lock;		/* held while detecting */
};

static struct abi_state kmbuf_state = {
	.forced = ABI_UNSET,
	.detected = ABI_UNSET,
	.max = IO_URING_KMBUF_ABI_FLAG,
	.detect = kmbuf_detect,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static struct abi_state dmabuf_state = {
	.forced = ABI_UNSET,
	.detected = ABI_UNSET,
	.max = IO_URING_DMABUF_ABI_DESC,
	.detect = dmabuf_detect,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static int abi_get(struct abi_state *s)
{
	int v;

	v = __atomic_load_n(&s->forced, __ATOMIC_ACQUIRE);
	if (v != ABI_UNSET)
		return v;
	v = __atomic_load_n(&s->detected, __ATOMIC_ACQUIRE);
	if (v != ABI_UNSET)
		return v;

	pthread_mutex_lock(&s->lock);
	v = __atomic_load_n(&s->detected, __ATOMIC_ACQUIRE);
	if (v == ABI_UNSET) {
		v = kmbuf_probe_with_ring(s->detect);
		if (v >= 0)
			__atomic_store_n(&s->detected, v, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* IO_URING_*_ABI_DETECT is -1 for both, the same as ABI_UNSET. */
static int abi_force(struct abi_state *s, int abi)
{
	if (abi < ABI_UNSET || abi > s->max)
		return -EINVAL;
	__atomic_store_n(&s->forced, abi, __ATOMIC_RELEASE);
	return 0;
}

int io_uring_kmbuf_abi(void)
{
	return abi_get(&kmbuf_state);
}

int io_uring_kmbuf_force_abi(int abi)
{
	return abi_force(&kmbuf_state, abi);
}

int io_uring_dmabuf_abi(void)
{
	return abi_get(&dmabuf_state);
}

int io_uring_dmabuf_force_abi(int abi)
{
	return abi_force(&dmabuf_state, abi);
}

int kmbuf_current_gen(const struct kmbuf_gen **gen)
{
	int abi = io_uring_kmbuf_abi();

	if (abi < 0)
		return abi;
	*gen = kmbuf_gen_of(abi);
	/* what a kernel without the feature has always answered */
	return *gen ? 0 : -EINVAL;
}

int dmabuf_current_gen(const struct dmabuf_gen **gen)
{
	int abi = io_uring_dmabuf_abi();

	if (abi < 0)
		return abi;
	*gen = dmabuf_gen_of(abi);
	return *gen ? 0 : -EINVAL;
}

void kmbuf_abi_reset(void)
{
	static const pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;

	/* a failed unit test may have jumped out of a detection (cmocka) */
	kmbuf_state.lock = unlocked;
	dmabuf_state.lock = unlocked;
	__atomic_store_n(&kmbuf_state.forced, ABI_UNSET, __ATOMIC_RELEASE);
	__atomic_store_n(&kmbuf_state.detected, ABI_UNSET, __ATOMIC_RELEASE);
	__atomic_store_n(&dmabuf_state.forced, ABI_UNSET, __ATOMIC_RELEASE);
	__atomic_store_n(&dmabuf_state.detected, ABI_UNSET, __ATOMIC_RELEASE);
}
