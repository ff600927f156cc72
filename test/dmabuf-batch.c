/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * Several slots in one IORING_REGISTER_BUFFERS_UPDATE, in the running
 * generation's format (dmabuf.abi=), built raw (td_update_slots): dma-bufs,
 * user memory and empty entries mixed, with tags; and batches that fail
 * part-way. The kernel applies entries in order and stops at the first bad
 * one: the return value is the number applied (the error itself when that
 * is 0), the slots before the bad entry hold their new contents, the ones
 * from it on are untouched, and exactly the tags of the replaced slots are
 * posted. What a slot holds is read back with READ_FIXED. Needs the
 * testbed VM (dmabuf-aware kernel, /dev/udmabuf, the NVMe drive).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dmabuf-util.h"

#define NR_SLOTS	8
#define BUF_SIZE	(64 * 1024)
#define PROBE_LEN	512
/* a sector of known bytes the probes read: at 32 MiB, after dmabuf-rw's range */
#define PROBE_OFF	(32ULL * 1024 * 1024)
#define PROBE_SEED	4242
#define PROBE_DATA	0x70be000000000000ull
#define MAX_TAGS	64

static struct io_uring ring;
static struct io_uring_udmabuf *a, *b;
static unsigned char *user;
static int nvme = -1, memfd_bad = -1;

/* What a slot holds, as the tests write it: A, B, U(ser), E(mpty). */
static char held[NR_SLOTS + 1];

/* Tag CQEs seen since the last take_tags(). */
static __u64 tags_seen[MAX_TAGS];
static unsigned int nr_tags_seen;

static void note_cqe(const struct io_uring_cqe *cqe)
{
	if (cqe->res != 0)
		t_fail("tag CQE %llu: res %d, expected 0",
		       (unsigned long long)cqe->user_data, cqe->res);
	if (nr_tags_seen < MAX_TAGS)
		tags_seen[nr_tags_seen++] = cqe->user_data;
	else
		t_fail("more than %d tag CQEs", MAX_TAGS);
}

/* One READ_FIXED of the probe sector at @addr of @slot: its res. */
static int probe_read(unsigned int slot, __u64 addr)
{
	struct __kernel_timespec ts = { .tv_sec = 30 };
	struct io_uring_cqe *cqe;
	int ret;

	ret = td_submit_rw_fixed(&ring, IORING_OP_READ_FIXED, nvme, slot, addr,
				 PROBE_LEN, PROBE_OFF, PROBE_DATA | slot);
	if (ret)
		return ret;
	for (;;) {
		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (ret)
			return ret;
		if (cqe->user_data == (PROBE_DATA | slot)) {
			ret = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			return ret;
		}
		note_cqe(cqe);
		io_uring_cqe_seen(&ring, cqe);
	}
}

static int holds_probe(const unsigned char *p)
{
	size_t i;

	for (i = 0; i < PROBE_LEN; i++)
		if (p[i] != kmbuf_test_pattern(PROBE_SEED, (__u32)i))
			return 0;
	return 1;
}

/* What @slot holds, from what a READ_FIXED into it does. */
static char slot_content(unsigned int slot)
{
	int ret;

	memset(a->addr, 0, PROBE_LEN);
	memset(b->addr, 0, PROBE_LEN);
	memset(user, 0, PROBE_LEN);
	/* a dma-buf slot takes offset 0; user memory and an empty slot do not */
	ret = probe_read(slot, 0);
	if (ret == PROBE_LEN) {
		if (holds_probe(a->addr) && !holds_probe(b->addr))
			return 'A';
		if (holds_probe(b->addr) && !holds_probe(a->addr))
			return 'B';
		return '?';
	}
	if (ret != -EFAULT)
		return '!';
	ret = probe_read(slot, (uintptr_t)user);
	if (ret == PROBE_LEN)
		return holds_probe(user) ? 'U' : '?';
	return ret == -EFAULT ? 'E' : '!';
}

/* Every slot must hold what held[] says. */
static void check_slots(const char *when)
{
	unsigned int i;
	char c;

	for (i = 0; i < NR_SLOTS; i++) {
		c = slot_content(i);
		if (c != held[i])
			t_fail("%s: slot %u holds %c, expected %c (A/B dma-buf, U user memory, E empty, ? wrong data, ! an unexpected error)",
			       when, i, c, held[i]);
	}
}

