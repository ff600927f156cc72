#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# liburing's own test suite on the testbed kernel, judged against the same
# suite on an unpatched kernel built from the same tarball and config.
#
# Usage: test/vm/liburing-suite.sh [options]
#
#   --cache-dir DIR      where liburing's source, its build and the baseline
#                        results are kept (default: the kernel cache,
#                        $KMBUF_CACHE_DIR, else ~/.cache/liburing-kmbuf)
#   --workdir DIR        the VM runs' files (default: ./vm-run/liburing)
#   --version VER        liburing's upstream version, from Debian sid's source
#                        packages (default: $KMBUF_LIBURING_VERSION, else 2.15)
#   --timeout SECS       per test on the non-debug kernels (default 60)
#   --debug-timeout SECS per test on the debug kernel (default 240)
#   --debug-tests WHICH  what runs on the debug kernel: 'series' (the tests
#                        in test/vm/liburing-debug.list, which exercise the
#                        code the series changes; the default), 'all', or
#                        'none' (no debug run)
#   --tests "A B ..."    only these tests (names as in liburing's test/, with
#                        or without .t), for a quick look
#   --append ARGS        more kernel command line for the testbed kernel's
#                        runs, e.g. a generation switch; repeat the option to
#                        run the testbed once per value
#   --unpatched-kernel FILE, --testbed-kernel FILE, --debug-kernel FILE
#                        boot these bzImages instead of building the kernels
#   --compare WHICH      which kernels are compared with the unpatched one:
#                        'testbed debug' (the default), 'testbed' or 'debug'
#   --fresh-baseline     run the unpatched kernel again even if its
#                        results for this kernel, build and list are cached
#   --jobs N             parallel make jobs for liburing (default: nproc)
#   fetch | build        only fetch (or fetch and build) liburing, then stop
#
# What it does:
#  1. fetches liburing's source package from Debian sid through a private apt
#     configuration in the cache (a deb-src line for sid, pinned to -1: apt on
#     this machine never sees it, so nothing from sid can be installed), once;
#  2. builds liburing and its test programs on this machine, once per
#     version and compiler;
#  3. builds (or finds cached) three kernels of the same tarball and config:
#     unpatched (kernel/build.sh --unpatched), testbed, and debug (the
#     testbed with KASAN, lockdep, ...);
#  4. runs the suite in the VM on each (test/vm/run.sh, one fresh tmpfs
#     directory per test, loopback up); the unpatched kernel's results are
#     cached, they only change with the kernel, liburing or the runner;
#  5. compares the testbed and the debug kernel with the unpatched one: a
#     test that passes there must pass, a test that skips there must skip or
#     pass, and no test may draw a kernel report (on the debug kernel: KASAN,
#     lockdep, ...). A difference is a regression: it is tried once more
#     and, if it differs again, fails the run with the test's output. The
#     tests that fail on both kernels are listed with their reason.
#
# Exit status: 0 without regressions, 1 with, 2 on a usage error.

set -eu

# The braces make bash read the whole script before running it.
{

script_dir=$(cd "$(dirname "$0")" && pwd)
script_path="$script_dir/$(basename "$0")"
top_srcdir=$(cd "$script_dir/../.." && pwd)

cache_dir=${KMBUF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/liburing-kmbuf}
workdir=
version=${KMBUF_LIBURING_VERSION:-2.15}
timeout=60
debug_timeout=240
debug_tests=series
only_tests=
appends=()
fresh_baseline=0
k_unpatched='' k_testbed='' k_debug=''
compare_kernels="testbed debug"
jobs=${KMBUF_JOBS:-$(nproc)}
stop_after=
notes_file=$script_dir/liburing-suite.notes
debug_list_file=$script_dir/liburing-debug.list

msg() { printf '[liburing] %s\n' "$*" >&2; }
die() { printf '[liburing] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '/^# Usage:/,/^# What it does:/p' "$script_path" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit "$1"
}
need_arg() { [ "$1" -ge 2 ] || usage 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--cache-dir) need_arg $#; cache_dir=$2; shift ;;
	--workdir) need_arg $#; workdir=$2; shift ;;
	--version) need_arg $#; version=$2; shift ;;
	--timeout) need_arg $#; timeout=$2; shift ;;
	--debug-timeout) need_arg $#; debug_timeout=$2; shift ;;
	--debug-tests) need_arg $#; debug_tests=$2; shift ;;
	--tests) need_arg $#; only_tests=$2; shift ;;
	--append) need_arg $#; appends+=("$2"); shift ;;
	--fresh-baseline) fresh_baseline=1 ;;
	--unpatched-kernel) need_arg $#; k_unpatched=$2; shift ;;
	--testbed-kernel) need_arg $#; k_testbed=$2; shift ;;
	--debug-kernel) need_arg $#; k_debug=$2; shift ;;
	--compare) need_arg $#; compare_kernels=$2; shift ;;
	--jobs|-j) need_arg $#; jobs=$2; shift ;;
	fetch|build) stop_after=$1 ;;
	-h|--help) usage 0 ;;
	*) printf 'unknown argument: %s\n' "$1" >&2; usage 2 ;;
	esac
	shift
