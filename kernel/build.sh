#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the liburing-kmbuf testbed kernel (an x86_64 bzImage) from the Debian
# linux-source-6.12 tarball plus the series in kernel/patches/ (which creates
# the test driver; kernel/testdrv/ holds the copy the tests include).
#
# Usage: kernel/build.sh [--debug] [--unpatched] [--cache-dir DIR] [--jobs N] [--force]
#
#   --debug          also merge kernel/config/debug.config (KASAN, lockdep, ...)
#   --unpatched      the same tarball and config without the series (no patches,
#                    no test driver): the mainline reference that liburing's
#                    suite is compared against; built from the pristine source
#                    in its own build directory
#   --cache-dir DIR  where sources, build trees and finished kernels are kept
#                    (default: $KMBUF_CACHE_DIR, else
#                    ${XDG_CACHE_HOME:-$HOME/.cache}/liburing-kmbuf)
#   --jobs N         parallel make jobs (default: $KMBUF_JOBS, else nproc)
#   --force          rebuild even if a cached kernel matches
#
# Environment: KMBUF_KERNEL_TARBALL (default /usr/src/linux-source-6.12.tar.xz).
#
# Progress goes to stderr; the only thing printed on stdout is the absolute
# path of the bzImage, so callers can do kernel=$(kernel/build.sh).
# The finished kernel is cached under a key hashed from everything that goes
# into it (tarball, patches, test driver, config fragments, this script,
# compiler), so an unchanged second run returns at once.

set -eu

# The braces make bash read the whole script before running it, so editing
# it (git pull, a rebase) during a long run cannot change what runs.
{

script_dir=$(cd "$(dirname "$0")" && pwd)
script_path="$script_dir/$(basename "$0")"
patch_dir="$script_dir/patches"
testdrv_dir="$script_dir/testdrv"
config_dir="$script_dir/config"

debug=0
unpatched=0
force=0
jobs=${KMBUF_JOBS:-$(nproc)}
cache_dir=${KMBUF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/liburing-kmbuf}
tarball=${KMBUF_KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
progress_interval=30

msg() { printf '[kernel] %s\n' "$*" >&2; }
die() { printf '[kernel] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '/^# Usage:/,/^# Environment:/p' "$script_path" | sed 's/^# \{0,1\}//' >&2
	exit "$1"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--debug) debug=1 ;;
	--unpatched) unpatched=1 ;;
	--force) force=1 ;;
	--cache-dir) [ $# -ge 2 ] || usage 2; cache_dir=$2; shift ;;
	--cache-dir=*) cache_dir=${1#*=} ;;
	--jobs|-j) [ $# -ge 2 ] || usage 2; jobs=$2; shift ;;
	--jobs=*) jobs=${1#*=} ;;
	-h|--help) usage 0 ;;
	*) printf '[kernel] unknown argument: %s\n' "$1" >&2; usage 2 ;;
	esac
	shift
done

case "$jobs" in
''|*[!0-9]*) die "--jobs wants a number, got '$jobs'" ;;
esac

[ -f "$tarball" ] || die "kernel source $tarball not found (apt-get install linux-source-6.12, or set KMBUF_KERNEL_TARBALL)"
for tool in make gcc flex bison bc xz tar patch sha256sum flock perl; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' is missing (needed to build the kernel; tools/run.sh deps installs it)"
done

if [ "$debug" = 1 ]; then
	variant=debug
	fragments=("$config_dir/testbed.config" "$config_dir/debug.config")
else
	variant=testbed
	fragments=("$config_dir/testbed.config")
fi
for f in "${fragments[@]}"; do
	[ -f "$f" ] || die "config fragment $f is missing"
done
if [ "$unpatched" = 1 ]; then
	case "$variant" in
	debug) variant="unpatched-debug" ;;
	*) variant=unpatched ;;
	esac
fi

# The patch series, in file-name order (the glob sorts in the C locale);
# 0000 is the cover letter, which carries no diff.
patches=()
testdrv_files=()
if [ "$unpatched" = 0 ] && [ -d "$patch_dir" ]; then
	while IFS= read -r p; do
		patches+=("$p")
	done < <(LC_ALL=C find "$patch_dir" -maxdepth 1 -name '*.patch' ! -name '0000-*' -type f | LC_ALL=C sort)
