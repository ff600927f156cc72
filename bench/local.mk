# SPDX-License-Identifier: MIT OR LGPL-2.1
# Benchmarks: built with the library, never part of `make check`; run them
# with `make bench` (in the testbed VM) or directly on a kmbuf kernel.
noinst_PROGRAMS += bench/kmbuf-bench
bench_kmbuf_bench_SOURCES = bench/kmbuf-bench.c
bench_kmbuf_bench_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
bench_kmbuf_bench_LDADD = $(KMBUF_TEST_LDADD)
