/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * kmbuf ring registration and unregistration: every error of the ABI, seen
 * through the library's raw wrapper and through the raw io_uring_register(2)
 * call of the running generation (kmbuf.abi=: its opcodes, its flags). The
 * wrapper checks nothing but NULL pointers and passes the rest on, so both
 * must give the kernel's own answer; what the other generations would
 * send must be unknown to this kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include "helpers.h"

static struct io_uring ring;
static unsigned int page;

static struct io_uring_kmbuf_reg mkreg(unsigned int entries,
				       unsigned int buf_size,
				       unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.buf_size = buf_size;
	reg.ring_entries = entries;
	reg.bgid = bgid;
	return reg;
}

/* Drop whatever a wrongly accepted registration left at @bgid. */
static void cleanup_bgid(unsigned short bgid)
{
	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.bgid = bgid;
	t_sys_unregister_kmbuf(ring.ring_fd, &reg);
	/* a pbuf ring that a wrong flag made */
	t_sys_register(ring.ring_fd, T_UNREGISTER_PBUF_RING, &reg, 1);
}

/* Nothing may be registered at @bgid. */
static void expect_empty(const char *what, unsigned short bgid)
{
	char msg[256];

	struct io_uring_kmbuf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.bgid = bgid;
	snprintf(msg, sizeof(msg), "%s: raw unregister of bgid %u afterwards",
		 what, bgid);
	t_expect(msg, t_sys_unregister_kmbuf(ring.ring_fd, &reg), -ENOENT);
}

/* Both the library and the kernel must refuse @reg with @want. */
static void expect_refused(const char *what,
			   const struct io_uring_kmbuf_reg *reg, int want)
{
	char msg[256];
	int ret;

	snprintf(msg, sizeof(msg), "%s: io_uring_register_kmbuf_ring()", what);
	ret = io_uring_register_kmbuf_ring(&ring, reg, 0);
	if (!t_expect(msg, ret, want) && ret == 0)
		cleanup_bgid(reg->bgid);

	snprintf(msg, sizeof(msg), "%s: raw register (opcode %u)", what,
		 t_kmbuf_gen()->reg_op);
	ret = t_sys_register_kmbuf(ring.ring_fd, reg);
	if (!t_expect(msg, ret, want) && ret == 0)
		cleanup_bgid(reg->bgid);

	expect_empty(what, reg->bgid);
}

/* Send @reg with exactly @flags to the running generation's register opcode. */
static void expect_raw_flags_refused(unsigned int flags, const char *why)
{
	struct io_uring_kmbuf_reg reg = mkreg(4, page, 1);
	char what[128];
	int ret;

	reg.flags = (unsigned short)flags;
	snprintf(what, sizeof(what), "raw register (opcode %u) with flags %#x (%s)",
		 t_kmbuf_gen()->reg_op, flags, why);
	ret = t_sys_register(ring.ring_fd, t_kmbuf_gen()->reg_op, &reg, 1);
	if (!t_expect(what, ret, -EINVAL) && ret == 0)
		cleanup_bgid(1);
	expect_empty(what, 1);
}

/* The flags the kernel itself refuses, per generation. */
static void test_raw_flags(void)
{
	const unsigned int km = T_PBUF_RING_KERNEL_MANAGED;
	const unsigned int mmap_km = T_PBUF_RING_MMAP | km;

	if (t_kmbuf_gen()->abi != T_KMBUF_ABI_FLAG) {
		/* the kmbuf opcodes take no flags at all */
		expect_raw_flags_refused(T_PBUF_RING_MMAP, "pbuf-only");
		expect_raw_flags_refused(T_PBUF_RING_INC, "pbuf-only");
		expect_raw_flags_refused(T_PBUF_RING_MMAP | T_PBUF_RING_INC,
					 "pbuf-only");
		expect_raw_flags_refused(km, "the flag generation's");
		expect_raw_flags_refused(mmap_km, "the flag generation's");
		expect_raw_flags_refused(0x8000, "unknown");
		return;
	}
	/* IORING_REGISTER_PBUF_RING: KERNEL_MANAGED needs MMAP, excludes INC */
	expect_raw_flags_refused(km, "KERNEL_MANAGED without MMAP");
	expect_raw_flags_refused(km | T_PBUF_RING_INC, "KERNEL_MANAGED | INC");
	expect_raw_flags_refused(mmap_km | T_PBUF_RING_INC,
				 "MMAP | KERNEL_MANAGED | INC");
	expect_raw_flags_refused(mmap_km | 8, "an unknown bit");
	expect_raw_flags_refused(mmap_km | 0x8000, "an unknown bit");
	expect_raw_flags_refused(km | 0x8000, "an unknown bit");
}

