# SPDX-License-Identifier: MIT OR LGPL-2.1
# dmabuf-backed registered buffers
dist_man3_MANS += \
	man/io_uring_dmabuf_abi.3 \
	man/io_uring_dmabuf_force_abi.3 \
	man/io_uring_dmabuf_sync_begin.3 \
	man/io_uring_dmabuf_sync_end.3 \
	man/io_uring_probe_dmabuf.3 \
	man/io_uring_register_dmabuf_buffer.3 \
	man/io_uring_register_dmabuf_table.3 \
	man/io_uring_udmabuf_alloc.3 \
	man/io_uring_udmabuf_alloc_flags.3 \
	man/io_uring_udmabuf_free.3 \
	man/io_uring_unregister_dmabuf_buffer.3 \
	man/io_uring_update_dmabuf_buffers.3
