/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Registering dma-bufs into table slots: what the kernel takes and every
 * refusal of doc/abi.md, through the library and raw in the running
 * generation's format (dmabuf.abi=: the seed's io_uring_reg_buffer or the
 * 80-byte descriptor), and the 1 GiB slot limit (a system-heap dma-buf of
 * exactly 1 GiB works to its last byte, one page more is -EINVAL). Needs
 * the testbed VM (dmabuf-aware kernel, /dev/udmabuf, the system dma-heap,
 * the NVMe drive).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#include "dmabuf-util.h"

#define NR_SLOTS	4
#define BUF_SIZE	(64 * 1024)

static struct io_uring ring;
static struct io_uring_udmabuf *ub;
static int nvme = -1;

/* An fd number that is certainly not open. */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void check_success(void)
{
	t_expect("register dma-buf into slot 0",
		 io_uring_register_dmabuf_buffer(&ring, 0, nvme, ub->dmabuf_fd), 0);
	t_expect("replace slot 0 with the same dma-buf",
		 io_uring_register_dmabuf_buffer(&ring, 0, nvme, ub->dmabuf_fd), 0);
	t_expect("the same dma-buf in slot 3 too",
		 io_uring_register_dmabuf_buffer(&ring, NR_SLOTS - 1, nvme,
						 ub->dmabuf_fd), 0);
	t_expect("clear slot 0", io_uring_unregister_dmabuf_buffer(&ring, 0), 0);
	t_expect("clear slot 3",
		 io_uring_unregister_dmabuf_buffer(&ring, NR_SLOTS - 1), 0);
	t_expect("slot past the table",
		 io_uring_register_dmabuf_buffer(&ring, NR_SLOTS, nvme,
						 ub->dmabuf_fd), -EINVAL);
}

