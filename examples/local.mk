# SPDX-License-Identifier: MIT OR LGPL-2.1
# Examples: small programs that show the library in use (`make demo` runs
# them). They need the testbed driver's uapi header for its commands.
noinst_PROGRAMS += examples/kmbuf-fuse-server
examples_kmbuf_fuse_server_SOURCES = examples/kmbuf-fuse-server.c
examples_kmbuf_fuse_server_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/kernel/testdrv
examples_kmbuf_fuse_server_LDADD = src/liburing-kmbuf.la $(LIBURING_LIBS)
