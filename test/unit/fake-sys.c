/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* Fake syscall boundary for the unit tests; see fake-sys.h. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib.h"
#include "fake-sys.h"

#define FAKE_MAX_SCRIPT	32
#define FAKE_MAX_ALLOCS	64

struct fake_answer {
	enum fake_kind	kind;
	int		ret;
	void		*addr;
};

static struct fake_call calls[FAKE_MAX_CALLS];
static int nr_calls;
static struct fake_answer script[FAKE_MAX_SCRIPT];
static int script_head, script_tail;
static void *live[FAKE_MAX_ALLOCS];
static int alloc_countdown;

void (*fake_register_hook)(struct fake_call *call, const void *arg);
const struct fake_kernel *fake_kernel;

static const char *fake_kind_name(enum fake_kind kind)
{
	switch (kind) {
	case FAKE_REGISTER:	return "io_uring_register";
	case FAKE_MMAP:		return "mmap";
	case FAKE_MUNMAP:	return "munmap";
	case FAKE_QUEUE_INIT:	return "io_uring_queue_init";
	case FAKE_QUEUE_EXIT:	return "io_uring_queue_exit";
	}
	return "?";
}

void fake_reset(void)
{
	memset(calls, 0, sizeof(calls));
	nr_calls = 0;
	script_head = script_tail = 0;
	memset(live, 0, sizeof(live));
	alloc_countdown = 0;
	fake_register_hook = NULL;
	fake_kernel = NULL;
}

void fake_ring_init(struct io_uring *ring, int ring_fd)
{
	memset(ring, 0, sizeof(*ring));
	ring->ring_fd = ring_fd;
	ring->enter_ring_fd = ring_fd;
}

static void fake_push(enum fake_kind kind, int ret, void *addr)
{
	if (script_tail == FAKE_MAX_SCRIPT)
		fail_msg("fake: script full");
	script[script_tail++] = (struct fake_answer){ kind, ret, addr };
}

void fake_push_register(int ret)
{
	fake_push(FAKE_REGISTER, ret, NULL);
}

void fake_push_mmap(int ret, void *addr)
{
	fake_push(FAKE_MMAP, ret, addr ? addr : FAKE_MMAP_ADDR);
}

void fake_push_munmap(int ret)
{
	fake_push(FAKE_MUNMAP, ret, NULL);
}

void fake_push_queue_init(int ret)
{
	fake_push(FAKE_QUEUE_INIT, ret, NULL);
}

/* Log a call and take its scripted answer; a surprise fails the test. */
static struct fake_call *fake_enter(enum fake_kind kind,
				    struct fake_answer *answer)
{
	struct fake_call *call;

	if (nr_calls == FAKE_MAX_CALLS)
		fail_msg("fake: more than %d calls", FAKE_MAX_CALLS);
	call = &calls[nr_calls++];
	call->kind = kind;
	if (!answer || fake_kernel)
		return call;
	if (script_head == script_tail)
		fail_msg("fake: unexpected %s (call %d): nothing scripted",
			 fake_kind_name(kind), nr_calls);
	*answer = script[script_head++];
	if (answer->kind != kind)
		fail_msg("fake: call %d is %s, script expected %s", nr_calls,
			 fake_kind_name(kind), fake_kind_name(answer->kind));
	call->ret = answer->ret;
	return call;
}

int fake_nr_calls(void)
{
	return nr_calls;
}

const struct fake_call *fake_call_at(int i)
{
	if (i < 0 || i >= nr_calls)
		fail_msg("fake: no call %d (%d made)", i, nr_calls);
	return &calls[i];
}

int fake_nr_calls_of(enum fake_kind kind)
{
	int i, n = 0;

	for (i = 0; i < nr_calls; i++)
		n += calls[i].kind == kind;
	return n;
}

const struct fake_call *fake_call_of(enum fake_kind kind, int nth)
{
	int i;

	for (i = 0; i < nr_calls; i++)
		if (calls[i].kind == kind && nth-- == 0)
			return &calls[i];
	fail_msg("fake: no such %s call", fake_kind_name(kind));
	return NULL;
}

void fake_assert_script_done(void)
{
	if (script_head != script_tail)
		fail_msg("fake: %d scripted answer(s) unused, next: %s",
			 script_tail - script_head,
			 fake_kind_name(script[script_head].kind));
}

