/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Tearing kmbuf rings down the way a FUSE-style server shuts down:
 * - free of a pinned ring is -EBUSY and moves nothing (same address, same
 *   mapping, same data, the handle byte for byte), and works after unpin;
 * - one thread consuming completions and reading the buffers while another
 *   keeps trying to free the pinned ring;
 * - free after io_uring_queue_exit() fails and changes nothing, and
 *   io_uring_free_kmbuf_handle() then releases the handle and its mapping;
 * - free with a ring that is not the handle's is -EINVAL and touches
 *   neither ring;
 * - after fork() the child sees the parent's buffers, and dropping its copy
 *   of the handle leaves the parent's ring working.
 * Needs the testbed kernel and its driver.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define CONSUMER_FILLS	300

static struct io_uring ring;
static int drv;
static unsigned int page;

/* The permissions of the /proc/self/maps line starting at @addr. */
static int maps_perms(const void *addr, char perms[5])
{
	unsigned long start, want = (unsigned long)addr;
	char line[512];
	int found = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%*x %4s", &start, perms) == 2 &&
		    start == want) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * Lines of /proc/self/maps that map an io_uring file (rings and buffers),
 * or -1: unlike a count of all lines, no allocator can change it.
 */
static long uring_maps(void)
{
	char line[512];
	long n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[io_uring]"))
			n++;
	fclose(f);
	return n;
}

/*
 * FILL one buffer of @kb on @r, check the pattern through the handle and
 * the buffer's place in the mapping, and recycle it. 0 or a failure.
 */
static int fill_check(struct io_uring *r, const struct io_uring_kmbuf *kb,
		      unsigned int seed, char *err, size_t errlen)
{
	struct io_uring_cqe cqe;
	struct t_cqe c;
	unsigned int len;
	void *addr;
	size_t bad;
	int ret, bid;

	ret = t_drv_fill(r, drv, kb->bgid, kb->buf_size, seed, &c);
	if (ret) {
		snprintf(err, errlen, "FILL seed %u: submit: %s", seed,
			 t_errname(ret));
		return -1;
	}
	t_to_cqe(&c, &cqe);
	bid = io_uring_kmbuf_cqe_buf(kb, &cqe, &addr, &len);
	if (bid < 0) {
		snprintf(err, errlen, "FILL seed %u: expected a buffer, got %d (%s)",
			 seed, bid, t_errname(bid));
		return -1;
	}
	if ((char *)addr != (char *)kb->bufs + (size_t)bid * kb->buf_size) {
		snprintf(err, errlen, "FILL seed %u: bid %d at %p, not in the mapping at %p",
			 seed, bid, addr, kb->bufs);
		return -1;
	}
	bad = t_check_pattern(addr, len, seed);
	if (len != kb->buf_size || bad != len) {
		snprintf(err, errlen, "FILL seed %u: bid %d: %u bytes (expected %u), pattern wrong at %zu",
			 seed, bid, len, kb->buf_size, bad);
		return -1;
	}
	ret = t_drv(r, drv, KMBUF_TEST_CMD_RECYCLE, kb->bgid,
		    (unsigned short)bid, 0, 0);
	if (ret) {
		snprintf(err, errlen, "RECYCLE bid %d: %s", bid, t_errname(ret));
		return -1;
	}
	return 0;
}

static void expect_fill(struct io_uring *r, const struct io_uring_kmbuf *kb,
			unsigned int seed, const char *where)
{
	char err[256];

	if (fill_check(r, kb, seed, err, sizeof(err)))
		t_fail("%s: %s", where, err);
}

/* A pinned ring: -EBUSY, and not one byte of the caller's view moves. */
static void test_pinned(void)
{
	struct io_uring_kmbuf *kb, before;
	char perms[5];
	long maps0;
	int i;

	maps0 = uring_maps();
	if (!t_expect("setup bgid 3",
		      io_uring_setup_kmbuf_ring(&ring, 4, page, 3, NULL, &kb), 0))
		return;
	memset(kb->bufs, 0x5a, kb->len);
	/*
	 * A read-only first page tells the mapping setup made from any new
	 * one: a fresh mmap of the buffers would be read-write again.
	 */
	if (mprotect(kb->bufs, page, PROT_READ)) {
		t_fail("mprotect of the first buffer: %s", t_errname(errno));
		goto out;
	}
	before = *kb;
	if (!t_expect("PIN bgid 3",
		      t_drv(&ring, drv, KMBUF_TEST_CMD_PIN, 3, 0, 0, 0), 0))
		goto out;

	for (i = 0; i < 3; i++) {
		t_expect("free of a pinned ring", io_uring_free_kmbuf_ring(&ring, kb),
			 -EBUSY);
		if (memcmp(kb, &before, sizeof(before)))
			t_fail("free of a pinned ring changed the handle (bufs %p, was %p)",
			       kb->bufs, before.bufs);
		if (maps_perms(before.bufs, perms) != 1)
			t_fail("after -EBUSY: nothing mapped at %p any more", before.bufs);
		else if (strcmp(perms, "r--s"))
			t_fail("after -EBUSY: the first buffer is %s, expected r--s: the buffers were mapped again",
			       perms);
		if (t_check_byte(kb->bufs, kb->len, 0x5a) != kb->len)
			t_fail("after -EBUSY: the buffers lost what was written into them");
	}
	t_expect("io_uring lines of /proc/self/maps while pinned (setup's mapping, split in two)",
		 uring_maps(), maps0 + 2);
	/* The consumer keeps going, into the same pages. */
	for (i = 0; i < 8; i++)
		expect_fill(&ring, kb, 0x300u + (unsigned int)i, "FILL after -EBUSY");

	t_expect("UNPIN bgid 3", t_drv(&ring, drv, KMBUF_TEST_CMD_UNPIN, 3, 0, 0, 0), 0);
out:
	if (t_expect("free after unpin", io_uring_free_kmbuf_ring(&ring, kb), 0)) {
		t_expect("io_uring lines of /proc/self/maps after free",
			 uring_maps(), maps0);
		t_expect("unregister after free",
			 io_uring_unregister_kmbuf_ring(&ring, 3), -ENOENT);
	}
}

