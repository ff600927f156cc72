/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/* The syscall boundary: the only file that talks to the kernel. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* fallocate() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib.h"

int kmbuf_sys_register(int fd, unsigned int opcode, const void *arg,
		       unsigned int nr_args)
{
	long ret = syscall(__NR_io_uring_register, fd, opcode, arg, nr_args);

	return ret < 0 ? -errno : (int)ret;
}

int kmbuf_sys_mmap(size_t len, int prot, int flags, int fd, off_t offset,
		   void **addr)
{
	void *p = mmap(NULL, len, prot, flags, fd, offset);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int kmbuf_sys_munmap(void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

int kmbuf_sys_memfd_create(const char *name, unsigned int flags)
{
	/* the raw syscall: glibc < 2.27 has no memfd_create() wrapper */
	long ret = syscall(__NR_memfd_create, name, flags);

	return ret < 0 ? -errno : (int)ret;
}

int kmbuf_sys_fcntl(int fd, int cmd, int arg)
{
	int ret = fcntl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

int kmbuf_sys_ftruncate(int fd, off_t len)
{
	return ftruncate(fd, len) ? -errno : 0;
}

int kmbuf_sys_fallocate(int fd, off_t offset, off_t len)
{
	/* mode 0: allocate, and grow the file if it is shorter */
	return fallocate(fd, 0, offset, len) ? -errno : 0;
}

int kmbuf_sys_fstat_blksize(int fd, size_t *blksize)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*blksize = (size_t)st.st_blksize;
	return 0;
}

int kmbuf_sys_open(const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

int kmbuf_sys_ioctl(int fd, unsigned long request, void *arg)
{
	int ret = ioctl(fd, request, arg);

	return ret < 0 ? -errno : ret;
}

int kmbuf_sys_close(int fd)
{
	return close(fd) ? -errno : 0;
}
