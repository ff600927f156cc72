/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * dmabuf-bench: reads from the NVMe namespace into a dma-buf slot, against
 * the two limits of the same device: READ_FIXED into a plain registered
 * buffer (user memory) and O_DIRECT pread(2) into that memory. Queue depth
 * 1, one syscall per read for all three (io_uring_submit_and_wait), the
 * same sizes and the same offsets (sequential, wrapping within the first
 * SPAN bytes). Every size runs ROUNDS rounds of KMBUF_BENCH_SECONDS /
 * ROUNDS per column (default 2.1 s per column), the column order rotating
 * between rounds; figures are medians, a fraction is the median of the
 * per-round fractions, with their interquartile range. Needs the testbed VM (udmabuf, its NVMe drive).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(1024 * 1024)
#define SPAN		(16ULL * 1024 * 1024)
#define SLOT_DMABUF	0
#define SLOT_USER	1
#define ROUNDS		15

enum col { COL_DMABUF, COL_FIXED, COL_PREAD, NR_COLS };

static const char *const col_name[NR_COLS] = { "dmabuf", "fixed", "pread" };

static struct io_uring ring;
static struct io_uring_udmabuf *ub;
static unsigned char *user;
static int nvme = -1;
static double cell_secs = 2.1 / ROUNDS;

#define NR_SIZES	4

/* A number in a sysfs file, or -1. */
static long sysfs_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * Threads of this process named iou-wrk-*: io-wq workers, which exist
 * once a request could not be completed inline and was handed to io-wq.
 */
