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
 * per-round fractions, with their interquartile range.
 *
 * A second table, from the same run, puts device memory beside CPU
 * memory: READ_FIXED and WRITE_FIXED between the namespace and a slot of
 * device memory (the test driver's export of the drive's controller
 * memory buffer: PCI P2P memory, no pages), a udmabuf slot and a plain
 * registered buffer, in MiB/s and in CPU time per GiB moved. The CPU time
 * is the process's (CLOCK_PROCESS_CPUTIME_ID: every thread, io-wq workers
 * too, user and kernel), its kernel share from getrusage(); both are
 * per-round figures like the throughput, and the fractions are to the
 * plain buffer. Writes go to a range of their own (WSPAN at WBASE).
 * KMBUF_BENCH_TABLES (e.g. "devmem") picks tables: dmabuf, devmem.
 * Needs the testbed VM (udmabuf, its NVMe drive with a CMB,
 * /dev/kmbuf_test).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(1024 * 1024)
#define SPAN		(16ULL * 1024 * 1024)
#define WBASE		(16ULL * 1024 * 1024)	/* the writes' range */
#define WSPAN		(16ULL * 1024 * 1024)
#define SLOT_DMABUF	0
#define SLOT_USER	1
#define SLOT_DEVMEM	2
#define NR_SLOTS	3
#define ROUNDS		15

enum col { COL_DMABUF, COL_FIXED, COL_PREAD, NR_COLS };

static const char *const col_name[NR_COLS] = { "dmabuf", "fixed", "pread" };

/* the second table: the memory behind the slot */
enum mem { MEM_DEVMEM, MEM_UDMABUF, MEM_USER, NR_MEMS };

static const char *const mem_name[NR_MEMS] = { "devmem", "udmabuf", "user" };

enum dir { DIR_READ, DIR_WRITE, NR_DIRS };

static const char *const dir_name[NR_DIRS] = { "read", "write" };

static struct io_uring ring;
static struct io_uring_udmabuf *ub;
static unsigned char *user;
static unsigned char *devmem;	/* the exporter's CPU view */
static int devmem_fd = -1;
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

/*
 * One READ_FIXED or WRITE_FIXED (@op) of @len at @off, buffer address
 * @addr of @slot (for a dma-buf slot an offset into the dma-buf), one
 * syscall: bytes moved, or -errno.
 */
static int fixed_one(unsigned int op, unsigned int slot, void *addr,
		     unsigned int len, __u64 off)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_rw(op, sqe, nvme, addr, len, off);
	sqe->buf_index = (__u16)slot;
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

/* One read of @len at @off: bytes read, or -errno. */
static int read_one(enum col c, unsigned int len, __u64 off)
{
	ssize_t n;

	if (c == COL_PREAD) {
		n = pread(nvme, user, len, (off_t)off);
		return n < 0 ? -errno : (int)n;
	}
	if (c == COL_DMABUF)
		return fixed_one(IORING_OP_READ_FIXED, SLOT_DMABUF, NULL, len, off);
	return fixed_one(IORING_OP_READ_FIXED, SLOT_USER, user, len, off);
}