static void check_fds(void)
{
	int bad = closed_fd();
	int pipefd[2], plain, memfd, file;
	char path[] = "/tmp/dmabuf-register-XXXXXX";

	t_expect("target fd not open",
		 io_uring_register_dmabuf_buffer(&ring, 1, bad, ub->dmabuf_fd),
		 -EBADF);
	t_expect("dma-buf fd not open",
		 io_uring_register_dmabuf_buffer(&ring, 1, nvme, bad), -EBADF);
	t_expect("a memfd is not a dma-buf",
		 io_uring_register_dmabuf_buffer(&ring, 1, nvme, ub->memfd),
		 -EINVAL);
	t_expect("the block device is not a dma-buf",
		 io_uring_register_dmabuf_buffer(&ring, 1, nvme, nvme), -EINVAL);

	if (pipe(pipefd) == 0) {
		t_expect("a pipe as target",
			 io_uring_register_dmabuf_buffer(&ring, 1, pipefd[1],
							 ub->dmabuf_fd),
			 -EOPNOTSUPP);
		close(pipefd[0]);
		close(pipefd[1]);
	} else {
		t_fail("pipe() failed");
	}
	file = mkstemp(path);
	if (file >= 0) {
		unlink(path);
		t_expect("a regular file as target",
			 io_uring_register_dmabuf_buffer(&ring, 1, file,
							 ub->dmabuf_fd),
			 -EOPNOTSUPP);
		close(file);
	} else {
		t_fail("mkstemp(%s) failed", path);
	}
	memfd = (int)syscall(__NR_memfd_create, "target", 0);
	if (memfd >= 0) {
		t_expect("a memfd as target",
			 io_uring_register_dmabuf_buffer(&ring, 1, memfd,
							 ub->dmabuf_fd),
			 -EOPNOTSUPP);
		close(memfd);
	} else {
		t_fail("memfd_create() failed");
	}
	t_expect("the ring itself as target",
		 io_uring_register_dmabuf_buffer(&ring, 1, ring.ring_fd,
						 ub->dmabuf_fd), -EOPNOTSUPP);

	plain = open(td_nvme_path(), O_RDWR | O_CLOEXEC);
	if (plain >= 0) {
		t_expect("block device without O_DIRECT",
			 io_uring_register_dmabuf_buffer(&ring, 1, plain,
							 ub->dmabuf_fd),
			 -EINVAL);
		close(plain);
	} else {
		t_fail("open(%s) without O_DIRECT failed", td_nvme_path());
	}
	plain = open(td_nvme_path(), O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (plain >= 0) {
		t_expect("read-only O_DIRECT block device",
			 io_uring_register_dmabuf_buffer(&ring, 1, plain,
							 ub->dmabuf_fd), 0);
		t_expect("clear slot 1",
			 io_uring_unregister_dmabuf_buffer(&ring, 1), 0);
		close(plain);
	} else {
		t_fail("open(%s, O_RDONLY | O_DIRECT) failed", td_nvme_path());
	}
}

/* @ret must be the refusal @a or @b; else a failure (and a cleanup). */
static void expect_one_of(const char *what, int ret, int a, int b,
			  unsigned int slot)
{
	if (ret == a || ret == b)
		return;
	t_fail("%s: expected %d (-%s) or %d (-%s), got %d (%s)", what, a,
	       t_errname(a), b, t_errname(b), ret, t_errname(ret));
	if (ret > 0)
		io_uring_unregister_dmabuf_buffer(&ring, slot);
}

/* Seed-format updates the library never sends, built by hand. */
static void check_raw_seed(void)
{
	static char mem[4096] __attribute__((aligned(4096)));
	const unsigned int ext = t_dmabuf_gen()->update_flag;
	struct iovec iov;
	int fd = ring.ring_fd;

	iov = (struct iovec){ .iov_base = mem, .iov_len = sizeof(mem) };
	t_expect("dma-buf entry with a non-empty iovec",
		 td_update_raw(fd, 1, ext, &iov, nvme, ub->dmabuf_fd), -EFAULT);
	iov = (struct iovec){ .iov_base = NULL, .iov_len = 4096 };
	t_expect("dma-buf entry with iovec {NULL, 4096}",
		 td_update_raw(fd, 1, ext, &iov, nvme, ub->dmabuf_fd), -EFAULT);
	iov = (struct iovec){ .iov_base = mem, .iov_len = 0 };
	t_expect("dma-buf entry with iovec {mem, 0}",
		 td_update_raw(fd, 1, ext, &iov, nvme, ub->dmabuf_fd), -EFAULT);
	t_expect("target -1 with a dma-buf selects the dma-buf path",
		 td_update_raw(fd, 1, ext, NULL, -1, ub->dmabuf_fd), -EBADF);
	t_expect("the ring fd as dmabuf_fd",
		 td_update_raw(fd, 1, ext, NULL, nvme, fd), -EINVAL);
	t_expect("the ring fd as target_fd",
		 td_update_raw(fd, 1, ext, NULL, fd, ub->dmabuf_fd), -EOPNOTSUPP);
	/* target at offset 8, dma-buf at 12: the other way round fails */
	expect_one_of("the two fds swapped",
		      td_update_raw(fd, 1, ext, NULL, ub->dmabuf_fd, nvme),
		      -EINVAL, -EOPNOTSUPP, 1);

	t_expect("update flag 2 (the descriptor generation's) is unknown",
		 td_update_raw(fd, 1, t_dmabuf_gen()->other_flag, NULL, -1, -1),
		 -EINVAL);
	t_expect("update flags 1|2",
		 td_update_raw(fd, 1, 3, NULL, nvme, ub->dmabuf_fd), -EINVAL);
	t_expect("update flag 1<<31",
		 td_update_raw(fd, 1, 1U << 31, NULL, nvme, ub->dmabuf_fd),
		 -EINVAL);

	/* extended entry for user memory: the -1/-1 pair */
	iov = (struct iovec){ .iov_base = mem, .iov_len = sizeof(mem) };
	t_expect("extended entry -1/-1 with user memory",
		 td_update_raw(fd, 2, ext, &iov, -1, -1), 1);
	t_expect("clear slot 2", io_uring_unregister_dmabuf_buffer(&ring, 2), 0);
}

static struct td_regbuf_desc desc(__u32 type, int target_fd, int dmabuf_fd)
{
	struct td_regbuf_desc d;

	memset(&d, 0, sizeof(d));
	d.type = type;
	d.target_fd = target_fd;
	d.dmabuf_fd = dmabuf_fd;
	return d;
}

/* One descriptor into slot 1: the kernel's answer. */
static int send_desc(const struct td_regbuf_desc *d)
{
	return td_update_desc(ring.ring_fd, 1, t_dmabuf_gen()->update_flag, d,
			      1, NULL);
}

static void expect_desc(const char *what, const struct td_regbuf_desc *d,
			int want)
{
	int ret = send_desc(d);

	if (!t_expect(what, ret, want) && ret > 0)
		io_uring_unregister_dmabuf_buffer(&ring, 1);
}

/*
 * Descriptor-format updates (dmabuf.abi=desc) the library never sends:
 * every refusal of the 80-byte io_uring_regbuf_desc, as the series'
 * author tests them, and the seed's format refused.
 */
static void check_raw_desc(void)
{
	static char mem[4096] __attribute__((aligned(4096)));
	const int dfd = ub->dmabuf_fd, fd = ring.ring_fd;
	struct td_regbuf_desc d;
	char what[96];
	unsigned int i;

	/* DMABUF: the whole dma-buf, no range */
	d = desc(TD_DESC_DMABUF, nvme, dfd);
	d.uaddr = (__u64)(uintptr_t)mem;
	expect_desc("DMABUF with uaddr set", &d, -EINVAL);
	d = desc(TD_DESC_DMABUF, nvme, dfd);
	d.size = 4096;
	expect_desc("DMABUF with size set", &d, -EINVAL);
	d = desc(TD_DESC_DMABUF, -1, dfd);
	expect_desc("DMABUF with target_fd -1", &d, -EBADF);
	d = desc(TD_DESC_DMABUF, nvme, -1);
	expect_desc("DMABUF with dmabuf_fd -1", &d, -EBADF);
	d = desc(TD_DESC_DMABUF, nvme, fd);
	expect_desc("DMABUF with the ring fd as dmabuf_fd", &d, -EINVAL);
	d = desc(TD_DESC_DMABUF, fd, dfd);
	expect_desc("DMABUF with the ring fd as target_fd", &d, -EOPNOTSUPP);
	d = desc(TD_DESC_DMABUF, nvme, ub->memfd);
	expect_desc("DMABUF with a memfd as dmabuf_fd", &d, -EINVAL);
	/* dmabuf_fd at offset 24, target_fd at 28: the seed's order fails */
	d = desc(TD_DESC_DMABUF, dfd, nvme);
	expect_one_of("DMABUF with the two fds swapped", send_desc(&d),
		      -EINVAL, -EOPNOTSUPP, 1);
	d = desc(TD_DESC_DMABUF, nvme, dfd);
	if (t_expect("a good DMABUF descriptor", send_desc(&d), 1))
		t_expect("clear slot 1",
			 io_uring_unregister_dmabuf_buffer(&ring, 1), 0);

	/* the reserved words, one at a time */
	for (i = 0; i < 6; i++) {
		d = desc(TD_DESC_DMABUF, nvme, dfd);
		d.resv[i] = 1;
		snprintf(what, sizeof(what), "DMABUF with __resv[%u] = 1", i);
		expect_desc(what, &d, -EINVAL);
		d = desc(TD_DESC_EMPTY, 0, 0);
		d.resv[i] = 1ULL << 63;
		snprintf(what, sizeof(what), "EMPTY with __resv[%u] set", i);
		expect_desc(what, &d, -EINVAL);
	}
	/* types */
	d = desc(3, nvme, dfd);
	expect_desc("type 3", &d, -EINVAL);
	d = desc(3, 0, 0);
	expect_desc("type 3 without fds", &d, -EINVAL);
	d = desc(0xffffffffu, 0, 0);
	expect_desc("type 0xffffffff", &d, -EINVAL);

	/* EMPTY and UADDR take no fd: 0, never the seed's -1 */
	d = desc(TD_DESC_EMPTY, -1, -1);
	expect_desc("EMPTY with fds -1/-1", &d, -EINVAL);
	d = desc(TD_DESC_EMPTY, 0, -1);
	expect_desc("EMPTY with dmabuf_fd -1", &d, -EINVAL);
	d = desc(TD_DESC_EMPTY, -1, 0);
	expect_desc("EMPTY with target_fd -1", &d, -EINVAL);
	d = desc(TD_DESC_EMPTY, nvme, dfd);
	expect_desc("EMPTY with both fds set", &d, -EINVAL);
	d = desc(TD_DESC_UADDR, -1, -1);
	d.uaddr = (__u64)(uintptr_t)mem;
	d.size = sizeof(mem);
	expect_desc("UADDR with fds -1/-1", &d, -EINVAL);
	d.target_fd = nvme;
	d.dmabuf_fd = 0;
	expect_desc("UADDR with a target_fd", &d, -EINVAL);
	d = desc(TD_DESC_EMPTY, 0, 0);
	d.uaddr = (__u64)(uintptr_t)mem;
	expect_desc("EMPTY with uaddr set", &d, -EFAULT);
	d = desc(TD_DESC_EMPTY, 0, 0);
	d.size = 4096;
	expect_desc("EMPTY with size set", &d, -EFAULT);

	/* UADDR is user memory like an iovec; EMPTY clears */
	d = desc(TD_DESC_UADDR, 0, 0);
	d.uaddr = (__u64)(uintptr_t)mem;
	d.size = sizeof(mem);
	expect_desc("UADDR with fds 0/0", &d, 1);
	t_expect("READ_FIXED into the UADDR slot",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 1,
			     (uintptr_t)mem, sizeof(mem), 0), (int)sizeof(mem));
	d = desc(TD_DESC_EMPTY, 0, 0);
	expect_desc("EMPTY with fds 0/0", &d, 1);
	t_expect("READ_FIXED from the emptied slot",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 1,
			     (uintptr_t)mem, sizeof(mem), 0), -EFAULT);

	/* the flag: the seed's 1 is unknown here, as is any other bit */
	t_expect("update flag 1 (the seed's) with a seed entry",
		 td_update_raw(fd, 1, t_dmabuf_gen()->other_flag, NULL, nvme,
			       dfd), -EINVAL);
	t_expect("update flag 1 with a seed entry of -1/-1",
		 td_update_raw(fd, 1, t_dmabuf_gen()->other_flag, NULL, -1, -1),
		 -EINVAL);
	d = desc(TD_DESC_DMABUF, nvme, dfd);
	t_expect("update flags 1|2 with a descriptor",
		 td_update_desc(fd, 1, 3, &d, 1, NULL), -EINVAL);
	t_expect("update flag 1<<31 with a descriptor",
		 td_update_desc(fd, 1, 1U << 31, &d, 1, NULL), -EINVAL);
}