fi
if [ "$unpatched" = 0 ] && [ -d "$testdrv_dir" ]; then
	while IFS= read -r f; do
		testdrv_files+=("$f")
	done < <(cd "$testdrv_dir" && LC_ALL=C find . -type f | LC_ALL=C sort)
fi

# Identity of the tarball without reading 150 MB on every run.
tar_id="$(basename "$tarball") $(stat -c '%s %Y' "$tarball")"
if command -v dpkg-query >/dev/null 2>&1; then
	tar_id="$tar_id $(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)"
fi
tar_key=$(printf '%s' "$tar_id" | sha256sum | cut -c1-16)

# Hash of the series (patches + test driver): decides when the source tree
# must be reset and re-patched.
series_key=$(
	{
		for p in ${patches[@]+"${patches[@]}"}; do
			printf 'patch %s\n' "$(basename "$p")"
			cat "$p"
		done
		for f in ${testdrv_files[@]+"${testdrv_files[@]}"}; do
			printf 'testdrv %s\n' "$f"
			cat "$testdrv_dir/$f"
		done
	} | sha256sum | cut -c1-16
)

# Hash of everything that goes into the finished kernel.
kernel_key=$(
	{
		printf 'tarball %s\nseries %s\nvariant %s\n' "$tar_id" "$series_key" "$variant"
		gcc --version | head -n1
		for f in "${fragments[@]}"; do
			printf 'fragment %s\n' "$(basename "$f")"
			cat "$f"
		done
		printf 'script\n'
		cat "$script_path"
	} | sha256sum | cut -c1-16
)

out_dir="$cache_dir/kernels/$variant-$kernel_key"
if [ "$force" = 0 ] && [ -f "$out_dir/bzImage" ]; then
	msg "cached $variant kernel (key $kernel_key)"
	printf '%s\n' "$out_dir/bzImage"
	exit 0
fi

mkdir -p "$cache_dir"
exec 9>"$cache_dir/.lock"
if ! flock -n 9; then
	msg "waiting for another kernel build using $cache_dir ..."
	flock 9
fi
# Another build may have produced it while we waited.
if [ "$force" = 0 ] && [ -f "$out_dir/bzImage" ]; then
	msg "cached $variant kernel (key $kernel_key)"
	printf '%s\n' "$out_dir/bzImage"
	exit 0
fi

start_time=$(date +%s)