static int count_iowq(void)
{
	char path[64], comm[32];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	FILE *f;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-wrk", 7))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* One read of @len at @off: bytes read, or -errno. */
static int read_one(enum col c, unsigned int len, __u64 off)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	ssize_t n;
	int ret;

	if (c == COL_PREAD) {
		n = pread(nvme, user, len, (off_t)off);
		return n < 0 ? -errno : (int)n;
	}
	sqe = io_uring_get_sqe(&ring);
	if (c == COL_DMABUF) {
		io_uring_prep_read_fixed(sqe, nvme, NULL, len, off, SLOT_DMABUF);
		sqe->addr = 0;	/* an offset into the dma-buf */
	} else {
		io_uring_prep_read_fixed(sqe, nvme, user, len, off, SLOT_USER);
	}
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_peek_cqe(&ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}

/* MB/s of reads of @len for cell_secs, or -errno. */
static double run_cell(enum col c, unsigned int len, int *err)
{
	uint64_t t0 = t_now_ns(), deadline = t0 + (uint64_t)(cell_secs * 1e9);
	unsigned long long bytes = 0;
	__u64 off = 0;
	int ret;

	while (t_now_ns() < deadline) {
		ret = read_one(c, len, off);
		if (ret != (int)len) {
			*err = ret < 0 ? ret : -EIO;
			return 0;
		}
		bytes += len;
		off = (off + len) % SPAN;
	}
	return (double)bytes * 1e3 / (double)(t_now_ns() - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(*s), cmp_double);
	return s[ROUNDS / 2];
}

/* "q1-q3": the interquartile range of @v, as text in @buf */
static const char *iqr(const double *v, char *buf, size_t len)
{
	double s[ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, ROUNDS, sizeof(*s), cmp_double);
	snprintf(buf, len, "%.2f-%.2f", s[ROUNDS / 4], s[(3 * ROUNDS) / 4]);
	return buf;
}

/* The three reads deliver the same bytes (else the figures mean nothing). */
static int check_same(unsigned int len)
{
	unsigned char *copy = malloc(len);
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	if (read_one(COL_DMABUF, len, SPAN / 2) != (int)len ||
	    read_one(COL_FIXED, len, SPAN / 2) != (int)len) {
		ret = -EIO;
	} else if (memcmp(ub->addr, user, len)) {
		printf("dmabuf-bench: the dma-buf and the user-memory read differ\n");
		ret = -EILSEQ;
	} else {
		memcpy(copy, user, len);
		memset(user, 0, len);
		if (read_one(COL_PREAD, len, SPAN / 2) != (int)len)
			ret = -EIO;
		else if (memcmp(copy, user, len)) {
			printf("dmabuf-bench: pread and READ_FIXED differ\n");
			ret = -EILSEQ;
		}
	}
	free(copy);
	return ret;
}

int main(void)
{
	/* 512K: the emulated namespace's largest transfer (max_sectors_kb) */
	static const unsigned int sizes[] = { 4096, 65536, 524288, 1048576 };
	const char *env = getenv("KMBUF_BENCH_SECONDS");
	double mbs[NR_SIZES][NR_COLS][ROUNDS], f[ROUNDS];
	int iowq[NR_SIZES];
	unsigned int s, k, kk, round, failed = 0;
	int ret, err = 0;
	char path[128];

	if (env && atof(env) > 0)
		cell_secs = atof(env) / ROUNDS;
	if (io_uring_probe_dmabuf() == 0 && t_dmabuf_gen()->has_switch) {
		printf("dmabuf-bench: the testbed kernel runs dmabuf.abi=%s and io_uring_probe_dmabuf() says 0: this library does not speak that generation\n",
		       t_dmabuf_gen()->name);
		return T_EXIT_FAIL;
	}
	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = td_require_udmabuf(BUF_SIZE, &ub);
	if (ret)
		return ret;
	if (posix_memalign((void **)&user, 4096, BUF_SIZE)) {
		printf("dmabuf-bench: out of memory\n");
		return T_EXIT_FAIL;
	}
	memset(user, 0, BUF_SIZE);
	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	ret = io_uring_register_dmabuf_table(&ring, 2);
	if (!ret)
		ret = io_uring_register_dmabuf_buffer(&ring, SLOT_DMABUF, nvme,
						      ub->dmabuf_fd);
	if (!ret && td_update_user(ring.ring_fd, SLOT_USER, user, BUF_SIZE) != 1)
		ret = -EIO;
	if (!ret)
		ret = check_same(65536);
	if (ret) {
		printf("dmabuf-bench: setup failed: %s\n", t_errname(ret));
		return T_EXIT_FAIL;
	}

	snprintf(path, sizeof(path), "/sys/block/%s/queue/max_sectors_kb",
		 strrchr(td_nvme_path(), '/') + 1);
	printf("dmabuf-bench: %s (max_sectors_kb %ld), queue depth 1, %u rounds of %.2f s per size and column\n",
	       td_nvme_path(), sysfs_long(path),
	       ROUNDS, cell_secs);
	for (round = 0; round < ROUNDS && !failed; round++) {
		for (s = 0; s < NR_SIZES && !failed; s++) {
			for (kk = 0; kk < NR_COLS; kk++) {
				k = (kk + round) % NR_COLS;
				mbs[s][k][round] = run_cell((enum col)k, sizes[s], &err);
				if (err) {
					printf("%s %u bytes, round %u: %s\n",
					       col_name[k], sizes[s], round,
					       t_errname(err));
					failed = 1;
					break;
				}
			}
			if (!round)
				iowq[s] = count_iowq();
		}
	}
	if (!failed) {
		printf("\ndmabuf path: READ_FIXED into a dma-buf slot, vs READ_FIXED into a plain registered\n"
		       "buffer and O_DIRECT pread(2) (the limits), same device, same offsets\n");
		printf("%-8s %11s %11s %11s %12s %11s %12s %11s %9s\n", "payload",
		       "dmabuf MB/s", "fixed MB/s", "pread MB/s", "dmabuf/fixed",
		       "iqr", "dmabuf/pread", "iqr", "dmabuf us");
		for (s = 0; s < NR_SIZES; s++) {
			char fxs[32], prs[32];
			double fx, pr;

			for (round = 0; round < ROUNDS; round++)
				f[round] = mbs[s][COL_DMABUF][round] /
					   mbs[s][COL_FIXED][round];
			fx = median(f);
			iqr(f, fxs, sizeof(fxs));
			for (round = 0; round < ROUNDS; round++)
				f[round] = mbs[s][COL_DMABUF][round] /
					   mbs[s][COL_PREAD][round];
			pr = median(f);
			iqr(f, prs, sizeof(prs));
			char name[16];

			snprintf(name, sizeof(name), "%uK", sizes[s] / 1024);
			printf("%-8s %11.1f %11.1f %11.1f %12.2f %11s %12.2f %11s %9.1f\n",
			       name, median(mbs[s][COL_DMABUF]),
			       median(mbs[s][COL_FIXED]), median(mbs[s][COL_PREAD]),
			       fx, fxs, pr, prs,
			       sizes[s] / median(mbs[s][COL_DMABUF]));
		}
		/* io-wq workers idle out slowly: the counts only grow */
		printf("io-wq workers of this process after the first round of each size:");
		for (s = 0; s < NR_SIZES; s++)
			printf(" %uK %d%s", sizes[s] / 1024, iowq[s],
			       s + 1 < NR_SIZES ? "," : "\n");
	}
	io_uring_queue_exit(&ring);
	io_uring_udmabuf_free(ub);
	free(user);
	close(nvme);
	return failed ? T_EXIT_FAIL : T_EXIT_PASS;
}
