#!/bin/sh
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Use the library the way a consumer does: "make install DESTDIR=<tmp>"
# of this build, then, against the installed tree only (pkg-config with
# PKG_CONFIG_SYSROOT_DIR), compile a small program as C and as C++, link
# it, and run it with LD_LIBRARY_PATH into the install. Also compile the
# public header alone, after <liburing.h>, before and after
# <linux/io_uring.h> and after other headers, as C and C++ at strict and
# GNU standards, with gcc and clang (-Weverything), warnings as errors;
# and check that every macro the headers leave defined is documented in
# an installed man page.
#
# Run by "make check": AM_TESTS_ENVIRONMENT (test/unit/local.mk) passes
# KMBUF_TOP_BUILDDIR, KMBUF_MAKE, KMBUF_CC, KMBUF_CXX, KMBUF_PKG_CONFIG,
# KMBUF_LIBDIR, KMBUF_INCLUDEDIR, KMBUF_MANDIR and KMBUF_SANITIZER_FLAGS;
# KMBUF_CLANG and KMBUF_CLANGXX name clang (default clang, clang++).
# Exit 77 (after every other check passed) when clang is not installed.
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu

builddir=${KMBUF_TOP_BUILDDIR:-.}
make_cmd=${KMBUF_MAKE:-make}
cc=${KMBUF_CC:-cc}
cxx=${KMBUF_CXX:-c++}
pkg_config=${KMBUF_PKG_CONFIG:-pkg-config}
libdir=${KMBUF_LIBDIR:-/usr/local/lib}
includedir=${KMBUF_INCLUDEDIR:-/usr/local/include}
mandir=${KMBUF_MANDIR:-/usr/local/share/man}
san=${KMBUF_SANITIZER_FLAGS:-}

if [ ! -f "$builddir/Makefile" ]; then
	# e.g. copied into the test VM with the other tests: a host check
	if [ -z "${KMBUF_TOP_BUILDDIR:-}" ]; then
		echo "SKIP: not in a build tree (a build-level check: run it with make check)"
		exit 77
	fi
	echo "FAIL: no Makefile in KMBUF_TOP_BUILDDIR=$builddir"
	exit 1
fi
for tool in "$make_cmd" "$cc" "$cxx" "$pkg_config"; do
	# first word only: CC may be "gcc -m32" and the like
	# shellcheck disable=SC2086
	set -- $tool
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "SKIP: $1 not found (needed to build a consumer program)"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
destdir=$tmp/root

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

echo "check-consumer: make install DESTDIR=$destdir"
if ! $make_cmd -C "$builddir" install DESTDIR="$destdir" >"$tmp/install.log" 2>&1; then
	tail -n 30 "$tmp/install.log"
	echo "FAIL: make install DESTDIR=... failed"
	exit 1
fi
for f in "$destdir$includedir/liburing-kmbuf.h" \
	 "$destdir$includedir/liburing-kmbuf/abi.h" \
	 "$destdir$includedir/liburing-kmbuf/version.h" \
	 "$destdir$libdir/pkgconfig/liburing-kmbuf.pc"; do
	[ -f "$f" ] || fail "not installed: $f"
done
[ "$fails" -eq 0 ] || exit 1

PKG_CONFIG_SYSROOT_DIR=$destdir
PKG_CONFIG_PATH=$destdir$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
if ! pc_cflags=$($pkg_config --cflags liburing-kmbuf) ||
   ! pc_libs=$($pkg_config --libs liburing-kmbuf); then
	echo "FAIL: pkg-config does not find the installed liburing-kmbuf.pc"
	exit 1
fi
echo "check-consumer: pkg-config: $pc_cflags $pc_libs"
case " $pc_cflags " in
*" -I$destdir"*) ;;
*) fail "pkg-config --cflags does not point into DESTDIR: $pc_cflags" ;;
esac
case " $pc_libs " in
*" -L$destdir"*) ;;
*) fail "pkg-config --libs does not point into DESTDIR: $pc_libs" ;;
esac

# A consumer: every call it makes with bad arguments must fail cleanly
# without a kernel; the probes ask the running kernel, whatever it is.
cat >"$tmp/consumer.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <liburing-kmbuf.h>

#if !LIBURING_KMBUF_CHECK_VERSION(0, 1)
#error "LIBURING_KMBUF_CHECK_VERSION(0, 1) is false"
#endif

static int bad;

static void expect_neg(const char *what, int ret)
{
	if (ret >= 0) {
		printf("%s = %d, expected -errno\n", what, ret);
		bad = 1;
	}
}

static void expect_probe(const char *what, int ret)
{
	printf("%s = %d%s\n", what, ret,
	       ret == 1 ? " (supported)" : ret == 0 ? " (not supported)" :
	       ret < 0 ? " (could not tell)" : " (INVALID ANSWER)");
	if (ret > 1)
		bad = 1;
}

