#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# One entry point for a fresh Debian 12 machine:
#   tools/run.sh demo   the main job: the examples against the testbed kernel
#   tools/run.sh test   unit tests, host feature tests, then the VM suite
#   tools/run.sh bench  the benchmark in the testbed VM
#   tools/run.sh deps   only install the Debian packages the project needs
# Each step installs what is missing, bootstraps and configures a build
# directory (KMBUF_BUILD_DIR, default ./build) and is safe to repeat.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${KMBUF_BUILD_DIR:-$top/build}
jobs=$(nproc)

# Library build, unit tests, man lint, and the testbed kernel + VM.
packages="autoconf automake libtool pkg-config gcc g++ make libc6-dev
	liburing-dev libcmocka-dev mandoc
	linux-source-6.12 xz-utils patch flex bison bc libelf-dev libssl-dev
	qemu-system-x86 busybox-static cpio"

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

cmd=${1:-test}
case "$cmd" in
deps)
	install_deps ;;
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
	say "VM suite: the testbed kernel under QEMU"
	make -C "$build" --no-print-directory vmcheck ;;
*)
	echo "usage: $0 demo|test|bench|deps" >&2; exit 2 ;;
esac
