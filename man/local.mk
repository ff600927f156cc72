# SPDX-License-Identifier: MIT OR LGPL-2.1
# Man pages of the kmbuf API and the overview. The dmabuf pages are in
# man/dmabuf.mk, included after this file: it appends with +=.
dist_man3_MANS = \
	man/LIBURING_KMBUF_CHECK_VERSION.3 \
	man/io_uring_for_each_kmbuf.3 \
	man/io_uring_free_kmbuf_handle.3 \
	man/io_uring_free_kmbuf_ring.3 \
	man/io_uring_kmbuf_abi.3 \
	man/io_uring_kmbuf_addr.3 \
	man/io_uring_kmbuf_cqe_bid.3 \
	man/io_uring_kmbuf_cqe_buf.3 \
	man/io_uring_kmbuf_force_abi.3 \
	man/io_uring_mmap_kmbuf.3 \
	man/io_uring_munmap_kmbuf.3 \
	man/io_uring_probe_kmbuf.3 \
	man/io_uring_register_kmbuf_ring.3 \
	man/io_uring_setup_kmbuf_ring.3 \
	man/io_uring_unregister_kmbuf_ring.3

dist_man7_MANS = man/liburing-kmbuf.7

# mandoc lint, API coverage and section checks of every page in man/; and
# every errno a function can return listed in its ERRORS
TESTS += test/check-man.sh test/check-errno.sh
EXTRA_DIST += test/check-man.sh test/check-errno.sh
