/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * I/O through dma-buf slots on the NVMe namespace: WRITE_FIXED from dma-buf
 * A and READ_FIXED into dma-buf B at several offsets and lengths, checked
 * through the CPU views and against the same I/O through a user-memory
 * slot; then the file rules (dup, a second open, O_DIRECT), the bounds,
 * and clearing a slot while I/O is in flight. Needs the testbed VM.
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
#define SLOT_A		0
#define SLOT_B		1
#define SLOT_USER	2
#define SLOT_C		3
#define NR_SLOTS	4
/* the tests use the first 16 MiB of the namespace, the example the rest */
#define DEV_SPAN	(16ULL * 1024 * 1024)

static struct io_uring ring;
static struct io_uring_udmabuf *a, *b;
static unsigned char *user;
static int nvme = -1;

struct io_case {
	unsigned int	a_off;	/* offset in dma-buf A */
	unsigned int	b_off;	/* offset in dma-buf B */
	unsigned int	len;
	__u64		dev_off;
};

static const struct io_case cases[] = {
	{ 0, 0, 4096, 0 },
	{ 512, 4096, 512, 3 * 4096 },
	{ 4096, 512, 8192, 64 * 1024 },
	{ 1536, 2560, 3584, 128 * 1024 + 512 },
	{ 64 * 1024 + 512, 0, 64 * 1024 - 512, 2 * 1024 * 1024 + 1024 },
	{ BUF_SIZE - 4096, BUF_SIZE - 512, 512, 4 * 1024 * 1024 },
	{ 0, 0, BUF_SIZE, 8 * 1024 * 1024 },
	{ 128 * 1024, 256 * 1024, 256 * 1024, 5 * 1024 * 1024 + 4096 },
};

/* Index of the first byte of @p that is not @c, or @len. */
static size_t first_not(const unsigned char *p, size_t len, unsigned char c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return i;
	return len;
}

static void check_case(const struct io_case *c, unsigned int seed)
{
	unsigned char *pa = a->addr, *pb = b->addr;
	unsigned int user_off = c->b_off % 4096;
	size_t bad;
	int ret;

	td_fill(pa + c->a_off, c->len, seed);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT_A,
			  c->a_off, c->len, c->dev_off);
	if (!t_expect("WRITE_FIXED from dma-buf A", ret, c->len)) {
		printf("  case a_off %u len %u dev_off %llu\n", c->a_off,
		       c->len, (unsigned long long)c->dev_off);
		return;
	}

	memset(pb, 0xee, BUF_SIZE);
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B, c->b_off,
			  c->len, c->dev_off);
	if (!t_expect("READ_FIXED into dma-buf B", ret, c->len))
		return;
	if (memcmp(pb + c->b_off, pa + c->a_off, c->len))
		t_fail("B[%u..+%u] differs from what A wrote (dev_off %llu)",
		       c->b_off, c->len, (unsigned long long)c->dev_off);
	bad = first_not(pb, c->b_off, 0xee);
	if (bad != c->b_off)
		t_fail("READ_FIXED wrote B[%zu], before its range", bad);
	bad = first_not(pb + c->b_off + c->len,
			BUF_SIZE - c->b_off - c->len, 0xee);
	if (bad != BUF_SIZE - c->b_off - c->len)
		t_fail("READ_FIXED wrote B[%zu], after its range",
		       c->b_off + c->len + bad);

	/* the same read through user memory gives the same bytes */
	memset(user, 0, BUF_SIZE + 4096);
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_USER,
			  (uintptr_t)(user + user_off), c->len, c->dev_off);
	if (t_expect("READ_FIXED into the user-memory slot", ret, c->len) &&
	    memcmp(user + user_off, pb + c->b_off, c->len))
		t_fail("user-memory read differs from the dma-buf read (len %u)",
		       c->len);

	/* and the other way round: user memory writes, dma-buf B reads */
	td_fill(user + user_off, c->len, seed ^ 0xa5a5a5a5u);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT_USER,
			  (uintptr_t)(user + user_off), c->len, c->dev_off);
	if (!t_expect("WRITE_FIXED from the user-memory slot", ret, c->len))
		return;
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B, c->b_off,
			  c->len, c->dev_off);
	if (t_expect("READ_FIXED into B after the user write", ret, c->len) &&
	    memcmp(pb + c->b_off, user + user_off, c->len))
		t_fail("dma-buf read differs from the user-memory write (len %u)",
		       c->len);
}

static void check_files(void)
{
	int dupfd, second, ret;

	dupfd = dup(nvme);
	if (dupfd < 0) {
		t_fail("dup() failed");
		return;
	}
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, dupfd, SLOT_B, 0, 4096, 0);
	t_expect("READ_FIXED on a dup() of the target", ret, 4096);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, dupfd, SLOT_A, 0, 4096,
			  12 * 1024 * 1024);
	t_expect("WRITE_FIXED on a dup() of the target", ret, 4096);

	second = open(td_nvme_path(), O_RDWR | O_DIRECT | O_CLOEXEC);
	if (second >= 0) {
		ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, second, SLOT_B,
				  0, 4096, 0);
		t_expect("READ_FIXED on a second open() of the device", ret,
			 -EBADF);
		ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, second, SLOT_A,
				  0, 4096, 12 * 1024 * 1024);
		t_expect("WRITE_FIXED on a second open() of the device", ret,
			 -EBADF);
		ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, second,
				  SLOT_USER, (uintptr_t)user, 4096, 0);
		t_expect("the user-memory slot on the second open()", ret, 4096);
		close(second);
	} else {
		t_fail("second open(%s) failed", td_nvme_path());
	}

	/* the rule is checked per request: O_DIRECT cleared later -> EINVAL */
	if (fcntl(dupfd, F_SETFL, 0) == 0) {
		ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B, 0,
				  4096, 0);
		t_expect("READ_FIXED after O_DIRECT was cleared", ret, -EINVAL);
		if (fcntl(dupfd, F_SETFL, O_DIRECT))
			t_fail("could not set O_DIRECT again");
	} else {
		t_fail("fcntl(F_SETFL, 0) failed");
	}
	close(dupfd);
}

