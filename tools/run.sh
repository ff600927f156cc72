#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# One entry point for a fresh Debian 12 machine:
#   tools/run.sh demo   the main job: the examples against the testbed kernel
#   tools/run.sh test   unit tests, host feature tests, then the VM suite
#   tools/run.sh bench  the benchmark in the testbed VM
#   tools/run.sh deps   only install the Debian packages the project needs
#   tools/run.sh deb [--install-test]
#                       the Debian packages from debian/ (see debian/README.source)
#   tools/run.sh i386   the unit tests of a 32-bit (i386) build, in ./build-i386
#   tools/run.sh sanitizers
#                       the host suite and this project's VM suite of an
#                       ASan + UBSan build, in ./build-san
# Each step installs what is missing, bootstraps and configures a build
# directory (KMBUF_BUILD_DIR, default ./build) and is safe to repeat.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${KMBUF_BUILD_DIR:-$top/build}
jobs=$(nproc)

# Library build, unit tests, man lint, the clang header check, the testbed
# kernel + VM, and (dpkg-dev: apt-get source) liburing's test suite in the VM.
packages="autoconf automake libtool pkg-config gcc g++ make libc6-dev
	liburing-dev libcmocka-dev mandoc clang
	linux-source-6.12 xz-utils patch flex bison bc libelf-dev libssl-dev
	qemu-system-x86 busybox-static cpio
	dpkg-dev"

# tools/run.sh deb: dpkg-buildpackage, debian/control's Build-Depends, lintian,
# and what debian/tests/control's test depends on.
deb_packages="dpkg-dev build-essential debhelper lintian man-db
	pkgconf liburing-dev libcmocka-dev mandoc"

say() { printf '==> %s\n' "$*"; }

install_deps() {
	local missing="" pkg sudo=""

	for pkg in $packages; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $pkg"
	done
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null ||
			{ echo "missing packages:$missing (run as root or install sudo)" >&2; exit 1; }
		sudo="sudo"
	fi
	say "installing Debian packages:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing </dev/null
}

configure_build() {
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		say "autoreconf"
		(cd "$top" && autoreconf -fi)
	fi
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ]; then
		say "configure in $build"
		(cd "$build" && "$top/configure" --quiet)
	fi
	say "build"
	make -C "$build" -j"$jobs" --no-print-directory
}

# A 32-bit build (Debian multiarch), where off_t and size_t are 32 bits
# unless the build asks for large files, and its unit tests. Configured as
# a cross build: the CI machine's kernel may not execute i386 binaries
# (this one does not), so the tests run under qemu-user.
packages_i386="gcc-multilib liburing-dev:i386 libcmocka-dev:i386 qemu-user"
build_i386=${KMBUF_BUILD_DIR_I386:-$top/build-i386}

test_i386() {
	local sudo="" status=0

	[ "$(id -u)" = 0 ] || sudo="sudo"
	if ! dpkg --print-foreign-architectures | grep -qx i386; then
		say "enabling the i386 architecture (dpkg --add-architecture)"
		$sudo dpkg --add-architecture i386
		# a new architecture needs its package lists
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
	fi
	packages=$packages_i386 install_deps
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		say "autoreconf"
		(cd "$top" && autoreconf -fi)
	fi
	mkdir -p "$build_i386"
	if [ ! -f "$build_i386/Makefile" ]; then
		say "configure in $build_i386 (i686, gcc -m32)"
		(cd "$build_i386" && "$top/configure" --quiet --host=i686-linux-gnu \
			CC="gcc -m32" CXX="g++ -m32" PKG_CONFIG=pkg-config \
			PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig)
	fi
	say "i386 build"
	make -C "$build_i386" -j"$jobs" --no-print-directory
	say "i386 unit tests, under qemu-i386"
	make -C "$build_i386" -j"$jobs" --no-print-directory check-unit \
		LOG_COMPILER=qemu-i386 || status=$?
	build=$build_i386 summarize
	[ "$status" = 0 ] || { echo "i386 unit tests failed; see $build_i386/test-suite.log" >&2; exit "$status"; }
}

# The same suites as "test", built with --enable-sanitizers (ASan, UBSan)
# in a build directory of their own; the VM reuses the cached kernel.
build_san=${KMBUF_BUILD_DIR_SAN:-$top/build-san}

test_sanitizers() {
	local status=0

	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
		say "autoreconf"
		(cd "$top" && autoreconf -fi)
	fi
	mkdir -p "$build_san"
	if [ ! -f "$build_san/Makefile" ]; then
		say "configure in $build_san (--enable-sanitizers)"
		(cd "$build_san" && "$top/configure" --quiet --enable-sanitizers)
	fi
	say "sanitizer build"
	make -C "$build_san" -j"$jobs" --no-print-directory
	say "sanitizer host suite"
	make -C "$build_san" -j"$jobs" --no-print-directory check || status=$?
	build=$build_san summarize
	[ "$status" = 0 ] || { echo "sanitizer host suite failed; see $build_san/test-suite.log" >&2; exit "$status"; }
	# this project's suite only: liburing's suite is not built with the
	# sanitizers, "test" runs it once; and in one ABI mode, the one whose
	# library code differs most from the seed's ("test" runs every mode)
	say "sanitizer VM suite: the testbed kernel under QEMU (kmbuf.abi=flag dmabuf.abi=desc)"
	make -C "$build_san" --no-print-directory vmcheck-kmbuf VM_MODES=flag+desc
}

# A closing line in the form CI reads, from automake's test-suite.log.
count() {
	local n
	n=$(sed -n "s/^# $1: *//p" "$build/test-suite.log")
	echo "${n:-0}"
}

