/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
#include <errno.h>

#include "lib.h"

int kmbuf_do_register(struct io_uring *ring, unsigned int opcode,
		      const void *arg, unsigned int nr_args)
{
	if (ring->ring_fd >= 0)
		return kmbuf_sys_register(ring->ring_fd, opcode, arg, nr_args);
	/*
	 * liburing >= 2.4 can close the real fd and keep only the registered
	 * index; the kernel accepts that index for registration too.
	 */
	if (ring->int_flags & KMBUF_INT_FLAG_REG_RING)
		return kmbuf_sys_register(ring->enter_ring_fd,
				opcode | IO_URING_KMBUF_USE_REGISTERED_RING,
				arg, nr_args);
	return -EBADF;
}
