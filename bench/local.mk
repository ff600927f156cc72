# SPDX-License-Identifier: MIT OR LGPL-2.1
# Benchmarks: built with the library, never part of `make check`; run them
# with `make bench` (in the testbed VM, one boot: every table's limit is
# measured in the same run as its path) or directly on a kmbuf kernel.
noinst_PROGRAMS += bench/kmbuf-bench
bench_kmbuf_bench_SOURCES = bench/kmbuf-bench.c
bench_kmbuf_bench_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
bench_kmbuf_bench_LDADD = $(KMBUF_TEST_LDADD)

# The dmabuf path against READ_FIXED into user memory and O_DIRECT pread.
noinst_PROGRAMS += bench/dmabuf-bench
bench_dmabuf_bench_SOURCES = bench/dmabuf-bench.c
bench_dmabuf_bench_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
bench_dmabuf_bench_LDADD = $(DMABUF_TEST_LDADD)

# make bench-generations: the benchmarks once per ABI mode of the testbed
# kernel (VM_MODES, test/vm/modes.sh: a boot each, the generation is a
# boot parameter, see doc/abi.md), each table still against limits of its
# own run.
bench-generations:
	@$(MAKE) $(AM_MAKEFLAGS) $(vm_bench_programs)
	$(VM_RUN_MODES) --label bench --show-output \
		--results-dir $(abs_top_builddir)/vm-run/bench-modes -- \
		--builddir $(abs_top_builddir) --srcdir $(abs_top_srcdir) \
		$(VM_RUN_FLAGS) $(vm_bench_programs)

.PHONY: bench-generations