/* How much of a register argument the log keeps, by opcode. */
static size_t fake_arg_size(unsigned int opcode)
{
	switch (opcode & ~IO_URING_KMBUF_USE_REGISTERED_RING) {
	case IO_URING_KMBUF_REGISTER_OP:
	case IO_URING_KMBUF_UNREGISTER_OP:
		return sizeof(struct io_uring_kmbuf_reg);
	case IO_URING_KMBUF_FUSE_REGISTER_OP:
	case IO_URING_KMBUF_PBUF_REGISTER_OP:
	case IO_URING_KMBUF_PBUF_UNREGISTER_OP:
		return sizeof(struct io_uring_kmbuf_reg);
	case IO_URING_DMABUF_UPDATE_OP:
		return sizeof(struct io_uring_dmabuf_update);
	case IO_URING_KMBUF_QUERY_OP:
		return sizeof(struct io_uring_kmbuf_query_hdr);
	case IORING_REGISTER_BUFFERS2:
		return sizeof(struct io_uring_rsrc_register);
	}
	return 0;
}

int kmbuf_sys_register(int fd, unsigned int opcode, const void *arg,
		       unsigned int nr_args)
{
	struct fake_answer answer;
	struct fake_call *call = fake_enter(FAKE_REGISTER, &answer);

	call->fd = fd;
	call->opcode = opcode;
	call->arg = arg;
	call->nr_args = nr_args;
	if (arg) {
		call->arg_len = fake_arg_size(opcode);
		memcpy(call->arg_copy, arg, call->arg_len);
	}
	if (fake_register_hook)
		fake_register_hook(call, arg);
	if (fake_kernel)
		answer.ret = call->ret = fake_kernel->reg(call, arg);
	return answer.ret;
}

int kmbuf_sys_mmap(size_t len, int prot, int flags, int fd, off_t offset,
		   void **addr)
{
	struct fake_answer answer;
	struct fake_call *call = fake_enter(FAKE_MMAP, &answer);

	call->len = len;
	call->prot = prot;
	call->flags = flags;
	call->mmap_fd = fd;
	call->offset = offset;
	if (fake_kernel) {
		answer.addr = NULL;
		answer.ret = call->ret = fake_kernel->mmap(call, &answer.addr);
	}
	if (answer.ret)
		return answer.ret;
	call->addr = answer.addr;
	*addr = answer.addr;
	return 0;
}

int kmbuf_sys_munmap(void *addr, size_t len)
{
	struct fake_answer answer;
	struct fake_call *call = fake_enter(FAKE_MUNMAP, &answer);

	call->addr = addr;
	call->len = len;
	if (fake_kernel)
		answer.ret = call->ret = fake_kernel->munmap(call);
	return answer.ret;
}

int __wrap_io_uring_queue_init(unsigned int entries, struct io_uring *ring,
			       unsigned int flags);
void __wrap_io_uring_queue_exit(struct io_uring *ring);

int __wrap_io_uring_queue_init(unsigned int entries, struct io_uring *ring,
			       unsigned int flags)
{
	struct fake_answer answer;
	struct fake_call *call = fake_enter(FAKE_QUEUE_INIT, &answer);

	call->ring = ring;
	call->entries = entries;
	call->setup_flags = flags;
	if (fake_kernel)
		answer.ret = call->ret = fake_kernel->queue_init(call);
	if (answer.ret)
		return answer.ret;
	memset(ring, 0, sizeof(*ring));
	ring->ring_fd = FAKE_RING_FD;
	ring->enter_ring_fd = FAKE_RING_FD;
	return 0;
}

void __wrap_io_uring_queue_exit(struct io_uring *ring)
{
	struct fake_call *call = fake_enter(FAKE_QUEUE_EXIT, NULL);

	call->ring = ring;
	call->fd = ring->ring_fd;
	if (fake_kernel && fake_kernel->queue_exit)
		fake_kernel->queue_exit(call);
}

/* Allocation accounting: only what was allocated since fake_reset(). */
void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void __wrap_free(void *p);

int fake_live_allocs(void)
{
	int i, n = 0;

	for (i = 0; i < FAKE_MAX_ALLOCS; i++)
		n += live[i] != NULL;
	return n;
}

void fake_fail_alloc(int nth)
{
	alloc_countdown = nth;
}

static void *fake_track(void *p)
{
	int i;

	if (!p)
		return NULL;
	for (i = 0; i < FAKE_MAX_ALLOCS; i++) {
		if (!live[i]) {
			live[i] = p;
			return p;
		}
	}
	fail_msg("fake: more than %d live allocations", FAKE_MAX_ALLOCS);
	return p;
}

static bool fake_alloc_fails(void)
{
	return alloc_countdown > 0 && --alloc_countdown == 0;
}

void *__wrap_malloc(size_t size)
{
	if (fake_alloc_fails())
		return NULL;
	return fake_track(__real_malloc(size));
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	if (fake_alloc_fails())
		return NULL;
	return fake_track(__real_calloc(nmemb, size));
}

void __wrap_free(void *p)
{
	int i;

	for (i = 0; p && i < FAKE_MAX_ALLOCS; i++) {
		if (live[i] == p) {
			live[i] = NULL;
			break;
		}
	}
	__real_free(p);
}
