/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * udmabufs from huge pages (io_uring_udmabuf_alloc_flags()) and CPU access
 * bracketing (io_uring_dmabuf_sync_begin/end()): with an empty huge page
 * pool the kernel's -ENOSPC and the fallback to base pages; with a pool,
 * that the buffer really is huge pages (HugePages_Free, smaps), that a
 * dma-buf slot of it serves READ_FIXED / WRITE_FIXED on the NVMe namespace
 * as a plain O_DIRECT pread/pwrite sees them, across a huge page boundary,
 * the size and page-size errors, exhaustion leaving the pool as it was,
 * and sync round trips on udmabuf and system-heap dma-bufs. Sets
 * /proc/sys/vm/nr_hugepages and restores it. Needs the testbed VM.
 */
#define _GNU_SOURCE	/* O_DIRECT, F_GET_SEALS */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#include "dmabuf-util.h"

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HEAP_DEV	"/dev/dma_heap/system"
#define POOL		8		/* huge pages in the pool */
#define BUF_HUGE	2		/* huge pages in the test buffer */
/* the namespace range this test writes, restored at the end */
#define DISK_OFF	(32ULL * 1024 * 1024)
/* the emulated namespace transfers 512 KiB at most (README) */
#define CHUNK		(512 * 1024)

static long saved_nr = -1;
static size_t hps;	/* default huge page size */
static size_t page;

static int write_long(const char *path, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", val);
	return td_write_file(path, buf);
}

/* Set the pool to @nr pages: 1 if it has them, 0 if not. */
static int set_pool(long nr)
{
	int ret = write_long(NR_HUGEPAGES, nr);
	long now = td_read_long(NR_HUGEPAGES);

	if (ret) {
		t_fail("write %ld to %s: %s", nr, NR_HUGEPAGES, t_errname(ret));
		return 0;
	}
	if (now != nr) {
		t_fail("%s is %ld after writing %ld", NR_HUGEPAGES, now, nr);
		return 0;
	}
	return 1;
}

static void restore_pool(void)
{
	if (saved_nr < 0)
		return;
	if (write_long(NR_HUGEPAGES, saved_nr) ||
	    td_read_long(NR_HUGEPAGES) != saved_nr)
		t_fail("could not restore %s to %ld", NR_HUGEPAGES, saved_nr);
	else
		printf("%s restored to %ld\n", NR_HUGEPAGES, saved_nr);
	saved_nr = -1;
}

static long meminfo(const char *key)
{
	return t_proc_kb("/proc/meminfo", key);
}

/*
 * HugePages_Free once it reaches @want, within 5 s; else its value then.
 * io_uring drops a slot's last reference from a work item after the ring
 * exits, so the pages come back a moment later.
 */
static long wait_free(long want)
{
	uint64_t start = t_now_ns();
	long now;

	while ((now = meminfo("HugePages_Free")) != want &&
	       t_now_ns() - start < 5000000000ULL)
		usleep(10000);
	if (now == want)
		printf("huge pages back in the pool after %llu ms\n",
		       (unsigned long long)((t_now_ns() - start) / 1000000));
	return now;
}

/* KernelPageSize (kB) of the mapping that starts at @addr, or -1. */
static long smaps_page_kb(const void *addr)
{
	char line[256], start[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	snprintf(start, sizeof(start), "%lx-", (unsigned long)(uintptr_t)addr);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') &&
		    strchr(line, '-') < strchr(line, ' ')) {
			/* a mapping's first line: "start-end perms ..." */
			in = !strncmp(line, start, strlen(start));
			continue;
		}
		if (in && !strncmp(line, "KernelPageSize:", 15)) {
			kb = strtol(line + 15, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* An aligned buffer for O_DIRECT, or NULL (a failure reported). */
static unsigned char *dio_buf(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len)) {
		t_fail("posix_memalign(%zu)", len);
		return NULL;
	}
	return p;
}

/* pread/pwrite of exactly @len with O_DIRECT, in CHUNKs: 1 or 0. */
static int dio(int fd, int write_it, void *buf, size_t len, __u64 off)
{
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < CHUNK ? len - done : CHUNK;
		ssize_t r = write_it ?
			pwrite(fd, (char *)buf + done, n, (off_t)(off + done)) :
			pread(fd, (char *)buf + done, n, (off_t)(off + done));

		if (r != (ssize_t)n) {
			t_fail("%s at %llu: %zd (%s)", write_it ? "pwrite" : "pread",
			       (unsigned long long)(off + done), r,
			       t_errname(r < 0 ? -errno : 0));
			return 0;
		}
		done += n;
	}
	return 1;
}

