# SPDX-License-Identifier: MIT OR LGPL-2.1
# The kernel ABI the library speaks, and the check that the tree points
# there for it and agrees with include/liburing-kmbuf/abi.h.
EXTRA_DIST += doc/abi.md
TESTS += test/check-abi-doc.sh
EXTRA_DIST += test/check-abi-doc.sh
