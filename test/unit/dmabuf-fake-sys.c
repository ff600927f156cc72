/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* Fakes of udmabuf's syscalls; see dmabuf-fake-sys.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* MFD_HUGETLB */
#endif
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <cmocka.h>

#include "lib.h"
#include "dmabuf-fake-sys.h"

#define DFAKE_MAX_FDS	16

static struct dfake_call calls[DFAKE_MAX_CALLS];
static int nr_calls;
static int fail_err[DF_NR_OPS];
static size_t blksize_huge, blksize_base;
/* per fd: was the memfd made with MFD_HUGETLB? */
static unsigned char fd_huge[DFAKE_MAX_FDS];
static int next_fd;
static unsigned char fd_open[DFAKE_MAX_FDS];

void dfake_reset(void)
{
	memset(calls, 0, sizeof(calls));
	nr_calls = 0;
	memset(fail_err, 0, sizeof(fail_err));
	next_fd = DFAKE_FIRST_FD;
	memset(fd_open, 0, sizeof(fd_open));
	memset(fd_huge, 0, sizeof(fd_huge));
	blksize_base = (size_t)sysconf(_SC_PAGESIZE);
	blksize_huge = 2u << 20;
}

void dfake_set_blksize(size_t huge, size_t base)
{
	blksize_huge = huge;
	blksize_base = base;
}

void dfake_fail(enum dfake_op op, int err)
{
	fail_err[op] = err;
}

int dfake_nr_calls(void)
{
	return nr_calls;
}

const struct dfake_call *dfake_call_at(int i)
{
	if (i < 0 || i >= nr_calls)
		fail_msg("dfake: no call %d (%d made)", i, nr_calls);
	return &calls[i];
}

int dfake_open_fds(void)
{
	int i, n = 0;

	for (i = 0; i < DFAKE_MAX_FDS; i++)
		n += fd_open[i];
	return n;
}

/* Log the call; its scripted failure, or 0. */
static struct dfake_call *dfake_enter(enum dfake_op op, int *err)
{
	struct dfake_call *call;

	if (nr_calls == DFAKE_MAX_CALLS)
		fail_msg("dfake: more than %d calls", DFAKE_MAX_CALLS);
	call = &calls[nr_calls++];
	call->op = op;
	*err = fail_err[op];
	fail_err[op] = 0;
	return call;
}

static int dfake_new_fd(void)
{
	int fd = next_fd++;

	if (fd - DFAKE_FIRST_FD >= DFAKE_MAX_FDS) {
		fail_msg("dfake: out of fds");
		return -EMFILE;
	}
	fd_open[fd - DFAKE_FIRST_FD] = 1;
	return fd;
}

int dfake_new_tracked_fd(void)
{
	return dfake_new_fd();
}

static void dfake_check_fd(int fd)
{
	if (fd < DFAKE_FIRST_FD || fd >= DFAKE_FIRST_FD + DFAKE_MAX_FDS ||
	    !fd_open[fd - DFAKE_FIRST_FD])
		fail_msg("dfake: fd %d is not open", fd);
}

int kmbuf_sys_memfd_create(const char *name, unsigned int flags)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_MEMFD, &err);

	strncpy(call->name, name, sizeof(call->name) - 1);
	call->flags = flags;
	call->ret = err ? err : dfake_new_fd();
	if (call->ret >= 0)
		fd_huge[call->ret - DFAKE_FIRST_FD] = !!(flags & MFD_HUGETLB);
	return call->ret;
}

int kmbuf_sys_fstat_blksize(int fd, size_t *blksize)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_FSTAT, &err);

	dfake_check_fd(fd);
	call->fd = fd;
	call->ret = err;
	if (!err)
		*blksize = fd_huge[fd - DFAKE_FIRST_FD] ? blksize_huge :
							  blksize_base;
	return err;
}

int kmbuf_sys_fallocate(int fd, off_t offset, off_t len)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_FALLOCATE, &err);

	dfake_check_fd(fd);
	call->fd = fd;
	call->offset_arg = (long long)offset;
	call->len = (long long)len;
	call->ret = err;
	return err;
}

int kmbuf_sys_fcntl(int fd, int cmd, int arg)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_FCNTL, &err);

	dfake_check_fd(fd);
	call->fd = fd;
	call->cmd = cmd;
	call->arg = arg;
	call->ret = err;
	return err;
}

int kmbuf_sys_ftruncate(int fd, off_t len)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_FTRUNCATE, &err);

	dfake_check_fd(fd);
	call->fd = fd;
	call->len = (long long)len;
	call->ret = err;
	return err;
}

int kmbuf_sys_open(const char *path, int flags)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_OPEN, &err);

	strncpy(call->name, path, sizeof(call->name) - 1);
	call->flags = (unsigned int)flags;
	call->ret = err ? err : dfake_new_fd();
	return call->ret;
}

int kmbuf_sys_ioctl(int fd, unsigned long request, void *arg)
{
	const struct udmabuf_create *create = arg;
	const struct dma_buf_sync *sync = arg;
	int err;
	struct dfake_call *call = dfake_enter(DF_IOCTL, &err);

	dfake_check_fd(fd);
	call->fd = fd;
	call->request = request;
	if (request == UDMABUF_CREATE) {
		call->memfd = create->memfd;
		call->create_flags = create->flags;
		call->offset = create->offset;
		call->size = create->size;
		call->ret = err ? err : dfake_new_fd();
		return call->ret;
	}
	if (request == DMA_BUF_IOCTL_SYNC)
		call->sync_flags = sync->flags;
	call->ret = err;
	return err;
}

int kmbuf_sys_close(int fd)
{
	int err;
	struct dfake_call *call = dfake_enter(DF_CLOSE, &err);

	dfake_check_fd(fd);
	/* close(2) releases the fd even when it reports an error */
	fd_open[fd - DFAKE_FIRST_FD] = 0;
	fd_huge[fd - DFAKE_FIRST_FD] = 0;
	call->fd = fd;
	call->ret = err;
	return err;
}