summarize() {
	[ -f "$build/test-suite.log" ] || { echo "host: no test-suite.log" >&2; return; }
	echo "host: $(count PASS) passed, $(($(count FAIL) + $(count ERROR) + $(count XPASS))) failed, $(count SKIP) skipped"
}

# The packages, built with dpkg-buildpackage -b in a copy of the tree (what
# git tracks, plus files it does not ignore), so the tree stays clean. The
# .debs, the .changes and the logs go to KMBUF_DEB_DIR (default ./build-deb).
deb_build() {
	local version arch src

	deb_dir=${KMBUF_DEB_DIR:-$top/build-deb}
	version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
	arch=$(dpkg --print-architecture)
	deb_changes=$deb_dir/liburing-kmbuf_${version}_$arch.changes
	deb_files="$deb_dir/liburing-kmbuf0_${version}_$arch.deb $deb_dir/liburing-kmbuf-dev_${version}_$arch.deb"
	src=$deb_dir/liburing-kmbuf-$version

	sh "$top/debian/check-sync.sh" "$top"
	git -C "$top" rev-parse --git-dir >/dev/null 2>&1 ||
		{ echo "deb: $top is not a git checkout: debian/ is not in the release tarball" >&2; exit 1; }
	say "copy the tree into $src"
	mkdir -p "$deb_dir"
	rm -rf "$src"
	rm -f "$deb_dir"/liburing-kmbuf*_*.deb "$deb_dir"/liburing-kmbuf_*.changes \
		"$deb_dir"/liburing-kmbuf_*.buildinfo "$deb_dir"/liburing-kmbuf_*.dsc \
		"$deb_dir"/liburing-kmbuf_*.tar.*
	mkdir -p "$src"
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf -) | tar -xf - -C "$src"

	say "dpkg-source -b (for lintian's source checks; log: $deb_dir/source.log)"
	(cd "$deb_dir" && dpkg-source -b "${src##*/}") >"$deb_dir/source.log" 2>&1 ||
		{ cat "$deb_dir/source.log"; exit 1; }
	say "dpkg-buildpackage -us -uc -b: configure, make, make check, package (log: $deb_dir/build.log)"
	if ! (cd "$src" && nice -n 10 dpkg-buildpackage -us -uc -b -j"$jobs") \
		>"$deb_dir/build.log" 2>&1 </dev/null; then
		tail -n 100 "$deb_dir/build.log"
		echo "deb: dpkg-buildpackage failed; the whole log is $deb_dir/build.log" >&2
		exit 1
	fi
	# dh's steps, dpkg's messages and the test summary of the log
	grep -E '^(   dh_|   debian/rules |dpkg-[a-z]+: |check-sync: |# [A-Z]+: |(PASS|SKIP|FAIL|XFAIL|XPASS|ERROR): )' \
		"$deb_dir/build.log" || true
	say "lintian (pedantic, fails on errors and warnings)"
	lintian --info --display-info --pedantic --fail-on error,warning \
		"$deb_changes" "$deb_dir/liburing-kmbuf_$version.dsc"
	say "built:"
	ls -l "$deb_dir"/*.deb
}

# Install the two packages, run debian/tests/installed-consumer (the
# autopkgtest) against them, and purge them again, also when the test fails.
deb_install_test() {
	local sudo=""

	[ "$(id -u)" = 0 ] || sudo="sudo"
	trap deb_purge EXIT
	say "install liburing-kmbuf0 and liburing-kmbuf-dev from $deb_dir"
	# shellcheck disable=SC2086 # two file names
	$sudo dpkg -i $deb_files </dev/null
	say "installed-package test (debian/tests/installed-consumer)"
	(cd "$top" && debian/tests/installed-consumer)
	deb_purge
	trap - EXIT
}

deb_purge() {
	local sudo=""

	[ "$(id -u)" = 0 ] || sudo="sudo"
	say "purge liburing-kmbuf-dev liburing-kmbuf0"
	$sudo dpkg --purge liburing-kmbuf-dev liburing-kmbuf0 </dev/null
	if [ -e /usr/include/liburing-kmbuf.h ]; then
		echo "deb: /usr/include/liburing-kmbuf.h is still there after the purge" >&2
		exit 1
	fi
}

cmd=${1:-test}
case "$cmd" in
deps)
	install_deps ;;
i386)
	install_deps; test_i386 ;;
sanitizers)
	install_deps; test_sanitizers ;;
demo)
	install_deps; configure_build
	make -C "$build" --no-print-directory demo ;;
bench)
	install_deps; configure_build
	make -C "$build" --no-print-directory bench ;;
test)
	install_deps; configure_build
	say "host suite: unit tests, man/symbol checks, feature tests"
	status=0
	make -C "$build" -j"$jobs" --no-print-directory check || status=$?
	summarize
	[ "$status" = 0 ] || { echo "host suite failed; see $build/test-suite.log" >&2; exit "$status"; }
	say "VM suite: the testbed kernel under QEMU, then liburing's suite vs an unpatched kernel"
	make -C "$build" --no-print-directory vmcheck ;;
deb)
	case ${2:-} in
	"" | --install-test) ;;
	*) echo "usage: $0 deb [--install-test]" >&2; exit 2 ;;
	esac
	packages=$deb_packages
	install_deps
	deb_build
	if [ "${2:-}" = --install-test ]; then
		deb_install_test
	fi ;;
*)
	echo "usage: $0 demo|test|bench|deps|deb|i386|sanitizers" >&2; exit 2 ;;
esac