int main(void)
{
	struct io_uring_kmbuf_reg reg;
	struct io_uring_kmbuf kb;
	struct io_uring_kmbuf *kbp = NULL;
	struct io_uring_udmabuf *ub = NULL;
	struct io_uring_cqe cqe;
	unsigned int bid, n = 0, len = 0;
	void *addr = NULL;
	char bufs[4 * 16];

	printf("liburing-kmbuf %s\n", LIBURING_KMBUF_VERSION);
	memset(&reg, 0, sizeof(reg));
	expect_neg("io_uring_register_kmbuf_ring(NULL)",
		   io_uring_register_kmbuf_ring(NULL, &reg, 0));
	expect_neg("io_uring_unregister_kmbuf_ring(NULL)",
		   io_uring_unregister_kmbuf_ring(NULL, 0));
	expect_neg("io_uring_mmap_kmbuf(NULL)",
		   io_uring_mmap_kmbuf(NULL, 0, 4096, &addr));
	expect_neg("io_uring_munmap_kmbuf(NULL)", io_uring_munmap_kmbuf(NULL, 0));
	expect_neg("io_uring_setup_kmbuf_ring(NULL)",
		   io_uring_setup_kmbuf_ring(NULL, 8, 4096, 0, NULL, &kbp));
	expect_neg("io_uring_free_kmbuf_ring(NULL)",
		   io_uring_free_kmbuf_ring(NULL, NULL));
	expect_neg("io_uring_register_dmabuf_table(NULL)",
		   io_uring_register_dmabuf_table(NULL, 1));
	expect_neg("io_uring_register_dmabuf_buffer(NULL)",
		   io_uring_register_dmabuf_buffer(NULL, 0, -1, -1));
	expect_neg("io_uring_unregister_dmabuf_buffer(NULL)",
		   io_uring_unregister_dmabuf_buffer(NULL, 0));
	expect_neg("io_uring_udmabuf_alloc(0)", io_uring_udmabuf_alloc(0, &ub));
	io_uring_udmabuf_free(NULL);

	/* the inline helpers, compiled by the consumer's compiler */
	memset(&kb, 0, sizeof(kb));
	kb.bufs = bufs;
	kb.buf_size = 16;
	kb.ring_entries = 4;
	kb.len = sizeof(bufs);
	io_uring_for_each_kmbuf(&kb, bid, addr)
		n++;
	memset(&cqe, 0, sizeof(cqe));
	cqe.res = 5;
	cqe.flags = IORING_CQE_F_BUFFER | 3U << IORING_CQE_BUFFER_SHIFT;
	if (n != 4 || io_uring_kmbuf_addr(&kb, 4) ||
	    io_uring_kmbuf_cqe_bid(&cqe) != 3 ||
	    io_uring_kmbuf_cqe_buf(&kb, &cqe, &addr, &len) != 3 ||
	    addr != bufs + 48 || len != 5) {
		printf("inline helpers gave wrong answers\n");
		bad = 1;
	}

	expect_probe("io_uring_probe_kmbuf()", io_uring_probe_kmbuf());
	expect_probe("io_uring_probe_dmabuf()", io_uring_probe_dmabuf());
	return bad;
}
EOF

run_consumer() {
	lang=$1
	shift
	exe=$tmp/consumer-$lang
	# shellcheck disable=SC2086 # flags are word lists
	if ! "$@" $san -Wall -Wextra -Werror -o "$exe" "$tmp/consumer.c" \
		$pc_cflags $pc_libs >"$tmp/build-$lang.log" 2>&1; then
		cat "$tmp/build-$lang.log"
		fail "consumer ($lang) does not build against the installed tree"
		return 0
	fi
	# it must use the installed library, not one from the build tree
	if ! LD_LIBRARY_PATH=$destdir$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		"$exe" >"$tmp/run-$lang.log" 2>&1; then
		cat "$tmp/run-$lang.log"
		fail "consumer ($lang) failed"
		return 0
	fi
	sed "s/^/check-consumer: $lang: /" "$tmp/run-$lang.log"
}

echo "check-consumer: build and run a C and a C++ consumer"
# shellcheck disable=SC2086 # $cc/$cxx may carry options
run_consumer c $cc -std=gnu11
# shellcheck disable=SC2086
run_consumer c++ $cxx -x c++ -std=c++17

# The header in every include order, as C and C++, with gcc and clang,
# strict and GNU standards, warnings as errors: gcc with a long list,
# clang with -Weverything less three groups that say nothing about a
# header: -Wc++98-compat* (liburing.h itself needs C++11) and -Wpadded
# (it reports every struct with padding, which is layout, not a defect;
# the padding of the options struct is checked at run time instead).
# The translation unit uses every inline helper and struct, so that
# warnings about their bodies and layouts are produced at all.
echo "check-consumer: compile the header in each include order"
gcc_warn="-Wall -Wextra -Werror -pedantic -Wshadow -Wundef -Wcast-qual -Wconversion -Wsign-conversion"
gcc_c_warn="-Wstrict-prototypes -Wmissing-prototypes -Wdeclaration-after-statement"
gcc_cxx_warn="-Wold-style-cast -Wzero-as-null-pointer-constant -Wuseless-cast"
clang_warn="-Weverything -Werror -Wno-padded"
clang_cxx_warn="-Wno-c++98-compat -Wno-c++98-compat-pedantic"
clang_c=${KMBUF_CLANG:-clang}
clang_cxx=${KMBUF_CLANGXX:-clang++}
have_clang=yes
for tool in "$clang_c" "$clang_cxx"; do
	command -v "$tool" >/dev/null 2>&1 || have_clang=no
