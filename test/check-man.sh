#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Check the man pages: mandoc lint at every level (style notes included,
# but for lower-case titles: see below), a thread-safety statement in
# liburing-kmbuf.7 for every public function, one page per public
# function and macro with the prototype its header declares, the required
# sections, and SEE ALSO references to this project's pages that resolve.
#
# Run by "make check" (automake exports $srcdir) or by hand from anywhere.
# Exit 0 pass, 1 fail, 77 skip (only when mandoc is missing and every
# other check passed).
set -eu

top=${srcdir:-$(dirname "$0")/..}
man=$top/man
header=$top/include/liburing-kmbuf.h
version_in=$top/include/liburing-kmbuf/version.h.in
MANDOC=${MANDOC:-mandoc}

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

for f in "$header" "$version_in" "$man/local.mk"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f not found (srcdir=${srcdir:-unset}); run from the build tree or set srcdir"
		exit 1
	fi
done

# The .SH section names of a page, one per line, quotes removed.
sections() {
	sed -n 's/^\.SH[[:space:]]*//p' "$1" | tr -d '"'
}

# The body of section $2 of page $1 (up to the next .SH).
section_text() {
	awk -v want="$2" '
		/^\.SH/ { name = $0; sub(/^\.SH[ \t]*/, "", name); gsub(/"/, "", name)
			  in_sec = (name == want); next }
		in_sec { print }' "$1"
}

# Roff source to plain text with every blank removed: drop request
# lines without text, the macro names of font macros, quotes and escapes.
squash_roff() {
	sed -e '/^\.\(nf\|fi\|PP\|in\|EX\|EE\|br\|sp\)\([[:space:]]\|$\)/d' \
	    -e 's/^\.[A-Za-z]*[[:space:]]*//' \
	    -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' -e 's/"//g' |
		tr -d ' \t\n'
}

# --- The public API, from the headers --------------------------------------
#
# Functions: LIBURING_KMBUF_API declarations and static inline definitions
# of include/liburing-kmbuf.h. Macros: function-like #defines there and in
# include/liburing-kmbuf/version.h.in (installed as version.h, which the
# public header includes). One line each: name, return type, prototype.
api_list() {
	# Drop preprocessor lines (with their continuations) and comments,
	# then put everything on one line.
	awk '{ if (cont || /^[[:space:]]*#/) { cont = /\\$/; next } print }' "$header" |
		tr '\n\t' '  ' |
		sed -E 's:/\*[^*]*\*+([^/*][^*]*\*+)*/: :g' > "$tmp/flat"

	{
		grep -oE 'LIBURING_KMBUF_API[^;{]*;' "$tmp/flat" |
			sed -E 's/^LIBURING_KMBUF_API[[:space:]]+//'
		grep -oE 'static inline[^;{]*\{' "$tmp/flat" |
			sed -E 's/[[:space:]]*\{$/;/'
	} | sed -E 's/[[:space:]]+/ /g' |
	while IFS= read -r proto; do
		name=$(printf '%s\n' "$proto" |
			sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*)\(.*/\2/')
		ret=${proto%%"$name("*}
		ret=${ret#static inline }
		ret=$(printf '%s' "$ret" | tr -d ' ')
		printf '%s\t%s\t%s\n' "$name" "$ret" "$proto"
	done

	# a helper the header #undefs again is not public
	cat "$header" "$version_in" |
		sed -nE 's/^[[:space:]]*#[[:space:]]*undef[[:space:]]+([A-Za-z0-9_]+).*/\1/p' \
		> "$tmp/undef"
	cat "$header" "$version_in" |
		sed -nE 's/^[[:space:]]*#[[:space:]]*define[[:space:]]+([A-Za-z][A-Za-z0-9_]*\([^)]*\)).*/\1/p' |
	while IFS= read -r sig; do
		grep -qxF "${sig%%(*}" "$tmp/undef" && continue
		printf '%s\tmacro\t%s\n' "${sig%%(*}" "$sig"
	done
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
api_list > "$tmp/api"
# CHECK_MAN_DEBUG=1 shows what the header parser found.
if [ -n "${CHECK_MAN_DEBUG:-}" ]; then
	cat "$tmp/api" >&2
fi

napi=$(wc -l < "$tmp/api")
if [ "$napi" -lt 10 ]; then
	fail "found only $napi public names in $header: the header parser is broken"
fi

# Functions returning int follow the -errno convention: they can fail and
# their page needs ERRORS. void, pointer and macro pages do not.
: > "$tmp/need_errors"
while IFS=$'\t' read -r name ret proto; do
	page=$man/$name.3
	if [ ! -f "$page" ]; then
		case $name in
		*dmabuf*)
			fail "$name is public in include/liburing-kmbuf.h but man/$name.3 does not exist (a dmabuf page: add it and list it in man/dmabuf.mk)" ;;
		*)
			fail "$name is public in include/liburing-kmbuf.h but man/$name.3 does not exist" ;;
		esac
		continue
	fi
	[ "$ret" = int ] && echo "$name" >> "$tmp/need_errors"
	want=$(printf '%s' "$proto" | tr -d ' \t')
	have=$(section_text "$page" SYNOPSIS | squash_roff)
	case $have in
	*"$want"*) ;;
	*) fail "man/$name.3: SYNOPSIS does not show the header's prototype: $proto" ;;
	esac
