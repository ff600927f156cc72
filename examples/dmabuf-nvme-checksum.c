/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * dmabuf-nvme-checksum: read a region of an NVMe namespace straight into a
 * dma-buf with IORING_OP_READ_FIXED, checksum it through the dma-buf's CPU
 * view, write it back from the dma-buf with IORING_OP_WRITE_FIXED, then
 * read it again into a second dma-buf and verify both the checksum and the
 * bytes. The region ends up as it was.
 *
 *   dmabuf-nvme-checksum [DEVICE [OFFSET [LENGTH]]]
 *
 * DEVICE defaults to $KMBUF_TEST_NVME, which only the testbed VM sets: on
 * any other machine name the device, since the program writes to it.
 * Defaults: offset 32 MiB, length 4 MiB. OFFSET and LENGTH
 * must be multiples of 4096. Exits 0 on success, 1 on failure, 77 (with a
 * reason) where the kernel or the machine lacks what it needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <liburing-kmbuf.h>

#define CHUNK		(1024 * 1024)	/* size of each dma-buf */
#define SLOT_DATA	0
#define SLOT_VERIFY	1
#define EXIT_SKIP	77

/* 64-bit FNV-1a, continued from @h. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t len)
{
	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One fixed read or write of @len bytes at dma-buf offset 0: 0 or -errno. */
static int rw_fixed(struct io_uring *ring, int op, int fd, int slot,
		    unsigned int len, uint64_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	/* for a dma-buf slot the address is an offset into the dma-buf */
	io_uring_prep_rw(op, sqe, fd, NULL, len, off);
	sqe->buf_index = (unsigned short)slot;
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

int main(int argc, char *argv[])
{
	const char *dev = argc > 1 ? argv[1] : getenv("KMBUF_TEST_NVME");
	uint64_t offset = 32ULL << 20, length = 4ULL << 20, pos;
	uint64_t sum_read = 0xcbf29ce484222325ULL, sum_verify = sum_read;
	struct io_uring_udmabuf *data = NULL, *verify = NULL;
	struct io_uring ring;
	int fd = -1, ret, status = 1;
	double t0, t_read = 0, t_write = 0, t;
	unsigned int len;

	if ((argc > 2 && parse_size(argv[2], &offset)) ||
	    (argc > 3 && (parse_size(argv[3], &length) || !length)) ||
	    argc > 4) {
		fprintf(stderr, "usage: %s [DEVICE [OFFSET [LENGTH]]] (multiples of 4096)\n",
			argv[0]);
		return 1;
	}

	if (!dev) {
		printf("SKIP: no device: name one, or set KMBUF_TEST_NVME (the region is read and written back)\n");
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
	ret = io_uring_udmabuf_alloc(CHUNK, &data);
	if (!ret)
		ret = io_uring_udmabuf_alloc(CHUNK, &verify);
	if (ret == -ENOENT) {
		printf("SKIP: udmabuf not available (no /dev/udmabuf)\n");
		status = EXIT_SKIP;
		goto out_free;
	}
	if (ret) {
		fprintf(stderr, "io_uring_udmabuf_alloc: %s\n", strerror(-ret));
		goto out_free;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		goto out_free;
	}
	ret = io_uring_register_dmabuf_table(&ring, 2);
	if (!ret)
		ret = io_uring_register_dmabuf_buffer(&ring, SLOT_DATA, fd,
						      data->dmabuf_fd);
	if (!ret)
		ret = io_uring_register_dmabuf_buffer(&ring, SLOT_VERIFY, fd,
						      verify->dmabuf_fd);
	if (ret) {
		fprintf(stderr, "registering the dma-bufs for %s: %s\n", dev,
		       strerror(-ret));
		goto out_ring;
	}

	for (pos = 0; pos < length; pos += len) {
		len = length - pos < CHUNK ? (unsigned int)(length - pos) : CHUNK;

		t0 = now_sec();
		ret = rw_fixed(&ring, IORING_OP_READ_FIXED, fd, SLOT_DATA, len,
			       offset + pos);
		t_read += now_sec() - t0;
		if (ret) {
			fprintf(stderr, "READ_FIXED at %" PRIu64 ": %s\n",
				offset + pos, strerror(-ret));
			goto out_ring;
		}
		sum_read = fnv1a(sum_read, data->addr, len);

		t0 = now_sec();
		ret = rw_fixed(&ring, IORING_OP_WRITE_FIXED, fd, SLOT_DATA, len,
			       offset + pos);
		t_write += now_sec() - t0;
		if (ret) {
			fprintf(stderr, "WRITE_FIXED at %" PRIu64 ": %s\n",
				offset + pos, strerror(-ret));
			goto out_ring;
		}

		memset(verify->addr, 0xa5, len);
		ret = rw_fixed(&ring, IORING_OP_READ_FIXED, fd, SLOT_VERIFY,
			       len, offset + pos);
		if (ret) {
			fprintf(stderr, "verify READ_FIXED at %" PRIu64 ": %s\n",
				offset + pos, strerror(-ret));
			goto out_ring;
		}
		sum_verify = fnv1a(sum_verify, verify->addr, len);
		if (memcmp(data->addr, verify->addr, len)) {
			fprintf(stderr, "verify: bytes at %" PRIu64 " differ after the write-back\n",
				offset + pos);
			goto out_ring;
		}
	}

	t = length / 1048576.0;
	printf("device         %s\n", dev);
	printf("region         %" PRIu64 " + %" PRIu64 " bytes, %d KiB dma-buf chunks\n",
	       offset, length, CHUNK / 1024);
	printf("checksum       fnv1a64 %016" PRIx64 "\n", sum_read);
	printf("read           %.1f MiB/s into the dma-buf\n",
	       t_read > 0 ? t / t_read : 0.0);
	printf("write-back     %.1f MiB/s from the dma-buf\n",
	       t_write > 0 ? t / t_write : 0.0);
	if (sum_verify != sum_read) {
		printf("verify         FAILED: checksum %016" PRIx64 " after the write-back\n",
		       sum_verify);
		goto out_ring;
	}
	printf("verify         ok, the region reads back identical\n");
	status = 0;

out_ring:
	io_uring_queue_exit(&ring);
out_free:
	io_uring_udmabuf_free(verify);
	io_uring_udmabuf_free(data);
	close(fd);
	return status;
}