static void check_raw(void)
{
	int fd = ring.ring_fd;

	if (t_dmabuf_gen()->abi == T_DMABUF_ABI_DESC)
		check_raw_desc();
	else
		check_raw_seed();

	/* files updates take no flags at all */
	{
		__s32 fds[1] = { -1 };
		struct td_update up = {
			.flags = t_dmabuf_gen()->update_flag,
			.data = (__u64)(uintptr_t)fds,
			.nr = 1,
		};

		t_expect("files update (opcode 14) with the extended flag",
			 t_sys_register(fd, IORING_REGISTER_FILES_UPDATE2, &up,
					sizeof(up)), -EINVAL);
	}
}

/*
 * Initial registration reads iovecs only. A seed io_uring_reg_buffer there
 * is an iovec whose length (the two fds) is far above 1 GiB, a DMABUF
 * descriptor one at address 2 (type) of length 0 (size): -EFAULT both.
 */
static void check_initial_registration(void)
{
	struct iovec empty = { 0 };
	struct td_reg_buffer reg = {
		.iov_uaddr = (__u64)(uintptr_t)&empty,
		.target_fd = nvme,
		.dmabuf_fd = ub->dmabuf_fd,
	};
	struct td_regbuf_desc d = desc(TD_DESC_DMABUF, nvme, ub->dmabuf_fd);
	void *entry = t_dmabuf_gen()->abi == T_DMABUF_ABI_DESC ?
		      (void *)&d : (void *)&reg;
	struct io_uring_rsrc_register rr = {
		.nr = 1,
		.data = (__u64)(uintptr_t)entry,
	};
	struct io_uring other;

	if (t_ring_init(&other, 4))
		return;
	t_expect("IORING_REGISTER_BUFFERS (0) with a dma-buf entry",
		 t_sys_register(other.ring_fd, IORING_REGISTER_BUFFERS, entry, 1),
		 -EFAULT);
	t_expect("IORING_REGISTER_BUFFERS2 (15) with a dma-buf entry",
		 t_sys_register(other.ring_fd, IORING_REGISTER_BUFFERS2, &rr,
				sizeof(rr)), -EFAULT);
	rr.flags = 2;
	t_expect("IORING_REGISTER_BUFFERS2 (15) with flag 2",
		 t_sys_register(other.ring_fd, IORING_REGISTER_BUFFERS2, &rr,
				sizeof(rr)), -EINVAL);
	/* flag 1 of opcode 15 is SPARSE, which takes no data at all */
	rr.flags = IORING_RSRC_REGISTER_SPARSE;
	t_expect("IORING_REGISTER_BUFFERS2 sparse with a dma-buf entry",
		 t_sys_register(other.ring_fd, IORING_REGISTER_BUFFERS2, &rr,
				sizeof(rr)), -EINVAL);
	t_expect("no table was created",
		 td_rw_fixed(&other, IORING_OP_READ_FIXED, nvme, 0, 0, 4096, 0),
		 -EFAULT);
	io_uring_queue_exit(&other);
}

