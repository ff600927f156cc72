/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * A dma-buf's file mode decides the directions of its registered buffer
 * slot, as for any fd: a system-heap dma-buf allocated with fd_flags
 * O_RDONLY (its own mmap refuses PROT_WRITE) registers, WRITE_FIXED from it
 * works, and READ_FIXED into it fails with -EFAULT without changing one
 * byte of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#include "dmabuf-util.h"

#define HEAP_DEV	"/dev/dma_heap/system"
#define BUF_LEN		(64 * 1024)
/* a sector well past what the other tests use, restored afterwards */
#define DISK_OFF	(3 * 1024 * 1024)

/* A system-heap dma-buf opened with @fd_flags: 0 and *fd, or an exit code. */
static int heap_alloc(unsigned int fd_flags, int *fd)
{
	struct dma_heap_allocation_data data = {
		.len = BUF_LEN, .fd_flags = fd_flags | O_CLOEXEC,
	};
	int heap = open(HEAP_DEV, O_RDONLY | O_CLOEXEC);

	if (heap < 0) {
		if (errno == ENOENT)
			return t_skip("no %s (CONFIG_DMABUF_HEAPS_SYSTEM)", HEAP_DEV);
		t_fail("open(%s): %s", HEAP_DEV, t_errname(errno));
		return T_EXIT_FAIL;
	}
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data)) {
		t_fail("DMA_HEAP_IOCTL_ALLOC: %s", t_errname(errno));
		close(heap);
		return T_EXIT_FAIL;
	}
	close(heap);
	*fd = (int)data.fd;
	return 0;
}

int main(void)
{
	struct io_uring ring;
	unsigned char *view, *before, *disk;
	int nvme, rofd = -1, ret;
	void *p;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = heap_alloc(O_RDONLY, &rofd);
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;

	p = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, rofd, 0);
	if (!t_expect("mmap PROT_WRITE of the O_RDONLY dma-buf",
		      p == MAP_FAILED ? -errno : 0, -EACCES) && p != MAP_FAILED)
		munmap(p, BUF_LEN);
	view = mmap(NULL, BUF_LEN, PROT_READ, MAP_SHARED, rofd, 0);
	before = malloc(BUF_LEN);
	if (view == MAP_FAILED || !before ||
	    posix_memalign((void **)&disk, 4096, BUF_LEN)) {
		t_fail("read-only view or buffers: %s", t_errname(errno));
		return T_EXIT_FAIL;
	}
	memcpy(before, view, BUF_LEN);

	if (!t_expect("table", io_uring_register_dmabuf_table(&ring, 2), 0) ||
	    !t_expect("register the O_RDONLY dma-buf",
		      io_uring_register_dmabuf_buffer(&ring, 0, nvme, rofd), 0))
		goto out;

	/* the namespace has random bytes: a read would change the buffer */
	t_expect("READ_FIXED into the read-only slot",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 0, 0, BUF_LEN, DISK_OFF),
		 -EFAULT);
	t_expect("READ_FIXED into part of it",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 0, 4096, 4096, DISK_OFF),
		 -EFAULT);
	if (memcmp(view, before, BUF_LEN))
		t_fail("the read-only dma-buf changed");

	/* as a source it works: write it out, check, put the disk back */
	if (t_expect("save the sector", pread(nvme, disk, BUF_LEN, DISK_OFF), BUF_LEN)) {
		ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, 0, 0, BUF_LEN,
				  DISK_OFF);
		if (t_expect("WRITE_FIXED from the read-only slot", ret, BUF_LEN)) {
			unsigned char *back;

			if (!posix_memalign((void **)&back, 4096, BUF_LEN)) {
				t_expect("read it back", pread(nvme, back, BUF_LEN, DISK_OFF),
					 BUF_LEN);
				if (memcmp(back, view, BUF_LEN))
					t_fail("the disk does not hold the dma-buf's bytes");
				free(back);
			}
		}
		t_expect("restore the sector", pwrite(nvme, disk, BUF_LEN, DISK_OFF),
			 BUF_LEN);
	}
	t_expect("clear the slot", io_uring_unregister_dmabuf_buffer(&ring, 0), 0);
out:
	io_uring_queue_exit(&ring);
	munmap(view, BUF_LEN);
	close(rofd);
	close(nvme);
	free(before);
	free(disk);
	return t_result("dmabuf-readonly");
}
