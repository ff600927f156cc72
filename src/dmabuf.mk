# SPDX-License-Identifier: MIT OR LGPL-2.1
# dmabuf-backed registered buffers
src_libkmbuf_core_la_SOURCES += \
	src/dmabuf.c \
	src/udmabuf.c \
	src/dmabuf-sync.c
