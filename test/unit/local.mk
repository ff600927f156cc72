# SPDX-License-Identifier: MIT OR LGPL-2.1
# Unit tests: the library's core (src/libkmbuf-core.la) linked against the
# fake syscall boundary in test/unit/fake-sys.c, with cmocka. Without
# cmocka every unit test binary is a stub that reports SKIP (exit 77).
#
# To add a test: append its name to unit_tests, and give it the two
# _SOURCES lines below (cmocka and stub). A test of a library call links
# unit_fake_ldadd and unit_fake_ldflags; a header-only test need not.

unit_tests = \
	test/unit/kmbuf-api \
	test/unit/kmbuf-helpers \
	test/unit/kmbuf-abi \
	test/unit/dmabuf-abi

check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)

unit_cflags = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
unit_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/src -I$(top_srcdir)/test/unit
unit_fake_sources = test/unit/fake-sys.c test/unit/fake-sys.h
unit_fake_ldadd = src/libkmbuf-core.la $(LIBURING_LIBS) $(PTHREAD_LIBS) $(CMOCKA_LIBS)
# The probes' private ring, and allocation accounting (see fake-sys.h).
unit_fake_ldflags = $(AM_LDFLAGS) \
	-Wl,--wrap=io_uring_queue_init -Wl,--wrap=io_uring_queue_exit \
	-Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=free

if HAVE_CMOCKA
test_unit_kmbuf_api_SOURCES = test/unit/kmbuf-api.c $(unit_fake_sources)
test_unit_kmbuf_api_LDADD = $(unit_fake_ldadd)
test_unit_kmbuf_api_LDFLAGS = $(unit_fake_ldflags)

test_unit_kmbuf_abi_SOURCES = test/unit/kmbuf-abi.c $(unit_fake_sources)
test_unit_kmbuf_abi_LDADD = $(unit_fake_ldadd)
test_unit_kmbuf_abi_LDFLAGS = $(unit_fake_ldflags)

test_unit_dmabuf_abi_SOURCES = test/unit/dmabuf-abi.c $(unit_fake_sources)
test_unit_dmabuf_abi_LDADD = $(unit_fake_ldadd)
test_unit_dmabuf_abi_LDFLAGS = $(unit_fake_ldflags)

test_unit_kmbuf_helpers_SOURCES = test/unit/kmbuf-helpers.c
test_unit_kmbuf_helpers_LDADD = $(LIBURING_LIBS) $(CMOCKA_LIBS)
else
test_unit_kmbuf_api_SOURCES = test/unit/skip.c
test_unit_kmbuf_abi_SOURCES = test/unit/skip.c
test_unit_dmabuf_abi_SOURCES = test/unit/skip.c
test_unit_kmbuf_helpers_SOURCES = test/unit/skip.c
endif
test_unit_kmbuf_api_CFLAGS = $(unit_cflags)
test_unit_kmbuf_api_CPPFLAGS = $(unit_cppflags)
test_unit_kmbuf_abi_CFLAGS = $(unit_cflags)
test_unit_kmbuf_abi_CPPFLAGS = $(unit_cppflags)
test_unit_dmabuf_abi_CFLAGS = $(unit_cflags)
test_unit_dmabuf_abi_CPPFLAGS = $(unit_cppflags)
test_unit_kmbuf_helpers_CFLAGS = $(unit_cflags)
test_unit_kmbuf_helpers_CPPFLAGS = $(unit_cppflags)

# Build-level checks: the exported ABI, and a consumer of the installed tree.
TESTS += test/check-symbols.sh test/check-consumer.sh
EXTRA_DIST += test/check-symbols.sh test/check-consumer.sh
AM_TESTS_ENVIRONMENT += \
	KMBUF_TOP_BUILDDIR='$(abs_top_builddir)'; export KMBUF_TOP_BUILDDIR; \
	KMBUF_NM='$(NM)'; export KMBUF_NM; \
	KMBUF_MAKE='$(MAKE)'; export KMBUF_MAKE; \
	KMBUF_CC='$(CC)'; export KMBUF_CC; \
	KMBUF_CXX='$(CXX)'; export KMBUF_CXX; \
	KMBUF_PKG_CONFIG='$(PKG_CONFIG)'; export KMBUF_PKG_CONFIG; \
	KMBUF_LIBDIR='$(libdir)'; export KMBUF_LIBDIR; \
	KMBUF_INCLUDEDIR='$(includedir)'; export KMBUF_INCLUDEDIR; \
	KMBUF_MANDIR='$(mandir)'; export KMBUF_MANDIR; \
	KMBUF_SANITIZER_FLAGS='$(SANITIZER_FLAGS)'; export KMBUF_SANITIZER_FLAGS;

# Only the unit tests (kmbuf and dmabuf), e.g. for a 32-bit build whose
# binaries run under an emulator: make check-unit LOG_COMPILER=qemu-i386
check-unit:
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(unit_tests) $(dmabuf_unit_tests)'
.PHONY: check-unit
