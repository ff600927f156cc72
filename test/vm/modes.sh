#!/bin/bash
# SPDX-License-Identifier: MIT OR LGPL-2.1
#
# Run the same programs in the testbed VM once per ABI mode (the kernel's
# generation switches kmbuf.abi= and dmabuf.abi=, doc/abi.md), then print
# one summary that names the mode of every result.
#
# Usage: test/vm/modes.sh [options] -- [test/vm/run.sh options and programs]
#
#   --modes "K+D ..."    the modes, each kmbuf.abi+dmabuf.abi (default:
#                        "seed+seed fuse+desc flag+desc": every value of
#                        both switches once, in three boots)
#   --label NAME         names the runs: run.sh gets --label NAME-K+D
#                        (default: vmcheck)
#   --prefer-host        if this machine's kernel has the ABI (the first
#                        program does not exit 77 there), run the programs
#                        here once, in whatever generation it speaks, and
#                        boot no VM (run.sh --prefer-host)
#   --show-output        print every program's output in every mode, not
#                        only the output of the ones that did not pass
#   --results-dir DIR    per mode: DIR/K+D.results (run.sh --results) and
#                        DIR/K+D.out/ (each program's output), and the
#                        summary in DIR/summary.txt (default: ./vm-run/modes)
#
# Everything after -- goes to run.sh for every mode (the kernel, --debug,
# --list, programs, ...); --append is added, with the mode's switches
# after any --append given there. The run fails (exit 1) if any program
# fails in any mode, or skips (unless --allow-skip is among run.sh's
# options), or a VM run reports a problem of its own. The summary is a
# table of program x mode, each mode's counts and VM time, the output of
# every program that did not pass (with its mode), and the closing line
# 'N passed, N failed[, N skipped] in M modes (K+D ...)'.

set -eu

# The braces make bash read the whole script before running it.
{

script_dir=$(cd "$(dirname "$0")" && pwd)
run_sh=$script_dir/run.sh

modes="seed+seed fuse+desc flag+desc"
label=vmcheck
results_dir=
prefer_host=0
show_output=0
run_args=()

usage() {
	sed -n '/^# Usage:/,/^# Everything after/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit "$1"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--modes) [ $# -ge 2 ] || usage 2; modes=$2; shift ;;
	--label) [ $# -ge 2 ] || usage 2; label=$2; shift ;;
	--results-dir) [ $# -ge 2 ] || usage 2; results_dir=$2; shift ;;
	--prefer-host) prefer_host=1 ;;
	--show-output) show_output=1 ;;
	-h|--help) usage 0 ;;
	--) shift; run_args=("$@"); break ;;
	*) printf 'unknown option: %s\n' "$1" >&2; usage 2 ;;
	esac
	shift
done

results_dir=${results_dir:-$(pwd)/vm-run/modes}
mkdir -p "$results_dir"

msg() { printf '[%s] %s\n' "$label" "$*" >&2; }

allow_skip=0
extra_append=
for ((i = 0; i < ${#run_args[@]}; i++)); do
	case "${run_args[$i]}" in
	--allow-skip) allow_skip=1 ;;
	--append) extra_append=${run_args[$((i + 1))]:-} ;;
	--) break ;;
	esac
done

mode_list=()
for m in $modes; do
	case "$m" in
	seed+seed|seed+desc|fuse+seed|fuse+desc|flag+seed|flag+desc) ;;
	*) printf 'mode %s: expected kmbuf.abi+dmabuf.abi, with kmbuf.abi seed|fuse|flag and dmabuf.abi seed|desc\n' "$m" >&2
	   exit 2 ;;
	esac
	mode_list+=("$m")
