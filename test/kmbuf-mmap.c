/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * mmap of kmbuf buffers at the running generation's offset (kmbuf.abi=):
 * the offsets the kernel refuses (missing bgid, a pbuf ring, a legacy
 * list, the other generations' offset of a kmbuf ring), and the layout of
 * what it maps: one region, bid i at i * buf_size, the same pages however
 * often it is mapped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "helpers.h"

static struct io_uring ring;
static unsigned int page;
/* mmap of the kmbuf offset of a bgid without a kmbuf ring */
static int missing;

static void test_refused_offsets(void)
{
	struct io_uring_kmbuf_reg reg;
	struct t_pbuf pb;
	void *p = NULL, *legacy;
	int ret;

	t_expect("mmap kmbuf offset of bgid 9 (no ring)",
		 io_uring_mmap_kmbuf(&ring, 9, page, &p), missing);
	t_expect("raw mmap kmbuf offset of bgid 9 (no ring)",
		 t_sys_mmap(ring.ring_fd, t_kmbuf_off(9), page, &p), missing);

	ret = t_pbuf_setup(&ring, 4, page, 10, &pb);
	if (t_expect("pbuf ring at bgid 10", ret, 0)) {
		t_expect("mmap kmbuf offset of a pbuf ring",
			 io_uring_mmap_kmbuf(&ring, 10, page, &p), missing);
		t_expect("pbuf unregister", t_pbuf_free(&ring, &pb), 0);
	}

	legacy = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (legacy != MAP_FAILED) {
		ret = t_provide_buffers(&ring, legacy, page, 2, 12, 0);
		if (t_expect("PROVIDE_BUFFERS at bgid 12", ret, 0)) {
			t_expect("mmap kmbuf offset of a legacy list",
				 io_uring_mmap_kmbuf(&ring, 12, page, &p), missing);
			t_expect("REMOVE_BUFFERS at bgid 12",
				 t_remove_buffers(&ring, 2, 12), 2);
		}
		munmap(legacy, 2 * page);
	} else {
		t_fail("mmap of legacy buffers: %s", t_errname(errno));
	}

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = 4;
	reg.bgid = 11;
	if (!t_expect("register kmbuf bgid 11",
		      io_uring_register_kmbuf_ring(&ring, &reg, 0), 0))
		return;
	ret = t_sys_mmap(ring.ring_fd, t_kmbuf_other_off(11), page, &p);
	t_expect("raw mmap of a kmbuf ring at the other generations' offset",
		 ret, t_kmbuf_gen()->off_other_err);
	if (!ret)
		munmap(p, page);
	ret = t_sys_mmap(ring.ring_fd, t_kmbuf_off(11), 4 * page, &p);
	if (t_expect("raw mmap at the running generation's offset", ret, 0))
		munmap(p, 4 * page);
	/* A neighbour's offset must not reach this ring. */
	t_expect("mmap kmbuf offset of bgid 13 next to bgid 11",
		 io_uring_mmap_kmbuf(&ring, 13, page, &p), missing);
	t_expect("unregister bgid 11", io_uring_unregister_kmbuf_ring(&ring, 11), 0);
	t_expect("mmap kmbuf offset of bgid 11 after unregister",
		 io_uring_mmap_kmbuf(&ring, 11, 4 * page, &p), missing);
}

/*
 * A pbuf ring the kernel allocates (IOU_PBUF_RING_MMAP) is mapped at the
 * pbuf offset, as in mainline, in every generation: the flag generation
 * shares that offset with the buffers of kmbuf rings, by bgid.
 */
static void test_pbuf_mmap_ring(void)
{
	struct io_uring_kmbuf_reg reg, kreg;
	struct io_uring_buf_ring *br;
	void *p;
	int ret, kret;

	memset(&reg, 0, sizeof(reg));
	reg.ring_entries = 8;
	reg.bgid = 14;
	reg.flags = T_PBUF_RING_MMAP;
	if (!t_expect("IORING_REGISTER_PBUF_RING with IOU_PBUF_RING_MMAP at bgid 14",
		      t_sys_register(ring.ring_fd, T_REGISTER_PBUF_RING, &reg, 1), 0))
		return;
	memset(&kreg, 0, sizeof(kreg));
	kreg.buf_size = page;
	kreg.ring_entries = 2;
	kreg.bgid = 15;
	kret = t_sys_register_kmbuf(ring.ring_fd, &kreg);
	t_expect("a kmbuf ring beside it at bgid 15", kret, 0);

	ret = t_sys_mmap(ring.ring_fd, t_pbuf_off(14), page, &p);
	if (t_expect("mmap the pbuf ring at the pbuf offset of bgid 14", ret, 0)) {
		br = p;
		/* an empty ring: the kernel zeroed it, tail 0 */
		if (br->tail != 0)
			t_fail("the mapped pbuf ring's tail is %u, expected 0", br->tail);
		munmap(p, page);
	}
	/*
	 * The flag generation has one offset for both kinds: there, the
	 * buffers' offset of bgid 14 is its pbuf ring (mapped above).
	 */
	if (t_kmbuf_gen()->abi != T_KMBUF_ABI_FLAG) {
		ret = io_uring_mmap_kmbuf(&ring, 14, page, &p);
		if (!t_expect("io_uring_mmap_kmbuf of a kernel-allocated pbuf ring",
			      ret, missing) && !ret)
			munmap(p, page);
	}
	if (!kret) {
		ret = io_uring_mmap_kmbuf(&ring, 15, 2 * page, &p);
		if (t_expect("mmap the kmbuf ring beside it", ret, 0))
			io_uring_munmap_kmbuf(p, 2 * page);
		t_expect("unregister the kmbuf ring",
			 io_uring_unregister_kmbuf_ring(&ring, 15), 0);
	}
	reg.flags = 0;
	t_expect("unregister the pbuf ring",
		 t_sys_register(ring.ring_fd, T_UNREGISTER_PBUF_RING, &reg, 1), 0);
}

/*
 * The mmap offset is the generation's base | bgid << 16 and the kernel
 * reads the kind of mapping from bits 27..31 (IORING_OFF_MMAP_MASK),
 * so only bgids 0..2047 have an offset of their own: bgid 2048's would be
 * bgid 0's. The kernel refuses to register a kmbuf ring there, and any
 * offset with one of bits 0..15 set (a sub-offset).
 */
static void test_bgid_limit(void)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring_kmbuf *kb;
	void *p;
	int ret;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = page;
	reg.ring_entries = 2;
	reg.bgid = 2047;
	if (t_expect("raw register bgid 2047", t_sys_register_kmbuf(ring.ring_fd, &reg), 0))
		t_expect("unregister bgid 2047",
			 io_uring_unregister_kmbuf_ring(&ring, 2047), 0);
	reg.bgid = 2048;
	ret = t_sys_register_kmbuf(ring.ring_fd, &reg);
	if (!t_expect("raw register bgid 2048 (its offset aliases bgid 0)", ret, -EINVAL) && !ret)
		io_uring_unregister_kmbuf_ring(&ring, 2048);
	reg.bgid = 65535;
	ret = t_sys_register_kmbuf(ring.ring_fd, &reg);
	if (!t_expect("raw register bgid 65535", ret, -EINVAL) && !ret)
		io_uring_unregister_kmbuf_ring(&ring, 65535);

	/* bit 27 of 2048 << 16 is already set in the base: bgid 0's offset */
	reg.bgid = 0;
	if (!t_expect("raw register bgid 0", t_sys_register_kmbuf(ring.ring_fd, &reg), 0))
		return;
	ret = t_sys_mmap(ring.ring_fd, t_kmbuf_off(0), 2 * page, &p);
	if (t_expect("raw mmap bgid 0", ret, 0))
		munmap(p, 2 * page);
	ret = t_sys_mmap(ring.ring_fd, t_kmbuf_off(0) | (__u64)page, page, &p);
	if (!t_expect("raw mmap at a sub-offset of bgid 0 (one page in)", ret, -EINVAL) && !ret)
		munmap(p, page);
	t_expect("unregister bgid 0", io_uring_unregister_kmbuf_ring(&ring, 0), 0);

	ret = io_uring_setup_kmbuf_ring(&ring, 2, page, 65535, NULL, &kb);
	if (!t_expect("setup at bgid 65535", ret, -EINVAL) && !ret)
		io_uring_free_kmbuf_ring(&ring, kb);
	t_expect("nothing left at bgid 65535 after the failed setup",
		 io_uring_unregister_kmbuf_ring(&ring, 65535), -ENOENT);
}

