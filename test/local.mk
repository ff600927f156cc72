# SPDX-License-Identifier: MIT OR LGPL-2.1
# kmbuf feature tests: one binary per feature, liburing style. Each exits 0
# (pass), 1 (fail) or 77 (skip, with the reason on stdout); automake's
# parallel harness reports 77 as SKIP. They need the testbed kernel (and its
# /dev/kmbuf_test driver) to pass; elsewhere they skip.

# Shared by the tests and the benchmark: skip logic, driver commands, raw
# syscalls, /proc readers.
noinst_LTLIBRARIES += test/libkmbuf-helpers.la
test_libkmbuf_helpers_la_SOURCES = test/helpers.c test/helpers.h
test_libkmbuf_helpers_la_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)

KMBUF_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/test \
	-I$(top_srcdir)/kernel/testdrv
KMBUF_TEST_LDADD = test/libkmbuf-helpers.la src/liburing-kmbuf.la \
	$(LIBURING_LIBS)

kmbuf_tests = \
	test/kmbuf-register \
	test/kmbuf-mmap \
	test/kmbuf-data \
	test/kmbuf-pin \
	test/kmbuf-unmap-order \
	test/kmbuf-cycles \
	test/kmbuf-multi \
	test/kmbuf-regfd \
	test/kmbuf-memlock \
	test/kmbuf-bufselect \
	test/kmbuf-probe \
	test/kmbuf-unregister-race \
	test/kmbuf-stress \
	test/kmbuf-connect \
	test/kmbuf-bvec \
	test/kmbuf-mainline \
	test/kmbuf-teardown

check_PROGRAMS += $(kmbuf_tests)
TESTS += $(kmbuf_tests)
EXTRA_DIST += kernel/testdrv/kmbuf_testdrv.h

# The detected ABI generation is the testbed's mode (helper L, issue 9).
check_PROGRAMS += test/kmbuf-abi
TESTS += test/kmbuf-abi
test_kmbuf_abi_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_abi_LDADD = $(KMBUF_TEST_LDADD)

test_kmbuf_register_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_register_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_mmap_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_mmap_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_data_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_data_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_pin_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_pin_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_unmap_order_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_unmap_order_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_cycles_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_cycles_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_multi_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_multi_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_regfd_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_regfd_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_memlock_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_memlock_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_bufselect_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_bufselect_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_probe_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_probe_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_connect_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_connect_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_bvec_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_bvec_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_mainline_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_mainline_LDADD = $(KMBUF_TEST_LDADD)
test_kmbuf_unregister_race_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_unregister_race_LDADD = $(KMBUF_TEST_LDADD)
# Threads: several rings, io-wq and SQPOLL racing (see its header comment).
test_kmbuf_stress_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_stress_CFLAGS = $(AM_CFLAGS) -pthread
test_kmbuf_stress_LDADD = $(KMBUF_TEST_LDADD) -lpthread
test_kmbuf_teardown_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_kmbuf_teardown_CFLAGS = $(AM_CFLAGS) -pthread
test_kmbuf_teardown_LDADD = $(KMBUF_TEST_LDADD) -lpthread

# The inline helpers cost no more instructions than their open-coded form
# (callgrind; skips without valgrind). helper-icount is built unsanitized,
# so that the sanitizer build checks the same code as the others.
check_PROGRAMS += test/helper-icount
TESTS += test/check-helper-icount.sh
EXTRA_DIST += test/check-helper-icount.sh
test_helper_icount_CFLAGS = $(WARN_CFLAGS)
test_helper_icount_LDFLAGS =
