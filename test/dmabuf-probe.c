/* SPDX-License-Identifier: MIT OR LGPL-2.1 */
/*
 * io_uring_probe_dmabuf(): a stable answer, nothing left behind, and an
 * answer that agrees with what the kernel does on an ordinary ring. Runs
 * on any kernel: a kernel without the feature must be reported as such.
 */
#include <errno.h>
#include <stdio.h>

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
	 * The extended format of an empty user-memory slot: a dmabuf-aware
	 * kernel takes it (one entry), any other refuses the flag.
	 */
	ret = td_update_raw(ring.ring_fd, 0, IO_URING_DMABUF_F_EXTENDED_UPDATE,
			    NULL, IO_URING_DMABUF_NO_FD, IO_URING_DMABUF_NO_FD);
	t_expect("extended update (-1/-1, empty iovec) agrees with the probe",
		 ret, first ? 1 : -EINVAL);
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