/* The ring holds the dma-buf: closing and freeing ours changes nothing. */
static void check_lifetime(void)
{
	struct io_uring_udmabuf *tmp;
	int ret;

	ret = io_uring_udmabuf_alloc(BUF_SIZE, &tmp);
	if (!t_expect("io_uring_udmabuf_alloc", ret, 0))
		return;
	memset(tmp->addr, 0x5a, BUF_SIZE);
	t_expect("register a dma-buf into slot 2",
		 io_uring_register_dmabuf_buffer(&ring, 2, nvme, tmp->dmabuf_fd), 0);
	io_uring_udmabuf_free(tmp);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, 2, 0, 4096,
			  60 * 1024 * 1024);
	t_expect("WRITE_FIXED after our fds and mapping are gone", ret, 4096);
	t_expect("clear slot 2", io_uring_unregister_dmabuf_buffer(&ring, 2), 0);
}

/* A system-heap dma-buf of @len bytes, or -errno. */
static int heap_alloc(__u64 len)
{
	struct dma_heap_allocation_data data = {
		.len = len, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	int ret;

	if (heap < 0)
		return -errno;
	ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data) ? -errno : (int)data.fd;
	close(heap);
	return ret;
}

/*
 * The slot limit, the same in both generations: a dma-buf of exactly 1 GiB
 * registers and can be used to its last byte, one page more is -EINVAL.
 * One at a time: the VM has 2 GiB.
 */