done
case "$debug_tests" in
series|all|none) ;;
*) printf -- '--debug-tests wants series, all or none, not %s\n' "$debug_tests" >&2; usage 2 ;;
esac
for n in "$timeout" "$debug_timeout" "$jobs"; do
	case "$n" in
	''|*[!0-9]*) printf 'not a number: %s\n' "$n" >&2; usage 2 ;;
	esac
done
[ ${#appends[@]} -gt 0 ] || appends=("")
do_testbed=0 do_debug=0
for k in $compare_kernels; do
	case "$k" in
	testbed) do_testbed=1 ;;
	debug) do_debug=1 ;;
	*) printf -- '--compare wants testbed and/or debug, not %s\n' "$k" >&2; usage 2 ;;
	esac
done
[ "$do_debug" = 1 ] || debug_tests=none
for f in "$k_unpatched" "$k_testbed" "$k_debug"; do
	[ -z "$f" ] || [ -f "$f" ] || die "kernel $f not found"
done

workdir=${workdir:-$(pwd)/vm-run/liburing}
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
lib_cache=$cache_dir/liburing
mkdir -p "$lib_cache"

start_time=$(date +%s)
elapsed() {
	local s=$(($(date +%s) - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}
# step timings for the report: "label<TAB>time"
timings=()
step_t0=0
step_begin() { step_t0=$(date +%s); }
step_end() { timings+=("$(printf '%s\t%s' "$1" "$(elapsed "$step_t0")")"); }

for tool in apt-get apt-cache dpkg dpkg-source gcc g++ make sha256sum flock; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' is missing (tools/run.sh deps installs it)"
done

# One liburing job at a time per cache (fetch and build).
exec 8>"$lib_cache/.lock"
if ! flock -n 8; then
	msg "waiting for another liburing-suite run using $lib_cache ..."
	flock 8
fi

# ---- 1. liburing's source, from Debian sid's source packages ----
# A private apt configuration: its own sources (deb-src for sid only), state
# and cache under $lib_cache/apt, and a pin of -1 for sid besides. The
# machine's apt configuration is not touched, so no binary package from sid
# is ever known to it, let alone installed or upgraded.
apt_dir=$lib_cache/apt
apt_opts=(
	-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
	-o "Dir::Etc::Preferences=$apt_dir/preferences"
	-o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root"
	-o "Acquire::Languages=none"
	-o "Debug::NoLocking=1"
)
setup_apt() {
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/preferences.d" \
		"$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	cat >"$apt_dir/sources.list" <<-'EOF'
	# liburing-kmbuf: liburing's source package for its test suite.
	# Source packages only, and only through this private configuration.
	deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
	EOF
	cat >"$apt_dir/preferences" <<-'EOF'
	# Never install or upgrade anything from sid.
	Package: *
	Pin: release n=sid
	Pin-Priority: -1
	EOF
}

# The newest cached source tree of $version, if any.
cached_source() {
	local d best=
	for d in "$lib_cache"/src-*; do
		[ -f "$d/.kmbuf-fetched" ] || continue
		case "$(cat "$d/.kmbuf-fetched")" in
		"$version"|"$version"-*) ;;
		*) continue ;;
		esac
		if [ -z "$best" ] || dpkg --compare-versions "$(cat "$d/.kmbuf-fetched")" gt "$(cat "$best/.kmbuf-fetched")"; then
			best=$d
		fi
	done
	printf '%s' "$best"
}

step_begin
src=$(cached_source)
if [ -n "$src" ]; then
	debver=$(cat "$src/.kmbuf-fetched")
	msg "liburing $debver source: cached ($src)"