/* Two mappings of one ring, and the handle's: all the same pages. */
static void test_layout(unsigned int entries, unsigned int buf_size,
			unsigned short bgid)
{
	struct io_uring_kmbuf *kb;
	unsigned char *second;
	void *p;
	unsigned int bid;
	long maps0, maps1;
	size_t bad;
	int ret;

	maps0 = t_maps_count();
	ret = io_uring_setup_kmbuf_ring(&ring, entries, buf_size, bgid, NULL, &kb);
	if (!t_expect("io_uring_setup_kmbuf_ring", ret, 0))
		return;
	if (kb->len != (size_t)entries * buf_size)
		t_fail("handle len: expected %zu, got %zu",
		       (size_t)entries * buf_size, kb->len);
	if (t_maps_has(kb->bufs) != 1)
		t_fail("the buffers at %p are not a mapping of their own in /proc/self/maps",
		       kb->bufs);

	ret = io_uring_mmap_kmbuf(&ring, bgid, kb->len, &p);
	if (!t_expect("second mmap of the same ring", ret, 0))
		goto out;
	second = p;
	if (second == kb->bufs)
		t_fail("second mapping has the same address as the first");
	maps1 = t_maps_count();
	if (maps0 >= 0 && maps1 != maps0 + 2)
		t_fail("/proc/self/maps: expected %ld lines with two mappings, got %ld",
		       maps0 + 2, maps1);

	/* Stamp every buffer through the handle, read through the second map. */
	io_uring_for_each_kmbuf(kb, bid, p)
		memset(p, (int)(bid * 7 + 1) & 0xff, buf_size);
	for (bid = 0; bid < entries; bid++) {
		bad = t_check_byte(second + (size_t)bid * buf_size, buf_size,
				   (unsigned char)(bid * 7 + 1));
		if (bad != buf_size) {
			t_fail("bid %u byte %zu: second mapping does not see the first (bufs %u x %u)",
			       bid, bad, entries, buf_size);
			break;
		}
	}
	/* And the other way round. */
	memset(second + (size_t)(entries - 1) * buf_size, 0xee, buf_size);
	bad = t_check_byte(io_uring_kmbuf_addr(kb, entries - 1), buf_size, 0xee);
	if (bad != buf_size)
		t_fail("last buffer byte %zu: first mapping does not see the second",
		       bad);
	if (io_uring_kmbuf_addr(kb, entries) != NULL)
		t_fail("io_uring_kmbuf_addr(entries): expected NULL for a bid past the ring");

	/* Beyond the region: refused, never pages that are not the ring's. */
	ret = io_uring_mmap_kmbuf(&ring, bgid, kb->len + page, &p);
	if (ret == 0) {
		t_fail("mmap of %zu bytes of a %zu-byte region: expected an error, got a mapping",
		       kb->len + page, kb->len);
		io_uring_munmap_kmbuf(p, kb->len + page);
	}

	t_expect("munmap of the second mapping",
		 io_uring_munmap_kmbuf(second, kb->len), 0);
out:
	t_expect("io_uring_free_kmbuf_ring", io_uring_free_kmbuf_ring(&ring, kb), 0);
	t_expect("lines of /proc/self/maps after free", t_maps_count(), maps0);
	t_expect("unregister after free",
		 io_uring_unregister_kmbuf_ring(&ring, bgid), -ENOENT);
}

int main(void)
{
	int ret;

	ret = t_require_kmbuf();
	if (ret)
		return ret;
	ret = t_ring_init(&ring, 8);
	if (ret)
		return ret;
	page = t_page_size();

	missing = t_kmbuf_gen()->off_missing_err;
	test_refused_offsets();
	test_pbuf_mmap_ring();
	test_bgid_limit();
	test_layout(1, page, 0);
	test_layout(8, page, 1);
	test_layout(16, 4 * page, 2047);
	test_layout(4, 64 * 1024, 77);

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-mmap");
}