/* The empty pool: -ENOSPC, nothing left behind; the fallback works. */
static void check_empty_pool(void)
{
	struct io_uring_udmabuf *ub = (void *)0x1;
	long fds = t_fd_count(), maps = t_maps_count();
	int ret;

	if (!set_pool(0))
		return;
	ret = io_uring_udmabuf_alloc_flags(hps, IO_URING_UDMABUF_HUGETLB, &ub);
	printf("empty pool: HUGETLB alloc %d (%s)\n", ret, t_errname(ret));
	t_expect("HUGETLB with no huge pages", ret, -ENOSPC);
	if (ub != (void *)0x1)
		t_fail("a failed alloc wrote *ubp");
	t_expect("fds after the failed alloc", t_fd_count(), fds);
	t_expect("mappings after the failed alloc", t_maps_count(), maps);
	t_expect("HugePages_Rsvd after the failed alloc",
		 meminfo("HugePages_Rsvd"), 0);

	ub = NULL;
	ret = io_uring_udmabuf_alloc_flags(hps, IO_URING_UDMABUF_HUGETLB |
					   IO_URING_UDMABUF_FALLBACK, &ub);
	if (!t_expect("HUGETLB | FALLBACK with no huge pages", ret, 0))
		return;
	printf("empty pool: HUGETLB | FALLBACK alloc 0, page_size %zu\n",
	       ub->page_size);
	t_expect("the fallback's page_size", ub->page_size, page);
	t_expect("the fallback's size", ub->size, hps);
	t_expect("the fallback's KernelPageSize (kB)", smaps_page_kb(ub->addr),
		 page / 1024);
	memset(ub->addr, 0x5a, ub->size);
	io_uring_udmabuf_free(ub);
	t_expect("fds after the fallback's free", t_fd_count(), fds);
}