else
	setup_apt
	msg "fetching the list of sid's source packages (private apt state in $apt_dir)"
	apt-get "${apt_opts[@]}" -q update </dev/null >"$lib_cache/apt-update.log" 2>&1 || {
		cat "$lib_cache/apt-update.log" >&2
		die "apt-get update for sid's source packages failed"
	}
	versions=$(apt-cache "${apt_opts[@]}" showsrc liburing 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
	[ -n "$versions" ] || die "sid has no source package liburing"
	debver=
	for v in $versions; do
		case "$v" in
		"$version"-*) ;;
		*) continue ;;
		esac
		if [ -z "$debver" ] || dpkg --compare-versions "$v" gt "$debver"; then
			debver=$v
		fi
	done
	[ -n "$debver" ] || die "sid has liburing $(printf '%s ' "$versions" | tr '\n' ' ')but not $version; pick one with --version (or KMBUF_LIBURING_VERSION)"
	msg "fetching liburing $debver source from sid"
	rm -rf "$lib_cache/fetch.tmp"
	mkdir -p "$lib_cache/fetch.tmp"
	(cd "$lib_cache/fetch.tmp" && apt-get "${apt_opts[@]}" -q source --only-source "liburing=$debver") \
		</dev/null >"$lib_cache/apt-source.log" 2>&1 || {
		cat "$lib_cache/apt-source.log" >&2
		die "apt-get source liburing=$debver failed"
	}
	top=$(find "$lib_cache/fetch.tmp" -mindepth 1 -maxdepth 1 -type d -name 'liburing-*' | head -n 1)
	if [ -z "$top" ] || [ ! -f "$top/test/Makefile" ]; then
		die "unexpected layout of liburing's source package"
	fi
	src=$lib_cache/src-$debver
	rm -rf "$src"
	mv "$top" "$src"
	# keep the .dsc and tarballs beside it, for reference; they are small
	mkdir -p "$lib_cache/pkg-$debver"
	find "$lib_cache/fetch.tmp" -maxdepth 1 -type f -exec mv {} "$lib_cache/pkg-$debver/" \;
	rm -rf "$lib_cache/fetch.tmp"
	# the index of sid's sources (25 MB) is not needed again
	rm -rf "$apt_dir/lists" "$apt_dir/cache"
	printf '%s\n' "$debver" >"$src/.kmbuf-fetched"
	msg "liburing $debver source in $src"
fi
step_end "fetch liburing $debver"
[ "$stop_after" != fetch ] || exit 0

# ---- 2. liburing and its tests, built on this machine ----
# In a copy of the source, keyed by the version, the compilers and this
# function, so a change to any of them builds anew.
build_liburing() {
	local dir=$1 log=$2
	(
		cd "$dir"
		./configure --cc=gcc --cxx=g++
		make -j"$jobs" -C src
		make -j"$jobs" -C test
	) >"$log" 2>&1 </dev/null
}
build_key=$(
	{
		printf 'liburing %s\n' "$debver"
		gcc --version | head -n 1
		g++ --version | head -n 1
		declare -f build_liburing
	} | sha256sum | cut -c1-16
)
lib_build=$lib_cache/build-$debver-$build_key
step_begin
if [ -f "$lib_build/.kmbuf-built" ]; then
	msg "liburing $debver tests: cached ($lib_build)"
else
	msg "building liburing $debver and its tests with -j$jobs (log: $lib_build.tmp/kmbuf-build.log)"
	rm -rf "$lib_build.tmp"
	cp -a "$src" "$lib_build.tmp"
	t0=$(date +%s)
	build_liburing "$lib_build.tmp" "$lib_build.tmp/kmbuf-build.log" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if [ $((($(date +%s) - t0) % 30)) -lt 2 ]; then
			msg "build: $(elapsed "$t0") so far, $(find "$lib_build.tmp/test" -name '*.t' | wc -l) test programs"
		fi
	done
	if ! wait "$pid"; then
		tail -n 40 "$lib_build.tmp/kmbuf-build.log" >&2
		die "building liburing $debver failed (log: $lib_build.tmp/kmbuf-build.log)"
	fi
	rm -rf "$lib_build"
	mv "$lib_build.tmp" "$lib_build"
	: >"$lib_build/.kmbuf-built"
	msg "built liburing $debver in $(elapsed "$t0"): $(find "$lib_build/test" -maxdepth 1 -name '*.t' | wc -l) test programs"
