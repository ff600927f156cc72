/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * dmabuf-devmem-checksum: NVMe I/O straight to and from device memory.
 *
 * A dma-buf slot may hold memory that has no ordinary pages, such as GPU
 * VRAM or a PCI BAR: the NVMe controller then moves the data by
 * peer-to-peer DMA, and the CPU sees the memory only through the
 * exporter's (slow, uncached) mmap view. This program
 *
 *  1. reads a region of the namespace into device memory with
 *     IORING_OP_READ_FIXED and checksums it through the CPU view, against
 *     the checksum of a plain O_DIRECT pread(2) of the same region;
 *  2. fills the device memory through the CPU view, writes it to the
 *     region with IORING_OP_WRITE_FIXED, and verifies it by reading the
 *     region back plainly; then it puts the region's old bytes back.
 *
 * The only exporter of device memory at hand is the liburing-kmbuf
 * testbed's: its test driver (/dev/kmbuf_test, KMBUF_TEST_IOC_P2P_EXPORT)
 * exports part of the drive's Controller Memory Buffer as a dma-buf. That
 * is why this example uses the test driver; with a GPU the dma-buf would
 * come from the GPU driver instead, and everything after the export is
 * the same. Without the driver, or on a drive without a CMB, it skips.
 *
 *   dmabuf-devmem-checksum [DEVICE [OFFSET [LENGTH]]]
 *
 * DEVICE defaults to $KMBUF_TEST_NVME, which only the testbed VM sets; it
 * must be a namespace of the controller that has the CMB. Defaults:
 * offset 36 MiB, length 2 MiB (multiples of 4096). Exits 0 on success, 1
 * on failure, 77 (with a reason) where the kernel or the machine lacks
 * what it needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <liburing-kmbuf.h>
#include "kmbuf_testdrv.h"

#define CHUNK		(1024 * 1024)	/* size of the device memory */
#define BOUNCE		(64 * 1024)	/* CPU-view copies, see cpu_fnv1a() */
#define SLOT		0
#define EXIT_SKIP	77
#define FNV_INIT	0xcbf29ce484222325ULL

/* 64-bit FNV-1a, continued from @h. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t len)
{
	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * The checksum of @len bytes of the CPU view @cpu. The view is uncached
 * device memory, where every load is a bus transaction: copy it out in
 * large pieces and compute on the copy, never byte by byte in place.
 */
static uint64_t cpu_fnv1a(uint64_t h, const unsigned char *cpu, size_t len)
{
	static unsigned char bounce[BOUNCE];
	size_t n;

	for (; len; cpu += n, len -= n) {
		n = len < BOUNCE ? len : BOUNCE;
		memcpy(bounce, cpu, n);
		h = fnv1a(h, bounce, n);
	}
	return h;
}

/* The bytes pass 2 writes: differ from chunk to chunk. */
static void fill_pattern(unsigned char *p, size_t len, uint64_t pos)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((pos + i) * 131 + (pos >> 20));
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One fixed read or write of @len bytes at dma-buf offset 0: 0 or -errno. */
static int rw_fixed(struct io_uring *ring, int op, int fd, unsigned int len,
		    uint64_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	/* for a dma-buf slot the address is an offset into the dma-buf */
	io_uring_prep_rw(op, sqe, fd, NULL, len, off);
	sqe->buf_index = SLOT;
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_peek_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (ret < 0)
		return ret;
	return (unsigned int)ret == len ? 0 : -EIO;
}

static int parse_size(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || *v % 4096)
		return -1;
	return 0;
}

/*
 * Export CHUNK bytes of the device memory of the controller behind @fd
 * and map its CPU view: 0, EXIT_SKIP (said why) or 1.
 */