/*
 * What the other generations send is unknown here, exactly as on a kernel
 * that never had them: their opcodes (37 on a seed kernel, 39 on a
 * FUSE-series one, 37..39 in the flag generation) and the flag
 * generation's IOU_PBUF_RING_KERNEL_MANAGED.
 */
static void test_other_generations(void)
{
	const struct t_kmbuf_gen *g = t_kmbuf_gen();
	struct io_uring_kmbuf_reg reg;
	unsigned int op;
	char what[128];
	int ret;

	for (op = 37; op <= 39; op++) {
		if (t_register_op_exists(op))
			continue;
		reg = mkreg(4, page, 50);
		snprintf(what, sizeof(what),
			 "opcode %u (another generation's) with a kmbuf struct", op);
		ret = t_sys_register(ring.ring_fd, op, &reg, 1);
		if (!t_expect(what, ret, -EINVAL) && ret == 0)
			cleanup_bgid(50);
		expect_empty(what, 50);
	}
	if (g->abi != T_KMBUF_ABI_FLAG) {
		reg = mkreg(4, page, 50);
		reg.flags = T_PBUF_RING_MMAP | T_PBUF_RING_KERNEL_MANAGED;
		ret = t_sys_register(ring.ring_fd, T_REGISTER_PBUF_RING, &reg, 1);
		if (!t_expect("IORING_REGISTER_PBUF_RING with MMAP | KERNEL_MANAGED (flag generation only)",
			      ret, -EINVAL) && ret == 0)
			cleanup_bgid(50);
		expect_empty("PBUF_RING with KERNEL_MANAGED", 50);
	}
	/* the right opcode and struct register: the others changed nothing */
	reg = mkreg(4, page, 50);
	if (t_expect("raw register in the running generation",
		     t_sys_register_kmbuf(ring.ring_fd, &reg), 0))
		t_expect("raw unregister in the running generation",
			 t_sys_unregister_kmbuf(ring.ring_fd, &reg), 0);
}

static void test_struct_fields(void)
{
	struct io_uring_kmbuf_reg reg;
	unsigned int i;
	char what[64];

	for (i = 0; i < 3; i++) {
		reg = mkreg(4, page, 1);
		reg.resv[i] = 1;
		snprintf(what, sizeof(what), "resv[%u] = 1", i);
		expect_refused(what, &reg, -EINVAL);
	}
	/*
	 * The library's struct has no kmbuf flags to give in any generation:
	 * IOU_PBUF_RING_MMAP (1) and IOU_PBUF_RING_INC (2) are pbuf-only, 4
	 * is the flag generation's own marker, which the library sets.
	 */
	{
		static const unsigned short flags[] = { 1, 2, 3, 4, 0x8000 };

		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
			reg = mkreg(4, page, 1);
			reg.flags = flags[i];
			snprintf(what, sizeof(what),
				 "flags = %#x: io_uring_register_kmbuf_ring()",
				 flags[i]);
			t_expect(what, io_uring_register_kmbuf_ring(&ring, &reg, 0),
				 -EINVAL);
			expect_empty(what, 1);
		}
	}
	test_raw_flags();
	/* The library's own flags argument is reserved. */
	reg = mkreg(4, page, 1);
	t_expect("io_uring_register_kmbuf_ring(flags = 1)",
		 io_uring_register_kmbuf_ring(&ring, &reg, 1), -EINVAL);
	expect_empty("library flags = 1", 1);
}

static void test_entries(void)
{
	static const unsigned int bad[] = { 0, 3, 5, 65536, 65535, 32769,
					    1u << 17, 0x80000000u, 0xffffffffu };
	struct io_uring_kmbuf_reg reg;
	unsigned int i;
	char what[64];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reg = mkreg(bad[i], page, 2);
		snprintf(what, sizeof(what), "ring_entries = %u", bad[i]);
		expect_refused(what, &reg, -EINVAL);
	}
}

