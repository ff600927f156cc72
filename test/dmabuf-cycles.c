/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * 1,000 register / read / clear cycles of one dma-buf: no fd growth, no
 * kernel memory growth, and once we free the dma-buf its pages really go
 * (a reference the ring forgot to drop would keep 8 MiB of shmem alive).
 * Needs the testbed VM.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(8 * 1024 * 1024)
#define NR_WARMUP	50
#define NR_CYCLES	1000
/*
 * Kernel memory the cycles may take. One leaked registration of an 8 MiB
 * dma-buf costs about 100 KiB (the importer's DMA vector and the
 * sg_table), so 1000 leaks would be ~100 MiB; a testbed kernel shows no
 * growth once deferred frees have run, but KASAN's quarantine of freed
 * objects adds a megabyte or two.
 */
#define SLAB_SLACK_KB	4096
#define AVAIL_SLACK_KB	16384
#define SHMEM_SLACK_KB	1024

static int cycle(struct io_uring *ring, int nvme, int dmabuf_fd,
		 unsigned int i)
{
	int ret;

	ret = io_uring_register_dmabuf_buffer(ring, i % 2, nvme, dmabuf_fd);
	if (!t_expect("register", ret, 0))
		return -1;
	ret = td_rw_fixed(ring, IORING_OP_READ_FIXED, nvme, i % 2,
			  (i * 4096ULL) % BUF_SIZE, 4096, 0);
	if (!t_expect("READ_FIXED", ret, 4096))
		return -1;
	ret = io_uring_unregister_dmabuf_buffer(ring, i % 2);
	if (!t_expect("clear", ret, 0))
		return -1;
	return 0;
}

int main(void)
{
	struct io_uring_udmabuf *ub;
	long fds0, fds1, slab0, slab1, avail0, avail1, shmem_held, shmem_freed;
	struct io_uring ring;
	int nvme, ret;
	unsigned int i;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	if (!t_expect("table", io_uring_register_dmabuf_table(&ring, 2), 0))
		return t_result("dmabuf-cycles");
	ret = td_require_udmabuf(BUF_SIZE, &ub);
	if (ret)
		return ret;

	for (i = 0; i < NR_WARMUP; i++)
		if (cycle(&ring, nvme, ub->dmabuf_fd, i))
			return t_result("dmabuf-cycles");
	fds0 = t_fd_count();
	slab0 = t_proc_kb("/proc/meminfo", "Slab");
	avail0 = t_proc_kb("/proc/meminfo", "MemAvailable");
	for (i = 0; i < NR_CYCLES; i++)
		if (cycle(&ring, nvme, ub->dmabuf_fd, i))
			return t_result("dmabuf-cycles");
	fds1 = t_fd_count();
	/*
	 * Frees the kernel defers are not leaks: the importer's DMA vector
	 * goes through kvfree_rcu(), whose batches run every few seconds (on
	 * the debug kernel 20 MB of them were pending right after the loop),
	 * and fput() may be delayed. Give them up to 15 s before judging.
	 */
	for (i = 0; i < 150; i++) {
		slab1 = t_proc_kb("/proc/meminfo", "Slab");
		avail1 = t_proc_kb("/proc/meminfo", "MemAvailable");
		if (slab1 - slab0 <= SLAB_SLACK_KB &&
		    avail0 - avail1 <= AVAIL_SLACK_KB)
			break;
		usleep(100000);
	}
	if (i)
		printf("deferred frees: %d ms until Slab and MemAvailable settled\n",
		       i * 100);
	printf("%d cycles: fds %ld -> %ld, Slab %ld -> %ld kB, MemAvailable %ld -> %ld kB\n",
	       NR_CYCLES, fds0, fds1, slab0, slab1, avail0, avail1);
	t_expect("open fds after the cycles", fds1, fds0);
	if (slab0 < 0 || slab1 < 0)
		t_fail("no Slab line in /proc/meminfo");
	else if (slab1 - slab0 > SLAB_SLACK_KB)
		t_fail("Slab grew by %ld kB over %d cycles (allowed %d)",
		       slab1 - slab0, NR_CYCLES, SLAB_SLACK_KB);
	if (avail0 < 0 || avail1 < 0)
		t_fail("no MemAvailable line in /proc/meminfo");
	else if (avail0 - avail1 > AVAIL_SLACK_KB)
		t_fail("MemAvailable fell by %ld kB over %d cycles (allowed %d)",
		       avail0 - avail1, NR_CYCLES, AVAIL_SLACK_KB);

	/* the last registration is cleared: freeing ours must free the pages */
	shmem_held = t_proc_kb("/proc/meminfo", "Shmem");
	io_uring_udmabuf_free(ub);
	/* a final fput() may be deferred to a worker: give it a second */
	for (i = 0; i < 20; i++) {
		shmem_freed = t_proc_kb("/proc/meminfo", "Shmem");
		if (shmem_held - shmem_freed >= BUF_SIZE / 1024 - SHMEM_SLACK_KB)
			break;
		usleep(50 * 1000);
	}
	printf("Shmem %ld -> %ld kB after io_uring_udmabuf_free\n", shmem_held,
	       shmem_freed);
	if (shmem_held < 0 || shmem_freed < 0)
		t_fail("no Shmem line in /proc/meminfo");
	else if (shmem_held - shmem_freed < BUF_SIZE / 1024 - SHMEM_SLACK_KB)
		t_fail("freeing the dma-buf released only %ld kB of %d kB of shmem: a reference was kept",
		       shmem_held - shmem_freed, BUF_SIZE / 1024);

	io_uring_queue_exit(&ring);
	close(nvme);
	return t_result("dmabuf-cycles");
}