elapsed() {
	local s=$(($(date +%s) - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# run_logged LABEL LOGFILE CMD...: run CMD with its output in LOGFILE, print a
# progress line every $progress_interval seconds, and the tail of the log if
# it fails.
# The job runs in its own process group (setsid), so that an interrupted or
# killed build.sh takes the whole make with it instead of leaving it running.
job_pid=
# shellcheck disable=SC2317 # called from the traps
stop_job() {
	if [ -n "$job_pid" ]; then
		kill -TERM -- "-$job_pid" 2>/dev/null || true
		job_pid=
	fi
}
trap stop_job EXIT
trap 'stop_job; trap - INT; kill -INT $$' INT
trap 'stop_job; exit 143' TERM HUP

run_logged() {
	local label=$1 log=$2 t0 pid rc last now
	shift 2
	t0=$(date +%s)
	last=$t0
	setsid --wait "$@" >>"$log" 2>&1 </dev/null &
	pid=$!
	job_pid=$pid
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		now=$(date +%s)
		if [ $((now - last)) -ge "$progress_interval" ]; then
			last=$now
			msg "$label: $(elapsed "$t0") so far, $(progress_note "$log")"
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	job_pid=
	if [ "$rc" -ne 0 ]; then
		msg "$label FAILED (exit $rc) after $(elapsed "$t0"); log: $log"
		msg "---- first errors ----"
		grep -E -m 20 '(error|Error|ERROR)[: ]' "$log" >&2 || true
		msg "---- last 40 lines ----"
		tail -n 40 "$log" >&2
		exit 1
	fi
	msg "$label done in $(elapsed "$t0")"
}

progress_note() {
	local n lastline
	n=$(grep -c -E '^  (CC|AS|LD|AR)' "$1" || true)
	lastline=$(grep -E '^  [A-Z]' "$1" | tail -n 1 | sed 's/^ *//' || true)
	printf '%s objects, last: %s' "$n" "${lastline:-(nothing yet)}"
}

# ---- 1. pristine source, extracted once per tarball ----
src_base="$cache_dir/src-$tar_key"
pristine="$src_base/pristine"
if [ ! -f "$pristine/.kmbuf-extracted" ]; then
	msg "extracting $tarball into $pristine (once per tarball)"
	rm -rf "$pristine" "$src_base/extract.tmp"
	mkdir -p "$src_base/extract.tmp"
	: >"$src_base/extract.log"
	run_logged "extract" "$src_base/extract.log" \
		tar -xJf "$tarball" -C "$src_base/extract.tmp"
	top=$(find "$src_base/extract.tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	if [ -z "$top" ] || [ ! -f "$top/Makefile" ]; then
		die "unexpected layout in $tarball"
	fi
	mv "$top" "$pristine"
	rmdir "$src_base/extract.tmp"
	printf '%s\n' "$tar_id" >"$pristine/.kmbuf-extracted"
fi

# ---- 2. patched tree: pristine hard-linked, patched files replaced ----
# (--unpatched builds the pristine source itself, with its own O= directory,
# and leaves the patched tree as it is.)
# GNU patch writes a new file and renames it over the old one, so patching
# never modifies the pristine copy through a hard link. Files that a previous
# series touched are restored with a fresh mtime, so incremental builds in
# the persistent O= directories notice both added and removed changes.
tree="$src_base/tree"
touched="$tree/.kmbuf-touched"
if [ "$unpatched" = 1 ]; then
	tree=$pristine
	msg "building the unpatched source (no series, no test driver)"
elif [ ! -f "$tree/.kmbuf-linked" ]; then
	msg "creating the patch tree (hard links to the pristine source)"
	rm -rf "$tree"
	cp -al "$pristine" "$tree"
	rm -f "$tree/.kmbuf-extracted"
	: >"$touched"
	: >"$tree/.kmbuf-linked"
fi

# Files a patch creates, modifies or deletes (-p1 names from its headers).
patch_files() {
	awk '
		/^--- / { old = $2; getline; if ($0 ~ /^\+\+\+ /) { print old; print $2 } }
	' "$1" | sed -e 's/\t.*//' -e '/^\/dev\/null$/d' -e 's|^[^/]*/||' | sort -u
}

if [ "$unpatched" = 0 ] && [ "$(cat "$tree/.kmbuf-series" 2>/dev/null || true)" != "$series_key" ]; then
	rm -f "$tree/.kmbuf-series"
	if [ -s "$touched" ]; then
		msg "resetting $(sort -u "$touched" | wc -l) files touched by the previous series"
		sort -u "$touched" | while IFS= read -r f; do
			rm -f "$tree/$f"
			if [ -e "$pristine/$f" ]; then
				mkdir -p "$(dirname "$tree/$f")"
				cp "$pristine/$f" "$tree/$f"
			fi
		done
		find "$tree/drivers/misc" -depth -type d -empty -delete 2>/dev/null || true
		: >"$touched"
	fi
	if [ ${#patches[@]} -eq 0 ]; then
		msg "no patches in $patch_dir: building the unpatched source"
	fi
	for p in ${patches[@]+"${patches[@]}"}; do
		patch_files "$p" >>"$touched"
		if ! out=$(cd "$tree" && patch -p1 --forward --batch --no-backup-if-mismatch --reject-file=- <"$p" 2>&1); then
			printf '%s\n' "$out" >&2
			die "patch $(basename "$p") does not apply to $(basename "$tarball") (see above); fix the series"
		fi
		msg "applied $(basename "$p")"
	done
	# The driver comes in with the series; kernel/testdrv/ is the copy
	# the tests include, and the two must not drift apart.
	if [ ${#patches[@]} -gt 0 ] &&
		! out=$(diff -r "$testdrv_dir" "$tree/drivers/misc/kmbuf_testdrv" 2>&1); then
		printf '%s\n' "$out" >&2
		die "kernel/testdrv/ differs from the driver the series creates (see above); update one from the other"
	fi
	printf '%s\n' "$series_key" >"$tree/.kmbuf-series"
fi

# ---- 3. configure in a persistent per-variant build directory ----
build_dir="$src_base/build-$variant"
mkdir -p "$build_dir"
log="$build_dir/kmbuf-build.log"
: >"$log"
kmake=(make -C "$tree" O="$build_dir" ARCH=x86_64)

msg "configuring $variant kernel: tinyconfig + $(for f in "${fragments[@]}"; do basename "$f"; done | tr '\n' ' ')"
run_logged "tinyconfig" "$log" "${kmake[@]}" tinyconfig
run_logged "merge_config" "$log" \
	env -C "$tree" scripts/kconfig/merge_config.sh -m -O "$build_dir" "$build_dir/.config" "${fragments[@]}"
run_logged "olddefconfig" "$log" "${kmake[@]}" olddefconfig

# Every option a fragment asks for must be in the final .config: Kconfig
# silently drops options whose dependencies are missing, and a dropped option
# is how tests end up skipping.
# Without the series, the options that only the series defines (the test
# driver's) cannot be set: they are left out of the check, by name.
series_only=()
if [ "$unpatched" = 1 ]; then
	while IFS= read -r sym; do
		if ! grep -rqE --include='Kconfig*' "^[[:space:]]*(menu)?config ${sym#CONFIG_}\$" "$tree"; then
			series_only+=("$sym")
		fi
	done < <(cat "${fragments[@]}" | sed -n -E 's/^(CONFIG_[A-Za-z0-9_]+)=.*/\1/p')
fi
is_series_only() {
	local s
	for s in ${series_only[@]+"${series_only[@]}"}; do
		[ "$s" != "$1" ] || return 0
	done
	return 1
}
missing=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		sym=${line%%=*}
		is_series_only "$sym" && continue
		if ! grep -qxF -- "$line" "$build_dir/.config"; then
			got=$(grep -E "^$sym=|^# $sym is not set" "$build_dir/.config" || true)
			missing+=("$line (got: ${got:-absent})")
		fi
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -qE "^$sym=" "$build_dir/.config"; then
			missing+=("$line (got: $(grep -E "^$sym=" "$build_dir/.config"))")
		fi
		;;
	esac
done < <(cat "${fragments[@]}")
if [ ${#missing[@]} -gt 0 ]; then
	msg "these requested options did not make it into $build_dir/.config:"
	for m in "${missing[@]}"; do
		printf '[kernel]   %s\n' "$m" >&2
	done
	die "${#missing[@]} config option(s) dropped; fix kernel/config/*.config or the series (a missing Kconfig hook?)"
fi
if [ ${#series_only[@]} -gt 0 ]; then
	msg "left out, defined only by the series: ${series_only[*]}"
fi
msg "all $(($(cat "${fragments[@]}" | grep -c -E '^CONFIG_|^# CONFIG_.* is not set') - ${#series_only[@]})) requested options are set"

# ---- 4. build ----
msg "building bzImage with -j$jobs (log: $log)"
run_logged "make bzImage" "$log" "${kmake[@]}" -j"$jobs" bzImage

mkdir -p "$out_dir.tmp"
cp "$build_dir/arch/x86/boot/bzImage" "$build_dir/.config" "$out_dir.tmp/"
cp "$log" "$out_dir.tmp/build.log"
printf 'tarball: %s\nseries: %s\npatches:%s\n' "$tar_id" "$series_key" \
	"$(for p in ${patches[@]+"${patches[@]}"}; do printf ' %s' "$(basename "$p")"; done)" \
	>"$out_dir.tmp/info"
rm -rf "$out_dir"
mv "$out_dir.tmp" "$out_dir"
msg "$variant kernel built in $(elapsed "$start_time"): $out_dir/bzImage"
printf '%s\n' "$out_dir/bzImage"
exit $?
}
