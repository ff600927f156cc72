/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Fakes for the library's syscall boundary (src/lib.h), for the cmocka
 * unit tests. The library's core (src/libkmbuf-core.la) is linked against
 * these instead of src/syscall.c, so a test scripts what the "kernel"
 * answers and then reads back exactly what the library asked for.
 *
 * Every call is logged (struct fake_call). Calls that return something
 * take their answer from a FIFO script, pushed with fake_push_*(); a call
 * with no scripted answer, or of another kind than the script expects,
 * fails the running test at once. fake_assert_script_done() fails when
 * scripted answers were left unused.
 *
 * Linked with FAKE_SYS_LDFLAGS (test/unit/local.mk), which also wraps
 * io_uring_queue_init/io_uring_queue_exit (the probes' private ring) and
 * malloc/calloc/free (to count the library's live allocations and make
 * one of them fail).
 *
 * To fake another register opcode, add its argument size to
 * fake_arg_size() in fake-sys.c; for arguments that point further (like
 * the dmabuf update's entry array) set fake_register_hook to copy what
 * the test wants into call->extra while the pointers are still valid.
 */
#ifndef KMBUF_TEST_FAKE_SYS_H
#define KMBUF_TEST_FAKE_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <liburing.h>

enum fake_kind {
	FAKE_REGISTER = 1,
	FAKE_MMAP,
	FAKE_MUNMAP,
	FAKE_QUEUE_INIT,
	FAKE_QUEUE_EXIT,	/* logged only: it returns nothing */
};

/* The fd a faked io_uring_queue_init() gives its ring. */
#define FAKE_RING_FD		7
/* Where a faked mmap() "maps" unless the script says otherwise. */
#define FAKE_MMAP_ADDR		((void *)0x7f0012340000UL)
/* Bytes of a register argument a call record keeps. */
#define FAKE_ARG_MAX		64
#define FAKE_EXTRA_MAX		512
#define FAKE_MAX_CALLS		64

struct fake_call {
	enum fake_kind	kind;
	int		ret;		/* what the fake returned */
	/* FAKE_REGISTER */
	int		fd;
	unsigned int	opcode;
	unsigned int	nr_args;
	const void	*arg;		/* the pointer as passed */
	size_t		arg_len;	/* bytes copied into arg_copy */
	unsigned char	arg_copy[FAKE_ARG_MAX];
	size_t		extra_len;	/* filled by fake_register_hook */
	unsigned char	extra[FAKE_EXTRA_MAX];
	/* FAKE_MMAP / FAKE_MUNMAP */
	void		*addr;		/* mmap: returned; munmap: passed */
	size_t		len;
	int		prot;
	int		flags;
	int		mmap_fd;
	off_t		offset;
	/* FAKE_QUEUE_INIT / FAKE_QUEUE_EXIT */
	struct io_uring	*ring;
	unsigned int	entries;
	unsigned int	setup_flags;
};

/* Forget all calls, scripts, hooks and allocation counts. */
void fake_reset(void);

/* A zeroed ring as liburing leaves it: real fd @ring_fd, nothing registered. */
void fake_ring_init(struct io_uring *ring, int ring_fd);

/* Script the answer of the next call of that kind, in call order. */
void fake_push_register(int ret);
void fake_push_mmap(int ret, void *addr);
void fake_push_munmap(int ret);
void fake_push_queue_init(int ret);

/* Calls made since fake_reset(), and the i-th of them. */
int fake_nr_calls(void);
const struct fake_call *fake_call_at(int i);
/* Calls of one kind, and the i-th call of that kind. */
int fake_nr_calls_of(enum fake_kind kind);
const struct fake_call *fake_call_of(enum fake_kind kind, int i);
/* Fail the running test if scripted answers were not used. */
void fake_assert_script_done(void);

/*
 * A modelled kernel instead of a script: while fake_kernel is set, every
 * call takes its answer from it (still logged). The model sees the
 * arguments as passed, pointers still valid.
 */
struct fake_kernel {
	int	(*queue_init)(struct fake_call *call);
	int	(*reg)(struct fake_call *call, const void *arg);
	int	(*mmap)(struct fake_call *call, void **addr);
	int	(*munmap)(struct fake_call *call);
	void	(*queue_exit)(struct fake_call *call);
};
extern const struct fake_kernel *fake_kernel;

/* Called inside kmbuf_sys_register() after the argument was copied. */
extern void (*fake_register_hook)(struct fake_call *call, const void *arg);

/* Allocations through malloc/calloc not yet freed, since fake_reset(). */
int fake_live_allocs(void);
/* Make the @nth (1 = next) malloc/calloc return NULL. */
void fake_fail_alloc(int nth);

#endif /* KMBUF_TEST_FAKE_SYS_H */
