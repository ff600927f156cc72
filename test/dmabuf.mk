# SPDX-License-Identifier: MIT OR LGPL-2.1
# dmabuf-backed registered buffers
# Feature tests, one binary per feature. Each exits 0, 1 or 77 (skip, with
# the reason on stdout). dmabuf-probe and dmabuf-table run on any kernel;
# the others need the testbed VM: a dmabuf-aware kernel, /dev/udmabuf and
# the emulated NVMe namespace /dev/nvme0n1 (make vmcheck).
noinst_LTLIBRARIES += test/libdmabuf-util.la
test_libdmabuf_util_la_SOURCES = test/dmabuf-util.c test/dmabuf-util.h
test_libdmabuf_util_la_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)

DMABUF_TEST_LDADD = test/libdmabuf-util.la $(KMBUF_TEST_LDADD)

dmabuf_tests = \
	test/dmabuf-probe \
	test/dmabuf-table

check_PROGRAMS += $(dmabuf_tests)
TESTS += $(dmabuf_tests)

test_dmabuf_probe_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_probe_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_table_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_table_LDADD = $(DMABUF_TEST_LDADD)

dmabuf_vm_tests = \
	test/dmabuf-register \
	test/dmabuf-io \
	test/dmabuf-import \
	test/dmabuf-cycles \
	test/dmabuf-stress \
	test/dmabuf-readonly \
	test/dmabuf-rw \
	test/dmabuf-batch \
	test/dmabuf-udmabuf-huge \
	test/dmabuf-devmem-export \
	test/dmabuf-devmem

check_PROGRAMS += $(dmabuf_vm_tests)
TESTS += $(dmabuf_vm_tests)

test_dmabuf_register_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_register_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_io_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_io_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_import_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_import_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_cycles_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_cycles_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_readonly_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_readonly_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_rw_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_rw_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_batch_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_batch_LDADD = $(DMABUF_TEST_LDADD)
test_dmabuf_udmabuf_huge_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_udmabuf_huge_LDADD = $(DMABUF_TEST_LDADD)
# The test driver's device-memory exporter (the CMB of the NVMe drive).
test_dmabuf_devmem_export_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_devmem_export_LDADD = $(DMABUF_TEST_LDADD)
# Threads: tagged updates, clones and ring exits racing fixed I/O.
test_dmabuf_stress_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_stress_CFLAGS = $(AM_CFLAGS) -pthread
test_dmabuf_stress_LDADD = $(DMABUF_TEST_LDADD) -lpthread
# Device memory in a slot (the exporter above); a thread moves it under I/O.
test_dmabuf_devmem_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_devmem_CFLAGS = $(AM_CFLAGS) -pthread
test_dmabuf_devmem_LDADD = $(DMABUF_TEST_LDADD) -lpthread

# Unit tests (cmocka): src/dmabuf.c and src/udmabuf.c against the fake
# syscall boundary of test/unit/ (see test/unit/local.mk), plus fakes of
# the syscalls only udmabuf makes (test/unit/dmabuf-fake-sys.c).
dmabuf_unit_tests = \
	test/unit/dmabuf-api \
	test/unit/dmabuf-udmabuf \
	test/unit/dmabuf-sync

check_PROGRAMS += $(dmabuf_unit_tests)
TESTS += $(dmabuf_unit_tests)

if HAVE_CMOCKA
test_unit_dmabuf_api_SOURCES = test/unit/dmabuf-api.c $(unit_fake_sources)
test_unit_dmabuf_api_LDADD = $(unit_fake_ldadd)
test_unit_dmabuf_api_LDFLAGS = $(unit_fake_ldflags)

test_unit_dmabuf_udmabuf_SOURCES = test/unit/dmabuf-udmabuf.c \
	test/unit/dmabuf-fake-sys.c test/unit/dmabuf-fake-sys.h \
	$(unit_fake_sources)
test_unit_dmabuf_udmabuf_LDADD = $(unit_fake_ldadd)
test_unit_dmabuf_udmabuf_LDFLAGS = $(unit_fake_ldflags)

test_unit_dmabuf_sync_SOURCES = test/unit/dmabuf-sync.c \
	test/unit/dmabuf-fake-sys.c test/unit/dmabuf-fake-sys.h \
	$(unit_fake_sources)
test_unit_dmabuf_sync_LDADD = $(unit_fake_ldadd)
test_unit_dmabuf_sync_LDFLAGS = $(unit_fake_ldflags)
else
test_unit_dmabuf_api_SOURCES = test/unit/skip.c
test_unit_dmabuf_udmabuf_SOURCES = test/unit/skip.c
test_unit_dmabuf_sync_SOURCES = test/unit/skip.c
endif
test_unit_dmabuf_api_CFLAGS = $(unit_cflags)
test_unit_dmabuf_api_CPPFLAGS = $(unit_cppflags)
test_unit_dmabuf_udmabuf_CFLAGS = $(unit_cflags)
test_unit_dmabuf_udmabuf_CPPFLAGS = $(unit_cppflags)
test_unit_dmabuf_sync_CFLAGS = $(unit_cflags)
test_unit_dmabuf_sync_CPPFLAGS = $(unit_cppflags)

# Last of the dmabuf VM tests (the unit tests after it do not need the
# drive): it removes the drive's controller from the PCI bus and rescans.
dmabuf_vm_last_tests = test/dmabuf-devmem-unplug
check_PROGRAMS += $(dmabuf_vm_last_tests)
TESTS += $(dmabuf_vm_last_tests)
test_dmabuf_devmem_unplug_CPPFLAGS = $(KMBUF_TEST_CPPFLAGS)
test_dmabuf_devmem_unplug_LDADD = $(DMABUF_TEST_LDADD)