static void test_buf_size(void)
{
	const unsigned int bad[] = { 0, 1, 100, page - 1, page + 1,
				     page + 512, 3 * page / 2, 0xffffffffu };
	struct io_uring_kmbuf_reg reg;
	unsigned int i;
	char what[64];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reg = mkreg(4, bad[i], 3);
		snprintf(what, sizeof(what), "buf_size = %u", bad[i]);
		expect_refused(what, &reg, -EINVAL);
	}
}

/*
 * Sizes the library passes on (they fit a size_t) but the kernel refuses:
 * a page count that overflows, and more memory than the machine has.
 */
static void test_too_big(void)
{
	struct io_uring_kmbuf_reg reg;
	unsigned long long total;
	unsigned int entries;
	struct sysinfo si;

	if (page == 4096) {
		/* 2^19 pages a buffer x 2^15 entries: 2^34 pages. */
		reg = mkreg(32768, 0x80000000u, 4);
		expect_refused("(buf_size / page) * entries overflows 32 bits",
			       &reg, t_kmbuf_gen()->overflow_err);
	}
	if (sysinfo(&si)) {
		t_fail("sysinfo: %s", t_errname(errno));
		return;
	}
	total = (unsigned long long)si.totalram * si.mem_unit;
	for (entries = 1; entries <= T_KMBUF_MAX_ENTRIES; entries <<= 1)
		if ((unsigned long long)entries << 20 > 2 * total)
			break;
	if (entries > T_KMBUF_MAX_ENTRIES || (1u << 20) % page) {
		printf("note: %llu MiB of RAM, no valid ring is larger than twice that\n",
		       total >> 20);
		return;
	}
	reg = mkreg(entries, 1u << 20, 4);
	expect_refused("a ring of twice the RAM", &reg, -ENOMEM);
}

/* Valid shapes register, and unregister leaves the bgid free again. */
static void test_valid(void)
{
	static const struct {
		unsigned int entries, pages;
		unsigned short bgid;
	} ok[] = {
		{ 1, 1, 0 }, { 2, 1, 1 }, { 8, 2, 100 }, { 256, 1, 2047 },
		{ 1, 16, 1024 }, { 4096, 1, 7 },
	};
	struct io_uring_kmbuf_reg reg;
	unsigned int i;
	char what[96];
	int ret;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		reg = mkreg(ok[i].entries, ok[i].pages * page, ok[i].bgid);
		snprintf(what, sizeof(what), "register %u x %u bytes at bgid %u",
			 ok[i].entries, ok[i].pages * page, ok[i].bgid);
		ret = io_uring_register_kmbuf_ring(&ring, &reg, 0);
		if (!t_expect(what, ret, 0))
			continue;
		snprintf(what, sizeof(what), "unregister bgid %u", ok[i].bgid);
		t_expect(what, io_uring_unregister_kmbuf_ring(&ring, ok[i].bgid), 0);
		expect_empty(what, ok[i].bgid);
	}

	/* The kernel reads only buf_size of the ring_addr/buf_size union. */
	reg = mkreg(2, page, 9);
	reg.ring_addr |= 0xdeadbeefull << 32;
	t_expect("raw register with garbage above buf_size in the union",
		 t_sys_register_kmbuf(ring.ring_fd, &reg), 0);
	t_expect("unregister after the union check",
		 io_uring_unregister_kmbuf_ring(&ring, 9), 0);

	/* The caller's struct is const and must come back unchanged. */
	{
		struct io_uring_kmbuf_reg copy;

		reg = mkreg(2, page, 9);
		copy = reg;
		t_expect("register bgid 9 again",
			 io_uring_register_kmbuf_ring(&ring, &reg, 0), 0);
		if (memcmp(&copy, &reg, sizeof(reg)))
			t_fail("io_uring_register_kmbuf_ring() modified the caller's struct");
		t_expect("unregister bgid 9",
			 io_uring_unregister_kmbuf_ring(&ring, 9), 0);
	}
}

