#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Every errno a public function can return is a tag of its man page's
# ERRORS section (a line right after .TP: ".B EINVAL", ".BR EACCES , EPERM").
#
# What a function can return is the union of
# - the library's own errors: each -E... the function returns or assigns in
#   src/*.c (or, for an inline helper, in include/liburing-kmbuf.h),
#   followed into the library-internal functions it names (not into other
#   public functions, which have pages of their own); comparisons such as
#   "ret == -EINVAL" are not returns;
# - the kernel's errors it passes on, from the table below: the rows of
#   doc/abi.md for its operation, io_uring_register(2)'s own errors, and
#   "@function" for everything another public function returns; "!EFOO"
#   drops an errno the scan finds but the function cannot return (the
#   reason is in a comment at the row).
#
# Run by "make check" (automake exports $srcdir) or by hand from anywhere.
# Exit 0 pass, 1 fail.
set -eu

top=${srcdir:-$(dirname "$0")/..}
man=$top/man
header=$top/include/liburing-kmbuf.h

for f in "$header" "$top/src/kmbuf.c"; do
	if [ ! -f "$f" ]; then
		echo "FAIL: $f not found (srcdir=${srcdir:-unset})"
		exit 1
	fi
done

# dmabuf_abi !EBADF: its private ring always has a real fd, so the
# library's own EBADF (no fd, no registered index) cannot fire, and the
# kernel's EBADF to the dma-buf step means "supported". The detections
# (kmbuf_detect, dmabuf_detect) run through a function pointer, which the
# body scan does not follow: their errnos are the abi rows' kernel words.
#
# The kernel's share, by function. REG is what io_uring_register(2) can
# answer for any opcode on this library's calls (doc/abi.md, "Errors of
# every register call"): a descriptor that is not open or not an
# io_uring, a SINGLE_ISSUER ring used from another task, a restricted
# ring. MMAP is what mmap(2) of the ring fd can answer.
REG="EBADF EOPNOTSUPP EEXIST EACCES"
MMAP="EINVAL ENOMEM EBADF"
RING_INIT="ENOSYS EPERM ENOMEM EMFILE ENFILE"
kernel_table() {
	cat <<EOF
io_uring_register_kmbuf_ring	EINVAL E2BIG EEXIST ENOMEM EFAULT EINTR $REG @io_uring_kmbuf_abi
io_uring_unregister_kmbuf_ring	EINVAL ENOENT EBUSY $REG @io_uring_kmbuf_abi
io_uring_mmap_kmbuf		$MMAP @io_uring_kmbuf_abi
io_uring_munmap_kmbuf		EINVAL
io_uring_setup_kmbuf_ring	EINVAL E2BIG EEXIST ENOMEM EINTR $REG $MMAP @io_uring_kmbuf_abi
io_uring_free_kmbuf_ring	EINVAL ENOENT EBUSY $REG
io_uring_probe_kmbuf		@io_uring_kmbuf_abi
io_uring_kmbuf_abi		$RING_INIT EACCES EINTR EPROTO
io_uring_kmbuf_force_abi	
io_uring_register_dmabuf_table	EINVAL EBUSY ENOMEM $REG
io_uring_register_dmabuf_buffer	@io_uring_update_dmabuf_buffers
io_uring_unregister_dmabuf_buffer	EINVAL ENXIO EOVERFLOW ENOMEM $REG
io_uring_update_dmabuf_buffers	EBADF EINVAL EFAULT EOPNOTSUPP EREMOTEIO ENODEV ENOMEM ENXIO EOVERFLOW $REG @io_uring_dmabuf_abi
io_uring_probe_dmabuf		@io_uring_dmabuf_abi
io_uring_dmabuf_abi		$RING_INIT EACCES EPROTO !EBADF
io_uring_dmabuf_force_abi	
io_uring_udmabuf_alloc		EACCES EPERM EINVAL ENOMEM EMFILE ENFILE ENOTTY
io_uring_udmabuf_alloc_flags	@io_uring_udmabuf_alloc ENOSPC ENODEV ENOSYS EINTR
io_uring_dmabuf_sync_begin	EBADF EINVAL ENOTTY EINTR ENOMEM
io_uring_dmabuf_sync_end	EBADF EINVAL ENOTTY EINTR
io_uring_kmbuf_cqe_buf		
io_uring_kmbuf_cqe_bid		
EOF
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-errno.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# Public functions returning int: name per line.
grep -v '^[[:space:]]*#' "$header" | tr '\n\t' '  ' |
	grep -oE '(LIBURING_KMBUF_API|static inline)[[:space:]]+int[[:space:]]+[a-z_0-9]+\(' |
	sed -E 's/.*[[:space:]]([a-z_0-9]+)\($/\1/' | LC_ALL=C sort -u >"$tmp/public"
if [ "$(wc -l <"$tmp/public")" -lt 8 ]; then
	fail "found only $(wc -l <"$tmp/public") int-returning public functions in $header: the parser is broken"
fi

# Function bodies (kernel style: the body opens with "{" in column 0) as
# "name<TAB>errno|call<TAB>word" lines: the errnos a body returns or
# assigns, and every identifier it names.
scan() {
	awk '
	function flush_sig() { sig = "" }
	BEGIN { in_body = 0; in_comment = 0 }
	{
		line = $0
		# comments, also across lines
		if (in_comment) {
			if (line ~ /\*\//) { sub(/^.*\*\//, "", line); in_comment = 0 }
			else next
		}
		gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", line)
		if (line ~ /\/\*/) { sub(/\/\*.*$/, "", line); in_comment = 1 }
		gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
		if (!in_body) {
			if (line ~ /^\{/) {
				name = sig
				sub(/\(.*/, "", name)
				sub(/.*[^A-Za-z0-9_]/, "", name)
				in_body = (name != "")
				next
			}
			if (line ~ /^[^ \t#]/ || sig != "")
				sig = sig " " line
			if (line ~ /;[ \t]*$/ || line ~ /^[ \t]*$/ || line ~ /^#/)
				flush_sig()
			next
		}
		if (line ~ /^\}/) { in_body = 0; flush_sig(); next }
		# "x == -EFOO", "-EFOO != x": comparisons, not results
		gsub(/[!=]=[ \t]*-E[A-Z0-9]+/, "", line)
		gsub(/-E[A-Z0-9]+[ \t]*[!=]=/, "", line)
		rest = line
		while (match(rest, /-E[A-Z0-9]+/)) {
			print name "\terrno\t" substr(rest, RSTART + 1, RLENGTH - 1)
			rest = substr(rest, RSTART + RLENGTH)
		}
		rest = line
		while (match(rest, /[A-Za-z_][A-Za-z0-9_]*/)) {
			print name "\tcall\t" substr(rest, RSTART, RLENGTH)
			rest = substr(rest, RSTART + RLENGTH)
		}
	}' "$@"
}
scan "$top"/src/*.c "$header" | LC_ALL=C sort -u >"$tmp/scan"
cut -f1 "$tmp/scan" | LC_ALL=C sort -u >"$tmp/defined"
if ! grep -qx io_uring_setup_kmbuf_ring "$tmp/defined"; then
	fail "the body parser found no io_uring_setup_kmbuf_ring in src/kmbuf.c: it is broken"
fi

# The library's errnos of $1: its own, and those of the library-internal
# functions it names, recursively (public ones stop the walk).
lib_errnos() {
	local seen=" $1 " todo="$1" fn callee
	while [ -n "$todo" ]; do
		# shellcheck disable=SC2086 # a list of names
		set -- $todo
		fn=$1
		shift
		todo="$*"
		awk -F'\t' -v f="$fn" '$1 == f && $2 == "errno" { print $3 }' "$tmp/scan"
		while read -r callee; do
			grep -qx "$callee" "$tmp/defined" || continue
			grep -qx "$callee" "$tmp/public" && continue
			case $seen in *" $callee "*) continue ;; esac
			seen="$seen$callee "
			todo="$todo $callee"
		done < <(awk -F'\t' -v f="$fn" '$1 == f && $2 == "call" { print $3 }' "$tmp/scan")
	done | LC_ALL=C sort -u
}

# Everything $1 can return: the library's errnos and the kernel's, less
# the row's exclusions.
all_errnos() {
	local word drop=" "
	for word in $(row "$1"); do
		case $word in !*) drop="$drop${word#!} " ;; esac
	done
	{
		lib_errnos "$1"
		for word in $(row "$1"); do
			case $word in
			!*) ;;
			@*) all_errnos "${word#@}" ;;
			*) echo "$word" ;;
			esac
		done
	} | LC_ALL=C sort -u | while read -r word; do
		case $drop in *" $word "*) ;; *) echo "$word" ;; esac
	done
}

# The kernel table's words for $1.
row() {
	kernel_table | awk -F'\t+' -v f="$1" '$1 == f { print $2 }'
}

# The ERRORS tags of page $1.
error_tags() {
	awk '
		/^\.SH/ { name = $0; sub(/^\.SH[ \t]*/, "", name); gsub(/"/, "", name)
			  in_sec = (name == "ERRORS"); next }
		in_sec && tag { print; tag = 0; next }
		in_sec && /^\.TP/ { tag = 1 }' "$1" |
		grep -oE '\bE[A-Z0-9]+\b' | LC_ALL=C sort -u
}

nfn=0
nerr=0
while read -r fn; do
	nfn=$((nfn + 1))
	if ! kernel_table | cut -f1 | grep -qx "$fn"; then
		fail "$fn is public and returns int, but the kernel table of $0 has no row for it"
	fi
	page=$man/$fn.3
	if [ ! -f "$page" ]; then
		fail "$fn: man/$fn.3 does not exist"
		continue
	fi
	error_tags "$page" >"$tmp/tags"
	lib_errnos "$fn" >"$tmp/lib"
	for e in $(all_errnos "$fn"); do
		nerr=$((nerr + 1))
		grep -qx "$e" "$tmp/tags" && continue
		if grep -qx "$e" "$tmp/lib"; then
			fail "$fn can return $e (a library check) but man/$fn.3 has no ERRORS entry for it"
		else
			fail "$fn can return $e (from the kernel) but man/$fn.3 has no ERRORS entry for it"
		fi
	done
done <"$tmp/public"

echo "check-errno: $nfn functions, $nerr errno/function pairs, $fails missing from ERRORS"
[ "$fails" -eq 0 ]
