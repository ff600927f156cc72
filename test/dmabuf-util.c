/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dmabuf-util.h"

/* How long one request may take before we call it hung. */
#define TD_WAIT_SEC	30

int td_require_dmabuf(void)
{
	int ret = io_uring_probe_dmabuf();

	if (ret == 1)
		return 0;
	if (ret == 0)
		return t_skip("kernel lacks dmabuf registered buffers (io_uring_probe_dmabuf() = 0)");
	if (ret == -ENOSYS || ret == -EPERM || ret == -EACCES)
		return t_skip("io_uring not available to this process (io_uring_probe_dmabuf: %s)",
			      t_errname(ret));
	t_fail("io_uring_probe_dmabuf() could not tell: expected 1 or 0, got %d (%s)",
	       ret, t_errname(ret));
	return T_EXIT_FAIL;
}

int td_require_nvme(int flags, int *fd)
{
	int ret = open(TD_NVME_DEV, flags | O_CLOEXEC);

	if (ret >= 0) {
		*fd = ret;
		return 0;
	}
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		return t_skip("no NVMe namespace at %s (the testbed VM has one: make vmcheck)",
			      TD_NVME_DEV);
	if (errno == EACCES || errno == EPERM)
		return t_skip("%s is not accessible to this user", TD_NVME_DEV);
	t_fail("open(%s): %s", TD_NVME_DEV, strerror(errno));
	return T_EXIT_FAIL;
}

int td_require_udmabuf(size_t size, struct io_uring_udmabuf **ub)
{
	int ret = io_uring_udmabuf_alloc(size, ub);

	if (!ret)
		return 0;
	if (ret == -ENOENT)
		return t_skip("udmabuf not available (no %s)", TD_UDMABUF_DEV);
	if (ret == -EACCES || ret == -EPERM)
		return t_skip("%s is not accessible to this user", TD_UDMABUF_DEV);
	t_fail("io_uring_udmabuf_alloc(%zu): expected 0, got %d (%s)", size,
	       ret, t_errname(ret));
	return T_EXIT_FAIL;
}

int td_update_raw(int ring_fd, unsigned int index, unsigned int flags,
		  const struct iovec *iov, int target_fd, int dmabuf_fd)
{
	struct iovec empty = { .iov_base = NULL, .iov_len = 0 };
	struct io_uring_dmabuf_reg reg = {
		.iov_uaddr = (__u64)(uintptr_t)(iov ? iov : &empty),
		.target_fd = target_fd,
		.dmabuf_fd = dmabuf_fd,
	};
	struct io_uring_dmabuf_update up = {
		.offset = index,
		.flags = flags,
		.data = (__u64)(uintptr_t)&reg,
		.nr = 1,
	};

	return t_sys_register(ring_fd, IO_URING_DMABUF_UPDATE_OP, &up,
			      sizeof(up));
}

int td_update_user(int ring_fd, unsigned int index, void *addr, size_t len)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	struct io_uring_dmabuf_update up = {
		.offset = index,
		.data = (__u64)(uintptr_t)&iov,
		.nr = 1,
	};

	return t_sys_register(ring_fd, IO_URING_DMABUF_UPDATE_OP, &up,
			      sizeof(up));
}

int td_submit_rw_fixed(struct io_uring *ring, unsigned int op, int fd,
		       unsigned int index, __u64 addr, unsigned int len,
		       __u64 off, __u64 user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(op, sqe, fd, (void *)(uintptr_t)addr, len, off);
	sqe->buf_index = (__u16)index;
	sqe->user_data = user_data;
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -EIO;
}

int td_reap(struct io_uring *ring, __u64 *user_data)
{
	struct __kernel_timespec ts = { .tv_sec = TD_WAIT_SEC };
	struct io_uring_cqe *cqe;
	unsigned int flags;
	int ret, res;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret < 0)
		return ret == -ETIME ? -ETIMEDOUT : ret;
	res = cqe->res;
	flags = cqe->flags;
	if (user_data)
		*user_data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	if (flags & IORING_CQE_F_MORE) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret < 0)
			return ret == -ETIME ? -ETIMEDOUT : ret;
		io_uring_cqe_seen(ring, cqe);
	}
	return res;
}

int td_rw_fixed(struct io_uring *ring, unsigned int op, int fd,
		unsigned int index, __u64 addr, unsigned int len, __u64 off)
{
	int ret = td_submit_rw_fixed(ring, op, fd, index, addr, len, off, 0);

	return ret ? ret : td_reap(ring, NULL);
}

void td_fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = kmbuf_test_pattern(seed, (__u32)i);
}

const char *td_nvme_path(void)
{
	const char *dev = getenv("KMBUF_TEST_NVME");

	return dev && *dev ? dev : TD_NVME_DEV;
}

int td_update_tagged(int ring_fd, unsigned int index, int target_fd,
		     int dmabuf_fd, __u64 tag)
{
	struct iovec empty = { .iov_base = NULL, .iov_len = 0 };
	struct io_uring_dmabuf_reg reg = {
		.iov_uaddr = (__u64)(uintptr_t)&empty,
		.target_fd = target_fd,
		.dmabuf_fd = dmabuf_fd,
	};
	struct io_uring_dmabuf_update up = {
		.offset = index,
		.flags = IO_URING_DMABUF_F_EXTENDED_UPDATE,
		.data = (__u64)(uintptr_t)&reg,
		.tags = (__u64)(uintptr_t)&tag,
		.nr = 1,
	};

	return t_sys_register(ring_fd, IO_URING_DMABUF_UPDATE_OP, &up,
			      sizeof(up));
}

int td_clone_buffers(int dst_fd, int src_fd)
{
	/* struct io_uring_clone_buffers of 6.12: src_fd, flags, pad[6] */
	struct {
		__u32	src_fd;
		__u32	flags;
		__u32	pad[6];
	} arg = { .src_fd = (__u32)src_fd };

	return t_sys_register(dst_fd, TD_REGISTER_CLONE_BUFFERS, &arg, 1);
}