done
# The compilers under test: "name lang command flags".
{
	echo "gcc c $cc $gcc_warn $gcc_c_warn"
	echo "g++ c++ $cxx -x c++ $gcc_warn $gcc_cxx_warn"
	if [ "$have_clang" = yes ]; then
		echo "clang c $clang_c $clang_warn"
		echo "clang++ c++ $clang_cxx -x c++ $clang_warn $clang_cxx_warn"
	fi
} >"$tmp/compilers"
use_all='unsigned int kmbuf_use(const struct io_uring_kmbuf *kb,
			    const struct io_uring_cqe *cqe);
unsigned int kmbuf_use(const struct io_uring_kmbuf *kb,
			    const struct io_uring_cqe *cqe)
{
	struct io_uring_kmbuf_opts opts = { sizeof(opts), 0, 0 };
	struct io_uring_kmbuf_reg reg;
	struct io_uring_dmabuf_update up;
	struct io_uring_dmabuf_reg dreg;
	struct io_uring_udmabuf ub;
	unsigned int bid, n = 0, len = 0;
	void *addr;

	io_uring_for_each_kmbuf(kb, bid, addr)
		n++;
	if (io_uring_kmbuf_cqe_buf(kb, cqe, &addr, &len) >= 0)
		n += len;
	if (io_uring_kmbuf_cqe_bid(cqe) >= 0 && io_uring_kmbuf_addr(kb, 0))
		n++;
	return n + opts.flags + sizeof(reg) + sizeof(up) + sizeof(dreg) + sizeof(ub);
}
int main(void)
{
	return 0;
}'
n_hdr=0
for order in alone after-liburing linux-first linux-after gnu-source-first; do
	case $order in
	alone)		pre= ; post= ;;
	after-liburing)	pre='#include <liburing.h>'; post= ;;
	linux-first)	pre='#include <linux/io_uring.h>'; post= ;;
	linux-after)	pre= ; post='#include <linux/io_uring.h>' ;;
	# a program with other headers first: with _GNU_SOURCE, as documented
	gnu-source-first) pre='#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>'; post= ;;
	esac
	printf '%s\n#include <liburing-kmbuf.h>\n%s\n%s\n' "$pre" "$post" "$use_all" \
		>"$tmp/hdr-$order.c"
	while read -r name lang compiler; do
		case $lang in
		c) stds="c99 c11 gnu11 gnu17" ;;
		*) stds="c++11 c++14 c++17 c++20" ;;
		esac
		for std in $stds; do
			# shellcheck disable=SC2086 # flag lists
			if ! $compiler -std="$std" $pc_cflags -fsyntax-only \
				"$tmp/hdr-$order.c" >"$tmp/hdr.log" 2>&1; then
				sed 's/^/    /' "$tmp/hdr.log" | head -n 40
				fail "header, $order, $name -std=$std"
			fi
			n_hdr=$((n_hdr + 1))
		done
	done <"$tmp/compilers"
done

# The macros the headers leave defined, beyond those of what they include
# (<liburing.h> first, as they do): include guards and documented names
# only. A helper macro of the header itself must be #undef'd at its end.
echo "check-consumer: the macros the headers define"
printf '#include <liburing.h>\n#include <errno.h>\n#include <stddef.h>\n#include <linux/types.h>\n' \
	>"$tmp/base.c"
printf '#include <liburing-kmbuf.h>\n' >"$tmp/ours.c"
for f in base ours; do
	# shellcheck disable=SC2086
	$cc $pc_cflags -dM -E "$tmp/$f.c" | awk '{ print $2 }' | sed 's/(.*//' |
		LC_ALL=C sort -u >"$tmp/$f.macros"
done
n_macros=0
for m in $(LC_ALL=C comm -13 "$tmp/base.macros" "$tmp/ours.macros"); do
	n_macros=$((n_macros + 1))
	case $m in
	LIBURING_KMBUF_H | LIBURING_KMBUF_*_H) continue ;;	# include guards
	esac
	if ! grep -qw -- "$m" "$destdir$mandir"/man[37]/* 2>/dev/null; then
		fail "the headers leave $m defined in the user's namespace, and no installed man page documents it"
	fi
done
[ "$n_macros" -gt 5 ] || fail "found only $n_macros macros of the headers: the check is broken"

if [ "$fails" -ne 0 ]; then
	echo "check-consumer: $fails failure(s)"
	exit 1
fi
echo "check-consumer: installed tree OK: C and C++ consumers built and ran, header compiled $n_hdr ways, $n_macros macros all documented"
if [ "$have_clang" = no ]; then
	echo "SKIP: $clang_c/$clang_cxx not found, the header was not compiled with clang -Weverything (apt-get install clang); the other checks passed"
	exit 77
fi
exit 0
