/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * dmabuf-backed registered buffers: the sparse table, one slot at a time,
 * and the probe.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lib.h"

int io_uring_register_dmabuf_table(struct io_uring *ring, unsigned int nr)
{
	struct io_uring_rsrc_register reg = {
		.nr = nr,
		.flags = IORING_RSRC_REGISTER_SPARSE,
	};

	if (!ring || !nr)
		return -EINVAL;
	/*
	 * Not io_uring_register_buffers_sparse(): older liburing calls it on
	 * ring->ring_fd, which is -1 once only the registered index is left.
	 */
	return kmbuf_do_register(ring, IORING_REGISTER_BUFFERS2, &reg,
				 sizeof(reg));
}

/* One extended update entry, fds as given: the kernel's answer, raw. */
static int dmabuf_update_raw(struct io_uring *ring, unsigned int index,
			     int target_fd, int dmabuf_fd)
{
	/* the dma-buf path takes the whole dma-buf: the iovec stays empty */
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	struct io_uring_dmabuf_reg reg = {
		.iov_uaddr = (__u64)(uintptr_t)&iov,
		.target_fd = target_fd,
		.dmabuf_fd = dmabuf_fd,
	};
	struct io_uring_dmabuf_update up = {
		.offset = index,
		.flags = IO_URING_DMABUF_F_EXTENDED_UPDATE,
		.data = (__u64)(uintptr_t)&reg,
		.nr = 1,
	};

	return kmbuf_do_register(ring, IO_URING_DMABUF_UPDATE_OP, &up,
				 sizeof(up));
}

/* The kernel answers an update with the number of entries it took. */
static int dmabuf_update_result(int ret)
{
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -EPROTO;
}

int io_uring_register_dmabuf_buffer(struct io_uring *ring, unsigned int index,
				    int target_fd, int dmabuf_fd)
{
	if (!ring)
		return -EINVAL;
	/* -1/-1 would quietly register an empty user-memory slot instead */
	if (target_fd < 0 || dmabuf_fd < 0)
		return -EBADF;
	return dmabuf_update_result(dmabuf_update_raw(ring, index, target_fd,
						      dmabuf_fd));
}

int io_uring_unregister_dmabuf_buffer(struct io_uring *ring, unsigned int index)
{
	struct iovec iov = { .iov_base = NULL, .iov_len = 0 };
	struct io_uring_dmabuf_update up = {
		.offset = index,
		.data = (__u64)(uintptr_t)&iov,
		.nr = 1,
	};

	if (!ring)
		return -EINVAL;
	/*
	 * A plain update with an empty iovec empties a slot on every kernel
	 * that has IORING_REGISTER_BUFFERS_UPDATE, whatever the slot held.
	 */
	return dmabuf_update_result(kmbuf_do_register(ring,
					IO_URING_DMABUF_UPDATE_OP, &up,
					sizeof(up)));
}

/*
 * Three steps on a one-slot table, so that only a kernel with the dma-buf
 * path gives the expected answers:
 * 1. an extended update of an empty user-memory slot (fds -1/-1): a kernel
 *    that does not know IORING_RSRC_F_EXTENDED_UPDATE answers -EINVAL;
 * 2. an extended update that selects the dma-buf path with an open target
 *    that cannot do dma-buf I/O (the ring itself) and no dma-buf (-1): a
 *    kernel that has the path refuses it with -EBADF (the dma-buf fd) or
 *    -EOPNOTSUPP (the target), whichever it checks first; -EINVAL there
 *    means the flag is known but the dma-buf path is not.
 */
static int dmabuf_probe_ring(struct io_uring *ring)
{
	int ret;

	ret = io_uring_register_dmabuf_table(ring, 1);
	if (ret == -EINVAL)
		return 0;	/* no sparse tables (before 5.19) */
	if (ret)
		return ret;

	ret = dmabuf_update_raw(ring, 0, IO_URING_DMABUF_NO_FD,
				IO_URING_DMABUF_NO_FD);
	if (ret == -EINVAL)
		return 0;
	if (ret != 1)
		return ret < 0 ? ret : -EPROTO;

	ret = dmabuf_update_raw(ring, 0, ring->ring_fd, IO_URING_DMABUF_NO_FD);
	if (ret == -EBADF || ret == -EOPNOTSUPP)
		return 1;
	if (ret == -EINVAL)
		return 0;
	return ret < 0 ? ret : -EPROTO;
}

int io_uring_probe_dmabuf(void)
{
	return kmbuf_probe_with_ring(dmabuf_probe_ring);
}
