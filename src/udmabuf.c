/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* A dma-buf made from CPU memory: memfd pages exported through udmabuf. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* MFD_*, F_ADD_SEALS, F_SEAL_* */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/udmabuf.h>)
#include <linux/udmabuf.h>
#endif
#endif

#include "lib.h"

#ifndef UDMABUF_CREATE
/* <linux/udmabuf.h>, Linux 4.20 */
#define UDMABUF_FLAGS_CLOEXEC	0x01
struct udmabuf_create {
	__u32	memfd;
	__u32	flags;
	__u64	offset;
	__u64	size;
};
#define UDMABUF_CREATE		_IOW('u', 0x42, struct udmabuf_create)
#endif

#define KMBUF_UDMABUF_DEVICE	"/dev/udmabuf"
#define KMBUF_UDMABUF_MEMFD	"liburing-kmbuf-udmabuf"

/* The device node is missing, or no driver stands behind it. */
static int udmabuf_open_device(void)
{
	int fd = kmbuf_sys_open(KMBUF_UDMABUF_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd == -ENXIO || fd == -ENODEV)
		return -ENOENT;
	return fd;
}

int io_uring_udmabuf_alloc(size_t size, struct io_uring_udmabuf **ubp)
{
	struct udmabuf_create create = {
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0,
		.size = size,
	};
	struct io_uring_udmabuf *ub;
	int dev, ret;

	if (!ubp || !size || size % (size_t)sysconf(_SC_PAGESIZE))
		return -EINVAL;
#if SIZE_MAX > INT64_MAX
	/* ftruncate() takes an off_t, 64 bits (lib.h) */
	if (size > (size_t)INT64_MAX)
		return -EINVAL;
#endif

	ub = calloc(1, sizeof(*ub));
	if (!ub)
		return -ENOMEM;
	ub->size = size;

	ret = kmbuf_sys_memfd_create(KMBUF_UDMABUF_MEMFD,
				     MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (ret < 0)
		goto err_free;
	ub->memfd = ret;
	/* udmabuf insists the pages cannot be truncated away under it */
	ret = kmbuf_sys_fcntl(ub->memfd, F_ADD_SEALS, F_SEAL_SHRINK);
	if (ret < 0)
		goto err_close_memfd;
	ret = kmbuf_sys_ftruncate(ub->memfd, (off_t)size);
	if (ret < 0)
		goto err_close_memfd;

	dev = udmabuf_open_device();
	if (dev < 0) {
		ret = dev;
		goto err_close_memfd;
	}
	create.memfd = (__u32)ub->memfd;
	ret = kmbuf_sys_ioctl(dev, UDMABUF_CREATE, &create);
	/* the dma-buf does not need the device fd once it exists */
	kmbuf_sys_close(dev);
	if (ret < 0)
		goto err_close_memfd;
	ub->dmabuf_fd = ret;

	/* the memfd maps the very pages the dma-buf exports */
	ret = kmbuf_sys_mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED,
			     ub->memfd, 0, &ub->addr);
	if (ret < 0)
		goto err_close_dmabuf;

	*ubp = ub;
	return 0;

err_close_dmabuf:
	kmbuf_sys_close(ub->dmabuf_fd);
err_close_memfd:
	kmbuf_sys_close(ub->memfd);
err_free:
	free(ub);
	return ret;
}

void io_uring_udmabuf_free(struct io_uring_udmabuf *ub)
{
	if (!ub)
		return;
	if (ub->addr)
		kmbuf_sys_munmap(ub->addr, ub->size);
	if (ub->dmabuf_fd >= 0)
		kmbuf_sys_close(ub->dmabuf_fd);
	if (ub->memfd >= 0)
		kmbuf_sys_close(ub->memfd);
	free(ub);
}