/* The same between the namespace and memory @m, in direction @d. */
static int mem_one(enum mem m, enum dir d, unsigned int len, __u64 off)
{
	unsigned int op = d == DIR_READ ? IORING_OP_READ_FIXED :
					  IORING_OP_WRITE_FIXED;

	if (d == DIR_WRITE)
		off += WBASE;
	switch (m) {
	case MEM_DEVMEM:
		return fixed_one(op, SLOT_DEVMEM, NULL, len, off);
	case MEM_UDMABUF:
		return fixed_one(op, SLOT_DMABUF, NULL, len, off);
	default:
		return fixed_one(op, SLOT_USER, user, len, off);
	}
}

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double tv_sec(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* One cell of the second table. */
struct mem_cell {
	double	mibs;		/* MiB/s */
	double	cpu_ms_gib;	/* process CPU ms per GiB moved */
	double	sys, usr;	/* getrusage() seconds, for the kernel share */
};

/* I/O of @len between the namespace and @m for cell_secs: 0 or -errno. */
static int run_mem_cell(enum mem m, enum dir d, unsigned int len,
			struct mem_cell *c)
{
	uint64_t t0, c0, deadline;
	unsigned long long bytes = 0;
	struct rusage r0, r1;
	__u64 off = 0;
	double gib;
	int ret;

	getrusage(RUSAGE_SELF, &r0);
	c0 = cpu_now_ns();
	t0 = t_now_ns();
	deadline = t0 + (uint64_t)(cell_secs * 1e9);
	while (t_now_ns() < deadline) {
		ret = mem_one(m, d, len, off);
		if (ret != (int)len)
			return ret < 0 ? ret : -EIO;
		bytes += len;
		off = (off + len) % (d == DIR_READ ? SPAN : WSPAN);
	}
	gib = (double)bytes / (1024.0 * 1024 * 1024);
	c->cpu_ms_gib = (double)(cpu_now_ns() - c0) / 1e6 / gib;
	c->mibs = (double)bytes / (1024.0 * 1024) * 1e9 /
		  (double)(t_now_ns() - t0);
	getrusage(RUSAGE_SELF, &r1);
	c->usr = tv_sec(&r1.ru_utime) - tv_sec(&r0.ru_utime);
	c->sys = tv_sec(&r1.ru_stime) - tv_sec(&r0.ru_stime);
	return 0;
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

/*
 * Export BUF_SIZE bytes of the device memory of the drive's controller
 * (its CMB) and map the CPU view: 0, or -errno (-ENOENT: no test driver).
 */
static int export_devmem(void)
{
	struct kmbuf_test_p2p_export e = { .bdev_fd = nvme, .size = BUF_SIZE };
	int drv = open(KMBUF_TEST_DEVICE, O_RDWR | O_CLOEXEC), ret = 0;

	if (drv < 0)
		return -errno;
	if (ioctl(drv, KMBUF_TEST_IOC_P2P_EXPORT, &e) < 0)
		ret = -errno;
	close(drv);
	if (ret)
		return ret;
	devmem = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      e.dmabuf_fd, 0);
	if (devmem == MAP_FAILED) {
		ret = -errno;
		close(e.dmabuf_fd);
		return ret;
	}
	devmem_fd = e.dmabuf_fd;
	return 0;
}

static unsigned char *mem_cpu(enum mem m)
{
	return m == MEM_DEVMEM ? devmem : m == MEM_UDMABUF ? ub->addr : user;
}

/*
 * Each memory reads the same bytes, and what each writes is what the
 * namespace then holds (else the figures mean nothing).
 */
static int check_mem(unsigned int len)
{
	unsigned char *want = malloc(len), *got = malloc(len);
	unsigned int m;
	int ret = 0;

	if (!want || !got) {
		ret = -ENOMEM;
		goto out;
	}
	for (m = 0; m < NR_MEMS && !ret; m++) {
		if (mem_one((enum mem)m, DIR_READ, len, SPAN / 2) != (int)len) {
			ret = -EIO;
			break;
		}
		/* copied out first: the device memory's view is uncached */
		memcpy(got, mem_cpu((enum mem)m), len);
		if (!m) {
			memcpy(want, got, len);
		} else if (memcmp(want, got, len)) {
			printf("dmabuf-bench: READ_FIXED into %s and into %s differ\n",
			       mem_name[0], mem_name[m]);
			ret = -EILSEQ;
		}
	}
	for (m = 0; m < NR_MEMS && !ret; m++) {
		td_fill(want, len, 100 + m);
		memcpy(mem_cpu((enum mem)m), want, len);
		if (mem_one((enum mem)m, DIR_WRITE, len, 0) != (int)len ||
		    pread(nvme, got, len, (off_t)WBASE) != (ssize_t)len) {
			ret = -EIO;
		} else if (memcmp(want, got, len)) {
			printf("dmabuf-bench: WRITE_FIXED from %s did not put its bytes on the namespace\n",
			       mem_name[m]);
			ret = -EILSEQ;
		}
	}
out:
	free(want);
	free(got);
	return ret;
}

static struct mem_cell cells[NR_SIZES][NR_DIRS][NR_MEMS][ROUNDS];

/* The second table's rounds: 0 or -errno (said where). */
static int run_mem_table(const unsigned int *sizes)
{
	unsigned int s, d, k, kk, round;
	int ret;

	for (round = 0; round < ROUNDS; round++)
		for (s = 0; s < NR_SIZES; s++)
			for (d = 0; d < NR_DIRS; d++)
				for (kk = 0; kk < NR_MEMS; kk++) {
					k = (kk + round + d) % NR_MEMS;
					ret = run_mem_cell((enum mem)k, (enum dir)d, sizes[s],
							   &cells[s][d][k][round]);
					if (ret) {
						printf("%s %s %u bytes, round %u: %s\n",
						       mem_name[k], dir_name[d], sizes[s],
						       round, t_errname(ret));
						return ret;
					}
				}
	return 0;
}

/* The per-round fraction of @m to the plain buffer: median, "iqr" in @buf. */
static double mem_fraction(unsigned int s, unsigned int d, enum mem m,
			   int cpu, char *buf, size_t len)
{
	double f[ROUNDS];
	unsigned int round;

	for (round = 0; round < ROUNDS; round++) {
		const struct mem_cell *c = &cells[s][d][m][round];
		const struct mem_cell *u = &cells[s][d][MEM_USER][round];

		f[round] = cpu ? c->cpu_ms_gib / u->cpu_ms_gib : c->mibs / u->mibs;
	}
	iqr(f, buf, len);
	return median(f);
}

static void print_mem_table(const unsigned int *sizes)
{
	double v[ROUNDS], sys, tot;
	char name[16], a[32], b[32];
	unsigned int s, d, m, round;

	printf("\ndevice memory: READ_FIXED/WRITE_FIXED between the namespace and a device-memory slot\n"
	       "(the CMB, PCI P2P), a udmabuf slot and a plain registered buffer (user), same offsets\n");
	printf("%-5s %-7s %12s %13s %10s %11s %11s %12s %11s\n", "op", "payload",
	       "devmem MiB/s", "udmabuf MiB/s", "user MiB/s", "devmem/user",
	       "iqr", "udmabuf/user", "iqr");
	for (d = 0; d < NR_DIRS; d++)
		for (s = 0; s < NR_SIZES; s++) {
			double fd, fu;

			snprintf(name, sizeof(name), "%uK", sizes[s] / 1024);
			fd = mem_fraction(s, d, MEM_DEVMEM, 0, a, sizeof(a));
			fu = mem_fraction(s, d, MEM_UDMABUF, 0, b, sizeof(b));
			printf("%-5s %-7s", dir_name[d], name);
			for (m = 0; m < NR_MEMS; m++) {
				for (round = 0; round < ROUNDS; round++)
					v[round] = cells[s][d][m][round].mibs;
				printf(" %*.1f", m == MEM_DEVMEM ? 12 : m == MEM_UDMABUF ? 13 : 10,
				       median(v));
			}
			printf(" %11.2f %11s %12.2f %11s\n", fd, a, fu, b);
		}

	printf("\nCPU time per GiB moved: the process's (its task and io-wq workers, user + kernel),\n"
	       "ms per GiB, the kernel's share of it in parentheses (getrusage)\n");
	printf("%-5s %-7s %15s %15s %15s %11s %11s %12s %11s\n", "op", "payload",
	       "devmem", "udmabuf", "user", "devmem/user", "iqr",
	       "udmabuf/user", "iqr");
	for (d = 0; d < NR_DIRS; d++)
		for (s = 0; s < NR_SIZES; s++) {
			double fd, fu;

			snprintf(name, sizeof(name), "%uK", sizes[s] / 1024);
			fd = mem_fraction(s, d, MEM_DEVMEM, 1, a, sizeof(a));
			fu = mem_fraction(s, d, MEM_UDMABUF, 1, b, sizeof(b));
			printf("%-5s %-7s", dir_name[d], name);
			for (m = 0; m < NR_MEMS; m++) {
				char cell[32];

				sys = tot = 0;
				for (round = 0; round < ROUNDS; round++) {
					v[round] = cells[s][d][m][round].cpu_ms_gib;
					sys += cells[s][d][m][round].sys;
					tot += cells[s][d][m][round].sys +
					       cells[s][d][m][round].usr;
				}
				snprintf(cell, sizeof(cell), "%.0f (%.0f%%)",
					 median(v), tot > 0 ? 100 * sys / tot : 0.0);
				printf(" %15s", cell);
			}
			printf(" %11.2f %11s %12.2f %11s\n", fd, a, fu, b);
		}
}

/* KMBUF_BENCH_TABLES: the tables to run (a list of names), else all. */
static int want(const char *table)
{
	const char *list = getenv("KMBUF_BENCH_TABLES");

	return !list || !*list || strstr(list, table);
}

int main(void)
{
	/* 512K: the emulated namespace's largest transfer (max_sectors_kb) */
	static const unsigned int sizes[] = { 4096, 65536, 524288, 1048576 };
	const char *env = getenv("KMBUF_BENCH_SECONDS");
	double mbs[NR_SIZES][NR_COLS][ROUNDS], f[ROUNDS];
	int iowq[NR_SIZES];
	unsigned int s, k, kk, round, failed = 0;
	int ret, err = 0, in_vm;
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
	ret = io_uring_register_dmabuf_table(&ring, NR_SLOTS);
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
	/* the device-memory table needs the testbed's exporter */
	ret = export_devmem();
	if (ret) {
		in_vm = getenv("KMBUF_IN_VM") != NULL;
		printf("dmabuf-bench: no device memory (%s P2P_EXPORT: %s)%s\n",
		       KMBUF_TEST_DEVICE, t_errname(ret),
		       in_vm ? "" : ": no device-memory table");
		if (in_vm)
			return T_EXIT_FAIL;
	} else {
		ret = io_uring_register_dmabuf_buffer(&ring, SLOT_DEVMEM, nvme,
						      devmem_fd);
		if (!ret)
			ret = check_mem(65536);
		if (ret) {
			printf("dmabuf-bench: device-memory setup failed: %s\n",
			       t_errname(ret));
			return T_EXIT_FAIL;
		}
	}

	snprintf(path, sizeof(path), "/sys/block/%s/queue/max_sectors_kb",
		 strrchr(td_nvme_path(), '/') + 1);
	printf("dmabuf-bench: %s (max_sectors_kb %ld), queue depth 1, %u rounds of %.2f s per size and column\n",
	       td_nvme_path(), sysfs_long(path),
	       ROUNDS, cell_secs);
	for (round = 0; round < ROUNDS && !failed && want("dmabuf"); round++) {
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
	if (!failed && want("dmabuf")) {
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
	if (!failed && devmem_fd >= 0 && want("devmem")) {
		if (run_mem_table(sizes))
			failed = 1;
		else
			print_mem_table(sizes);
	}
	io_uring_queue_exit(&ring);
	if (devmem_fd >= 0) {
		munmap(devmem, BUF_SIZE);
		close(devmem_fd);
	}
	io_uring_udmabuf_free(ub);
	free(user);
	close(nvme);
	return failed ? T_EXIT_FAIL : T_EXIT_PASS;
}
