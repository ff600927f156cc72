/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * The parts of the dmabuf API that any kernel with sparse buffer tables
 * (5.19+) answers the same way: the table, clearing a slot, the argument
 * checks, and a ring that is reachable only through its registered index.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define NR_SLOTS	4
#define BUF_LEN		4096

static void check_args(struct io_uring *ring)
{
	t_expect("table: NULL ring", io_uring_register_dmabuf_table(NULL, 1),
		 -EINVAL);
	t_expect("table: nr 0", io_uring_register_dmabuf_table(ring, 0),
		 -EINVAL);
	t_expect("register: NULL ring",
		 io_uring_register_dmabuf_buffer(NULL, 0, 0, 0), -EINVAL);
	t_expect("register: target_fd -1",
		 io_uring_register_dmabuf_buffer(ring, 0, -1, 0), -EBADF);
	t_expect("register: dmabuf_fd -1",
		 io_uring_register_dmabuf_buffer(ring, 0, 0, -1), -EBADF);
	t_expect("register: both -1",
		 io_uring_register_dmabuf_buffer(ring, 0, -1, -1), -EBADF);
	t_expect("unregister: NULL ring",
		 io_uring_unregister_dmabuf_buffer(NULL, 0), -EINVAL);
}

/* A user-memory slot: it works, clearing empties it, clearing is idempotent. */
static void check_clear(struct io_uring *ring, void *buf)
{
	int devnull = open("/dev/null", O_RDONLY);
	int ret;

	if (devnull < 0) {
		t_fail("open(/dev/null) failed");
		return;
	}
	t_expect("user memory into slot 1",
		 td_update_user(ring->ring_fd, 1, buf, BUF_LEN), 1);
	ret = td_rw_fixed(ring, IORING_OP_READ_FIXED, devnull, 1,
			  (uintptr_t)buf, BUF_LEN, 0);
	t_expect("READ_FIXED from the user-memory slot (EOF)", ret, 0);
	t_expect("io_uring_unregister_dmabuf_buffer(slot 1)",
		 io_uring_unregister_dmabuf_buffer(ring, 1), 0);
	ret = td_rw_fixed(ring, IORING_OP_READ_FIXED, devnull, 1,
			  (uintptr_t)buf, BUF_LEN, 0);
	t_expect("READ_FIXED from the cleared slot", ret, -EFAULT);
	t_expect("clearing an empty slot again",
		 io_uring_unregister_dmabuf_buffer(ring, 1), 0);
	t_expect("clearing the last slot",
		 io_uring_unregister_dmabuf_buffer(ring, NR_SLOTS - 1), 0);
	t_expect("clearing past the table",
		 io_uring_unregister_dmabuf_buffer(ring, NR_SLOTS), -EINVAL);
	/* the kernel checks index + 1 for overflow first */
	t_expect("clearing at index UINT_MAX",
		 io_uring_unregister_dmabuf_buffer(ring, 0xffffffffu), -EOVERFLOW);
	close(devnull);
}

/* liburing 2.4+ can drop the real fd; our calls must use the index then. */
static void check_registered_ring(void *buf)
{
	struct io_uring ring;
	int real_fd, ret;

	if (t_ring_init(&ring, 4))
		return;
	ret = io_uring_register_ring_fd(&ring);
	if (ret != 1) {
		/* 5.18+ has registered ring fds; say so rather than pass */
		t_fail("io_uring_register_ring_fd: expected 1, got %d (%s)",
		       ret, t_errname(ret));
		io_uring_queue_exit(&ring);
		return;
	}
	real_fd = ring.ring_fd;
	ring.ring_fd = -1;	/* what io_uring_close_ring_fd() leaves */
	t_expect("table through the registered index",
		 io_uring_register_dmabuf_table(&ring, NR_SLOTS), 0);
	t_expect("table again through the index",
		 io_uring_register_dmabuf_table(&ring, NR_SLOTS), -EBUSY);
	ring.ring_fd = real_fd;
	t_expect("user memory into slot 2 (real fd)",
		 td_update_user(real_fd, 2, buf, BUF_LEN), 1);
	ring.ring_fd = -1;
	t_expect("clear through the registered index",
		 io_uring_unregister_dmabuf_buffer(&ring, 2), 0);
	ring.ring_fd = real_fd;
	io_uring_queue_exit(&ring);
}

int main(void)
{
	struct io_uring ring;
	void *buf;
	int ret;

	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	if (posix_memalign(&buf, 4096, BUF_LEN)) {
		t_fail("posix_memalign");
		return t_result("dmabuf-table");
	}
	memset(buf, 0, BUF_LEN);

	check_args(&ring);
	t_expect("clear without a table",
		 io_uring_unregister_dmabuf_buffer(&ring, 0), -ENXIO);
	t_expect("table too large (16384 is the 6.12 maximum)",
		 io_uring_register_dmabuf_table(&ring, 16385), -EINVAL);
	t_expect("io_uring_register_dmabuf_table(4)",
		 io_uring_register_dmabuf_table(&ring, NR_SLOTS), 0);
	t_expect("a second table", io_uring_register_dmabuf_table(&ring, 2),
		 -EBUSY);
	check_clear(&ring, buf);
	t_expect("io_uring_unregister_buffers() drops the table",
		 io_uring_unregister_buffers(&ring), 0);
	t_expect("a table after the old one was dropped",
		 io_uring_register_dmabuf_table(&ring, 16384), 0);
	io_uring_queue_exit(&ring);

	check_registered_ring(buf);
	free(buf);
	return t_result("dmabuf-table");
}