done
[ ${#mode_list[@]} -gt 0 ] || { echo "no modes given" >&2; exit 2; }

switches() { printf 'kmbuf.abi=%s dmabuf.abi=%s' "${1%+*}" "${1#*+}"; }

if [ "$prefer_host" = 1 ]; then
	rc=0
	"$run_sh" "${run_args[@]}" --label "$label-host" --prefer-host \
		--host-only --show-output || rc=$?
	[ "$rc" -eq 77 ] || exit "$rc"
fi

declare -A vm_time run_rc
n=0
for m in "${mode_list[@]}"; do
	n=$((n + 1))
	res=$results_dir/$m.results
	out=$results_dir/$m.out
	rm -rf "$res" "$out"
	msg "mode $n/${#mode_list[@]}: $(switches "$m")"
	t0=$(date +%s)
	rc=0
	"$run_sh" "${run_args[@]}" --label "$label-$m" --quiet \
		--append "${extra_append:+$extra_append }$(switches "$m")" \
		--results "$res" --output-dir "$out" || rc=$?
	vm_time[$m]=$(($(date +%s) - t0))
	run_rc[$m]=$rc
	if [ ! -f "$res" ]; then
		printf '(vm)\tFAIL\t-\trun.sh exited %s before writing any result\n' "$rc" >"$res"
	fi
done

# ---- summary ----
{
	# programs in the order of the first mode that has them
	declare -A seen result
	programs=()
	for m in "${mode_list[@]}"; do
		while IFS=$'\t' read -r name r _ note; do
			[ -n "$name" ] || continue
			if [ "$name" = "(vm)" ]; then
				name="(vm) $note"
			fi
			if [ -z "${seen[$name]+x}" ]; then
				seen[$name]=1
				programs+=("$name")
			fi
			result[$m/$name]=$r
		done <"$results_dir/$m.results"
	done

	# the output of everything that did not pass (with --show-output,
	# of everything), with its mode
	for name in "${programs[@]}"; do
		for m in "${mode_list[@]}"; do
			r=${result[$m/$name]:-}
			case "$r" in "") continue ;; esac
			[ "$r" != PASS ] || [ "$show_output" = 1 ] || continue
			case "$name" in "(vm)"*) continue ;; esac
			f=$results_dir/$m.out/$name.out
			printf '\n==== %s [%s]: %s ====\n' "$name" "$(switches "$m")" "$r"
			if [ -s "$f" ]; then
				cat "$f"
			else
				echo "(no output)"
			fi
		done
	done

	width=7
	for name in "${programs[@]}"; do
		[ ${#name} -le "$width" ] || width=${#name}
	done
	[ "$width" -le 60 ] || width=60
	printf '\n%-*s' "$width" PROGRAM
	for m in "${mode_list[@]}"; do printf '  %-10s' "$m"; done
	printf '\n'
	for name in "${programs[@]}"; do
		printf '%-*s' "$width" "$(printf '%s' "$name" | cut -c1-60)"
		for m in "${mode_list[@]}"; do
			printf '  %-10s' "${result[$m/$name]:--}"
		done
		printf '\n'
	done

	printf '\n%-10s %-34s %5s %5s %5s %7s\n' MODE "KERNEL COMMAND LINE" PASS FAIL SKIP "VM TIME"
	total_pass=0 total_fail=0 total_skip=0
	for m in "${mode_list[@]}"; do
		p=0 f=0 s=0
		for name in "${programs[@]}"; do
			case "${result[$m/$name]:-}" in
			PASS) p=$((p + 1)) ;;
			SKIP) s=$((s + 1)) ;;
			"") ;;
			*) f=$((f + 1)) ;;
			esac
		done
		# run.sh failed without saying why in its results
		if [ "$f" -eq 0 ] && [ "${run_rc[$m]}" -ne 0 ] &&
		   { [ "$s" -eq 0 ] || [ "$allow_skip" = 1 ]; }; then
			f=1
		fi
		printf '%-10s %-34s %5d %5d %5d %6ds\n' "$m" "$(switches "$m")" "$p" "$f" "$s" "${vm_time[$m]}"
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		total_skip=$((total_skip + s))
	done
	printf '\nconsole logs, outputs and results: %s\n' "$results_dir"
	if [ "$total_skip" -gt 0 ] && [ "$allow_skip" = 0 ]; then
		printf 'PROBLEM: %d skip(s): the testbed kernel must support everything in every mode\n' "$total_skip"
	fi
	if [ "$total_skip" -gt 0 ]; then
		printf '%d passed, %d failed, %d skipped in %d modes (%s)\n' \
			"$total_pass" "$total_fail" "$total_skip" "${#mode_list[@]}" "${mode_list[*]}"
	else
		printf '%d passed, %d failed in %d modes (%s)\n' \
			"$total_pass" "$total_fail" "${#mode_list[@]}" "${mode_list[*]}"
	fi
	[ "$total_fail" -eq 0 ] && { [ "$total_skip" -eq 0 ] || [ "$allow_skip" = 1 ]; }
} | tee "$results_dir/summary.txt"
exit "${PIPESTATUS[0]}"
}