/* Argument errors, on a pool with pages. */
static void check_errors(void)
{
	struct io_uring_udmabuf *ub = (void *)0x1;
	long free_before = meminfo("HugePages_Free");
	int ret;

	t_expect("a size that is no huge page multiple",
		 io_uring_udmabuf_alloc_flags(hps + page,
					      IO_URING_UDMABUF_HUGETLB, &ub),
		 -EINVAL);
	t_expect("FALLBACK without HUGETLB",
		 io_uring_udmabuf_alloc_flags(hps, IO_URING_UDMABUF_FALLBACK,
					      &ub), -EINVAL);
	t_expect("a page size without HUGETLB",
		 io_uring_udmabuf_alloc_flags(hps, IO_URING_UDMABUF_HUGE_2MB,
					      &ub), -EINVAL);
	t_expect("an unknown flag",
		 io_uring_udmabuf_alloc_flags(hps, 1U << 7, &ub), -EINVAL);
	/* 8 KiB huge pages exist nowhere: memfd_create(2)'s ENODEV */
	t_expect("a huge page size the machine has not",
		 io_uring_udmabuf_alloc_flags(hps, IO_URING_UDMABUF_HUGETLB |
					      (13U << IO_URING_UDMABUF_HUGE_SHIFT),
					      &ub), -ENODEV);
	if (access("/sys/kernel/mm/hugepages/hugepages-1048576kB", F_OK))
		t_expect("1 GiB pages, which this kernel has no pool of",
			 io_uring_udmabuf_alloc_flags((size_t)1 << 30,
					IO_URING_UDMABUF_HUGETLB |
					IO_URING_UDMABUF_HUGE_1GB, &ub),
			 -ENODEV);
	/* more than the pool holds: ENOSPC, and the pool is as it was */
	t_expect("more huge pages than the pool has",
		 io_uring_udmabuf_alloc_flags((size_t)(free_before + 1) * hps,
					      IO_URING_UDMABUF_HUGETLB, &ub),
		 -ENOSPC);
	t_expect("HugePages_Free after the failed alloc",
		 meminfo("HugePages_Free"), free_before);
	t_expect("HugePages_Rsvd after the failed alloc",
		 meminfo("HugePages_Rsvd"), 0);
	if (ub != (void *)0x1)
		t_fail("a failed alloc wrote *ubp");

	/* the size the huge pages refused, in base pages */
	ub = NULL;
	ret = io_uring_udmabuf_alloc_flags(hps + page,
					   IO_URING_UDMABUF_HUGETLB |
					   IO_URING_UDMABUF_FALLBACK, &ub);
	if (t_expect("FALLBACK for a size that is no huge page multiple",
		     ret, 0)) {
		t_expect("its page_size", ub->page_size, page);
		t_expect("HugePages_Free with it", meminfo("HugePages_Free"),
			 free_before);
		io_uring_udmabuf_free(ub);
	}

	/* the explicit 2 MiB size, where that is the default */
	if (hps == (size_t)2 << 20) {
		ub = NULL;
		ret = io_uring_udmabuf_alloc_flags(hps, IO_URING_UDMABUF_HUGETLB |
						   IO_URING_UDMABUF_HUGE_2MB, &ub);
		if (t_expect("HUGETLB | HUGE_2MB", ret, 0)) {
			t_expect("its page_size", ub->page_size, hps);
			io_uring_udmabuf_free(ub);
		}
	}

	/* io_uring_udmabuf_alloc() is what it was: base pages */
	ub = NULL;
	if (t_expect("io_uring_udmabuf_alloc()",
		     io_uring_udmabuf_alloc(hps, &ub), 0)) {
		t_expect("its page_size", ub->page_size, page);
		t_expect("HugePages_Free with it", meminfo("HugePages_Free"),
			 free_before);
		io_uring_udmabuf_free(ub);
	}
}

/* Sync round trips and refusals on dma-buf @fd ("what" names it). */
static void check_sync(const char *what, int fd)
{
	static const unsigned int dirs[] = {
		IO_URING_DMABUF_SYNC_READ, IO_URING_DMABUF_SYNC_WRITE,
		IO_URING_DMABUF_SYNC_RW,
	};
	char msg[96];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "%s: sync_begin(%u)", what, dirs[i]);
		t_expect(msg, io_uring_dmabuf_sync_begin(fd, dirs[i]), 0);
		snprintf(msg, sizeof(msg), "%s: sync_end(%u)", what, dirs[i]);
		t_expect(msg, io_uring_dmabuf_sync_end(fd, dirs[i]), 0);
	}
	snprintf(msg, sizeof(msg), "%s: sync_begin(0)", what);
	t_expect(msg, io_uring_dmabuf_sync_begin(fd, 0), -EINVAL);
	snprintf(msg, sizeof(msg), "%s: sync_begin(RW | 4, DMA_BUF_SYNC_END)", what);
	t_expect(msg, io_uring_dmabuf_sync_begin(fd, IO_URING_DMABUF_SYNC_RW | 4),
		 -EINVAL);
	snprintf(msg, sizeof(msg), "%s: sync_end(8)", what);
	t_expect(msg, io_uring_dmabuf_sync_end(fd, 8), -EINVAL);
}