done < "$tmp/api"

# --- Every page --------------------------------------------------------------

# Every word of the man/*.mk fragments, one a line.
sed -e 's/\\$//' "$man"/*.mk | tr -s '[:space:]' '\n' > "$tmp/listed"
npages=0
for page in "$man"/*.[0-9]; do
	[ -f "$page" ] || continue
	npages=$((npages + 1))
	base=${page##*/}
	name=${base%.*}
	sec=${base##*.}

	grep -qxF "man/$base" "$tmp/listed" ||
		fail "man/$base is not listed in man/local.mk or man/dmabuf.mk, so it is neither installed nor distributed"

	# A .so link page only has to point at an existing page.
	if so=$(sed -n 's/^\.so[[:space:]]\{1,\}//p' "$page") && [ -n "$so" ]; then
		[ -f "$man/${so##*/}" ] ||
			fail "man/$base: .so target ${so##*/} is not a page in man/"
		continue
	fi

	th=$(sed -n 's/^\.TH[[:space:]]\{1,\}\([^[:space:]]*\)[[:space:]]\{1,\}\([^[:space:]]*\).*/\1 \2/p' "$page" | head -n 1)
	[ "$th" = "$name $sec" ] ||
		fail "man/$base: .TH says '$th', expected '$name $sec'"

	have=$(sections "$page")
	required="NAME SYNOPSIS DESCRIPTION"
	[ "$sec" = 3 ] && required="$required RETURN_VALUE"
	grep -qxF "$name" "$tmp/need_errors" && required="$required ERRORS"
	required="$required SEE_ALSO"
	for s in $required; do
		s=${s//_/ }
		printf '%s\n' "$have" | grep -qx "$s" ||
			fail "man/$base: no '$s' section"
	done

	# SEE ALSO references to this project's pages must resolve.
	section_text "$page" "SEE ALSO" |
		sed -nE 's/^\.[BI]R[[:space:]]+([^[:space:]]+)[[:space:]]+\(([0-9a-z]+)\).*/\1 \2/p' |
		sed -e 's/\\-/-/g' > "$tmp/refs"
	while read -r ref rsec; do
		case $ref in
		*kmbuf* | *dmabuf* | LIBURING_KMBUF*) ;;
		*) grep -q "^$ref"$'\t' "$tmp/api" || continue ;;
		esac
		[ -f "$man/$ref.$rsec" ] ||
			fail "man/$base: SEE ALSO $ref($rsec) but man/$ref.$rsec does not exist"
	done < "$tmp/refs"
done

if [ "$npages" -eq 0 ]; then
	fail "no man pages in $man"
fi

# --- What users need to know about threads and processes --------------------
#
# liburing-kmbuf.7 has a THREADS AND PROCESSES section that says, for every
# public function, whether and how it may run concurrently, what a
# SINGLE_ISSUER ring requires, and what fork(2) shares.
overview=$man/liburing-kmbuf.7
if [ -f "$overview" ]; then
	section_text "$overview" "THREADS AND PROCESSES" | squash_roff > "$tmp/threads"
	if [ ! -s "$tmp/threads" ]; then
		fail "man/liburing-kmbuf.7: no 'THREADS AND PROCESSES' section"
	else
		while IFS=$'\t' read -r name ret proto; do
			grep -qF -- "$name" "$tmp/threads" ||
				fail "man/liburing-kmbuf.7: THREADS AND PROCESSES says nothing about $name"
		done < "$tmp/api"
		for word in IORING_SETUP_SINGLE_ISSUER 'fork(2)'; do
			grep -qF -- "$word" "$tmp/threads" ||
				fail "man/liburing-kmbuf.7: THREADS AND PROCESSES does not mention $word"
		done
	fi
else
	fail "man/liburing-kmbuf.7 does not exist"
fi

# --- mandoc lint ---------------------------------------------------------------
#
# Every level mandoc reports, style notes included, with one exception:
# "lower case character in document title". The title of a function's
# page is the function's name, as man-pages 6 and liburing write it
# (.TH io_uring_register_buf_ring 3); upper-casing it would name no
# function. mandoc still exits 1 for that note, so the exit status is
# not the verdict: any other message is.
lint_allowed='STYLE: lower case character in document title'

linted=no
if command -v "$MANDOC" > /dev/null 2>&1; then
	linted=yes
	for page in "$man"/*.[0-9]; do
		[ -f "$page" ] || continue
		grep -q '^\.so[[:space:]]' "$page" && continue
		rc=0
		out=$("$MANDOC" -Tlint -W style "$page" 2>&1) || rc=$?
		left=$(printf '%s\n' "$out" | grep -vF "$lint_allowed" | grep -v '^$' || true)
		# exit 0: nothing; 1: style notes only; more: a warning or worse
		if [ "$rc" -gt 1 ] || [ -n "$left" ]; then
			fail "mandoc -Tlint -W style ${page##*/} (exit $rc), beyond lower-case titles:"
			printf '%s\n' "${left:-$out}" | sed 's/^/    /'
		fi
	done
fi

echo "check-man: $npages pages, $napi public names, $fails problems"
[ "$fails" -eq 0 ] || exit 1
if [ "$linted" = no ]; then
	echo "SKIP: $MANDOC not found, pages not linted (apt-get install mandoc); the other checks passed"
	exit 77
fi
exit 0