/* The largest ring: 32768 entries of one page (128 MiB with 4 KiB pages). */
static void test_max(void)
{
	struct io_uring_kmbuf *kb;
	unsigned char *last;
	int ret;

	ret = io_uring_setup_kmbuf_ring(&ring, T_KMBUF_MAX_ENTRIES, page,
					11, NULL, &kb);
	if (ret == -ENOMEM) {
		printf("note: %u x %u bytes: -ENOMEM, not enough memory to check the maximum\n",
		       T_KMBUF_MAX_ENTRIES, page);
		expect_empty("max ring after -ENOMEM", 11);
		return;
	}
	if (!t_expect("setup of 32768 x 1 page", ret, 0))
		return;
	last = io_uring_kmbuf_addr(kb, T_KMBUF_MAX_ENTRIES - 1);
	if (!last) {
		t_fail("io_uring_kmbuf_addr(32767): expected an address, got NULL");
	} else {
		last[page - 1] = 0x5a;
		last[0] = 0xa5;
		if (last[page - 1] != 0x5a || last[0] != 0xa5)
			t_fail("last buffer of the max ring does not hold what was written");
	}
	t_expect("free of the max ring", io_uring_free_kmbuf_ring(&ring, kb), 0);
	expect_empty("max ring freed", 11);
}

static void test_eexist(void)
{
	struct io_uring_kmbuf_reg reg = mkreg(4, page, 20);
	struct t_pbuf pb;
	void *legacy;
	int ret;

	if (!t_expect("register bgid 20", io_uring_register_kmbuf_ring(&ring, &reg, 0), 0))
		return;
	reg = mkreg(8, 2 * page, 20);
	t_expect("register bgid 20 again (library)",
		 io_uring_register_kmbuf_ring(&ring, &reg, 0), -EEXIST);
	t_expect("register bgid 20 again (raw)",
		 t_sys_register_kmbuf(ring.ring_fd, &reg), -EEXIST);
	t_expect("unregister bgid 20", io_uring_unregister_kmbuf_ring(&ring, 20), 0);
	t_expect("unregister bgid 20 twice",
		 io_uring_unregister_kmbuf_ring(&ring, 20), -ENOENT);
	t_expect("unregister never-used bgid 21",
		 io_uring_unregister_kmbuf_ring(&ring, 21), -ENOENT);

	/* An application-provided ring at the bgid. */
	ret = t_pbuf_setup(&ring, 4, page, 22, &pb);
	if (t_expect("pbuf ring at bgid 22", ret, 0)) {
		reg = mkreg(4, page, 22);
		t_expect("kmbuf register over a pbuf ring",
			 io_uring_register_kmbuf_ring(&ring, &reg, 0), -EEXIST);
		t_expect("pbuf unregister", t_pbuf_free(&ring, &pb), 0);
	}

	/* A non-empty legacy provided-buffer list at the bgid. */
	legacy = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (legacy == MAP_FAILED) {
		t_fail("mmap of legacy buffers: %s", t_errname(errno));
		return;
	}
	ret = t_provide_buffers(&ring, legacy, page, 4, 23, 0);
	if (!t_expect("IORING_OP_PROVIDE_BUFFERS 4 at bgid 23", ret, 0))
		goto out;
	reg = mkreg(4, page, 23);
	t_expect("kmbuf register over a legacy list (library)",
		 io_uring_register_kmbuf_ring(&ring, &reg, 0), -EEXIST);
	t_expect("kmbuf register over a legacy list (raw)",
		 t_sys_register_kmbuf(ring.ring_fd, &reg), -EEXIST);
	t_expect("kmbuf unregister of a legacy list",
		 io_uring_unregister_kmbuf_ring(&ring, 23), -EINVAL);
	t_expect("legacy list still holds its 4 buffers (REMOVE_BUFFERS)",
		 t_remove_buffers(&ring, 8, 23), 4);
	/* An emptied legacy list no longer blocks the bgid. */
	ret = io_uring_register_kmbuf_ring(&ring, &reg, 0);
	if (t_expect("kmbuf register over an empty legacy list", ret, 0))
		t_expect("unregister bgid 23",
			 io_uring_unregister_kmbuf_ring(&ring, 23), 0);
out:
	munmap(legacy, 4 * page);
}

