/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * io_uring_probe_kmbuf(): its answer agrees with what the kernel does with
 * the raw opcodes, it is stable, and it leaves nothing behind (no mapping,
 * no file descriptor, nothing registered on the caller's ring), and the
 * library's generation (io_uring_kmbuf_abi()) is the running kernel's
 * (kmbuf.abi=). On a kernel without kmbuf rings the consistency checks
 * still run, then it skips.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

int main(void)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring_kmbuf *kb;
	struct io_uring ring;
	long maps0, fds0;
	int ret, first, i;

	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	/* The caller's ring holds a kmbuf ring at bgid 0 if it can. */
	ret = io_uring_setup_kmbuf_ring(&ring, 2, t_page_size(), 0, NULL, &kb);
	if (ret)
		kb = NULL;

	first = io_uring_probe_kmbuf();
	if (first < 0 && first != -ENOSYS && first != -EPERM) {
		t_fail("io_uring_probe_kmbuf(): expected 1 or 0, got %d (%s)",
		       first, t_errname(first));
		return T_EXIT_FAIL;
	}
	/*
	 * The baselines come after one probe and one run of each reader: the
	 * first allocation of stdio, opendir() or the probe's path may make
	 * an allocator (ASan's above all) map fresh memory, which is not a
	 * leak. Four more probes must then leave both counts unchanged.
	 */
	t_fd_count();
	t_maps_count();
	fds0 = t_fd_count();
	maps0 = t_maps_count();
	for (i = 0; i < 4; i++)
		t_expect("io_uring_probe_kmbuf() again", io_uring_probe_kmbuf(), first);
	t_expect("/proc/self/maps lines after 4 more probes", t_maps_count(), maps0);
	t_expect("open fds after 4 more probes", t_fd_count(), fds0);

	/* What the kernel itself says to the opcodes, on our own ring. */
	memset(&reg, 0, sizeof(reg));
	reg.bgid = 1;
	ret = t_sys_unregister_kmbuf(ring.ring_fd, &reg);
	if (first >= 0)
		t_check_kmbuf_abi(first);
	if (first == 1) {
		t_expect("raw unregister of a missing bgid (kmbuf kernel)", ret, -ENOENT);
		if (!kb)
			t_fail("probe says 1 but setting up a 2 x 1 page ring failed");
		else
			t_expect("the caller's ring survived the probes",
				 io_uring_free_kmbuf_ring(&ring, kb), 0);
	} else if (first == 0) {
		t_expect("raw unregister (kernel without kmbuf)", ret, -EINVAL);
		reg.buf_size = t_page_size();
		reg.ring_entries = 1;
		ret = t_sys_register_kmbuf(ring.ring_fd, &reg);
		t_expect("raw register (kernel without kmbuf)", ret, -EINVAL);
		if (kb)
			t_fail("probe says 0 but io_uring_setup_kmbuf_ring() worked");
	}
	io_uring_queue_exit(&ring);

	if (t_failures)
		return t_result("kmbuf-probe");
	if (first == 0)
		return t_skip("kernel lacks kmbuf rings (io_uring_probe_kmbuf() = 0, consistent with the raw opcodes)");
	if (first < 0)
		return t_skip("io_uring not available to this process (%s)",
			      t_errname(first));
	return t_result("kmbuf-probe");
}
