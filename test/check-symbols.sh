#!/bin/sh
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# ABI check of the shared library: the symbols it exports are exactly the
# ones src/liburing-kmbuf.map lists, each with the version of the map node
# that lists it (today all LIBURING_KMBUF_0.1) as the default version, and
# the functions the public header declares LIBURING_KMBUF_API are exactly
# the map's symbols.
#
# Run by "make check" (srcdir and KMBUF_TOP_BUILDDIR come from
# AM_TESTS_ENVIRONMENT), or by hand: srcdir=SRC KMBUF_TOP_BUILDDIR=BUILD sh
# test/check-symbols.sh. Exit 0 pass, 1 fail, 77 skip (no shared library).
set -eu

srcdir=${srcdir:-$(dirname "$0")/..}
builddir=${KMBUF_TOP_BUILDDIR:-.}
NM=${KMBUF_NM:-nm}
map=$srcdir/src/liburing-kmbuf.map
header=$srcdir/include/liburing-kmbuf.h
so=$builddir/src/.libs/liburing-kmbuf.so

if [ -z "${KMBUF_TOP_BUILDDIR:-}" ] && [ ! -f "$map" ] && [ ! -e "$so" ]; then
	# e.g. copied into the test VM with the other tests: a host check
	echo "SKIP: not in a build tree (a build-level check: run it with make check)"
	exit 77
fi
for f in "$map" "$header"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f not found (srcdir=$srcdir)"
		exit 1
	fi
done
if [ ! -e "$so" ]; then
	if [ -e "$builddir/src/liburing-kmbuf.la" ]; then
		echo "SKIP: no shared library ($so): configured with --disable-shared?"
		exit 77
	fi
	echo "FAIL: $so not found (KMBUF_TOP_BUILDDIR=$builddir): library not built?"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-symbols.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# Older binutils print versions only when asked; newer ones always do.
# $NM may carry options (libtool: "nm -B"): split it, no quotes.
nm_versions=
# shellcheck disable=SC2086
if $NM -D --with-symbol-versions "$so" >/dev/null 2>&1; then
	nm_versions=--with-symbol-versions
fi

# name@@VERSION of every global symbol in the map, by node.
awk '
	/^[[:space:]]*#/ { next }
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{/ {
		node = $1; sub(/\{.*/, "", node); section = ""; next
	}
	/^[[:space:]]*\}/ { node = ""; next }
	/^[[:space:]]*global:/ { section = "global"; next }
	/^[[:space:]]*local:/ { section = "local"; next }
	node != "" && section == "global" {
		for (i = 1; i <= NF; i++) {
			sym = $i; gsub(/;/, "", sym)
			if (sym != "")
				print sym "@@" node
		}
	}
' "$map" | LC_ALL=C sort >"$tmp/map"
sed 's/@@.*//' "$tmp/map" >"$tmp/map-names"

if [ ! -s "$tmp/map" ]; then
	fail "no global symbols found in $map"
fi
if ! grep -q '@@LIBURING_KMBUF_0\.1$' "$tmp/map"; then
	fail "$map has no LIBURING_KMBUF_0.1 node with global symbols"
fi
# Each name once: a symbol in two nodes is a versioning mistake.
dups=$(LC_ALL=C sort "$tmp/map-names" | uniq -d)
if [ -n "$dups" ]; then
	fail "listed more than once in $map: $dups"
fi

# What the library exports. The version nodes themselves show up as
# absolute symbols named after the node; they are not exports.
# shellcheck disable=SC2086
$NM -D --defined-only $nm_versions "$so" >"$tmp/nm"
awk '$(NF - 1) != "A" { print $NF }' "$tmp/nm" | LC_ALL=C sort >"$tmp/exported"
awk '$(NF - 1) == "A" { print $NF }' "$tmp/nm" | LC_ALL=C sort >"$tmp/nodes"

if [ ! -s "$tmp/exported" ]; then
	fail "$so exports nothing"
fi
if ! grep -qx 'LIBURING_KMBUF_0\.1' "$tmp/nodes"; then
	fail "$so defines no LIBURING_KMBUF_0.1 version"
fi
while read -r sym; do
	case $sym in
	*@@LIBURING_KMBUF_*) ;;
	*@LIBURING_KMBUF_*)
		fail "$sym is exported only as a non-default version" ;;
	*)
		fail "$sym is exported without a LIBURING_KMBUF_* version" ;;
	esac
done <"$tmp/exported"

# One line of names, for the messages.
only() {
	LC_ALL=C comm "$1" "$2" "$3" | tr '\n' ' '
}

extra=$(only -23 "$tmp/exported" "$tmp/map")
missing=$(only -13 "$tmp/exported" "$tmp/map")
if [ -n "$extra" ]; then
	fail "exported but not in the map (or with another version): $extra"
fi
if [ -n "$missing" ]; then
	fail "in the map but not exported with that version: $missing"
fi

# Public functions: "LIBURING_KMBUF_API <type> name(" in the header,
# possibly across lines; preprocessor lines (the macro's own definition)
# are not declarations.
grep -v '^[[:space:]]*#' "$header" | tr '\n\t' '  ' |
	grep -o 'LIBURING_KMBUF_API[^;(]*(' |
	sed 's/[[:space:]]*($//; s/.*[^A-Za-z0-9_]//' |
	LC_ALL=C sort -u >"$tmp/api"
LC_ALL=C sort -u "$tmp/map-names" >"$tmp/map-sorted"

if [ ! -s "$tmp/api" ]; then
	fail "no LIBURING_KMBUF_API declarations found in $header"
fi
undeclared=$(only -13 "$tmp/api" "$tmp/map-sorted")
unversioned=$(only -23 "$tmp/api" "$tmp/map-sorted")
if [ -n "$unversioned" ]; then
	fail "declared LIBURING_KMBUF_API but not in the map: $unversioned"
fi
if [ -n "$undeclared" ]; then
	fail "in the map but not declared LIBURING_KMBUF_API: $undeclared"
fi

n_api=$(wc -l <"$tmp/api")
n_exp=$(wc -l <"$tmp/exported")
if [ "$fails" -ne 0 ]; then
	echo "check-symbols: $fails problem(s); $n_exp exported, $n_api declared"
	exit 1
fi
echo "check-symbols: $n_exp exported symbols = map = $n_api LIBURING_KMBUF_API declarations, all versioned"
exit 0