static int export_devmem(int fd, int *dmabuf_fd, unsigned char **cpu)
{
	struct kmbuf_test_p2p_export e = { .bdev_fd = fd, .size = CHUNK };
	int drv, err;

	drv = open(KMBUF_TEST_DEVICE, O_RDWR | O_CLOEXEC);
	if (drv < 0) {
		printf("SKIP: no device-memory exporter: %s: %s (the liburing-kmbuf testbed's driver, root only)\n",
		       KMBUF_TEST_DEVICE, strerror(errno));
		return EXIT_SKIP;
	}
	err = ioctl(drv, KMBUF_TEST_IOC_P2P_EXPORT, &e) < 0 ? errno : 0;
	close(drv);	/* the dma-buf lives on without it */
	if (err == ENOTTY || err == EOPNOTSUPP) {
		printf("SKIP: the test driver exports no device memory (%s)\n",
		       strerror(err));
		return EXIT_SKIP;
	}
	if (err == ENODEV) {
		printf("SKIP: the controller of this namespace has no P2P memory (no CMB)\n");
		return EXIT_SKIP;
	}
	if (err) {
		fprintf(stderr, "KMBUF_TEST_IOC_P2P_EXPORT of %d bytes: %s\n",
			CHUNK, strerror(err));
		return 1;
	}
	*cpu = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED,
		    e.dmabuf_fd, 0);
	if (*cpu == MAP_FAILED) {
		fprintf(stderr, "mmap of the device memory: %s\n",
			strerror(errno));
		close(e.dmabuf_fd);
		return 1;
	}
	*dmabuf_fd = e.dmabuf_fd;
	return 0;
}

