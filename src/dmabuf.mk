# SPDX-License-Identifier: MIT OR LGPL-2.1
# dmabuf-backed registered buffers
