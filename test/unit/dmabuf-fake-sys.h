/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Fakes of the syscalls only udmabuf allocation makes (memfd_create, fcntl,
 * ftruncate, open, ioctl, close), beside fake-sys.c, which fakes
 * io_uring_register and mmap/munmap. Every call succeeds unless
 * dfake_fail() scripted a failure; fds are handed out from 100 up and
 * tracked, so a test can tell exactly which fds an error path left open.
 */
#ifndef KMBUF_TEST_DMABUF_FAKE_SYS_H
#define KMBUF_TEST_DMABUF_FAKE_SYS_H

#include <linux/types.h>

enum dfake_op {
	DF_MEMFD = 1,
	DF_FCNTL,
	DF_FTRUNCATE,
	DF_OPEN,
	DF_IOCTL,
	DF_CLOSE,
};

#define DFAKE_MAX_CALLS	16
#define DFAKE_FIRST_FD	100

struct dfake_call {
	enum dfake_op	op;
	int		ret;
	int		fd;		/* fcntl, ftruncate, ioctl, close */
	char		name[64];	/* memfd_create name, open path */
	unsigned int	flags;		/* memfd_create, open */
	int		cmd;		/* fcntl */
	int		arg;		/* fcntl */
	long long	len;		/* ftruncate */
	unsigned long	request;	/* ioctl */
	/* ioctl: the struct udmabuf_create as passed */
	__u32		memfd;
	__u32		create_flags;
	__u64		offset;
	__u64		size;
};

/* Forget calls, scripted failures and fds. */
void dfake_reset(void);
/* The next call of @op fails with @err (negative). */
void dfake_fail(enum dfake_op op, int err);
int dfake_nr_calls(void);
const struct dfake_call *dfake_call_at(int i);
/* fds handed out and not closed yet. */
int dfake_open_fds(void);

#endif /* KMBUF_TEST_DMABUF_FAKE_SYS_H */