fi
step_end "build liburing tests"
flock -u 8
[ "$stop_after" != build ] || exit 0

# ---- the lists of tests ----
all_tests=()
while IFS= read -r t; do
	all_tests+=("$t")
done < <(cd "$lib_build/test" && LC_ALL=C find . -maxdepth 1 -name '*.t' -type f -printf '%f\n' | LC_ALL=C sort)
[ ${#all_tests[@]} -gt 0 ] || die "no test programs in $lib_build/test"

have_test() {
	local t
	for t in "${all_tests[@]}"; do
		[ "$t" != "$1" ] || return 0
	done
	return 1
}

normal_tests=()
if [ -n "$only_tests" ]; then
	for t in $only_tests; do
		t=${t%.t}.t
		have_test "$t" || die "liburing $debver has no test $t"
		normal_tests+=("$t")
	done
else
	normal_tests=("${all_tests[@]}")
fi

debug_sel=()
case "$debug_tests" in
none) ;;
all) debug_sel=("${normal_tests[@]}") ;;
series)
	[ -f "$debug_list_file" ] || die "$debug_list_file is missing"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		for t in $line; do
			t=${t%.t}.t
			if ! have_test "$t"; then
				msg "warning: the debug list names $t, which liburing $debver does not have"
				continue
			fi
			if [ -n "$only_tests" ]; then
				case " ${normal_tests[*]} " in *" $t "*) ;; *) continue ;; esac
			fi
			debug_sel+=("$t")
		done
	done <"$debug_list_file"
	;;
esac

