#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# The project documents its own kernel contract: doc/abi.md.
# - No file of the tree points anywhere else for it (a file named ABI.md
#   in upper case lived outside the tree, where a user who clones the
#   project cannot follow).
# - doc/abi.md covers every generation and the testbed's decisions.
# - Every constant of include/liburing-kmbuf/abi.h that names its kernel
#   counterpart in a comment has that name and the same value on one line
#   of doc/abi.md.
#
# Run by "make check" (automake exports $srcdir) or by hand from anywhere.
# Exit 0 pass, 1 fail.
set -eu

top=${srcdir:-$(dirname "$0")/..}
doc=$top/doc/abi.md
abi_h=$top/include/liburing-kmbuf/abi.h
self=test/check-abi-doc.sh

# Files that other people own and that still point outside the tree
# (test/vm/README.md: the VM runner's owner). When such a file is fixed,
# this check fails until it is dropped from this list too.
pending=""

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

for f in "$doc" "$abi_h"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f not found (srcdir=${srcdir:-unset})"
		exit 1
	fi
done

# --- references ---------------------------------------------------------------
# Every text file of the source tree, without build and VCS directories.
outside='ABI[.]md|shared/ABI|steer[i]ng repo'
nfiles=0
while IFS= read -r f; do
	rel=${f#"$top"/}
	nfiles=$((nfiles + 1))
	[ "$rel" = "$self" ] && continue
	grep -Iq . "$f" 2>/dev/null || continue		# binary or empty
	hits=$(grep -nE "$outside" "$f" || true)
	case " $pending " in
	*" $rel "*)
		if [ -z "$hits" ]; then
			fail "$rel no longer points outside the tree: drop it from 'pending' in $self"
		else
			echo "pending (not this check's file to fix): $rel:"
			printf '%s\n' "$hits" | sed 's/^/    /'
		fi
		continue ;;
	esac
	if [ -n "$hits" ]; then
		fail "$rel points outside the tree for the ABI (say doc/abi.md):"
		printf '%s\n' "$hits" | sed 's/^/    /'
	fi
done < <(find "$top" -type d \( -name .git -o -name 'build*' -o -name autom4te.cache \
		-o -name vm-run -o -name .deps -o -name .libs \) -prune -o \
		-type f -print | LC_ALL=C sort)
[ "$nfiles" -gt 50 ] || fail "found only $nfiles files under $top: the walk is broken"

# --- coverage -------------------------------------------------------------------
for heading in \
	'## 1. Kernel-managed buffer rings, seed generation' \
	'## 2. Kernel-registered bvec buffers' \
	'## 3. dma-buf backed registered buffers, seed generation' \
	'### 4.1 kmbuf, FUSE-series generation' \
	'### 4.2 kmbuf, flag generation' \
	'### 4.3 dmabuf, descriptor generation' \
	'### 4.4 Telling the generations apart' \
	'## 5. How the testbed kernel picks a generation' \
	'## 6. Decisions of the testbed kernel' \
	'## 7. Errors of every register call'; do
	grep -qF -- "$heading" "$doc" || fail "doc/abi.md has no section '$heading'"
done

# --- constants --------------------------------------------------------------------
# "#define IO_URING_X  value  /* KERNEL_NAME */": KERNEL_NAME and value
# (without a U/ULL suffix) on one line of the document.
nconst=0
while read -r name value kname; do
	nconst=$((nconst + 1))
	if ! grep -F -- "$kname" "$doc" | grep -qwF -- "$value"; then
		fail "abi.h: $name is $value ($kname), but no line of doc/abi.md names $kname with $value"
	fi
done < <(sed -nE 's|^#define[[:space:]]+(IO_URING_[A-Z_]+)[[:space:]]+\(?([-0-9A-Fa-fx]+)[UL]*\)?[[:space:]]*/\*[[:space:]]*([A-Z_]+)[[:space:]]*\*/.*|\1 \2 \3|p' "$abi_h")
[ "$nconst" -ge 6 ] || fail "found only $nconst annotated constants in abi.h: the parser is broken"

echo "check-abi-doc: $nfiles files, $nconst constants, $fails problems"
[ "$fails" -eq 0 ]
