/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * A dma-buf slot is for READ_FIXED / WRITE_FIXED only: every other request
 * that imports it fails with -EFAULT, while the same request on a
 * user-memory slot gets past the import (the control). Needs the testbed
 * VM, and its /dev/kmbuf_test driver for the uring_cmd importer.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(64 * 1024)
#define SLOT_DMABUF	0
#define SLOT_USER	1

static struct io_uring ring;
static struct io_uring_udmabuf *ub;
static unsigned char *user;
static int nvme = -1;

/* READV_FIXED is 6.15+: an unknown opcode on the 6.12 base. */
static void check_readv_fixed(void)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
	struct iovec iov = { .iov_base = NULL, .iov_len = 4096 };
	int supported, ret;

	if (!probe) {
		t_fail("io_uring_get_probe_ring failed");
		return;
	}
	supported = io_uring_opcode_supported(probe, TD_OP_READV_FIXED);
	io_uring_free_probe(probe);
	printf("READV_FIXED (%d) %s by this kernel\n", TD_OP_READV_FIXED,
	       supported ? "is supported" : "is not known");

	ret = td_rw_fixed(&ring, TD_OP_READV_FIXED, nvme, SLOT_DMABUF,
			  (uintptr_t)&iov, 1, 0);
	t_expect("READV_FIXED on a dma-buf slot", ret,
		 supported ? -EFAULT : -EINVAL);
}

static void check_uring_cmd(int drvfd)
{
	int ret;

	ret = t_drv(&ring, drvfd, KMBUF_TEST_CMD_IMPORT_FIXED, SLOT_USER, 0,
		    4096, 0);
	t_expect("uring_cmd import of the user-memory slot (control)", ret, 0);
	ret = t_drv(&ring, drvfd, KMBUF_TEST_CMD_IMPORT_FIXED, SLOT_DMABUF, 0,
		    4096, 0);
	t_expect("uring_cmd import of the dma-buf slot", ret, -EFAULT);
	ret = t_drv(&ring, drvfd, KMBUF_TEST_CMD_IMPORT_FIXED, SLOT_DMABUF, 0,
		    4096, 4096);
	t_expect("uring_cmd import of the dma-buf slot at 4096", ret, -EFAULT);
}

static int send_zc(int fd, unsigned int slot, __u64 addr, unsigned int len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	int ret;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_send_zc_fixed(sqe, fd, (void *)(uintptr_t)addr, len, 0,
				    0, slot);
	ret = io_uring_submit(&ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	return td_reap(&ring, NULL);
}

/*
 * An unconnected UDP socket (zero-copy capable), or -errno without
 * CONFIG_INET. The import comes before the send, so nothing leaves it.
 */
static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/*
 * Send zero-copy imports the slot only on sockets that support zero-copy
 * (TCP/UDP). AF_UNIX does not, and the kernel refuses the request before
 * the import; then both slots must get -EOPNOTSUPP, which we check too.
 */
static void check_send_zc(void)
{
	int sv[2], fd, ret;

	fd = udp_socket();
	if (fd >= 0) {
		/* the control gets past the import, then has no destination */
		ret = send_zc(fd, SLOT_USER, (uintptr_t)user, 512);
		t_expect("SEND_ZC (UDP) from the user-memory slot", ret,
			 -EDESTADDRREQ);
		ret = send_zc(fd, SLOT_DMABUF, 0, 512);
		t_expect("SEND_ZC (UDP) from the dma-buf slot", ret, -EFAULT);
		close(fd);
		return;
	}
	printf("no AF_INET (%s): SEND_ZC checked on AF_UNIX, which refuses zero-copy before any import\n",
	       t_errname(fd));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		t_fail("socketpair failed");
		return;
	}
	ret = send_zc(sv[0], SLOT_USER, (uintptr_t)user, 512);
	t_expect("SEND_ZC (AF_UNIX) from the user-memory slot", ret,
		 -EOPNOTSUPP);
	ret = send_zc(sv[0], SLOT_DMABUF, 0, 512);
	t_expect("SEND_ZC (AF_UNIX) from the dma-buf slot", ret, -EOPNOTSUPP);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	int drvfd = -1, ret;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = td_require_udmabuf(BUF_SIZE, &ub);
	if (ret)
		return ret;
	ret = t_require_testdrv(&drvfd);
	if (ret)
		return ret;
	if (posix_memalign((void **)&user, 4096, BUF_SIZE)) {
		t_fail("posix_memalign");
		return t_result("dmabuf-import");
	}
	memset(user, 0x11, BUF_SIZE);
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	if (!t_expect("table", io_uring_register_dmabuf_table(&ring, 2), 0) ||
	    !t_expect("register the dma-buf", io_uring_register_dmabuf_buffer(
			&ring, SLOT_DMABUF, nvme, ub->dmabuf_fd), 0) ||
	    !t_expect("user memory slot", td_update_user(ring.ring_fd,
			SLOT_USER, user, BUF_SIZE), 1))
		return t_result("dmabuf-import");

	/* the slot itself works: the failures below are the importer's */
	t_expect("READ_FIXED into the dma-buf slot",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_DMABUF, 0,
			     4096, 0), 4096);
	check_readv_fixed();
	check_uring_cmd(drvfd);
	check_send_zc();

	io_uring_queue_exit(&ring);
	io_uring_udmabuf_free(ub);
	close(drvfd);
	close(nvme);
	free(user);
	return t_result("dmabuf-import");
}
