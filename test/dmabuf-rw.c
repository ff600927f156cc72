/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * READ_FIXED and WRITE_FIXED through a dma-buf slot, checked against the
 * device itself: what the series' author tests, in the running generation
 * (dmabuf.abi=), the slots registered raw in its format (td_update_slots).
 *  - a matrix of file offset x dma-buf offset x length: READ_FIXED must
 *    deliver exactly the bytes a plain O_DIRECT pread() of the device
 *    reads, at the dma-buf offset, and nothing around them; WRITE_FIXED
 *    must put exactly the dma-buf's bytes on the device (pread() back),
 *    and nothing around them;
 *  - many reads in flight at once, each into its own part of one dma-buf,
 *    some forced to io-wq, each checked.
 * The reference I/O goes through a second open() of the namespace, which
 * the slot is not registered for: plain reads and writes, no fixed buffer.
 * Needs the testbed VM (dmabuf-aware kernel, /dev/udmabuf, the NVMe drive).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define BUF_SIZE	(1024 * 1024)
#define SLOT_DMABUF	0
#define SLOT_SPARE	1
#define NR_SLOTS	2
/* the device range of this test: 16 MiB .. 32 MiB (dmabuf-io has 0 .. 16) */
#define DEV_BASE	(16ULL * 1024 * 1024)
#define DEV_SPAN	(16ULL * 1024 * 1024)
/* bytes checked on each side of what an I/O may touch */
#define GUARD		4096
#define NR_PARALLEL	64
#define PAR_LEN		(16 * 1024)
#define QD		(2 * NR_PARALLEL)

static struct io_uring ring;
static struct io_uring_udmabuf *ub;
static unsigned char *ref;	/* BUF_SIZE + 2 * GUARD, page aligned */
static int nvme = -1, plain = -1;

/* The three axes; lengths and offsets are sector (512-byte) multiples. */
static const __u64 file_offs[] = {
	0, 512, 4096, 3 * 4096 + 1536, 1024 * 1024 + 512,
	5 * 1024 * 1024 - 4096,
};
static const unsigned int buf_offs[] = {
	0, 512, 4096, 65536 + 512, 512 * 1024 - 1024, BUF_SIZE - 8192,
};
static const unsigned int lens[] = {
	512, 4096, 8192 + 512, 65536, 256 * 1024, BUF_SIZE,
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Device byte at absolute offset @off under @seed. */
static unsigned char dev_byte(unsigned int seed, __u64 off)
{
	return kmbuf_test_pattern(seed, (__u32)off);
}

static void fill_dev_pattern(unsigned char *p, size_t len, unsigned int seed,
			     __u64 dev_off)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = dev_byte(seed, dev_off + i);
}

/* O_DIRECT pread/pwrite of the whole range through the plain fd. */
static int ref_io(int write, void *p, size_t len, __u64 off)
{
	ssize_t n = write ? pwrite(plain, p, len, (off_t)off) :
			    pread(plain, p, len, (off_t)off);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* A sector-aligned window around [off, off + len) within the test range. */
static void window(__u64 off, unsigned int len, __u64 *w_off, size_t *w_len)
{
	__u64 start = off >= GUARD ? off - GUARD : 0;

	*w_off = DEV_BASE + start;
	*w_len = (size_t)(off + len + GUARD - start);
}

static int report(const char *what, __u64 file_off, unsigned int buf_off,
		  unsigned int len, int ret, int want)
{
	if (ret == want)
		return 1;
	t_fail("%s (file offset %llu, dma-buf offset %u, length %u): expected %d, got %d (%s)",
	       what, (unsigned long long)file_off, buf_off, len, want, ret,
	       t_errname(ret));
	return 0;
}

/*
 * One READ_FIXED case: the device holds a known pattern (written with
 * pwrite), the dma-buf 0xee; afterwards the dma-buf holds the device's
 * bytes at @buf_off and 0xee everywhere else.
 */
static void read_case(__u64 file_off, unsigned int buf_off, unsigned int len,
		      unsigned int seed)
{
	unsigned char *p = ub->addr;
	size_t w_len, bad;
	__u64 w_off;
	int ret;

	window(file_off, len, &w_off, &w_len);
	fill_dev_pattern(ref, w_len, seed, w_off);
	ret = ref_io(1, ref, w_len, w_off);
	if (!report("pwrite of the reference pattern", file_off, buf_off, len, ret, 0))
		return;
	memset(p, 0xee, BUF_SIZE);
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_DMABUF,
			  buf_off, len, DEV_BASE + file_off);
	if (!report("READ_FIXED into the dma-buf", file_off, buf_off, len, ret,
		    (int)len))
		return;
	for (bad = 0; bad < len; bad++)
		if (p[buf_off + bad] != dev_byte(seed, DEV_BASE + file_off + bad))
			break;
	if (bad != len)
		t_fail("READ_FIXED (file offset %llu, dma-buf offset %u, length %u): byte %zu is not the device's",
		       (unsigned long long)file_off, buf_off, len, bad);
	bad = t_check_byte(p, buf_off, 0xee);
	if (bad != buf_off)
		t_fail("READ_FIXED (dma-buf offset %u, length %u) wrote dma-buf byte %zu, before its range",
		       buf_off, len, bad);
	bad = t_check_byte(p + buf_off + len, BUF_SIZE - buf_off - len, 0xee);
	if (bad != BUF_SIZE - buf_off - len)
		t_fail("READ_FIXED (dma-buf offset %u, length %u) wrote dma-buf byte %zu, after its range",
		       buf_off, len, buf_off + len + bad);
}