# ---- 3. kernels ----
# build_kernel VAR WHAT BUILD-OPTION...: the bzImage's path into VAR
# (unless one was given)
build_kernel() {
	local var=$1 what=$2 path
	shift 2
	if [ -n "${!var}" ]; then
		msg "kernel: $what: ${!var} (given)"
		return 0
	fi
	step_begin
	msg "kernel: $what"
	path=$("$top_srcdir/kernel/build.sh" "$@") || die "building the $what kernel failed"
	step_end "kernel $what"
	printf -v "$var" '%s' "$path"
}
build_kernel k_unpatched unpatched --unpatched
[ "$do_testbed" = 0 ] || build_kernel k_testbed testbed
if [ ${#debug_sel[@]} -gt 0 ]; then
	build_kernel k_debug debug --debug
fi

# ---- 4. runs ----
# run_suite LABEL KERNEL TIMEOUT DIR APPEND TEST...: one VM boot, results in
# DIR/results.tsv, outputs in DIR/out/<test>.out.
run_suite() {
	local label=$1 kernel=$2 tmo=$3 dir=$4 app=$5 total
	shift 5
	mkdir -p "$dir"
	printf '%s\n' "$@" >"$dir/list"
	# every test may use its whole timeout; boot and slack on top; but a VM
	# that hangs for good must not take the whole of CI's time
	total=$((300 + $# * tmo))
	[ "$total" -le 3600 ] || total=3600
	rm -rf "$dir/out" "$dir/results.tsv"
	"$script_dir/run.sh" --kernel "$kernel" --label "$label" \
		--builddir "$lib_build/test" --list "$dir/list" --workdir "$dir/vm" \
		--timeout "$tmo" --total-timeout "$total" --allow-skip --quiet \
		${app:+--append "$app"} \
		--results "$dir/results.tsv" --output-dir "$dir/out" >"$dir/run.log" 2> >(tee "$dir/progress.log" >&2) ||
		true
	[ -f "$dir/results.tsv" ] || {
		tail -n 30 "$dir/progress.log" "$dir/run.log" >&2
		die "the $label run produced no results (log: $dir/run.log)"
	}
	msg "$label: $(tail -n 1 "$dir/run.log") in $(awk '/^VM run: / { print $3 }' "$dir/run.log" | tr -d ';')"
}

# The unpatched kernel's results are cached: they change only with the
# kernel, the build of the tests, the list, the timeout and the VM's /init
# (run.sh's own changes are about reporting; --fresh-baseline if not).
# run_baseline VAR LABEL KERNEL TIMEOUT TEST...: the results' directory into VAR
run_baseline() {
	local var=$1 label=$2 kernel=$3 tmo=$4 key dir
	shift 4
	key=$(
		{
			printf '%s\n%s\n%s\n' "$kernel" "$lib_build" "$tmo"
			printf '%s\n' "$@"
			cat "$script_dir/init"
		} | sha256sum | cut -c1-16
	)
	dir=$lib_cache/baseline-$label-$key
	if [ "$fresh_baseline" = 0 ] && [ -f "$dir/results.tsv" ]; then
		msg "$label: cached results ($dir)"
	else
		rm -rf "$dir"
		run_suite "$label" "$kernel" "$tmo" "$dir.tmp" "" "$@"
		rm -rf "$dir.tmp/vm"
		mv "$dir.tmp" "$dir"
	fi
	printf -v "$var" '%s' "$dir"
}

# ---- 5. comparison ----
# The results of the runs, by "<results dir>|<test>".
declare -A RESULT NOTE
load_results() {
	local dir=$1 name r n
	while IFS=$'\t' read -r name r _ n; do
		RESULT[$dir|$name]=$r
		NOTE[$dir|$name]=$n
	done <"$dir/results.tsv"
}
result_of() { printf '%s' "${RESULT[$1|$2]:-MISSING}"; }
note_of() { printf '%s' "${NOTE[$1|$2]:-}"; }
# a short reason for a failure: the kernel report, the timeout, or the last
# lines of the test's own output
reason_of() {
	local dir=$1 t=$2 r n out
	r=$(result_of "$dir" "$t")
	n=$(note_of "$dir" "$t")
	case "$n" in kernel:*) printf '%s' "$n"; return ;; esac
	if [ "$r" = TIMEOUT ]; then
		printf 'timed out'
		return
	fi
	out=$(grep -a -v -E '^\[ *[0-9]+\.[0-9]+\] ' "$dir/out/$t.out" 2>/dev/null | grep -a -v '^[[:space:]]*$' | tail -n 2 | tr '\n' ' ' | cut -c1-150 || true)
	printf '%s%s' "${n:+$n: }" "${out:-no output}"
}
annotation_of() {
	[ -f "$notes_file" ] || return 0
	awk -v t="${1%.t}" '$1 == t { $1 = ""; sub(/^ +/, ""); print; exit }' "$notes_file"
}

# compare NAME BASEDIR TESTDIR: fills the globals below
regressions=()   # "name<TAB>kernel label"
summary_rows=()
both_fail_rows=()
better_rows=()
report_rows=()
compare() {
	local name=$1 base=$2 test=$3 t b r bn rn k kb kt
	local -A count
	for k in bPASS bSKIP bFAIL bTIMEOUT bMISSING tPASS tSKIP tFAIL tTIMEOUT tMISSING; do
		count[$k]=0
	done
	shift 3
	for t in "$@"; do
		b=$(result_of "$base" "$t")
		r=$(result_of "$test" "$t")
		kb=b$b kt=t$r
		count[$kb]=$((${count[$kb]} + 1))
		count[$kt]=$((${count[$kt]} + 1))
		bn=$(note_of "$base" "$t")
		rn=$(note_of "$test" "$t")
		if [ "${rn#kernel:}" != "$rn" ] && [ "${bn#kernel:}" = "$bn" ]; then
			regressions+=("$(printf '%s\t%s\t%s' "$t" "$name" "kernel report")")
		elif [ "$b" = PASS ] && [ "$r" != PASS ]; then
			regressions+=("$(printf '%s\t%s\t%s' "$t" "$name" "passes unpatched, $r on the testbed")")
		elif [ "$b" = SKIP ] && [ "$r" != SKIP ] && [ "$r" != PASS ]; then
			regressions+=("$(printf '%s\t%s\t%s' "$t" "$name" "skips unpatched, $r on the testbed")")
		elif [ "$b" != PASS ] && [ "$b" != SKIP ]; then
			if [ "$r" = PASS ]; then
				better_rows+=("$(printf '%s\t%s\t%s' "$name" "$t" "$b unpatched")")
			else
				both_fail_rows+=("$(printf '%s\t%s\t%s/%s\t%s' "$name" "$t" "$b" "$r" "$(reason_of "$base" "$t")")")
			fi
		fi
		if [ "${rn#kernel:}" != "$rn" ] || [ "${bn#kernel:}" != "$bn" ]; then
			report_rows+=("$(printf '%s\t%s\tunpatched: %s; testbed: %s' "$name" "$t" "${bn:-none}" "${rn:-none}")")
		fi
	done
	summary_rows+=("$(printf '%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d' "$name" "$#" \
		"${count[bPASS]}" "${count[bSKIP]}" "$((count[bFAIL] + count[bMISSING]))" "${count[bTIMEOUT]}" \
		"${count[tPASS]}" "${count[tSKIP]}" "$((count[tFAIL] + count[tMISSING]))" "${count[tTIMEOUT]}")")
}

# The VM's own problems (no finish, a report outside any test) fail the run.
vm_problems=()
check_vm() {
	local label=$1 dir=$2 p
	while IFS= read -r p; do
		vm_problems+=("$label: $p")
	done < <(awk -F'\t' '$1 == "(vm)" { print $4 }' "$dir/results.tsv")
}

runs=()   # "name<TAB>basedir<TAB>testdir" for the report
# run_against BASEDIR NAME KERNEL TIMEOUT APPEND TEST...: run the tests on
# KERNEL and compare them with the unpatched kernel's results in BASEDIR
run_against() {
	local base=$1 name=$2 tkernel=$3 tmo=$4 app=$5 test
	shift 5
	step_begin
	test=$workdir/$name${app:+-$(printf '%s' "$app" | tr -c 'A-Za-z0-9=.\n' '_')}
	run_suite "$name${app:+ [$app]}" "$tkernel" "$tmo" "$test" "$app" "$@"
	step_end "suite on $name${app:+ [$app]} (${#}x, ${tmo}s)"
	load_results "$test"
	check_vm "$name" "$test"

	# a regression is tried once more, on its own, before it counts
	local before=${#regressions[@]} retry=() i
	compare "$name${app:+ [$app]}" "$base" "$test" "$@"
	for ((i = before; i < ${#regressions[@]}; i++)); do
		retry+=("$(printf '%s' "${regressions[$i]}" | cut -f1)")
	done
	if [ ${#retry[@]} -gt 0 ]; then
		msg "$name: ${#retry[@]} test(s) differ from the unpatched kernel; trying them again: ${retry[*]}"
		step_begin
		run_suite "$name-retry" "$tkernel" "$tmo" "$test-retry" "$app" "${retry[@]}"
		step_end "retry on $name (${#retry[@]}x)"
		load_results "$test-retry"
		local kept=() flaky=() row t r
		for ((i = before; i < ${#regressions[@]}; i++)); do
			row=${regressions[$i]}
			t=${row%%$'\t'*}
			r=$(result_of "$test-retry" "$t")
			if [ "$r" = PASS ] || { [ "$r" = SKIP ] && [ "$(result_of "$base" "$t")" = SKIP ]; }; then
				flaky+=("$(printf '%s\t%s\t%s' "$name" "$t" "${row#*$'\t'*$'\t'}; $r when tried again")")
			else
				kept+=("$row")
			fi
		done
		regressions=(${regressions[@]+"${regressions[@]:0:$before}"} ${kept[@]+"${kept[@]}"})
		flaky_rows+=(${flaky[@]+"${flaky[@]}"})
	fi
	runs+=("$(printf '%s\t%s\t%s' "$name${app:+ [$app]}" "$base" "$test")")
}
flaky_rows=()

msg "liburing $debver: ${#normal_tests[@]} tests (${timeout}s each) on the unpatched and testbed kernels, ${#debug_sel[@]} of them (${debug_timeout}s each) on the debug kernel"
step_begin
baseline=''
run_baseline baseline unpatched "$k_unpatched" "$timeout" "${normal_tests[@]}"
step_end "suite on unpatched (${#normal_tests[@]}x, ${timeout}s)"
load_results "$baseline"
check_vm unpatched "$baseline"
if [ "$do_testbed" = 1 ]; then
	for app in "${appends[@]}"; do
		run_against "$baseline" testbed "$k_testbed" "$timeout" "$app" "${normal_tests[@]}"
	done
fi
# The debug kernel is held to the same expectation: the unpatched kernel's
# results (without KASAN and lockdep: what mainline does, not how fast).
if [ ${#debug_sel[@]} -gt 0 ]; then
	for app in "${appends[@]}"; do
		run_against "$baseline" debug "$k_debug" "$debug_timeout" "$app" "${debug_sel[@]}"
	done
fi

# ---- report ----
echo
echo "==== liburing $debver test suite: unpatched 6.12 vs the testbed (same tarball and config) ===="
printf '%-24s %5s | %-23s | %-23s\n' "" "" "unpatched" "testbed"
printf '%-24s %5s | %5s %5s %5s %5s | %5s %5s %5s %5s\n' kernel tests pass skip fail tmout pass skip fail tmout
for row in "${summary_rows[@]}"; do
	IFS=$'\t' read -r n c bp bs bf bt tp ts tf tt <<<"$row"
	printf '%-24s %5s | %5s %5s %5s %5s | %5s %5s %5s %5s\n' "$n" "$c" "$bp" "$bs" "$bf" "$bt" "$tp" "$ts" "$tf" "$tt"
done

if [ ${#both_fail_rows[@]} -gt 0 ]; then
	echo
	echo "---- failing on both kernels (not the series; the reason from the unpatched run) ----"
	for row in "${both_fail_rows[@]}"; do
		IFS=$'\t' read -r n t rr reason <<<"$row"
		a=$(annotation_of "$t")
		printf '%-10s %-28s %-17s %s\n' "$n" "$t" "$rr" "${a:-$reason}"
	done
fi
if [ ${#better_rows[@]} -gt 0 ]; then
	echo
	echo "---- failing on the unpatched kernel only ----"
	for row in "${better_rows[@]}"; do
		IFS=$'\t' read -r n t rr <<<"$row"
		printf '%-10s %-28s %s, passes on the testbed\n' "$n" "$t" "$rr"
	done
fi
if [ ${#report_rows[@]} -gt 0 ]; then
	echo
	echo "---- kernel reports ----"
	for row in "${report_rows[@]}"; do
		IFS=$'\t' read -r n t what <<<"$row"
		printf '%-10s %-28s %s\n' "$n" "$t" "$what"
	done
fi
if [ ${#flaky_rows[@]} -gt 0 ]; then
	echo
	echo "---- differed once, then behaved as on the unpatched kernel (flaky: watch these) ----"
	for row in "${flaky_rows[@]}"; do
		IFS=$'\t' read -r n t what <<<"$row"
		printf '%-10s %-28s %s\n' "$n" "$t" "$what"
	done
fi

show_output() {
	if [ -s "$1" ]; then
		cat "$1"
	else
		echo "(no output)"
	fi
}
if [ ${#regressions[@]} -gt 0 ]; then
	echo
	echo "---- REGRESSIONS: differ from the unpatched kernel, twice ----"
	for row in "${regressions[@]}"; do
		IFS=$'\t' read -r t n what <<<"$row"
		for r in "${runs[@]}"; do
			IFS=$'\t' read -r rn rb rt <<<"$r"
			[ "$rn" = "$n" ] || continue
			printf '\n==== %s on %s: %s ====\n' "$t" "$n" "$what"
			printf -- '-- output on the testbed kernel:\n'
			show_output "$rt/out/$t.out"
			printf -- '-- output on the unpatched kernel (%s):\n' "$(result_of "$rb" "$t")"
			show_output "$rb/out/$t.out"
		done
	done
fi
if [ ${#vm_problems[@]} -gt 0 ]; then
	echo
	echo "---- VM problems ----"
	printf '%s\n' "${vm_problems[@]}"
fi

echo
echo "---- time ----"
for row in "${timings[@]}"; do
	IFS=$'\t' read -r what t <<<"$row"
	printf '%-44s %s\n' "$what" "$t"
done
printf '%-44s %s\n' "total" "$(elapsed "$start_time")"

echo
if [ ${#regressions[@]} -gt 0 ] || [ ${#vm_problems[@]} -gt 0 ]; then
	echo "liburing suite: ${#regressions[@]} regression(s) against the unpatched kernel${vm_problems[0]+, ${#vm_problems[@]} VM problem(s)}"
else
	echo "liburing suite: no regression against the unpatched kernel"
fi
# The closing line counts the testbed kernels' results: a regression is a
# failure; a skip, and a failure the unpatched kernel has too, is a skip.
passed=0 skipped=0
for row in "${summary_rows[@]}"; do
	IFS=$'\t' read -r n c bp bs bf bt tp ts tf tt <<<"$row"
	passed=$((passed + tp))
	skipped=$((skipped + ts + tf + tt))
done
failed=$((${#regressions[@]} + ${#vm_problems[@]}))
skipped=$((skipped - ${#regressions[@]}))
[ "$skipped" -ge 0 ] || skipped=0
echo "(passed: on the testbed kernels; skipped: skips and the failures the unpatched kernel shares)"
printf 'liburing: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
exit $?
}
