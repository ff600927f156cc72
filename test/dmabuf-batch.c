/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * io_uring_update_dmabuf_buffers() against the running kernel, in the
 * generation the library detected: several slots in one call, user
 * memory and empty entries, tags whose completions say when the memory
 * may be reused, and a batch that stops at an entry the kernel refuses.
 * Needs a dmabuf-aware kernel (skips elsewhere).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define NSLOTS	8

static char mem[4][8192] __attribute__((aligned(4096)));

/* The tag completions that arrive within a second: their count. */
static int reap_tags(struct io_uring *ring, unsigned long long *seen, int max)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	int n = 0;

	while (n < max && !io_uring_wait_cqe_timeout(ring, &cqe, &ts)) {
		if (cqe->res != 0)
			t_fail("tag completion %llu with res %d",
			       (unsigned long long)cqe->user_data, cqe->res);
		seen[n++] = cqe->user_data;
		io_uring_cqe_seen(ring, cqe);
	}
	return n;
}

static int has_tag(const unsigned long long *seen, int n, unsigned long long tag)
{
	int i;

	for (i = 0; i < n; i++)
		if (seen[i] == tag)
			return 1;
	return 0;
}

int main(void)
{
	struct io_uring_dmabuf_entry e[4];
	unsigned long long seen[8];
	__u64 tags[4];
	struct io_uring ring;
	int ret, n, i;

	ret = io_uring_probe_dmabuf();
	if (ret == 0)
		return t_skip("kernel lacks dmabuf registered buffers (io_uring_probe_dmabuf() = 0)");
	if (ret < 0)
		return t_skip("io_uring_probe_dmabuf() could not tell: %s", t_errname(-ret));
	printf("dmabuf generation %d\n", io_uring_dmabuf_abi());

	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	if (!t_expect("sparse table", io_uring_register_dmabuf_table(&ring, NSLOTS), 0))
		return t_result("dmabuf-batch");

	/* four user-memory slots with tags, in one call */
	memset(e, 0, sizeof(e));
	for (i = 0; i < 4; i++) {
		e[i].kind = IO_URING_DMABUF_ENTRY_USER;
		e[i].addr = mem[i];
		e[i].len = sizeof(mem[i]);
		tags[i] = 0x100 + (unsigned int)i;
	}
	t_expect("a batch of 4 user slots with tags",
		 io_uring_update_dmabuf_buffers(&ring, 2, e, tags, 4), 4);
	t_expect("no tag fires while the memory is registered",
		 reap_tags(&ring, seen, 8), 0);

	/* clear the middle two: their tags say the memory is free again */
	memset(e, 0, sizeof(e));
	e[0].kind = e[1].kind = IO_URING_DMABUF_ENTRY_EMPTY;
	t_expect("a batch of 2 empty entries",
		 io_uring_update_dmabuf_buffers(&ring, 3, e, NULL, 2), 2);
	n = reap_tags(&ring, seen, 8);
	t_expect("tag completions after clearing two", n, 2);
	if (!has_tag(seen, n, 0x101) || !has_tag(seen, n, 0x102))
		t_fail("the tags of slots 3 and 4 (0x101, 0x102) did not both arrive");

	/*
	 * A batch that stops part-way: user memory, then a dma-buf entry the
	 * kernel must refuse (the ring is neither a dma-buf nor a target),
	 * then more. The kernel applies the first and says 1; resuming at the
	 * refused entry gives its error.
	 */
	memset(e, 0, sizeof(e));
	e[0].kind = IO_URING_DMABUF_ENTRY_USER;
	e[0].addr = mem[1];
	e[0].len = sizeof(mem[1]);
	e[1].kind = IO_URING_DMABUF_ENTRY_DMABUF;
	e[1].target_fd = ring.ring_fd;
	e[1].dmabuf_fd = ring.ring_fd;
	e[2].kind = IO_URING_DMABUF_ENTRY_USER;
	e[2].addr = mem[2];
	e[2].len = sizeof(mem[2]);
	t_expect("a batch that fails at its second entry",
		 io_uring_update_dmabuf_buffers(&ring, 3, e, NULL, 3), 1);
	ret = io_uring_update_dmabuf_buffers(&ring, 4, &e[1], NULL, 2);
	if (ret != -EINVAL && ret != -EOPNOTSUPP && ret != -EBADF)
		t_fail("resuming at the refused entry: %d (%s), want its error",
		       ret, ret < 0 ? t_errname(-ret) : "a count");

	/* clear everything: the remaining tags (slots 2 and 5) arrive */
	memset(e, 0, sizeof(e));
	for (i = 0; i < 4; i++)
		e[i].kind = IO_URING_DMABUF_ENTRY_EMPTY;
	t_expect("clear slots 2..5", io_uring_update_dmabuf_buffers(&ring, 2, e, NULL, 4), 4);
	n = reap_tags(&ring, seen, 8);
	t_expect("the last tag completions", n, 2);
	if (!has_tag(seen, n, 0x100) || !has_tag(seen, n, 0x103))
		t_fail("the tags of slots 2 and 5 (0x100, 0x103) did not both arrive");

	io_uring_queue_exit(&ring);
	return t_result("dmabuf-batch");
}
