#!/bin/sh
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# The inline hot-path helpers of <liburing-kmbuf.h> cost no more
# instructions than the code an application would write instead: for each
# pair of test/helper-icount (a helper, its open-coded form with the same
# checks), callgrind counts the instructions of that function alone
# (--toggle-collect) over the same inputs; a helper that costs more fails
# (pairs marked "info", the loop macro, are shown and never fail).
# Both forms must also give the same answers (helper-icount check).
#
# Run by "make check" (KMBUF_TOP_BUILDDIR from AM_TESTS_ENVIRONMENT), or
# by hand: KMBUF_TOP_BUILDDIR=BUILD sh test/check-helper-icount.sh.
# Exit 0 pass, 1 fail, 77 skip (no valgrind, or a build that cannot tell);
# with KMBUF_REQUIRE_ICOUNT=1 (CI) a skip is a failure.
set -eu

skip() {
	if [ "${KMBUF_REQUIRE_ICOUNT:-0}" = 1 ]; then
		echo "FAIL (KMBUF_REQUIRE_ICOUNT=1): $1"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}

builddir=${KMBUF_TOP_BUILDDIR:-.}
prog=$builddir/test/helper-icount
VALGRIND=${KMBUF_VALGRIND:-valgrind}

if [ ! -x "$prog" ]; then
	if [ -z "${KMBUF_TOP_BUILDDIR:-}" ]; then
		echo "SKIP: not in a build tree (a build-level check: run it with make check)"
		exit 77
	fi
	echo "FAIL: $prog not found (KMBUF_TOP_BUILDDIR=$builddir): not built?"
	exit 1
fi
if ! command -v "$VALGRIND" >/dev/null 2>&1; then
	skip "valgrind not installed (apt-get install valgrind): the helpers' instruction counts were not checked"
fi
status=0
why=$("$prog" build) || status=$?
case $status in
0) ;;
77) skip "${why#SKIP: }" ;;
*) echo "FAIL: $prog build: exit $status"; exit 1 ;;
esac
"$prog" check

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions executed inside function $1 (and what it calls), per call.
icount() {
	calls=$("$VALGRIND" --tool=callgrind --quiet --collect-atstart=no \
		--toggle-collect="$1" --callgrind-out-file="$tmp/$1.out" \
		"$prog" run "$1") || {
		echo "FAIL: valgrind --tool=callgrind on $prog run $1 failed"
		exit 1
	}
	total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/$1.out")
	if [ -z "$total" ] || [ "$total" = 0 ]; then
		echo "FAIL: no instructions counted in $1 (callgrind output $tmp/$1.out: was it inlined?)"
		exit 1
	fi
	# instructions per call, two decimals, in integer arithmetic
	echo $((total * 100 / calls))
}

fmt() { printf '%d.%02d' $(($1 / 100)) $(($1 % 100)); }

printf '%-18s %12s %12s  %s\n' "helper" "Ir/call" "open-coded" "result"
fail=0
pairs=$("$prog" list)
# shellcheck disable=SC2086 # three words per line, on purpose
set -- $pairs
while [ $# -ge 3 ]; do
	helper=$1 open=$2 kind=$3
	shift 3
	h=$(icount "$helper")
	o=$(icount "$open")
	if [ "$kind" = info ]; then
		result="info (a loop macro: not checked)"
	elif [ "$h" -gt "$o" ]; then
		result="FAIL: the helper costs more"
		fail=1
	else
		result=ok
	fi
	printf '%-18s %12s %12s  %s\n' "${helper%_helper}" "$(fmt "$h")" "$(fmt "$o")" "$result"
done
exit "$fail"
