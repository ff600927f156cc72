/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * 10,000 setup/free cycles of kmbuf rings: nothing may accumulate. The
 * pinned and locked memory of the process (VmPin, VmLck in
 * /proc/self/status; io_uring charges pinned_vm), its mappings and its file
 * descriptors must all come back to where they started, and a ring that
 * lives through all the cycles must be untouched by them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

/* A KASAN+lockdep guest under TCG does ~100 a second: mind the VM timeout. */
#define CYCLES		10000

static struct io_uring ring;
static unsigned int page;

struct snapshot {
	long pin_kb, lck_kb, maps, fds;
};

static void snap(struct snapshot *s)
{
	s->pin_kb = t_proc_kb("/proc/self/status", "VmPin");
	s->lck_kb = t_proc_kb("/proc/self/status", "VmLck");
	s->maps = t_maps_count();
	s->fds = t_fd_count();
}

static void expect_snap(const char *when, const struct snapshot *want)
{
	struct snapshot now;
	char what[96];

	snap(&now);
	snprintf(what, sizeof(what), "%s: VmPin kB", when);
	t_expect(what, now.pin_kb, want->pin_kb);
	snprintf(what, sizeof(what), "%s: VmLck kB", when);
	t_expect(what, now.lck_kb, want->lck_kb);
	snprintf(what, sizeof(what), "%s: lines of /proc/self/maps", when);
	t_expect(what, now.maps, want->maps);
	snprintf(what, sizeof(what), "%s: open fds", when);
	t_expect(what, now.fds, want->fds);
}

int main(void)
{
	struct io_uring_kmbuf *kb, *keeper;
	struct snapshot base, held;
	unsigned int i, entries, buf_size;
	uint64_t t0;
	int ret;

	ret = t_require_kmbuf();
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	page = t_page_size();

	snap(&base);
	if (base.pin_kb < 0 || base.lck_kb < 0 || base.maps < 0 || base.fds < 0) {
		t_fail("cannot read /proc/self (VmPin %ld, VmLck %ld, maps %ld, fds %ld)",
		       base.pin_kb, base.lck_kb, base.maps, base.fds);
		return T_EXIT_FAIL;
	}

	/* What one registered ring costs, for the record. */
	ret = io_uring_setup_kmbuf_ring(&ring, 16, page, 1, NULL, &kb);
	if (!t_expect("setup 16 x 1 page", ret, 0))
		return t_result("kmbuf-cycles");
	snap(&held);
	printf("one 16 x %u ring: VmPin %+ld kB, VmLck %+ld kB, maps %+ld\n",
	       page, held.pin_kb - base.pin_kb, held.lck_kb - base.lck_kb,
	       held.maps - base.maps);
	t_expect("maps lines with one ring mapped", held.maps, base.maps + 1);
	t_expect("free", io_uring_free_kmbuf_ring(&ring, kb), 0);
	expect_snap("after one cycle", &base);

	/* A ring that lives through every cycle. */
	ret = io_uring_setup_kmbuf_ring(&ring, 4, page, 500, NULL, &keeper);
	if (!t_expect("setup of the long-lived ring", ret, 0))
		return t_result("kmbuf-cycles");
	memset(keeper->bufs, 0x6b, keeper->len);
	snap(&held);

	t0 = t_now_ns();
	for (i = 0; i < CYCLES; i++) {
		/* Small shapes: 10,000 of them must fit a KASAN guest's timeout. */
		entries = 1u << (i % 4);
		buf_size = page * (1 + i % 2);
		ret = io_uring_setup_kmbuf_ring(&ring, entries, buf_size,
						(unsigned short)(i % 7), NULL, &kb);
		if (ret) {
			t_fail("cycle %u: setup %u x %u: expected 0, got %d (%s)",
			       i, entries, buf_size, ret, t_errname(ret));
			break;
		}
		/* Touch first and last byte: the mapping is real. */
		((unsigned char *)kb->bufs)[0] = (unsigned char)i;
		((unsigned char *)kb->bufs)[kb->len - 1] = (unsigned char)i;
		ret = io_uring_free_kmbuf_ring(&ring, kb);
		if (ret) {
			t_fail("cycle %u: free: expected 0, got %d (%s)", i, ret,
			       t_errname(ret));
			break;
		}
	}
	printf("%u setup/free cycles in %.2f s\n", i,
	       (double)(t_now_ns() - t0) / 1e9);
	expect_snap("after the cycles, long-lived ring held", &held);

	if (t_check_byte(keeper->bufs, keeper->len, 0x6b) != keeper->len)
		t_fail("the long-lived ring's buffers changed during the cycles");
	t_expect("free the long-lived ring", io_uring_free_kmbuf_ring(&ring, keeper), 0);
	for (i = 0; i < 7; i++)
		if (!t_expect("nothing left at a cycled bgid",
			      io_uring_unregister_kmbuf_ring(&ring, (unsigned short)i),
			      -ENOENT))
			break;
	expect_snap("at the end", &base);

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-cycles");
}