static void test_unregister_struct(void)
{
	const unsigned int unreg_op = t_kmbuf_gen()->unreg_op;
	const struct io_uring_kmbuf_reg reg30 = mkreg(4, page, 30);
	struct io_uring_kmbuf_reg reg = reg30;
	unsigned int i;
	char what[96];

	if (!t_expect("register bgid 30", io_uring_register_kmbuf_ring(&ring, &reg, 0), 0))
		return;
	/*
	 * With a ring present, the error can only come from the bad field.
	 * The low half of resv[0] is the kernel's min_left, which
	 * IORING_UNREGISTER_PBUF_RING (the flag generation's unregister)
	 * ignores as mainline does; the kmbuf opcodes refuse it.
	 */
	for (i = 0; i < 4; i++) {
		int ignored = i == 0 && unreg_op == IORING_UNREGISTER_PBUF_RING;

		reg = mkreg(0, 0, 30);
		if (i == 0)
			reg.resv[0] = 1;		/* min_left */
		else if (i == 1)
			reg.resv[0] = 1ULL << 32;	/* the kernel's resv[0] */
		else
			reg.resv[i - 1] = 1;
		snprintf(what, sizeof(what), "raw unregister with %s = 1%s",
			 i == 0 ? "min_left" : i == 1 ? "resv[0] >> 32" :
			 i == 2 ? "resv[1]" : "resv[2]",
			 ignored ? " (ignored by opcode 23)" : "");
		if (!t_expect(what, t_sys_unregister_kmbuf(ring.ring_fd, &reg),
			      ignored ? 0 : -EINVAL))
			return;
		if (ignored && !t_expect("register bgid 30 again",
				io_uring_register_kmbuf_ring(&ring, &reg30, 0), 0))
			return;
	}
	reg = mkreg(0, 0, 30);
	reg.flags = 1;
	t_expect("raw unregister with flags = 1",
		 t_sys_unregister_kmbuf(ring.ring_fd, &reg), -EINVAL);
	reg = mkreg(0, 0, 30);
	t_expect("raw unregister with nr_args = 0",
		 t_sys_register(ring.ring_fd, unreg_op, &reg, 0), -EINVAL);
	t_expect("raw unregister with nr_args = 2",
		 t_sys_register(ring.ring_fd, unreg_op, &reg, 2), -EINVAL);
	t_expect("raw unregister with arg = NULL",
		 t_sys_register(ring.ring_fd, unreg_op, NULL, 1), -EINVAL);
	/* The ring survived all of that; other struct fields are ignored. */
	reg = mkreg(123, 7, 30);
	t_expect("raw unregister bgid 30 (entries/buf_size ignored)",
		 t_sys_unregister_kmbuf(ring.ring_fd, &reg), 0);
	expect_empty("unregister struct checks", 30);
}

static void test_register_args(void)
{
	const unsigned int reg_op = t_kmbuf_gen()->reg_op;
	const unsigned int unreg_op = t_kmbuf_gen()->unreg_op;
	struct io_uring_kmbuf_reg reg = mkreg(4, page, 40);
	void *hole;
	int ret;

	reg.flags = (unsigned short)t_kmbuf_gen()->reg_flags;
	ret = t_sys_register(ring.ring_fd, reg_op, &reg, 0);
	if (!t_expect("raw register with nr_args = 0", ret, -EINVAL) && !ret)
		cleanup_bgid(40);
	ret = t_sys_register(ring.ring_fd, reg_op, &reg, 2);
	if (!t_expect("raw register with nr_args = 2", ret, -EINVAL) && !ret)
		cleanup_bgid(40);
	t_expect("raw register with arg = NULL",
		 t_sys_register(ring.ring_fd, reg_op, NULL, 1), -EINVAL);
	t_expect("io_uring_register_kmbuf_ring(reg = NULL)",
		 io_uring_register_kmbuf_ring(&ring, NULL, 0), -EINVAL);
	expect_empty("bad nr_args/arg", 40);

	/* An unreadable argument. */
	hole = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED) {
		t_fail("mmap PROT_NONE: %s", t_errname(errno));
		return;
	}
	t_expect("raw register with an unreadable arg",
		 t_sys_register(ring.ring_fd, reg_op, hole, 1), -EFAULT);
	t_expect("raw unregister with an unreadable arg",
		 t_sys_register(ring.ring_fd, unreg_op, hole, 1), -EFAULT);
	munmap(hole, page);
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

	test_struct_fields();
	test_entries();
	test_buf_size();
	test_too_big();
	test_valid();
	test_eexist();
	test_unregister_struct();
	test_register_args();
	test_other_generations();
	test_max();

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-register");
}
