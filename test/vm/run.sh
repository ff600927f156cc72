#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Run programs (the test suite, the examples, the benchmarks) inside QEMU on
# the liburing-kmbuf testbed kernel, and judge the run.
#
# Usage: test/vm/run.sh [options] [PROGRAM...]
#
#   --kernel FILE        bzImage to boot (default: build it with kernel/build.sh)
#   --debug              build/boot the debug kernel (KASAN, lockdep, ...)
#   --no-debug           the testbed kernel (the default; undoes --debug)
#   --list FILE          more programs, one per line ('#' comments allowed)
#   --builddir DIR       relative program names are looked up here first
#                        (default: the current directory) ...
#   --srcdir DIR         ... then here (default: the builddir)
#   --workdir DIR        initramfs, NVMe image and console log go here
#                        (default: <builddir>/vm-run/<label>)
#   --label NAME         names the run in messages (default: vmcheck)
#   --timeout SECS       per program (default: 120, 600 with --debug)
#   --total-timeout SECS whole VM run (default: 120 + every program's timeout,
#                        at most 1800)
#   --show-output        print every program's output after the run, not only
#                        the output of the failing ones (demo, bench)
#   --host-only          with --prefer-host: exit 77 instead of booting the
#                        VM when this machine's kernel lacks the ABI
#   --prefer-host        run the programs on this machine if its kernel has
#                        the ABI (the first program does not exit 77); boot
#                        the VM only otherwise
#   --allow-skip         exit code 77 is a skip, not a failure (default: a
#                        failure: the testbed kernel must support everything)
#   --append ARGS        more kernel command line (e.g. a generation switch)
#   --results FILE       write one line per program: name, result (PASS, SKIP,
#                        FAIL, TIMEOUT, MISSING), seconds, note (tab-separated);
#                        problems of the VM itself as name '(vm)'
#   --output-dir DIR     write each program's output to DIR/<name>.out
#   --quiet              print no program output and no table, only the
#                        closing lines (for callers that report themselves);
#                        progress: what fails, and a status line every 30 s
#
# Program names are paths relative to the builddir (test/kmbuf-register,
# examples/kmbuf-demo) or absolute. Libtool wrapper scripts are resolved to
# the real binary in .libs/; dynamically linked programs get the shared
# libraries ldd finds copied into the initramfs: the system's at the same
# paths, the build's own into /kmbuf/lib (the guest mounts tmpfs over /tmp
# and /run, where a build directory may well live).
#
# The run fails (exit 1) on any program that fails, skips (exit 77), times out
# or reports no result, on a VM that does not finish, and on any kernel
# WARNING/BUG/KASAN/lockdep/Oops/panic report in the console log. It ends with
# a summary table and the line 'N passed, N failed[, N skipped]'.

set -eu

# The braces make bash read the whole script before running it, so editing
# it (git pull, a rebase) during a long run cannot change what runs.
{

script_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$script_dir/../.." && pwd)

kernel=
debug=0
builddir=$(pwd)
srcdir=
workdir=
label=vmcheck
timeout=
total_timeout=
show_output=0
prefer_host=0
host_only=0
allow_skip=0
append=
results_file=
output_dir=
quiet=0
programs=()

msg() { printf '[%s] %s\n' "$label" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$label" "$*" >&2; exit 1; }

usage() {
	sed -n '/^# Usage:/,/^# Program names/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit "$1"
}

need_arg() { [ "$1" -ge 2 ] || usage 2; }

read_list() {
	local line
	[ -f "$1" ] || die "program list $1 not found"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		for word in $line; do
			programs+=("$word")
		done
	done <"$1"
}

lists=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) need_arg $#; kernel=$2; shift ;;
	--debug) debug=1 ;;
	--no-debug) debug=0 ;;
	--list) need_arg $#; lists+=("$2"); shift ;;
	--builddir) need_arg $#; builddir=$2; shift ;;
	--srcdir) need_arg $#; srcdir=$2; shift ;;
	--workdir) need_arg $#; workdir=$2; shift ;;
	--label) need_arg $#; label=$2; shift ;;
	--timeout) need_arg $#; timeout=$2; shift ;;
	--total-timeout) need_arg $#; total_timeout=$2; shift ;;
	--show-output) show_output=1 ;;
	--prefer-host) prefer_host=1 ;;
	--host-only) host_only=1 ;;
	--allow-skip) allow_skip=1 ;;
	--append) need_arg $#; append=$2; shift ;;
	--results) need_arg $#; results_file=$2; shift ;;
	--output-dir) need_arg $#; output_dir=$2; shift ;;
	--quiet) quiet=1 ;;
	-h|--help) usage 0 ;;
	--) shift; programs+=("$@"); break ;;
	-*) printf 'unknown option: %s\n' "$1" >&2; usage 2 ;;
	*) programs+=("$1") ;;
	esac
	shift