/*
 * One WRITE_FIXED case: the device window holds a known pattern, the
 * dma-buf another; afterwards the device holds the dma-buf's bytes at
 * @file_off and the first pattern around them (pread back).
 */
static void write_case(__u64 file_off, unsigned int buf_off, unsigned int len,
		       unsigned int seed)
{
	unsigned char *p = ub->addr;
	size_t w_len, i, head;
	__u64 w_off;
	int ret;

	window(file_off, len, &w_off, &w_len);
	fill_dev_pattern(ref, w_len, seed, w_off);
	ret = ref_io(1, ref, w_len, w_off);
	if (!report("pwrite of the reference pattern", file_off, buf_off, len, ret, 0))
		return;
	td_fill(p + buf_off, len, seed ^ 0x5a5a5a5au);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT_DMABUF,
			  buf_off, len, DEV_BASE + file_off);
	if (!report("WRITE_FIXED from the dma-buf", file_off, buf_off, len, ret,
		    (int)len))
		return;
	memset(ref, 0, w_len);
	ret = ref_io(0, ref, w_len, w_off);
	if (!report("pread of the device back", file_off, buf_off, len, ret, 0))
		return;
	head = (size_t)(DEV_BASE + file_off - w_off);
	if (memcmp(ref + head, p + buf_off, len)) {
		for (i = 0; i < len && ref[head + i] == p[buf_off + i]; i++)
			;
		t_fail("WRITE_FIXED (file offset %llu, dma-buf offset %u, length %u): device byte %zu is not the dma-buf's",
		       (unsigned long long)file_off, buf_off, len, i);
	}
	for (i = 0; i < w_len; i++) {
		if (i == head)
			i += len;
		if (i < w_len && ref[i] != dev_byte(seed, w_off + i)) {
			t_fail("WRITE_FIXED (file offset %llu, length %u) changed the device %s its range (window byte %zu)",
			       (unsigned long long)file_off, len,
			       i < head ? "before" : "after", i);
			break;
		}
	}
}

static void check_matrix(void)
{
	unsigned int f, b, l, cases = 0, seed = 1;

	for (f = 0; f < ARRAY_SIZE(file_offs); f++) {
		for (b = 0; b < ARRAY_SIZE(buf_offs); b++) {
			for (l = 0; l < ARRAY_SIZE(lens); l++) {
				if ((size_t)buf_offs[b] + lens[l] > BUF_SIZE)
					continue;
				if (file_offs[f] + lens[l] + GUARD > DEV_SPAN)
					abort();
				read_case(file_offs[f], buf_offs[b], lens[l], seed++);
				write_case(file_offs[f], buf_offs[b], lens[l], seed++);
				cases++;
				if (t_failures > 20) {
					printf("too many failures: matrix stopped\n");
					return;
				}
			}
		}
	}
	printf("matrix: %u cases of file offset x dma-buf offset x length, READ_FIXED and WRITE_FIXED each\n",
	       cases);
}

/*
 * NR_PARALLEL reads in flight at once: read i takes device chunk perm[i]
 * into dma-buf chunk i, half of them through io-wq (IOSQE_ASYNC).
 */
