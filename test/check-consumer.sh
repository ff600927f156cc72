#!/bin/sh
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Use the library the way a consumer does: "make install DESTDIR=<tmp>"
# of this build, then, against the installed tree only (pkg-config with
# PKG_CONFIG_SYSROOT_DIR), compile a small program as C and as C++, link
# it, and run it with LD_LIBRARY_PATH into the install. Also compile the
# public header alone, after <liburing.h>, and before and after
# <linux/io_uring.h>, as C and C++ at several standards with -Werror
# -pedantic.
#
# Run by "make check": AM_TESTS_ENVIRONMENT (test/unit/local.mk) passes
# KMBUF_TOP_BUILDDIR, KMBUF_MAKE, KMBUF_CC, KMBUF_CXX, KMBUF_PKG_CONFIG,
# KMBUF_LIBDIR, KMBUF_INCLUDEDIR and KMBUF_SANITIZER_FLAGS.
# Exit 0 pass, 1 fail, 77 skip (a tool is missing).
set -eu

builddir=${KMBUF_TOP_BUILDDIR:-.}
make_cmd=${KMBUF_MAKE:-make}
cc=${KMBUF_CC:-cc}
cxx=${KMBUF_CXX:-c++}
pkg_config=${KMBUF_PKG_CONFIG:-pkg-config}
libdir=${KMBUF_LIBDIR:-/usr/local/lib}
includedir=${KMBUF_INCLUDEDIR:-/usr/local/include}
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

# The header in every include order, as C and C++, warnings as errors.
# (-std=c11 is left out: liburing.h itself needs POSIX types.)
echo "check-consumer: compile the header in each include order"
hdr_warn="-Wall -Wextra -Werror -pedantic -Wshadow -Wundef -Wcast-qual -Wconversion -Wsign-conversion"
n_hdr=0
for order in alone after-liburing linux-first linux-after; do
	case $order in
	alone)		pre= ; post= ;;
	after-liburing)	pre='#include <liburing.h>'; post= ;;
	linux-first)	pre='#include <linux/io_uring.h>'; post= ;;
	linux-after)	pre= ; post='#include <linux/io_uring.h>' ;;
	esac
	printf '%s\n#include <liburing-kmbuf.h>\n%s\nint main(void)\n{\n\treturn 0;\n}\n' \
		"$pre" "$post" >"$tmp/hdr-$order.c"
	for std in c:gnu11 c:gnu17 c++:c++11 c++:c++17 c++:c++20; do
		lang=${std%%:*}
		if [ "$lang" = c ]; then
			compiler="$cc -Wstrict-prototypes -Wmissing-prototypes"
		else
			compiler="$cxx -x c++"
		fi
		# shellcheck disable=SC2086
		if ! $compiler -std="${std#*:}" $hdr_warn $pc_cflags -fsyntax-only \
			"$tmp/hdr-$order.c" >"$tmp/hdr.log" 2>&1; then
			cat "$tmp/hdr.log"
			fail "header, $order, -std=${std#*:}"
		fi
		n_hdr=$((n_hdr + 1))
	done
done

if [ "$fails" -ne 0 ]; then
	echo "check-consumer: $fails failure(s)"
	exit 1
fi
echo "check-consumer: installed tree OK: C and C++ consumers built and ran, header compiled $n_hdr ways"
exit 0