static void check_bounds(void)
{
	struct {
		const char	*what;
		__u64		addr;
		unsigned int	len;
	} bad[] = {
		{ "offset + len one sector past the end", BUF_SIZE - 512, 1024 },
		{ "offset at the end", BUF_SIZE, 512 },
		{ "offset far past the end", 1ULL << 40, 512 },
		{ "offset + len overflows", UINT64_MAX - 511, 1024 },
		{ "len 0", 0, 0 },
		{ "len 0 at the end", BUF_SIZE, 0 },
	};
	size_t i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B,
				  bad[i].addr, bad[i].len, 0);
		t_expect(bad[i].what, ret, -EFAULT);
		ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT_A,
				  bad[i].addr, bad[i].len, 0);
		t_expect(bad[i].what, ret, -EFAULT);
	}
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B,
			  BUF_SIZE - 512, 512, 0);
	t_expect("the last sector of the dma-buf", ret, 512);
}

/*
 * Submit, clear the slot, then reap: the I/O completes with the old
 * dma-buf, later use of the slot fails. The same with our fds and mapping
 * of the dma-buf gone before the reap (the ring holds the reference).
 */
static void check_clear_in_flight(void)
{
	struct io_uring_udmabuf *c;
	int ret;

	td_fill(a->addr, BUF_SIZE, 77);
	ret = td_rw_fixed(&ring, IORING_OP_WRITE_FIXED, nvme, SLOT_A, 0,
			  BUF_SIZE, 0);
	if (!t_expect("WRITE_FIXED 1 MiB", ret, BUF_SIZE))
		return;
	memset(b->addr, 0, BUF_SIZE);
	ret = td_submit_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B, 0,
				 BUF_SIZE, 0, 1);
	if (!t_expect("submit READ_FIXED 1 MiB", ret, 0))
		return;
	t_expect("clear slot B with the read in flight",
		 io_uring_unregister_dmabuf_buffer(&ring, SLOT_B), 0);
	ret = td_reap(&ring, NULL);
	t_expect("the in-flight read completes", ret, BUF_SIZE);
	if (ret == BUF_SIZE && memcmp(a->addr, b->addr, BUF_SIZE))
		t_fail("the in-flight read delivered the wrong bytes");
	ret = td_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_B, 0, 4096, 0);
	t_expect("READ_FIXED from the cleared slot", ret, -EFAULT);
	t_expect("re-register B",
		 io_uring_register_dmabuf_buffer(&ring, SLOT_B, nvme, b->dmabuf_fd), 0);

	ret = io_uring_udmabuf_alloc(BUF_SIZE, &c);
	if (!t_expect("io_uring_udmabuf_alloc(C)", ret, 0))
		return;
	t_expect("register C",
		 io_uring_register_dmabuf_buffer(&ring, SLOT_C, nvme, c->dmabuf_fd), 0);
	ret = td_submit_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, SLOT_C, 0,
				 BUF_SIZE, 0, 2);
	if (!t_expect("submit READ_FIXED into C", ret, 0)) {
		io_uring_udmabuf_free(c);
		return;
	}
	t_expect("clear slot C with the read in flight",
		 io_uring_unregister_dmabuf_buffer(&ring, SLOT_C), 0);
	io_uring_udmabuf_free(c);
	t_expect("the read into the released C completes",
		 td_reap(&ring, NULL), BUF_SIZE);
}

int main(void)
{
	unsigned int i;
	int ret;

	ret = td_require_dmabuf();
	if (ret)
		return ret;
	ret = td_require_nvme(O_RDWR | O_DIRECT, &nvme);
	if (ret)
		return ret;
	ret = td_require_udmabuf(BUF_SIZE, &a);
	if (ret)
		return ret;
	ret = td_require_udmabuf(BUF_SIZE, &b);
	if (ret)
		return ret;
	if (posix_memalign((void **)&user, 4096, BUF_SIZE + 4096)) {
		t_fail("posix_memalign");
		return t_result("dmabuf-io");
	}
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	if (!t_expect("table", io_uring_register_dmabuf_table(&ring, NR_SLOTS), 0) ||
	    !t_expect("register A", io_uring_register_dmabuf_buffer(&ring,
			SLOT_A, nvme, a->dmabuf_fd), 0) ||
	    !t_expect("register B", io_uring_register_dmabuf_buffer(&ring,
			SLOT_B, nvme, b->dmabuf_fd), 0) ||
	    !t_expect("user memory slot", td_update_user(ring.ring_fd,
			SLOT_USER, user, BUF_SIZE + 4096), 1))
		return t_result("dmabuf-io");

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].dev_off + cases[i].len > DEV_SPAN)
			abort();
		check_case(&cases[i], 1000 + i);
	}
	printf("%zu offset/length cases checked\n",
	       sizeof(cases) / sizeof(cases[0]));
	check_files();
	check_bounds();
	check_clear_in_flight();

	io_uring_queue_exit(&ring);
	io_uring_udmabuf_free(a);
	io_uring_udmabuf_free(b);
	free(user);
	close(nvme);
	return t_result("dmabuf-io");
}