static void check_parallel(unsigned int round)
{
	const unsigned int span = NR_PARALLEL * PAR_LEN;
	unsigned int perm[NR_PARALLEL], i, j, t, done = 0, seed = 7000 + round;
	unsigned char *p = ub->addr;
	unsigned char seen[NR_PARALLEL] = { 0 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	for (i = 0; i < NR_PARALLEL; i++)
		perm[i] = i;
	/* a fixed shuffle per round: the test is the same every run */
	for (i = NR_PARALLEL - 1; i > 0; i--) {
		j = (i * 2654435761u + round * 40503u) % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	fill_dev_pattern(ref, span, seed, DEV_BASE + 8 * 1024 * 1024);
	ret = ref_io(1, ref, span, DEV_BASE + 8 * 1024 * 1024);
	if (!t_expect("pwrite of the parallel reads' source", ret, 0))
		return;
	memset(p, 0xee, BUF_SIZE);

	for (i = 0; i < NR_PARALLEL; i++) {
		sqe = io_uring_get_sqe(&ring);
		if (!sqe) {
			t_fail("no SQE for parallel read %u", i);
			return;
		}
		io_uring_prep_rw(IORING_OP_READ_FIXED, sqe, nvme,
				 (void *)(uintptr_t)((size_t)i * PAR_LEN), PAR_LEN,
				 DEV_BASE + 8 * 1024 * 1024 + (__u64)perm[i] * PAR_LEN);
		sqe->buf_index = SLOT_DMABUF;
		sqe->user_data = i;
		if ((i + round) & 1)
			sqe->flags |= IOSQE_ASYNC;
	}
	ret = io_uring_submit(&ring);
	if (!t_expect("submit of the parallel reads", ret, NR_PARALLEL))
		return;
	while (done < NR_PARALLEL) {
		struct __kernel_timespec ts = { .tv_sec = 30 };

		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (ret) {
			t_fail("waiting for parallel read %u of %u: %s", done,
			       NR_PARALLEL, t_errname(ret));
			return;
		}
		i = (unsigned int)cqe->user_data;
		if (i >= NR_PARALLEL || seen[i]++)
			t_fail("parallel reads: unexpected completion %llu",
			       (unsigned long long)cqe->user_data);
		else if (cqe->res != PAR_LEN)
			t_fail("parallel read %u (device chunk %u): expected %d, got %d (%s)",
			       i, perm[i], PAR_LEN, cqe->res, t_errname(cqe->res));
		io_uring_cqe_seen(&ring, cqe);
		done++;
	}
	for (i = 0; i < NR_PARALLEL; i++) {
		if (memcmp(p + (size_t)i * PAR_LEN, ref + (size_t)perm[i] * PAR_LEN,
			   PAR_LEN)) {
			t_fail("parallel read %u: dma-buf chunk %u does not hold device chunk %u",
			       i, i, perm[i]);
			break;
		}
	}
	if (t_check_byte(p + span, BUF_SIZE - span, 0xee) != BUF_SIZE - span)
		t_fail("parallel reads wrote past their %u bytes", span);
}

int main(void)
{
	struct td_slot slots[NR_SLOTS];
	unsigned int i;
	int ret;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	plain = open(td_nvme_path(), O_RDWR | O_DIRECT | O_CLOEXEC);
	if (plain < 0) {
		t_fail("second open(%s, O_DIRECT): %s", td_nvme_path(),
		       t_errname(errno));
		return t_result("dmabuf-rw");
	}
	ret = td_require_udmabuf(BUF_SIZE, &ub);
	if (ret)
		return ret;
	if (posix_memalign((void **)&ref, 4096, BUF_SIZE + 2 * GUARD)) {
		t_fail("posix_memalign");
		return t_result("dmabuf-rw");
	}
	if (QD > 256 || (ret = io_uring_queue_init(QD, &ring, 0)) != 0) {
		t_fail("io_uring_queue_init(%d): %s", QD, t_errname(ret));
		return t_result("dmabuf-rw");
	}
	if (!t_expect("sparse table", io_uring_register_dmabuf_table(&ring, NR_SLOTS), 0))
		return t_result("dmabuf-rw");

	/* the dma-buf, and an empty spare, in one raw update */
	memset(slots, 0, sizeof(slots));
	slots[SLOT_DMABUF].kind = TD_DMABUF;
	slots[SLOT_DMABUF].target_fd = nvme;
	slots[SLOT_DMABUF].dmabuf_fd = ub->dmabuf_fd;
	slots[SLOT_SPARE].kind = TD_EMPTY;
	if (!t_expect("raw update of the dma-buf slot and an empty one",
		      td_update_slots(ring.ring_fd, 0, slots, NULL, NR_SLOTS),
		      NR_SLOTS))
		return t_result("dmabuf-rw");
	t_expect("the plain fd is not the slot's file",
		 td_rw_fixed(&ring, IORING_OP_READ_FIXED, plain, SLOT_DMABUF, 0,
			     4096, DEV_BASE), -EBADF);

	check_matrix();
	for (i = 0; i < 4; i++)
		check_parallel(i);
	printf("parallel: 4 rounds of %d reads of %d bytes in flight at once\n",
	       NR_PARALLEL, PAR_LEN);

	io_uring_queue_exit(&ring);
	io_uring_udmabuf_free(ub);
	free(ref);
	close(plain);
	close(nvme);
	return t_result("dmabuf-rw");
}