/* A system-heap dma-buf: the sync calls work on any dma-buf. */
static void check_sync_heap(void)
{
	struct dma_heap_allocation_data data = {
		.len = 64 * 1024, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open(HEAP_DEV, O_RDONLY | O_CLOEXEC);

	if (heap < 0) {
		t_fail("open(%s): %s", HEAP_DEV, t_errname(-errno));
		return;
	}
	if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data)) {
		t_fail("DMA_HEAP_IOCTL_ALLOC: %s", t_errname(-errno));
		close(heap);
		return;
	}
	close(heap);
	/* the heap, unlike udmabuf, takes an end without a begin */
	t_expect("system heap: sync_end before any begin",
		 io_uring_dmabuf_sync_end((int)data.fd, IO_URING_DMABUF_SYNC_RW),
		 0);
	check_sync("system heap", (int)data.fd);
	close((int)data.fd);
}

/*
 * The huge-page buffer in a dma-buf slot: READ_FIXED / WRITE_FIXED across
 * its huge page boundary against O_DIRECT pread/pwrite, CPU access
 * bracketed by the sync calls.
 */
static void check_io(struct io_uring_udmabuf *ub, int nvme)
{
	struct io_uring ring;
	size_t len = ub->size;
	unsigned char *saved, *want, *got, *p = ub->addr;
	size_t off;
	int ret;

	saved = dio_buf(len);
	want = dio_buf(len);
	got = dio_buf(len);
	if (!saved || !want || !got)
		goto out_free;
	if (!dio(nvme, 0, saved, len, DISK_OFF))
		goto out_free;
	if (t_ring_init(&ring, 8))
		goto out_free;
	if (!t_expect("table", io_uring_register_dmabuf_table(&ring, 1), 0) ||
	    !t_expect("register the huge-page dma-buf",
		      io_uring_register_dmabuf_buffer(&ring, 0, nvme,
						      ub->dmabuf_fd), 0))
		goto out_ring;

	/* device -> dma-buf: the whole buffer, then across the boundary */
	td_fill(want, len, 4242);
	if (!dio(nvme, 1, want, len, DISK_OFF))
		goto out_restore;
	memset(p, 0xee, len);
	for (off = 0; off < len; off += CHUNK) {
		ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 0, off,
				  CHUNK, DISK_OFF + off);
		if (!t_expect("READ_FIXED into the huge-page dma-buf", ret, CHUNK))
			goto out_restore;
	}
	t_expect("sync_begin(READ) after the reads",
		 io_uring_dmabuf_sync_begin(ub->dmabuf_fd,
					    IO_URING_DMABUF_SYNC_READ), 0);
	if (!dio(nvme, 0, got, len, DISK_OFF))
		goto out_restore;
	if (memcmp(got, want, len))
		t_fail("O_DIRECT pread does not give what pwrite wrote");
	if (memcmp(p, got, len))
		t_fail("READ_FIXED into huge pages differs from O_DIRECT pread");
	t_expect("sync_end(READ)",
		 io_uring_dmabuf_sync_end(ub->dmabuf_fd,
					  IO_URING_DMABUF_SYNC_READ), 0);

	/* one read of 256 KiB straddling the first huge page boundary */
	memset(p, 0, len);
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, 0,
			  hps - 128 * 1024, 256 * 1024,
			  DISK_OFF + 4096);
	if (t_expect("READ_FIXED across the huge page boundary", ret,
		     256 * 1024) &&
	    memcmp(p + hps - 128 * 1024, want + 4096, 256 * 1024))
		t_fail("the read across the huge page boundary differs");

	/* dma-buf -> device, CPU writes bracketed for the device */
	t_expect("sync_begin(WRITE)",
		 io_uring_dmabuf_sync_begin(ub->dmabuf_fd,
					    IO_URING_DMABUF_SYNC_WRITE), 0);
	td_fill(p, len, 777);
	t_expect("sync_end(WRITE)",
		 io_uring_dmabuf_sync_end(ub->dmabuf_fd,
					  IO_URING_DMABUF_SYNC_WRITE), 0);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, 0,
			  hps - 256 * 1024, CHUNK, DISK_OFF);
	if (t_expect("WRITE_FIXED across the huge page boundary", ret, CHUNK) &&
	    dio(nvme, 0, got, CHUNK, DISK_OFF) &&
	    memcmp(got, p + hps - 256 * 1024, CHUNK))
		t_fail("O_DIRECT pread differs from what WRITE_FIXED wrote");
	printf("READ_FIXED/WRITE_FIXED on %zu KiB of %zu KiB pages checked\n",
	       len / 1024, ub->page_size / 1024);

