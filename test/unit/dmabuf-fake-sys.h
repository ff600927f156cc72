/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Fakes of the syscalls only udmabuf allocation and dma-buf sync make
 * (memfd_create, fstat, fcntl, ftruncate, fallocate, open, ioctl, close),
 * beside fake-sys.c, which fakes
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
	DF_FSTAT,
	DF_FALLOCATE,
	DF_NR_OPS
};

#define DFAKE_MAX_CALLS	32
#define DFAKE_FIRST_FD	100

struct dfake_call {
	enum dfake_op	op;
	int		ret;
	int		fd;		/* fcntl, ftruncate, ioctl, close */
	char		name[64];	/* memfd_create name, open path */
	unsigned int	flags;		/* memfd_create, open */
	int		cmd;		/* fcntl */
	int		arg;		/* fcntl */
	long long	len;		/* ftruncate, fallocate */
	long long	offset_arg;	/* fallocate */
	unsigned long	request;	/* ioctl */
	/* ioctl: the struct udmabuf_create as passed */
	__u32		memfd;
	__u32		create_flags;
	__u64		offset;
	__u64		size;
	/* ioctl: the struct dma_buf_sync's flags */
	__u64		sync_flags;
};

/* Forget calls, scripted failures and fds. */
void dfake_reset(void);
/* The next call of @op fails with @err (negative). */
void dfake_fail(enum dfake_op op, int err);
/*
 * What fstat() reports as st_blksize for a memfd made with or without
 * MFD_HUGETLB (the page size, and 2 MiB, after dfake_reset()).
 */
void dfake_set_blksize(size_t huge, size_t base);
int dfake_nr_calls(void);
const struct dfake_call *dfake_call_at(int i);
/* An open fd the fakes accept, handed out without logging a call. */
int dfake_new_tracked_fd(void);
/* fds handed out and not closed yet. */
int dfake_open_fds(void);

#endif /* KMBUF_TEST_DMABUF_FAKE_SYS_H */