done

builddir=$(cd "$builddir" && pwd)
srcdir=$(cd "${srcdir:-$builddir}" && pwd)
for l in ${lists[@]+"${lists[@]}"}; do
	read_list "$l"
done
[ ${#programs[@]} -gt 0 ] || die "no programs to run (give them as arguments or with --list)"

if [ -z "$timeout" ]; then
	if [ "$debug" = 1 ]; then timeout=600; else timeout=120; fi
fi
if [ -z "$total_timeout" ]; then
	total_timeout=$((120 + ${#programs[@]} * timeout))
	[ "$total_timeout" -le 1800 ] || total_timeout=1800
fi
workdir=${workdir:-$builddir/vm-run/$label}

# ---- locate every program ----
# Prints the file to copy for program $1: the real ELF behind a libtool
# wrapper, or the file itself.
resolve_program() {
	local name=$1 path dir base
	case "$name" in
	/*) path=$name ;;
	*)
		if [ -e "$builddir/$name" ]; then
			path=$builddir/$name
		elif [ -e "$srcdir/$name" ]; then
			path=$srcdir/$name
		else
			return 1
		fi
		;;
	esac
	if head -c 4 "$path" | grep -q 'ELF'; then
		printf '%s\n' "$path"
		return 0
	fi
	if head -n 40 "$path" | grep -qi 'generated by .*libtool'; then
		dir=$(dirname "$path")
		base=$(basename "$path")
		for cand in "$dir/.libs/$base" "$dir/.libs/lt-$base"; do
			if [ -f "$cand" ]; then
				printf '%s\n' "$cand"
				return 0
			fi
		done
		printf '[%s] libtool wrapper %s has no binary in .libs/\n' "$label" "$path" >&2
		return 1
	fi
	printf '%s\n' "$path"
}

declare -A real
names=()
for name in "${programs[@]}"; do
	[ -z "${real[$name]+x}" ] || continue
	r=$(resolve_program "$name") || die "program $name not found in $builddir or $srcdir (was it built?)"
	real[$name]=$r
	names+=("$name")
done

# The directories holding libtool's uninstalled libraries (.libs).
libpath=$(find "$builddir" -maxdepth 4 -type d -name .libs 2>/dev/null | LC_ALL=C sort | tr '\n' ':')
libpath=${libpath%:}

# ---- on the host, if its kernel has the ABI ----
if [ "$prefer_host" = 1 ]; then
	first=${names[0]}
	msg "trying $first on this machine's kernel ($(uname -r))"
	rc=0
	LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		timeout -s KILL "$timeout" "${real[$first]}" </dev/null || rc=$?
	if [ "$rc" -eq 77 ]; then
		if [ "$host_only" = 1 ]; then
			msg "this kernel lacks the ABI (exit 77)"
			exit 77
		fi
		msg "this kernel lacks the ABI (exit 77): using the testbed kernel in QEMU"
	else
		passed=0 failed=0
		for name in "${names[@]}"; do
			if [ "$name" != "$first" ]; then
				msg "running $name"
				rc=0
				LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
					timeout -s KILL "$timeout" "${real[$name]}" </dev/null || rc=$?
			fi
			if [ "$rc" -eq 0 ]; then
				passed=$((passed + 1))
			else
				msg "$name failed (exit $rc)"
				failed=$((failed + 1))
			fi
		done
		printf '%d passed, %d failed\n' "$passed" "$failed"
		[ "$failed" -eq 0 ]
		exit
	fi
fi

# ---- tools ----
for tool in qemu-system-x86_64 cpio timeout ldd head awk; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' is missing (tools/run.sh deps installs it)"
done
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
		busybox=$b
		break
	fi
done
[ -n "$busybox" ] || die "a static busybox is needed at /bin/busybox (apt-get install busybox-static)"

# ---- kernel ----
if [ -z "$kernel" ]; then
	if [ "$debug" = 1 ]; then
		kernel=$("$top_srcdir/kernel/build.sh" --debug)
	else
		kernel=$("$top_srcdir/kernel/build.sh")
	fi
fi
[ -f "$kernel" ] || die "kernel $kernel not found"

# ---- initramfs ----
mkdir -p "$workdir"
root=$workdir/root
rm -rf "$root"
rm -f "$workdir/initramfs.cpio" "$workdir/nvme.img" "$workdir/nvme-far.img" "$workdir/console.log" \
	"$workdir/console.txt" "$workdir/kernel-reports.txt"
mkdir -p "$root/bin" "$root/etc" "$root/kmbuf/progs" "$root/kmbuf/lib"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$script_dir/init" "$root/init"
chmod 755 "$root/init"

# Copy $1 to the same absolute path inside the initramfs.
copy_mirrored() {
	[ -e "$root$1" ] && return 0
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

for name in "${names[@]}"; do
	src=${real[$name]}
	dst=$root/kmbuf/progs/$name
	mkdir -p "$(dirname "$dst")"
	cp -L "$src" "$dst"
	chmod 755 "$dst"
	printf '%s\n' "$name" >>"$root/kmbuf/list"
	if ! head -c 4 "$src" | grep -q 'ELF'; then
		if head -n 1 "$src" | grep -q '^#!' && ! head -n 1 "$src" | grep -q '^#! */bin/sh'; then
			msg "warning: $name is a script for $(head -n 1 "$src"); the VM has only busybox sh"
		fi
		continue
	fi
	deps=$(LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$src" 2>&1 || true)
	case "$deps" in
	*"not a dynamic executable"*|*"statically linked"*) continue ;;
	esac
	if printf '%s\n' "$deps" | grep -q 'not found'; then
		printf '%s\n' "$deps" >&2
		die "$name needs a shared library that ldd cannot find"
	fi
	while IFS= read -r lib; do
		case "$lib" in
		# the build's own libraries: where the guest mounts nothing
		"$builddir"/*) [ -e "$root/kmbuf/lib/${lib##*/}" ] ||
			cp -L "$lib" "$root/kmbuf/lib/" ;;
		*) copy_mirrored "$lib" ;;
		esac
	done < <(printf '%s\n' "$deps" | awk '
		$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }')
done

cat >"$root/kmbuf/settings" <<EOF
KMBUF_TIMEOUT=$timeout
KMBUF_LIBPATH=/kmbuf/lib
EOF

initramfs=$workdir/initramfs.cpio
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) >"$initramfs"
msg "initramfs: ${#names[@]} programs, $(du -k "$initramfs" | cut -f1) KiB"

nvme=$workdir/nvme.img
# random contents, so that what the programs read is not just zeros
head -c 64M /dev/urandom >"$nvme"
# A second, small controller with no memory buffer: a device that cannot
# reach the first one's controller memory by P2P DMA (QEMU's host bridge is
# not one the kernel trusts to route it).
nvme_far=$workdir/nvme-far.img
head -c 1M /dev/urandom >"$nvme_far"

# ---- boot ----
log=$workdir/console.log
: >"$log"
msg "booting $kernel${append:+ ($append)} (timeout ${timeout}s per program, ${total_timeout}s in all)"
msg "console log: $log"
t0=$(date +%s)
qemu_rc=0
timeout -k 10 "$total_timeout" qemu-system-x86_64 \
	-accel tcg -m 2G -smp 2 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$initramfs" \
	-append "console=ttyS0 ignore_loglevel panic=-1 rdinit=/init nvme.use_cmb_sqes=0${append:+ $append}" \
	-drive "file=$nvme,if=none,id=nvm,format=raw" \
	-device nvme,serial=kmbuf0,drive=nvm,cmb_size_mb=16 \
	-drive "file=$nvme_far,if=none,id=far,format=raw" \
	-device nvme,serial=kmbuf-far,drive=far \
	</dev/null >"$log" 2>&1 &
qemu_pid=$!
# timeout(1) passes TERM on to QEMU: an interrupted run leaves no VM behind.
trap 'kill "$qemu_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The console log without CRs, each KMBUF- marker at the start of a line
# (a program's output need not end with a newline).
# Bytes, not characters: a program may print binary data (LC_ALL=C, no NULs).
normalize() {
	LC_ALL=C tr -d '\r\000' <"$1" |
		LC_ALL=C sed -E 's/(.)(KMBUF-(BOOTED|START|RESULT|DONE)( |$))/\1\n\2/'
}

# Progress: a line per finished program, and one every 30 s while waiting.
shown=0
last=$t0
while kill -0 "$qemu_pid" 2>/dev/null; do
	sleep 2
	n=$(normalize "$log" | grep -c '^KMBUF-RESULT ' || true)
	if [ "$n" -gt "$shown" ]; then
		normalize "$log" | grep -a '^KMBUF-RESULT ' | sed -n "$((shown + 1)),${n}p" |
			while read -r _ name rc secs; do
				# --quiet: only what did not pass or skip
				if [ "$quiet" = 1 ] && { [ "$rc" = 0 ] || [ "$rc" = 77 ]; }; then
					continue
				fi
				printf '[%s] %4ds  %-8s %s (%s)\n' "$label" "$(($(date +%s) - t0))" \
					"$(case "$rc" in 0) echo ok ;; 77) echo SKIP ;; timeout) echo TIMEOUT ;; *) echo "FAIL($rc)" ;; esac)" \
					"$name" "$secs" >&2
			done
		shown=$n
		[ "$quiet" = 1 ] || last=$(date +%s)
	fi
	if [ $(($(date +%s) - last)) -ge 30 ]; then
		last=$(date +%s)
		cur=$(normalize "$log" | grep -a '^KMBUF-START ' | tail -n 1 | cut -d' ' -f2)
		if grep -q 'KMBUF-BOOTED' "$log"; then
			msg "$((last - t0))s: $shown/${#names[@]} done${cur:+, running $cur}"
		else
			msg "$((last - t0))s: booting"
		fi
	fi
done
wait "$qemu_pid" || qemu_rc=$?
trap - EXIT INT TERM HUP
run_time=$(($(date +%s) - t0))

# ---- judge ----
clean=$workdir/console.txt
normalize "$log" >"$clean"

problems=()
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	problems+=("the VM did not finish within ${total_timeout}s (killed)")
elif [ "$qemu_rc" -ne 0 ]; then
	problems+=("qemu exited with status $qemu_rc")
fi
grep -q '^KMBUF-BOOTED' "$clean" || problems+=("the VM never reached /init")
grep -q '^KMBUF-DONE' "$clean" || problems+=("the VM stopped before running every program (no KMBUF-DONE)")

# Kernel reports, attributed to the program running when they appeared.
# Kernel lines carry a [ seconds.micros] stamp (PRINTK_TIME), possibly after
# program output on the same line; program output alone is never matched.
kernel_re='WARNING:|BUG:|KASAN:|UBSAN:|possible circular locking|possible recursive locking|lockdep|locking correctness validator|Kernel panic|Oops|general protection fault|kernel BUG at|Call Trace:|INFO: task .* blocked|detected stall'
awk -v re="$kernel_re" '
	/^KMBUF-START / { cur = $2; next }
	/^KMBUF-RESULT / { cur = ""; next }
	/\[ *[0-9]+\.[0-9]+\] / {
		line = $0
		sub(/^.*\[ *[0-9]+\.[0-9]+\] /, "", line)
		# the PROVE_RCU boot banner of the debug kernel is no report
		if (line ~ /RCU lockdep checking is enabled/) next
		if (line ~ re) print (cur == "" ? "-" : cur) "\t" line
	}
' "$clean" >"$workdir/kernel-reports.txt"

declare -A result secs note
for name in "${names[@]}"; do
	result[$name]=MISSING
	secs[$name]=-
	note[$name]=
done
while read -r _ name rc t; do
	[ -n "${result[$name]+x}" ] || continue
	case "$rc" in
	0) result[$name]=PASS ;;
	77) result[$name]=SKIP ;;
	timeout) result[$name]=TIMEOUT ;;
	*) result[$name]=FAIL; note[$name]="exit $rc" ;;
	esac
	secs[$name]=$t
