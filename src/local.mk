# SPDX-License-Identifier: MIT OR LGPL-2.1
# Everything but the syscall boundary goes into a convenience library, so the
# unit tests can link it against fake kmbuf_sys_* functions.
noinst_LTLIBRARIES += src/libkmbuf-core.la
src_libkmbuf_core_la_SOURCES = \
	src/lib.h \
	src/register.c \
	src/kmbuf.c \
	src/probe.c \
	src/abi.c
src_libkmbuf_core_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

lib_LTLIBRARIES += src/liburing-kmbuf.la
src_liburing_kmbuf_la_SOURCES = src/syscall.c
src_liburing_kmbuf_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
src_liburing_kmbuf_la_LIBADD = src/libkmbuf-core.la $(LIBURING_LIBS) $(PTHREAD_LIBS)
src_liburing_kmbuf_la_LDFLAGS = -version-info $(KMBUF_LT_VERSION) \
	-Wl,--version-script=$(srcdir)/src/liburing-kmbuf.map -Wl,--no-undefined
EXTRA_src_liburing_kmbuf_la_DEPENDENCIES = $(srcdir)/src/liburing-kmbuf.map
EXTRA_DIST += src/liburing-kmbuf.map

include_HEADERS = include/liburing-kmbuf.h
kmbufincludedir = $(includedir)/liburing-kmbuf
kmbufinclude_HEADERS = include/liburing-kmbuf/abi.h
nodist_kmbufinclude_HEADERS = include/liburing-kmbuf/version.h

pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = liburing-kmbuf.pc
