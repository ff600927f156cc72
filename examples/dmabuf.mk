# SPDX-License-Identifier: MIT OR LGPL-2.1
# dmabuf-backed registered buffers
# Read an NVMe region into a dma-buf, checksum it through the CPU view,
# write it back and verify (make demo runs it in the testbed VM).
noinst_PROGRAMS += examples/dmabuf-nvme-checksum
examples_dmabuf_nvme_checksum_SOURCES = examples/dmabuf-nvme-checksum.c
examples_dmabuf_nvme_checksum_LDADD = src/liburing-kmbuf.la $(LIBURING_LIBS)

# The same with device memory (the testbed driver exports an NVMe
# controller memory buffer): NVMe -> device memory -> checksum through the
# CPU view, and CPU view -> device memory -> NVMe.
noinst_PROGRAMS += examples/dmabuf-devmem-checksum
examples_dmabuf_devmem_checksum_SOURCES = examples/dmabuf-devmem-checksum.c
examples_dmabuf_devmem_checksum_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/kernel/testdrv
examples_dmabuf_devmem_checksum_LDADD = src/liburing-kmbuf.la $(LIBURING_LIBS)