int main(int argc, char *argv[])
{
	const char *dev = argc > 1 ? argv[1] : getenv("KMBUF_TEST_NVME");
	uint64_t offset = 36ULL << 20, length = 2ULL << 20, pos;
	uint64_t sum_dev = FNV_INIT, sum_plain = FNV_INIT;
	double t0, t_read = 0, t_sum = 0, t_write = 0, mib;
	unsigned char *cpu = NULL, *plain = NULL, *orig = NULL, *want = NULL;
	int fd = -1, dmabuf_fd = -1, ret, status = 1;
	struct io_uring ring;
	unsigned int len;

	if ((argc > 2 && parse_size(argv[2], &offset)) ||
	    (argc > 3 && (parse_size(argv[3], &length) || !length)) ||
	    argc > 4) {
		fprintf(stderr, "usage: %s [DEVICE [OFFSET [LENGTH]]] (multiples of 4096)\n",
			argv[0]);
		return 1;
	}
	if (!dev) {
		printf("SKIP: no device: name one, or set KMBUF_TEST_NVME (the region is written and restored)\n");
		return EXIT_SKIP;
	}

	ret = io_uring_probe_dmabuf();
	if (ret == 0) {
		printf("SKIP: kernel lacks dmabuf registered buffers (io_uring_probe_dmabuf() = 0)\n");
		return EXIT_SKIP;
	}
	if (ret < 0) {
		printf("SKIP: io_uring_probe_dmabuf() could not tell: %s\n",
		       strerror(-ret));
		return EXIT_SKIP;
	}
	fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		printf("SKIP: cannot open %s with O_DIRECT: %s\n", dev,
		       strerror(errno));
		return EXIT_SKIP;
	}
	status = export_devmem(fd, &dmabuf_fd, &cpu);
	if (status)
		goto out_fd;
	status = 1;
	/* O_DIRECT needs aligned user memory for the plain reads and writes */
	if (posix_memalign((void **)&plain, 4096, CHUNK) ||
	    posix_memalign((void **)&orig, 4096, CHUNK) ||
	    !(want = malloc(CHUNK))) {
		fprintf(stderr, "out of memory\n");
		goto out_mem;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		goto out_mem;
	}
	ret = io_uring_register_dmabuf_table(&ring, 1);
	if (!ret)
		ret = io_uring_register_dmabuf_buffer(&ring, SLOT, fd, dmabuf_fd);
	if (ret == -EREMOTEIO) {
		fprintf(stderr, "%s cannot reach this device memory by P2P DMA (-EREMOTEIO): use a namespace of the controller that has the CMB\n",
			dev);
		goto out_ring;
	}
	if (ret) {
		fprintf(stderr, "registering the device memory for %s: %s\n",
			dev, strerror(-ret));
		goto out_ring;
	}

	/* 1: namespace -> device memory, checksummed through the CPU view */
	for (pos = 0; pos < length; pos += len) {
		len = length - pos < CHUNK ? (unsigned int)(length - pos) : CHUNK;

		t0 = now_sec();
		ret = rw_fixed(&ring, IORING_OP_READ_FIXED, fd, len, offset + pos);
		t_read += now_sec() - t0;
		if (ret) {
			fprintf(stderr, "READ_FIXED at %" PRIu64 ": %s\n",
				offset + pos, strerror(-ret));
			goto out_ring;
		}
		/* bracket CPU access: needed where DMA is not cache-coherent */
		t0 = now_sec();
		ret = io_uring_dmabuf_sync_begin(dmabuf_fd, IO_URING_DMABUF_SYNC_READ);
		if (!ret) {
			sum_dev = cpu_fnv1a(sum_dev, cpu, len);
			ret = io_uring_dmabuf_sync_end(dmabuf_fd, IO_URING_DMABUF_SYNC_READ);
		}
		t_sum += now_sec() - t0;
		if (ret) {
			fprintf(stderr, "DMA_BUF_IOCTL_SYNC: %s\n", strerror(-ret));
			goto out_ring;
		}
		if (pread(fd, plain, len, (off_t)(offset + pos)) != (ssize_t)len) {
			fprintf(stderr, "pread at %" PRIu64 " failed\n", offset + pos);
			goto out_ring;
		}
		sum_plain = fnv1a(sum_plain, plain, len);
	}
	mib = length / 1048576.0;
	printf("device         %s, %d KiB of its controller memory buffer\n",
	       dev, CHUNK / 1024);
	printf("region         %" PRIu64 " + %" PRIu64 " bytes\n", offset, length);
	printf("read           %.1f MiB/s into device memory, checksummed at %.1f MiB/s through the CPU view\n",
	       t_read > 0 ? mib / t_read : 0.0, t_sum > 0 ? mib / t_sum : 0.0);
	printf("checksum       fnv1a64 %016" PRIx64 "\n", sum_dev);
	if (sum_dev != sum_plain) {
		printf("compare        FAILED: a plain pread gives %016" PRIx64 "\n",
		       sum_plain);
		goto out_ring;
	}
	printf("compare        ok, a plain pread gives the same\n");

	/* 2: CPU view -> device memory -> namespace, read back plainly */
	for (pos = 0; pos < length; pos += len) {
		len = length - pos < CHUNK ? (unsigned int)(length - pos) : CHUNK;

		if (pread(fd, orig, len, (off_t)(offset + pos)) != (ssize_t)len) {
			fprintf(stderr, "pread at %" PRIu64 " failed\n", offset + pos);
			goto out_ring;
		}
		/* build the data in ordinary memory, store it in large pieces */
		fill_pattern(want, len, pos);
		ret = io_uring_dmabuf_sync_begin(dmabuf_fd, IO_URING_DMABUF_SYNC_WRITE);
		if (!ret) {
			memcpy(cpu, want, len);
			ret = io_uring_dmabuf_sync_end(dmabuf_fd, IO_URING_DMABUF_SYNC_WRITE);
		}
		if (ret) {
			fprintf(stderr, "DMA_BUF_IOCTL_SYNC: %s\n", strerror(-ret));
			goto out_ring;
		}
		t0 = now_sec();
		ret = rw_fixed(&ring, IORING_OP_WRITE_FIXED, fd, len, offset + pos);
		t_write += now_sec() - t0;
		if (ret) {
			fprintf(stderr, "WRITE_FIXED at %" PRIu64 ": %s\n",
				offset + pos, strerror(-ret));
			goto out_restore;
		}
		memset(plain, 0xa5, len);
		if (pread(fd, plain, len, (off_t)(offset + pos)) != (ssize_t)len) {
			fprintf(stderr, "pread back at %" PRIu64 " failed\n",
				offset + pos);
			goto out_restore;
		}
		if (memcmp(plain, want, len)) {
			fprintf(stderr, "verify: the namespace at %" PRIu64 " does not hold what the device memory held\n",
				offset + pos);
			goto out_restore;
		}
		if (pwrite(fd, orig, len, (off_t)(offset + pos)) != (ssize_t)len) {
			fprintf(stderr, "restoring %" PRIu64 " failed\n", offset + pos);
			goto out_ring;
		}
	}
	printf("write          %.1f MiB/s from device memory filled through the CPU view\n",
	       t_write > 0 ? mib / t_write : 0.0);
	printf("verify         ok, a plain pread gives back what was written; region restored\n");
	status = 0;
	goto out_ring;

out_restore:
	if (pwrite(fd, orig, len, (off_t)(offset + pos)) != (ssize_t)len)
		fprintf(stderr, "restoring %" PRIu64 " failed too\n", offset + pos);
out_ring:
	io_uring_queue_exit(&ring);
out_mem:
	free(want);
	free(orig);
	free(plain);
	munmap(cpu, CHUNK);
	close(dmabuf_fd);
out_fd:
	close(fd);
	return status;
}
