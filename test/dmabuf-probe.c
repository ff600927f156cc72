/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * io_uring_probe_dmabuf(): a stable answer, nothing left behind, and an
 * answer that agrees with what the kernel does on an ordinary ring in the
 * running generation (dmabuf.abi=), whose number the library reports
 * (io_uring_dmabuf_abi()). Runs on any kernel: a kernel without the
 * feature must be reported as such.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dmabuf-util.h"

#define NR_PROBES	50

int main(void)
{
	struct io_uring ring;
	long fds_before, fds_after;
	int first, ret, i;

	fds_before = t_fd_count();
	first = io_uring_probe_dmabuf();
	if (first == -ENOSYS || first == -EPERM || first == -EACCES)
		return t_skip("io_uring not available to this process (io_uring_probe_dmabuf: %s)",
			      t_errname(first));
	if (first != 0 && first != 1) {
		t_fail("io_uring_probe_dmabuf(): expected 1 or 0, got %d (%s)",
		       first, t_errname(first));
		return t_result("dmabuf-probe");
	}
	printf("io_uring_probe_dmabuf() = %d\n", first);

	for (i = 0; i < NR_PROBES; i++) {
		ret = io_uring_probe_dmabuf();
		if (!t_expect("repeated io_uring_probe_dmabuf()", ret, first))
			break;
	}
	fds_after = t_fd_count();
	t_expect("open fds after the probes", fds_after, fds_before);

	ret = t_ring_init(&ring, 4);
	if (ret)
		return ret;
	t_expect("io_uring_register_dmabuf_table(ring, 1)",
		 io_uring_register_dmabuf_table(&ring, 1), 0);
	/*
	 * An empty slot in each generation's extended format: a kernel that
	 * speaks that generation takes it (one entry), any other refuses the
	 * flag. The seed's is flag 1 with an io_uring_reg_buffer (-1/-1, an
	 * empty iovec), the descriptor generation's flag 2 with an EMPTY
	 * descriptor (fds 0).
	 */
	{
		const int gen = first ? t_dmabuf_gen()->abi : T_DMABUF_ABI_NONE;
		struct td_regbuf_desc d;

		ret = td_update_raw(ring.ring_fd, 0, 1, NULL, -1, -1);
		t_expect("seed-format update (flag 1, -1/-1, empty iovec)",
			 ret, gen == T_DMABUF_ABI_SEED ? 1 : -EINVAL);
		memset(&d, 0, sizeof(d));
		d.type = TD_DESC_EMPTY;
		ret = td_update_desc(ring.ring_fd, 0, 2, &d, 1, NULL);
		t_expect("descriptor update (flag 2, EMPTY)",
			 ret, gen == T_DMABUF_ABI_DESC ? 1 : -EINVAL);
	}
	t_check_dmabuf_abi(first);
	/* the library's own register call agrees too */
	ret = io_uring_register_dmabuf_buffer(&ring, 0, ring.ring_fd,
					      ring.ring_fd);
	if (first && ret != -EINVAL && ret != -EOPNOTSUPP)
		t_fail("ring fd as target and dma-buf: expected -EINVAL (not a dma-buf) or -EOPNOTSUPP (bad target), got %d (%s)",
		       ret, t_errname(ret));
	else if (!first)
		t_expect("io_uring_register_dmabuf_buffer() without the feature",
			 ret, -EINVAL);
	io_uring_queue_exit(&ring);
	return t_result("dmabuf-probe");
}
