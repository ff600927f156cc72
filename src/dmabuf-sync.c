/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* CPU access to a dma-buf, bracketed with DMA_BUF_IOCTL_SYNC. */
#include <errno.h>
#include <sys/ioctl.h>

#if defined(__has_include)
#if __has_include(<linux/dma-buf.h>)
#include <linux/dma-buf.h>
#endif
#endif

#include "lib.h"

#ifndef DMA_BUF_IOCTL_SYNC
/* <linux/dma-buf.h>, Linux 4.6 */
struct dma_buf_sync {
	__u64	flags;
};
#define DMA_BUF_SYNC_READ	(1 << 0)
#define DMA_BUF_SYNC_WRITE	(2 << 0)
#define DMA_BUF_SYNC_RW		(DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)
#define DMA_BUF_SYNC_START	(0 << 2)
#define DMA_BUF_SYNC_END	(1 << 2)
#define DMA_BUF_BASE		'b'
#define DMA_BUF_IOCTL_SYNC	_IOW(DMA_BUF_BASE, 0, struct dma_buf_sync)
#endif

/* The library's direction bits are the kernel's: they go through as is. */
_Static_assert(IO_URING_DMABUF_SYNC_READ == DMA_BUF_SYNC_READ &&
	       IO_URING_DMABUF_SYNC_WRITE == DMA_BUF_SYNC_WRITE &&
	       IO_URING_DMABUF_SYNC_RW == DMA_BUF_SYNC_RW,
	       "the sync directions must be the kernel's");

/*
 * One DMA_BUF_IOCTL_SYNC. An interrupted fence wait (-EINTR) is returned,
 * not retried: the kernel restarts it itself for SA_RESTART handlers, so
 * it only gets here when the caller asked signals to interrupt.
 */
static int dmabuf_sync(int dmabuf_fd, unsigned int flags, __u64 phase)
{
	struct dma_buf_sync sync = {
		.flags = flags | phase,
	};

	if (dmabuf_fd < 0)
		return -EBADF;
	if (!flags || (flags & ~(unsigned int)IO_URING_DMABUF_SYNC_RW))
		return -EINVAL;
	return kmbuf_sys_ioctl(dmabuf_fd, DMA_BUF_IOCTL_SYNC, &sync);
}

int io_uring_dmabuf_sync_begin(int dmabuf_fd, unsigned int flags)
{
	return dmabuf_sync(dmabuf_fd, flags, DMA_BUF_SYNC_START);
}

int io_uring_dmabuf_sync_end(int dmabuf_fd, unsigned int flags)
{
	return dmabuf_sync(dmabuf_fd, flags, DMA_BUF_SYNC_END);
}