/* The server's shutdown: one thread still consuming, another freeing. */
struct consumer {
	struct io_uring_kmbuf	*kb;
	atomic_int		done;
	int			fills;
	char			err[256];
};

struct freer {
	struct consumer		*c;
	void			*bufs;
	int			attempts;
	int			other;		/* a result other than -EBUSY */
	int			moved;		/* kb->bufs changed */
};

static void *consumer_thread(void *arg)
{
	struct consumer *c = arg;
	int i;

	for (i = 0; i < CONSUMER_FILLS; i++) {
		if (fill_check(&ring, c->kb, 0x1000u + (unsigned int)i, c->err,
			       sizeof(c->err)))
			break;
		c->fills++;
	}
	atomic_store(&c->done, 1);
	return NULL;
}

static void *freer_thread(void *arg)
{
	struct freer *f = arg;
	int ret;

	/* at least one attempt, however quick the consumer is */
	do {
		ret = io_uring_free_kmbuf_ring(&ring, f->c->kb);
		f->attempts++;
		if (ret != -EBUSY) {
			f->other = ret ? ret : 1;	/* 1: freed */
			break;
		}
		if (f->c->kb->bufs != f->bufs)
			f->moved = 1;
		sched_yield();
	} while (!atomic_load(&f->c->done));
	return NULL;
}

static void test_consumer_vs_free(void)
{
	struct consumer c = { 0 };
	struct freer f = { 0 };
	pthread_t ct, ft;
	int ret;

	if (!t_expect("setup bgid 4",
		      io_uring_setup_kmbuf_ring(&ring, 8, page, 4, NULL, &c.kb), 0))
		return;
	atomic_init(&c.done, 0);
	f.c = &c;
	f.bufs = c.kb->bufs;
	if (!t_expect("PIN bgid 4", t_drv(&ring, drv, KMBUF_TEST_CMD_PIN, 4, 0, 0, 0), 0))
		goto out;

	ret = pthread_create(&ct, NULL, consumer_thread, &c);
	if (ret) {
		t_fail("pthread_create (consumer): %s", t_errname(ret));
		goto unpin;
	}
	ret = pthread_create(&ft, NULL, freer_thread, &f);
	if (ret) {
		t_fail("pthread_create (freer): %s", t_errname(ret));
		pthread_join(ct, NULL);
		goto unpin;
	}
	pthread_join(ct, NULL);
	pthread_join(ft, NULL);

	if (c.err[0])
		t_fail("consumer thread, after %d fills: %s", c.fills, c.err);
	t_expect("fills the consumer completed", c.fills, CONSUMER_FILLS);
	if (f.other == 1)
		t_fail("free of the pinned ring while the consumer ran: expected -EBUSY every time, but it freed the ring");
	else if (f.other)
		t_fail("free of the pinned ring while the consumer ran: expected -EBUSY every time, got %d (%s)",
		       f.other, t_errname(f.other));
	if (f.moved)
		t_fail("free of the pinned ring moved kb->bufs under the consumer");
	printf("consumer: %d fills; freer: %d refused frees meanwhile\n",
	       c.fills, f.attempts);
unpin:
	t_expect("UNPIN bgid 4", t_drv(&ring, drv, KMBUF_TEST_CMD_UNPIN, 4, 0, 0, 0), 0);
out:
	if (f.other == 1)
		return;		/* the freer's free went through: no handle left */
	t_expect("free after the consumer stopped and unpinned",
		 io_uring_free_kmbuf_ring(&ring, c.kb), 0);
}

