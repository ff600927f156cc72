# SPDX-License-Identifier: MIT OR LGPL-2.1
# The testbed VM: the test suite, the examples and the benchmarks run inside
# QEMU on the kernel that kernel/build.sh builds (see test/vm/run.sh).
#
#   make vmcheck   every compiled test (the check_PROGRAMS in TESTS: feature
#                  and unit tests; the host-only check scripts stay out) on
#                  the debug kernel (KASAN, lockdep)
#   make demo      the programs in examples/ (on this machine's kernel if it
#                  already has the ABI, else in the VM on the testbed kernel)
#   make bench     the benchmark programs, in the VM on the testbed kernel
#
# Extra options for test/vm/run.sh go in VM_RUN_FLAGS, e.g.
#   make vmcheck VM_RUN_FLAGS='--timeout 600'
#   make vmcheck VM_RUN_FLAGS='--kernel /path/to/bzImage'
#   make vmcheck VM_RUN_FLAGS=--no-debug   (quicker: the non-debug kernel)

EXTRA_DIST += \
	test/vm/run.sh \
	test/vm/init \
	test/vm/README.md \
	kernel \
	tools/run.sh

VM_RUN_FLAGS =
VM_RUN = $(top_srcdir)/test/vm/run.sh \
	--builddir $(abs_top_builddir) --srcdir $(abs_top_srcdir)

# Discovered from the build: examples/ programs are demos, except the ones
# named *bench*, which (with bench/ programs) are the benchmarks.
vm_all_programs = $(noinst_PROGRAMS) $(check_PROGRAMS)
vm_check_programs = $(filter $(check_PROGRAMS),$(TESTS))
vm_demo_programs = $(filter-out %bench%,$(filter examples/%,$(vm_all_programs)))
vm_bench_programs = $(filter bench/% examples/%bench%,$(vm_all_programs))

vmcheck:
	@$(MAKE) $(AM_MAKEFLAGS) $(check_PROGRAMS)
	@$(MKDIR_P) test/vm
	@printf '%s\n' $(vm_check_programs) >test/vm/vmcheck.list
	$(VM_RUN) --debug --label vmcheck --list test/vm/vmcheck.list $(VM_RUN_FLAGS)

demo:
	@if test -z '$(strip $(vm_demo_programs))'; then \
		echo "demo: no example programs yet (nothing under examples/ in noinst_PROGRAMS or check_PROGRAMS)" >&2; \
		exit 1; \
	fi
	@$(MAKE) $(AM_MAKEFLAGS) $(vm_demo_programs)
	$(VM_RUN) --label demo --prefer-host --show-output $(VM_RUN_FLAGS) $(vm_demo_programs)

bench:
	@if test -z '$(strip $(vm_bench_programs))'; then \
		echo "bench: no benchmark programs yet (nothing under bench/ or named examples/*bench*)" >&2; \
		exit 1; \
	fi
	@$(MAKE) $(AM_MAKEFLAGS) $(vm_bench_programs)
	$(VM_RUN) --label bench --show-output $(VM_RUN_FLAGS) $(vm_bench_programs)

CLEANFILES += test/vm/vmcheck.list
.PHONY: vmcheck demo bench
