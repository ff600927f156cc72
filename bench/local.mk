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

# make bench-generations: the benchmarks once per ABI generation of the
# testbed kernel (a boot each: the generation is a boot parameter, see
# doc/abi.md), each table still against limits of its own run. A
# generation the library does not speak fails, with the reason.
BENCH_GENERATIONS = \
	'kmbuf.abi=seed dmabuf.abi=seed' \
	'kmbuf.abi=fuse dmabuf.abi=desc' \
	'kmbuf.abi=flag dmabuf.abi=desc'

bench-generations:
	@$(MAKE) $(AM_MAKEFLAGS) bench/kmbuf-bench bench/dmabuf-bench
	@status=0; \
	for gen in $(BENCH_GENERATIONS); do \
		echo "bench-generations: $$gen"; \
		label=bench-$$(echo "$$gen" | tr -c 'a-z0-9\n' -); \
		$(VM_RUN) --label "$$label" --show-output --append "$$gen" \
			$(VM_RUN_FLAGS) bench/kmbuf-bench bench/dmabuf-bench || \
			status=1; \
	done; \
	exit $$status

.PHONY: bench-generations