/* io_uring_queue_exit() first: free cannot reach the ring, the handle can go. */
static void test_after_queue_exit(void)
{
	struct io_uring_kmbuf *kb, before;
	struct io_uring r2;
	long maps0;
	int ret;

	maps0 = uring_maps();
	ret = io_uring_queue_init(4, &r2, 0);
	if (!t_expect("second io_uring", ret, 0))
		return;
	if (!t_expect("setup on the second io_uring",
		      io_uring_setup_kmbuf_ring(&r2, 2, page, 1, NULL, &kb), 0)) {
		io_uring_queue_exit(&r2);
		return;
	}
	memset(kb->bufs, 0x3c, kb->len);
	before = *kb;
	io_uring_queue_exit(&r2);

	/* queue_exit closed the fd: nothing here opens another meanwhile */
	t_expect("free after io_uring_queue_exit", io_uring_free_kmbuf_ring(&r2, kb),
		 -EBADF);
	if (memcmp(kb, &before, sizeof(before)))
		t_fail("the failed free changed the handle");
	if (t_maps_has(kb->bufs) != 1 ||
	    t_check_byte(kb->bufs, kb->len, 0x3c) != kb->len)
		t_fail("after the failed free: the buffers are not mapped with their data");
	io_uring_free_kmbuf_handle(kb);
	t_expect("io_uring lines of /proc/self/maps after io_uring_free_kmbuf_handle",
		 uring_maps(), maps0);
}

/* A handle freed with a ring that is not its own: refused, both intact. */
static void test_wrong_ring(void)
{
	struct io_uring_kmbuf *kba, *kbb;
	struct io_uring rb;
	int ret;

	ret = io_uring_queue_init(4, &rb, 0);
	if (!t_expect("ring B", ret, 0))
		return;
	if (!t_expect("setup bgid 6 on ring A",
		      io_uring_setup_kmbuf_ring(&ring, 2, page, 6, NULL, &kba), 0))
		goto out_exit;
	if (!t_expect("setup bgid 6 on ring B",
		      io_uring_setup_kmbuf_ring(&rb, 2, page, 6, NULL, &kbb), 0))
		goto out_a;

	t_expect("free A's handle with ring B", io_uring_free_kmbuf_ring(&rb, kba),
		 -EINVAL);
	t_expect("free B's handle with ring A", io_uring_free_kmbuf_ring(&ring, kbb),
		 -EINVAL);
	if (t_maps_has(kba->bufs) != 1 || t_maps_has(kbb->bufs) != 1)
		t_fail("a refused free unmapped buffers (A %d, B %d)",
		       t_maps_has(kba->bufs), t_maps_has(kbb->bufs));
	/* both rings still registered: their consumer still fills them */
	expect_fill(&ring, kba, 61, "ring A after the refused frees");
	expect_fill(&rb, kbb, 62, "ring B after the refused frees");

	t_expect("free B's handle with ring B", io_uring_free_kmbuf_ring(&rb, kbb), 0);
out_a:
	t_expect("free A's handle with ring A", io_uring_free_kmbuf_ring(&ring, kba), 0);
out_exit:
	io_uring_queue_exit(&rb);
}

/* fork(): the child shares the ring and its pages, not the handle. */
static void test_fork(void)
{
	struct io_uring_kmbuf *kb;
	unsigned char *p;
	int status;
	pid_t pid;

	if (!t_expect("setup bgid 5",
		      io_uring_setup_kmbuf_ring(&ring, 2, page, 5, NULL, &kb), 0))
		return;
	p = kb->bufs;
	memset(p, 0x6b, kb->len);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		t_fail("fork: %s", t_errname(errno));
		goto out;
	}
	if (pid == 0) {
		/* the inherited mapping shows the parent's data, at the same place */
		if (t_check_byte(p, kb->len, 0x6b) != kb->len)
			_exit(2);
		p[0] = 0x6c;		/* MAP_SHARED: the parent sees it */
		io_uring_free_kmbuf_handle(kb);
		_exit(t_maps_has(p) == 0 ? 0 : 3);
	}
	if (waitpid(pid, &status, 0) != pid) {
		t_fail("waitpid: %s", t_errname(errno));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		t_fail("child: status %#x (2: data not inherited, 3: still mapped after io_uring_free_kmbuf_handle)",
		       status);
	if (p[0] != 0x6c)
		t_fail("the child's write into the shared buffers did not reach the parent");
	if (t_maps_has(p) != 1)
		t_fail("the child's io_uring_free_kmbuf_handle() unmapped the parent's buffers");
	expect_fill(&ring, kb, 55, "FILL in the parent after the child dropped its handle");
out:
	t_expect("free in the parent after fork", io_uring_free_kmbuf_ring(&ring, kb), 0);
}

int main(void)
{
	int ret;

	ret = t_require_testbed(&drv, &ring, 8);
	if (ret)
		return ret;
	page = t_page_size();

	test_pinned();
	test_consumer_vs_free();
	test_after_queue_exit();
	test_wrong_ring();
	test_fork();

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-teardown");
}