done < <(grep -a '^KMBUF-RESULT ' "$clean")

orphan_reports=0
while IFS=$(printf '\t') read -r who what; do
	if [ "$who" != "-" ] && [ -n "${result[$who]+x}" ]; then
		if [ -z "${note[$who]}" ] || [ "${note[$who]#kernel:}" = "${note[$who]}" ]; then
			note[$who]="kernel: $what${note[$who]:+; ${note[$who]}}"
		fi
		case "${result[$who]}" in PASS|SKIP) result[$who]=FAIL ;; esac
	else
		orphan_reports=$((orphan_reports + 1))
	fi
done <"$workdir/kernel-reports.txt"
if [ "$orphan_reports" -gt 0 ]; then
	problems+=("$orphan_reports kernel report line(s) outside any program, e.g. '$(awk -F'\t' '$1 == "-" { print $2; exit }' "$workdir/kernel-reports.txt")'")
fi

# Output of program $1, from the console log.
program_output() {
	awk -v n="$1" '
		$1 == "KMBUF-START" && $2 == n { on = 1; next }
		$1 == "KMBUF-RESULT" && $2 == n { on = 0 }
		on' "$clean"
}

if [ -n "$output_dir" ]; then
	mkdir -p "$output_dir"
	for name in "${names[@]}"; do
		mkdir -p "$(dirname "$output_dir/$name.out")"
		program_output "$name" >"$output_dir/$name.out"
	done
