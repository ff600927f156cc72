/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Feature probes, libbpf style: 1 supported, 0 not supported, -errno could
 * not tell. Each probe runs on a private ring, so it cannot disturb the
 * caller's registrations and leaves nothing behind.
 */
#include <errno.h>
#include <unistd.h>

#include "lib.h"

/*
 * Only a kmbuf-aware kernel answers -ENOENT to unregistering a bgid that
 * has no ring; a kernel without the opcode answers -EINVAL. A real
 * register + map + unregister then proves the whole ABI is there. The raw
 * calls, not the handle, keep the cleanup obvious.
 */
static int kmbuf_probe_ring(struct io_uring *ring)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct io_uring_kmbuf_reg reg = {
		.buf_size = (__u32)page,
		.ring_entries = 1,
	};
	void *bufs;
	int ret, unreg;

	ret = io_uring_unregister_kmbuf_ring(ring, 0);
	if (ret == -EINVAL)
		return 0;
	if (ret != -ENOENT)
		return ret < 0 ? ret : -EPROTO;

	ret = io_uring_register_kmbuf_ring(ring, &reg, 0);
	if (ret)
		return ret == -EINVAL ? 0 : ret;
	ret = io_uring_mmap_kmbuf(ring, 0, page, &bufs);
	if (!ret)
		ret = io_uring_munmap_kmbuf(bufs, page);
	unreg = io_uring_unregister_kmbuf_ring(ring, 0);
	if (!ret)
		ret = unreg;
	if (ret == -EINVAL)
		return 0;
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
