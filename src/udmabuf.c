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

/* <linux/memfd.h>, which would clash with glibc's MFD_* in <sys/mman.h> */
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U		/* Linux 4.14 */
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT		26
#define MFD_HUGE_MASK		0x3fU
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

/* The flags io_uring_udmabuf_alloc_flags() knows. */
#define KMBUF_UDMABUF_HUGE_BITS \
	((unsigned int)IO_URING_UDMABUF_HUGE_MASK << IO_URING_UDMABUF_HUGE_SHIFT)
#define KMBUF_UDMABUF_VALID_FLAGS \
	(IO_URING_UDMABUF_HUGETLB | IO_URING_UDMABUF_FALLBACK | \
	 KMBUF_UDMABUF_HUGE_BITS)

/* The library's encoding is memfd_create(2)'s: the bits go through as is. */
_Static_assert(IO_URING_UDMABUF_HUGE_SHIFT == MFD_HUGE_SHIFT &&
	       IO_URING_UDMABUF_HUGE_MASK == MFD_HUGE_MASK,
	       "the huge page size encoding must be memfd_create()'s");

/*
 * Fill @ub (size set, fds -1, addr NULL) with a memfd of @mfd_flags, its
 * dma-buf and mapping: 0, or -errno with @ub as it came in. A hugetlb
 * memfd is preallocated with fallocate(2) before udmabuf sees it: that is
 * where a lack of free huge pages shows (-ENOSPC), and it keeps udmabuf
 * from allocating hugetlb folios itself, which 6.12 does without taking a
 * reservation (memfd_alloc_folio()).
 */
static int udmabuf_make(struct io_uring_udmabuf *ub, unsigned int mfd_flags,
			size_t page_size)
{
	struct udmabuf_create create = {
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = 0,
		.size = ub->size,
	};
	int hugetlb = !!(mfd_flags & MFD_HUGETLB);
	int dev, memfd, dmabuf_fd, ret;
	void *addr;

	ret = kmbuf_sys_memfd_create(KMBUF_UDMABUF_MEMFD,
				     mfd_flags | MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (ret < 0)
		return ret;
	memfd = ret;
	if (hugetlb) {
		/* a hugetlbfs file's block size is its huge page size */
		ret = kmbuf_sys_fstat_blksize(memfd, &page_size);
		if (ret < 0)
			goto err_close_memfd;
		if (!page_size || ub->size % page_size) {
			ret = -EINVAL;
			goto err_close_memfd;
		}
	}
	/* udmabuf insists the pages cannot be truncated away under it */
	ret = kmbuf_sys_fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK);
	if (ret < 0)
		goto err_close_memfd;
	ret = kmbuf_sys_ftruncate(memfd, (off_t)ub->size);
	if (ret < 0)
		goto err_close_memfd;
	if (hugetlb) {
		ret = kmbuf_sys_fallocate(memfd, 0, (off_t)ub->size);
		if (ret < 0)
			goto err_close_memfd;
	}

	dev = udmabuf_open_device();
	if (dev < 0) {
		ret = dev;
		goto err_close_memfd;
	}
	create.memfd = (__u32)memfd;
	ret = kmbuf_sys_ioctl(dev, UDMABUF_CREATE, &create);
	/* the dma-buf does not need the device fd once it exists */
	kmbuf_sys_close(dev);
	if (ret < 0)
		goto err_close_memfd;
	dmabuf_fd = ret;

	/* the memfd maps the very pages the dma-buf exports */
	ret = kmbuf_sys_mmap(ub->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			     memfd, 0, &addr);
	if (ret < 0)
		goto err_close_dmabuf;

	ub->memfd = memfd;
	ub->dmabuf_fd = dmabuf_fd;
	ub->addr = addr;
	ub->page_size = page_size;
	return 0;

err_close_dmabuf:
	kmbuf_sys_close(dmabuf_fd);
err_close_memfd:
	kmbuf_sys_close(memfd);
	return ret;
}

int io_uring_udmabuf_alloc_flags(size_t size, unsigned int flags,
				 struct io_uring_udmabuf **ubp)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct io_uring_udmabuf *ub;
	int ret;

	if (!ubp || !size || size % page)
		return -EINVAL;
#if SIZE_MAX > INT64_MAX
	/* ftruncate() takes an off_t, 64 bits (lib.h) */
	if (size > (size_t)INT64_MAX)
		return -EINVAL;
#endif
	if (flags & ~KMBUF_UDMABUF_VALID_FLAGS)
		return -EINVAL;
	/* a page size or a fallback modifies HUGETLB, and means nothing alone */
	if ((flags & (IO_URING_UDMABUF_FALLBACK | KMBUF_UDMABUF_HUGE_BITS)) &&
	    !(flags & IO_URING_UDMABUF_HUGETLB))
		return -EINVAL;

	ub = calloc(1, sizeof(*ub));
	if (!ub)
		return -ENOMEM;
	ub->size = size;
	ub->memfd = -1;
	ub->dmabuf_fd = -1;

	if (flags & IO_URING_UDMABUF_HUGETLB) {
		ret = udmabuf_make(ub, MFD_HUGETLB |
				   (flags & KMBUF_UDMABUF_HUGE_BITS), 0);
		/* any failure of huge pages: the same with base pages */
		if (ret < 0 && (flags & IO_URING_UDMABUF_FALLBACK))
			ret = udmabuf_make(ub, 0, page);
	} else {
		ret = udmabuf_make(ub, 0, page);
	}
	if (ret < 0) {
		free(ub);
		return ret;
	}
	*ubp = ub;
	return 0;
}

int io_uring_udmabuf_alloc(size_t size, struct io_uring_udmabuf **ubp)
{
	return io_uring_udmabuf_alloc_flags(size, 0, ubp);
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
