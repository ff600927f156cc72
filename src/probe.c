/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Feature probes, libbpf style: 1 supported, 0 not supported, -errno could
 * not tell. Each probe runs on a private ring, so it cannot disturb the
 * caller's registrations and leaves nothing behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib.h"

/*
 * Only a kmbuf-aware kernel answers -ENOENT to unregistering a bgid that
 * has no ring; a kernel without the opcode answers -EINVAL. A real
 * register + map + unregister then proves the whole ABI is there.
 */
static int kmbuf_probe_ring(struct io_uring *ring)
{
	struct io_uring_kmbuf *kb;
	int ret;

	ret = io_uring_unregister_kmbuf_ring(ring, 0);
	if (ret == -EINVAL)
		return 0;
	if (ret != -ENOENT)
		return ret < 0 ? ret : -EPROTO;

	ret = io_uring_setup_kmbuf_ring(ring, 1, (unsigned int)sysconf(_SC_PAGESIZE),
					0, NULL, &kb);
	if (ret == -EINVAL)
		return 0;
	if (ret)
		return ret;
	ret = io_uring_free_kmbuf_ring(ring, kb);
	if (ret && ret != -ENOENT) {
		/*
		 * free kept the handle (and may have mapped it again; it
		 * frees it only after -ENOENT); exiting the private ring
		 * drops the registration, so drop the mapping and the
		 * handle here.
		 */
		if (kb->bufs)
			io_uring_munmap_kmbuf(kb->bufs, kb->len);
		free(kb);
	}
	return ret ? ret : 1;
}

int kmbuf_probe_with_ring(int (*probe)(struct io_uring *ring))
{
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(1, &ring, 0);
	if (ret)
		return ret;
	ret = probe(&ring);
	io_uring_queue_exit(&ring);
	return ret;
}

int io_uring_probe_kmbuf(void)
{
	return kmbuf_probe_with_ring(kmbuf_probe_ring);
}