/*
 * Wait until the tag CQEs @want (@n of them, in any order) have come,
 * then a little longer for any that should not; a failure for each
 * missing or extra one.
 */
static void expect_tags(const char *when, const __u64 *want, unsigned int n)
{
	struct __kernel_timespec ts = { .tv_nsec = 200 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	unsigned int i, j, tries;
	int found;

	for (tries = 0; tries < 50 && nr_tags_seen < n; tries++)
		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
			note_cqe(cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	/* one more short wait: nothing else may come */
	if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
		note_cqe(cqe);
		io_uring_cqe_seen(&ring, cqe);
	}
	for (i = 0; i < n; i++) {
		found = 0;
		for (j = 0; j < nr_tags_seen; j++)
			if (tags_seen[j] == want[i])
				found = 1;
		if (!found)
			t_fail("%s: tag %llu was not posted", when,
			       (unsigned long long)want[i]);
	}
	for (j = 0; j < nr_tags_seen; j++) {
		found = 0;
		for (i = 0; i < n; i++)
			if (tags_seen[j] == want[i])
				found = 1;
		if (!found)
			t_fail("%s: tag %llu was posted, which no applied entry replaced",
			       when, (unsigned long long)tags_seen[j]);
	}
	nr_tags_seen = 0;
}

static struct td_slot slot_of(char c)
{
	struct td_slot s;

	memset(&s, 0, sizeof(s));
	switch (c) {
	case 'A':
	case 'B':
		s.kind = TD_DMABUF;
		s.target_fd = nvme;
		s.dmabuf_fd = (c == 'A' ? a : b)->dmabuf_fd;
		break;
	case 'U':
		s.kind = TD_USER;
		s.addr = user;
		s.len = BUF_SIZE;
		break;
	case 'X':
		/* a bad entry in any format: a memfd is no dma-buf */
		s.kind = TD_DMABUF;
		s.target_fd = nvme;
		s.dmabuf_fd = memfd_bad;
		break;
	default:
		s.kind = TD_EMPTY;
		break;
	}
	return s;
}

/*
 * Update slots @first.. with the entries @spec spells (A, B, U, E, X for
 * a bad one) and @tags; expect @want; on success of entry i, held[] and
 * the slot's tag follow.
 */
static __u64 slot_tag[NR_SLOTS];

static int update(const char *spec, unsigned int first, const __u64 *tags)
{
	struct td_slot s[NR_SLOTS + 4];
	unsigned int i, n = (unsigned int)strlen(spec);

	for (i = 0; i < n; i++)
		s[i] = slot_of(spec[i]);
	return td_update_slots(ring.ring_fd, first, s, tags, n);
}

/* Record that entries 0..@applied-1 of @spec at @first took effect. */
static unsigned int apply(const char *spec, unsigned int first,
			  const __u64 *tags, int applied, __u64 *posted)
{
	unsigned int i, nposted = 0;

	for (i = 0; (int)i < applied; i++) {
		if (slot_tag[first + i])
			posted[nposted++] = slot_tag[first + i];
		held[first + i] = spec[i];
		slot_tag[first + i] = tags ? tags[i] : 0;
	}
	return nposted;
}

static void check_full_batch(void)
{
	static const char spec[] = "AUEBAUBE";
	const __u64 tags[NR_SLOTS] = { 1, 2, 0, 4, 5, 6, 7, 0 };
	__u64 posted[NR_SLOTS];
	unsigned int n;
	int ret;

	ret = update(spec, 0, tags);
	if (!t_expect("a batch of 8 entries (dma-bufs, user memory, empty)",
		      ret, NR_SLOTS))
		return;
	n = apply(spec, 0, tags, ret, posted);
	expect_tags("the first batch", posted, n);
	check_slots("after a batch of 8");
}

/* Entry 3 of 6 is bad: 3 applied, the other 3 and every other slot untouched. */
static void check_partial(void)
{
	static const char spec[] = "BEAXBU";
	const __u64 tags[] = { 101, 0, 103, 104, 105, 106 };
	__u64 posted[NR_SLOTS];
	unsigned int n;
	int ret;

	ret = update(spec, 1, tags);
	t_expect("a batch whose 4th entry is bad: the count applied", ret, 3);
	if (ret < 0 || ret > 6)
		return;
	n = apply(spec, 1, tags, ret, posted);
	expect_tags("the batch that failed part-way", posted, n);
	check_slots("after the batch that failed part-way");
}

/* A batch whose first entry is bad applies nothing and says why. */
static void check_first_bad(void)
{
	const __u64 tags[] = { 201, 202, 203 };
	int ret;

	ret = update("XAB", 2, tags);
	if (!t_expect("a batch whose first entry is bad", ret, -EINVAL) && ret > 0)
		apply("XAB", 2, tags, ret, (__u64[NR_SLOTS]){ 0 });
	expect_tags("the batch that failed at once", NULL, 0);
	check_slots("after the batch that failed at once");

	/* more entries than the table has after the offset: nothing at all */
	ret = update("ABU", NR_SLOTS - 2, tags);
	t_expect("a batch past the end of the table", ret, -EINVAL);
	expect_tags("the batch past the end", NULL, 0);
	check_slots("after the batch past the end");
}

/*
 * The format's own refusal stops a batch too: in the seed an iovec given
 * with a dma-buf, in the descriptor generation an EMPTY entry with the
 * seed's -1 fds. And a tag on an empty entry, as for other updates.
 */
static void check_format_refusal(void)
{
	const __u64 tags[] = { 301, 302, 303, 304 };
	__u64 posted[NR_SLOTS];
	unsigned int n;
	int ret;

	if (t_dmabuf_gen()->abi == T_DMABUF_ABI_DESC) {
		struct td_regbuf_desc d[3];

		memset(d, 0, sizeof(d));
		d[0].type = TD_DESC_DMABUF;
		d[0].target_fd = nvme;
		d[0].dmabuf_fd = b->dmabuf_fd;
		d[1].type = TD_DESC_EMPTY;
		d[1].target_fd = -1;
		d[1].dmabuf_fd = -1;
		d[2].type = TD_DESC_DMABUF;
		d[2].target_fd = nvme;
		d[2].dmabuf_fd = a->dmabuf_fd;
		ret = td_update_desc(ring.ring_fd, 5, t_dmabuf_gen()->update_flag,
				     d, 3, tags);
		t_expect("descriptors B, EMPTY with fds -1, A: the count applied",
			 ret, 1);
	} else {
		struct iovec iov[3] = {
			{ NULL, 0 }, { user, 4096 }, { NULL, 0 },
		};
		struct td_reg_buffer r[3] = {
			{ (uintptr_t)&iov[0], nvme, b->dmabuf_fd },
			{ (uintptr_t)&iov[1], nvme, a->dmabuf_fd },
			{ (uintptr_t)&iov[2], nvme, a->dmabuf_fd },
		};
		struct td_update up = {
			.offset = 5,
			.flags = t_dmabuf_gen()->update_flag,
			.data = (uintptr_t)r,
			.tags = (uintptr_t)tags,
			.nr = 3,
		};

		ret = t_sys_register(ring.ring_fd, T_REGISTER_BUFFERS_UPDATE,
				     &up, sizeof(up));
		t_expect("entries B, A with an iovec, A: the count applied",
			 ret, 1);
	}
	if (ret < 0 || ret > 3)
		return;
	n = apply("BEA", 5, tags, ret, posted);
	expect_tags("the batch the format stopped", posted, n);
	check_slots("after the batch the format stopped");

	/* a tag on an empty entry is refused, as in any update */
	{
		static const char spec[] = "AE";
		const __u64 t2[] = { 401, 402 };

		ret = update(spec, 6, t2);
		t_expect("A, then EMPTY with a tag: the count applied", ret, 1);
		if (ret > 0 && ret <= 2) {
			n = apply(spec, 6, t2, ret, posted);
			expect_tags("the batch with a tagged empty entry", posted, n);
		}
		check_slots("after the batch with a tagged empty entry");
	}
}

/*
 * The library's batch call must give the kernel's answers in every
 * generation: the same batches through io_uring_update_dmabuf_buffers(),
 * on slots whose state check_format_refusal() left known.
 */
#ifdef IO_URING_DMABUF_ENTRY_EMPTY
static struct io_uring_dmabuf_entry lib_entry(char c)
{
	struct io_uring_dmabuf_entry e;

	memset(&e, 0, sizeof(e));
	switch (c) {
	case 'A':
	case 'B':
	case 'X':
		e.kind = IO_URING_DMABUF_ENTRY_DMABUF;
		e.target_fd = nvme;
		e.dmabuf_fd = c == 'A' ? a->dmabuf_fd :
			      c == 'B' ? b->dmabuf_fd : memfd_bad;
		break;
	case 'U':
		e.kind = IO_URING_DMABUF_ENTRY_USER;
		e.addr = user;
		e.len = BUF_SIZE;
		break;
	default:
		e.kind = IO_URING_DMABUF_ENTRY_EMPTY;
		break;
	}
	return e;
}

static void lib_batch(const char *spec, unsigned int first, const __u64 *tags,
		      int want, const char *what)
{
	struct io_uring_dmabuf_entry e[NR_SLOTS];
	__u64 posted[NR_SLOTS];
	unsigned int i, n = (unsigned int)strlen(spec);
	int ret;

	for (i = 0; i < n; i++)
		e[i] = lib_entry(spec[i]);
	ret = io_uring_update_dmabuf_buffers(&ring, first, e, tags, n);
	t_expect(what, ret, want);
	if (ret > 0 && ret <= (int)n) {
		n = apply(spec, first, tags, ret, posted);
		expect_tags(what, posted, n);
	} else {
		expect_tags(what, NULL, 0);
	}
	check_slots(what);
}

static void check_library(void)
{
	const __u64 t1[NR_SLOTS] = { 501, 502, 0, 504, 505, 506, 507, 0 };
	const __u64 t2[] = { 601, 602, 603, 604 };
	const __u64 t3[] = { 701, 702 };

	lib_batch("UAEBBAUE", 0, t1, NR_SLOTS,
		  "io_uring_update_dmabuf_buffers() of 8 entries");
	lib_batch("BAXU", 2, t2, 2,
		  "io_uring_update_dmabuf_buffers() whose 3rd entry is bad");
	lib_batch("XA", 0, t3, -EINVAL,
		  "io_uring_update_dmabuf_buffers() whose 1st entry is bad");
	lib_batch("EA", 6, NULL, 2,
		  "io_uring_update_dmabuf_buffers() without tags");
}
#else
static void check_library(void)
{
	printf("note: the library has no io_uring_update_dmabuf_buffers(): not checked\n");
}
#endif

int main(void)
{
	unsigned char *sector;
	int plain, ret;

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
	memfd_bad = a->memfd;
	if (posix_memalign((void **)&user, 4096, BUF_SIZE) ||
	    posix_memalign((void **)&sector, 4096, 4096)) {
		t_fail("posix_memalign");
		return t_result("dmabuf-batch");
	}
	/* the probe sector, written without any fixed buffer */
	td_fill(sector, 4096, PROBE_SEED);
	plain = open(td_nvme_path(), O_RDWR | O_DIRECT | O_CLOEXEC);
	if (plain < 0 || pwrite(plain, sector, 4096, (off_t)PROBE_OFF) != 4096) {
		t_fail("writing the probe sector: %s", t_errname(errno));
		return t_result("dmabuf-batch");
	}
	close(plain);
	free(sector);

	ret = t_ring_init(&ring, 16);
	if (ret)
		return ret;
	if (!t_expect("sparse table of 8",
		      io_uring_register_dmabuf_table(&ring, NR_SLOTS), 0))
		return t_result("dmabuf-batch");
	memset(held, 'E', NR_SLOTS);
	check_slots("a new table");

	check_full_batch();
	check_partial();
	check_first_bad();
	check_format_refusal();
	check_library();

	io_uring_queue_exit(&ring);
	io_uring_udmabuf_free(a);
	io_uring_udmabuf_free(b);
	free(user);
	close(nvme);
	return t_result("dmabuf-batch");
}