static void check_size_limit(void)
{
	const __u64 gib = 1ULL << 30;
	int fd, ret;

	fd = heap_alloc(gib + 4096);
	if (fd < 0) {
		t_fail("a system-heap dma-buf of 1 GiB + 4 KiB: %s", t_errname(fd));
		return;
	}
	t_expect("register a dma-buf of 1 GiB + 4 KiB",
		 io_uring_register_dmabuf_buffer(&ring, 1, nvme, fd), -EINVAL);
	close(fd);

	fd = heap_alloc(gib);
	if (fd < 0) {
		t_fail("a system-heap dma-buf of 1 GiB: %s", t_errname(fd));
		return;
	}
	ret = io_uring_register_dmabuf_buffer(&ring, 1, nvme, fd);
	close(fd);
	if (!t_expect("register a dma-buf of 1 GiB", ret, 0))
		return;
	t_expect("READ_FIXED into the last 4 KiB of 1 GiB",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 1, gib - 4096,
			     4096, 0), 4096);
	t_expect("READ_FIXED past 1 GiB",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 1, gib - 4096,
			     8192, 0), -EFAULT);
	t_expect("clear the 1 GiB slot",
		 io_uring_unregister_dmabuf_buffer(&ring, 1), 0);
}

int main(void)
{
	int ret;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = td_require_udmabuf(BUF_SIZE, &ub);
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	t_expect("register a dma-buf without a table",
		 io_uring_register_dmabuf_buffer(&ring, 0, nvme, ub->dmabuf_fd),
		 -ENXIO);
	if (!t_expect("io_uring_register_dmabuf_table",
		      io_uring_register_dmabuf_table(&ring, NR_SLOTS), 0))
		return t_result("dmabuf-register");

	check_success();
	check_fds();
	check_raw();
	check_initial_registration();
	check_lifetime();
	check_size_limit();

	io_uring_queue_exit(&ring);
	io_uring_udmabuf_free(ub);
	close(nvme);
	return t_result("dmabuf-register");
}
