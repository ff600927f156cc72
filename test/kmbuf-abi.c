/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * The generation the library detects is the one the testbed kernel runs
 * (kmbuf.abi= and dmabuf.abi= on its command line, readable under
 * /sys/module), and the whole kmbuf lifecycle works in it: setup, write
 * every buffer, free, through the detected generation and through the
 * per-call option; a generation the kernel does not speak is refused.
 * Skips on a kernel that is not the testbed (no /sys/module/kmbuf).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define KMBUF_ABI_PARAM		"/sys/module/kmbuf/parameters/abi"
#define DMABUF_ABI_PARAM	"/sys/module/dmabuf/parameters/abi"

/* The word in @path, or "" if it cannot be read. */
static void read_word(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, " \n")] = '\0';
}

static int kmbuf_abi_of(const char *mode)
{
	if (!strcmp(mode, "seed"))
		return IO_URING_KMBUF_ABI_SEED;
	if (!strcmp(mode, "fuse"))
		return IO_URING_KMBUF_ABI_FUSE;
	if (!strcmp(mode, "flag"))
		return IO_URING_KMBUF_ABI_FLAG;
	return -1;
}

static int dmabuf_abi_of(const char *mode)
{
	if (!strcmp(mode, "seed"))
		return IO_URING_DMABUF_ABI_SEED;
	if (!strcmp(mode, "desc"))
		return IO_URING_DMABUF_ABI_DESC;
	return -1;
}

/* setup, every buffer written and read back, free; @opts may force. */
static void lifecycle(struct io_uring *ring, const struct io_uring_kmbuf_opts *opts,
		      const char *what)
{
	struct io_uring_kmbuf *kb;
	unsigned int bid;
	void *addr;
	long page = t_page_size();
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: setup", what);
	if (!t_expect(msg, io_uring_setup_kmbuf_ring(ring, 8, (unsigned int)page,
						     5, opts, &kb), 0))
		return;
	io_uring_for_each_kmbuf(kb, bid, addr)
		memset(addr, (int)bid + 1, (size_t)page);
	io_uring_for_each_kmbuf(kb, bid, addr) {
		if (((unsigned char *)addr)[page - 1] != bid + 1) {
			t_fail("%s: buffer %u does not hold its bytes", what, bid);
			break;
		}
	}
	snprintf(msg, sizeof(msg), "%s: free", what);
	t_expect(msg, io_uring_free_kmbuf_ring(ring, kb), 0);
	/* freed means unregistered: the bgid is free again */
	snprintf(msg, sizeof(msg), "%s: nothing left at the bgid", what);
	t_expect(msg, io_uring_unregister_kmbuf_ring(ring, 5), -ENOENT);
}

int main(void)
{
	struct io_uring_kmbuf_opts opts;
	struct io_uring_kmbuf *kb = NULL;
	char kmode[32], dmode[32];
	struct io_uring ring;
	int want, ret, wrong;

	read_word(KMBUF_ABI_PARAM, kmode, sizeof(kmode));
	read_word(DMABUF_ABI_PARAM, dmode, sizeof(dmode));
	if (!kmode[0] || !dmode[0])
		return t_skip("not the testbed kernel (%s and %s say which generation it runs)",
			      KMBUF_ABI_PARAM, DMABUF_ABI_PARAM);
	printf("kernel: kmbuf.abi=%s dmabuf.abi=%s\n", kmode, dmode);

	want = kmbuf_abi_of(kmode);
	if (want < 0)
		t_fail("%s says '%s', which is no kmbuf generation", KMBUF_ABI_PARAM, kmode);
	t_expect("io_uring_kmbuf_abi()", io_uring_kmbuf_abi(), want);
	t_expect("io_uring_probe_kmbuf()", io_uring_probe_kmbuf(), 1);
	want = dmabuf_abi_of(dmode);
	if (want < 0)
		t_fail("%s says '%s', which is no dmabuf generation", DMABUF_ABI_PARAM, dmode);
	t_expect("io_uring_dmabuf_abi()", io_uring_dmabuf_abi(), want);
	t_expect("io_uring_probe_dmabuf()", io_uring_probe_dmabuf(), 1);

	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	lifecycle(&ring, NULL, "detected generation");

	memset(&opts, 0, sizeof(opts));
	opts.sz = sizeof(opts);
	opts.abi = io_uring_kmbuf_abi();
	lifecycle(&ring, &opts, "the same generation through opts.abi");

	/*
	 * A generation this kernel does not speak is refused, and leaves
	 * nothing behind. Never FUSE here: 37 means something else outside
	 * the FUSE mode (and on a seed kernel, 38 is the seed's register).
	 */
	wrong = io_uring_kmbuf_abi() == IO_URING_KMBUF_ABI_FLAG ?
		IO_URING_KMBUF_ABI_SEED : IO_URING_KMBUF_ABI_FLAG;
	opts.abi = wrong;
	t_expect("setup in a generation the kernel does not speak",
		 io_uring_setup_kmbuf_ring(&ring, 8, (unsigned int)t_page_size(), 5,
					   &opts, &kb), -EINVAL);
	if (!t_expect("a forced generation", io_uring_kmbuf_force_abi(wrong), 0))
		return t_result("kmbuf-abi");
	t_expect("io_uring_kmbuf_abi() forced", io_uring_kmbuf_abi(), wrong);
	t_expect("setup in the forced (wrong) generation",
		 io_uring_setup_kmbuf_ring(&ring, 8, (unsigned int)t_page_size(), 5,
					   NULL, &kb), -EINVAL);
	t_expect("back to detection",
		 io_uring_kmbuf_force_abi(IO_URING_KMBUF_ABI_DETECT), 0);
	t_expect("io_uring_kmbuf_abi() detected again", io_uring_kmbuf_abi(),
		 kmbuf_abi_of(kmode));
	lifecycle(&ring, NULL, "after the force was lifted");

	io_uring_queue_exit(&ring);
	return t_result("kmbuf-abi");
}