fi

passed=0 failed=0 skipped=0
if [ "$quiet" = 0 ]; then
	for name in "${names[@]}"; do
		r=${result[$name]}
		if [ "$show_output" = 1 ] || [ "$r" != PASS ]; then
			out=$(program_output "$name")
			if [ "$r" = PASS ]; then
				# a passing program's output without the kernel's chatter
				out=$(printf '%s\n' "$out" | grep -a -v -E '^\[ *[0-9]+\.[0-9]+\] ' || true)
			fi
			if [ -n "$out" ]; then
				printf '\n==== %s: %s ====\n%s\n' "$name" "$r" "$out"
			fi
		fi
	done
	printf '\n%-8s %6s  %s\n' RESULT TIME PROGRAM
fi
results_tmp=
if [ -n "$results_file" ]; then
	results_tmp=$results_file.tmp
	: >"$results_tmp"
fi
for name in "${names[@]}"; do
	r=${result[$name]}
	if [ "$quiet" = 0 ]; then
		printf '%-8s %6s  %s%s\n' "$r" "${secs[$name]}" "$name" "${note[$name]:+  ($(printf '%s' "${note[$name]}" | cut -c1-100))}"
	fi
	if [ -n "$results_tmp" ]; then
		printf '%s\t%s\t%s\t%s\n' "$name" "$r" "${secs[$name]}" "${note[$name]}" >>"$results_tmp"
	fi
	case "$r" in
	PASS) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done

for p in ${problems[@]+"${problems[@]}"}; do
	printf '%-8s %6s  %s\n' FAIL - "(vm) $p"
	if [ -n "$results_tmp" ]; then
		printf '(vm)\tFAIL\t-\t%s\n' "$p" >>"$results_tmp"
	fi
	failed=$((failed + 1))
done
if [ -n "$results_tmp" ]; then
	mv "$results_tmp" "$results_file"
fi

printf '\nVM run: %ds; console log: %s\n' "$run_time" "$log"
if [ -s "$workdir/kernel-reports.txt" ]; then
	printf 'kernel reports (%s):\n' "$workdir/kernel-reports.txt"
	head -n 20 "$workdir/kernel-reports.txt" | sed 's/^/  /'
fi
if [ "$skipped" -gt 0 ] && [ "$allow_skip" = 0 ]; then
	printf 'PROBLEM: %d program(s) skipped: the testbed kernel must support everything\n' "$skipped"
fi

if [ "$skipped" -gt 0 ]; then
	printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
else
	printf '%d passed, %d failed\n' "$passed" "$failed"
fi

[ "$failed" -eq 0 ] && { [ "$skipped" -eq 0 ] || [ "$allow_skip" = 1 ]; }
exit $?
}
