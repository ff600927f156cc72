# SPDX-License-Identifier: MIT OR LGPL-2.1
# The testbed VM: the test suite, the examples and the benchmarks run inside
# QEMU on the kernel that kernel/build.sh builds (see test/vm/run.sh).
#
#   make vmcheck   vmcheck-kmbuf, then vmcheck-liburing; fails if either does
#   make vmcheck-kmbuf
#                  every compiled test (the check_PROGRAMS in TESTS: feature
#                  and unit tests; the host-only check scripts stay out) on
#                  the debug kernel (KASAN, lockdep), booted once per ABI
#                  mode of VM_MODES (test/vm/modes.sh): the kernel's
#                  switches kmbuf.abi= and dmabuf.abi=, every value of each
#                  covered by seed+seed, fuse+desc and flag+desc
#   make vmcheck-liburing
#                  liburing's own test suite (Debian's liburing source) on
#                  the testbed kernels, against an unpatched kernel of the
#                  same tarball and config (test/vm/liburing-suite.sh)
#   make demo      the programs in examples/ (on this machine's kernel if it
#                  already has the ABI, else in the VM on the testbed kernel,
#                  once per ABI mode of VM_MODES)
#   make bench     the benchmark programs, in the VM on the testbed kernel
#   make bench-generations
#                  the same once per ABI mode of VM_MODES (bench/local.mk)
#
# Extra options for test/vm/run.sh go in VM_RUN_FLAGS, e.g.
#   make vmcheck VM_RUN_FLAGS='--timeout 600'
#   make vmcheck VM_RUN_FLAGS='--kernel /path/to/bzImage'
#   make vmcheck VM_RUN_FLAGS=--no-debug   (quicker: the non-debug kernel)
# and the modes of vmcheck-kmbuf (kmbuf.abi+dmabuf.abi) in VM_MODES, e.g.
#   make vmcheck-kmbuf VM_MODES=fuse+desc
# and options for test/vm/liburing-suite.sh in LIBURING_SUITE_FLAGS, e.g.
#   make vmcheck-liburing LIBURING_SUITE_FLAGS='--tests "msg-ring nop"'
#   make vmcheck-liburing LIBURING_SUITE_FLAGS='--debug-tests none'

EXTRA_DIST += \
	test/vm/run.sh \
	test/vm/modes.sh \
	test/vm/init \
	test/vm/liburing-suite.sh \
	test/vm/liburing-suite.notes \
	test/vm/liburing-debug.list \
	test/vm/README.md \
	kernel \
	tools/run.sh

VM_RUN_FLAGS =
VM_RUN = $(top_srcdir)/test/vm/run.sh \
	--builddir $(abs_top_builddir) --srcdir $(abs_top_srcdir)
# kmbuf.abi+dmabuf.abi: every value of both switches, in three boots
VM_MODES = seed+seed fuse+desc flag+desc
VM_RUN_MODES = $(top_srcdir)/test/vm/modes.sh --modes '$(VM_MODES)'
LIBURING_SUITE_FLAGS =
LIBURING_SUITE = $(top_srcdir)/test/vm/liburing-suite.sh \
	--workdir $(abs_top_builddir)/vm-run/liburing

# Discovered from the build: examples/ programs are demos, except the ones
# named *bench*, which (with bench/ programs) are the benchmarks.
vm_all_programs = $(noinst_PROGRAMS) $(check_PROGRAMS)
vm_check_programs = $(filter $(check_PROGRAMS),$(TESTS))
vm_demo_programs = $(filter-out %bench%,$(filter examples/%,$(vm_all_programs)))
vm_bench_programs = $(filter bench/% examples/%bench%,$(vm_all_programs))

vmcheck:
	@status=0; \
	$(MAKE) $(AM_MAKEFLAGS) vmcheck-kmbuf || status=1; \
	$(MAKE) $(AM_MAKEFLAGS) vmcheck-liburing || status=1; \
	exit $$status

vmcheck-kmbuf:
	@$(MAKE) $(AM_MAKEFLAGS) $(check_PROGRAMS)
	@$(MKDIR_P) test/vm
	@printf '%s\n' $(vm_check_programs) >test/vm/vmcheck.list
	$(VM_RUN_MODES) --label vmcheck \
		--results-dir $(abs_top_builddir)/vm-run/vmcheck-modes -- \
		--builddir $(abs_top_builddir) --srcdir $(abs_top_srcdir) \
		--debug --list test/vm/vmcheck.list $(VM_RUN_FLAGS)

vmcheck-liburing:
	$(LIBURING_SUITE) $(LIBURING_SUITE_FLAGS)

demo:
	@if test -z '$(strip $(vm_demo_programs))'; then \
		echo "demo: no example programs yet (nothing under examples/ in noinst_PROGRAMS or check_PROGRAMS)" >&2; \
		exit 1; \
	fi
	@$(MAKE) $(AM_MAKEFLAGS) $(vm_demo_programs)
	$(VM_RUN_MODES) --label demo --prefer-host --show-output \
		--results-dir $(abs_top_builddir)/vm-run/demo-modes -- \
		--builddir $(abs_top_builddir) --srcdir $(abs_top_srcdir) \
		$(VM_RUN_FLAGS) $(vm_demo_programs)

bench:
	@if test -z '$(strip $(vm_bench_programs))'; then \
		echo "bench: no benchmark programs yet (nothing under bench/ or named examples/*bench*)" >&2; \
		exit 1; \
	fi
	@$(MAKE) $(AM_MAKEFLAGS) $(vm_bench_programs)
	$(VM_RUN) --label bench --show-output $(VM_RUN_FLAGS) $(vm_bench_programs)

CLEANFILES += test/vm/vmcheck.list
.PHONY: vmcheck vmcheck-kmbuf vmcheck-liburing demo bench