out_restore:
	dio(nvme, 1, saved, len, DISK_OFF);
	t_expect("clear the slot", io_uring_unregister_dmabuf_buffer(&ring, 0), 0);
out_ring:
	io_uring_queue_exit(&ring);
out_free:
	free(saved);
	free(want);
	free(got);
}

static void check_huge(int nvme)
{
	struct io_uring_udmabuf *ub = NULL;
	long free_before, fds = t_fd_count();
	int seals, ret;

	if (!set_pool(POOL))
		return;
	free_before = meminfo("HugePages_Free");
	t_expect("HugePages_Free of the new pool", free_before, POOL);
	check_errors();

	ret = io_uring_udmabuf_alloc_flags(BUF_HUGE * hps,
					   IO_URING_UDMABUF_HUGETLB, &ub);
	if (!t_expect("HUGETLB alloc", ret, 0))
		return;
	printf("%zu KiB udmabuf of %zu KiB pages at %p\n", ub->size / 1024,
	       ub->page_size / 1024, ub->addr);
	t_expect("page_size", ub->page_size, hps);
	t_expect("size", ub->size, BUF_HUGE * hps);
	/* preallocated: taken from the pool now, none merely reserved */
	t_expect("HugePages_Free with the buffer", meminfo("HugePages_Free"),
		 free_before - BUF_HUGE);
	t_expect("HugePages_Rsvd with the buffer", meminfo("HugePages_Rsvd"), 0);
	t_expect("KernelPageSize of the mapping (kB)", smaps_page_kb(ub->addr),
		 hps / 1024);
	seals = fcntl(ub->memfd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		t_fail("the memfd lacks F_SEAL_SHRINK (seals %d)", seals);
	t_expect("sync_end before any begin (udmabuf has no CPU mapping yet)",
		 io_uring_dmabuf_sync_end(ub->dmabuf_fd, IO_URING_DMABUF_SYNC_RW),
		 -EINVAL);
	check_sync("huge udmabuf", ub->dmabuf_fd);
	t_expect("sync on the memfd, no dma-buf",
		 io_uring_dmabuf_sync_begin(ub->memfd, IO_URING_DMABUF_SYNC_RW),
		 -ENOTTY);
	t_expect("sync on fd -1",
		 io_uring_dmabuf_sync_begin(-1, IO_URING_DMABUF_SYNC_RW), -EBADF);

	check_io(ub, nvme);

	io_uring_udmabuf_free(ub);
	/* the ring's release of its dma-buf reference may lag its exit */
	t_expect("HugePages_Free after the free", wait_free(free_before),
		 free_before);
	t_expect("HugePages_Rsvd after the free", meminfo("HugePages_Rsvd"), 0);
	t_expect("fds after the free", t_fd_count(), fds);
}

int main(void)
{
	struct io_uring_udmabuf *probe;
	int nvme, ret;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = td_require_udmabuf(4096, &probe);
	if (ret)
		return ret;
	io_uring_udmabuf_free(probe);
	saved_nr = td_read_long(NR_HUGEPAGES);
	if (saved_nr < 0)
		return t_skip("no %s: the kernel lacks CONFIG_HUGETLBFS", NR_HUGEPAGES);
	if (access(NR_HUGEPAGES, W_OK)) {
		saved_nr = -1;
		return t_skip("%s is not writable here (not root)", NR_HUGEPAGES);
	}
	atexit(restore_pool);
	page = t_page_size();
	hps = (size_t)meminfo("Hugepagesize") * 1024;
	printf("default huge page size %zu KiB, %s was %ld\n", hps / 1024,
	       NR_HUGEPAGES, saved_nr);

	check_empty_pool();
	check_huge(nvme);
	check_sync_heap();

	restore_pool();
	close(nvme);
	return t_result("dmabuf-udmabuf-huge");
}
