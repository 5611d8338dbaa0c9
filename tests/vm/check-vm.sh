#!/bin/bash
# tests/vm/check-vm.sh: the privileged suites on a second, stock kernel.
#
#   tests/vm/check-vm.sh                    every tests/vm/guest-*.sh
#   tests/vm/check-vm.sh --run SCRIPT ARGS  one script in the VM, console shown
#
# Prepares tests/vm/cache/ once (prep.sh: packages, the Debian kernel behind
# linux-image-amd64, the initramfs), boots that kernel under qemu with this
# machine's / as a read-only root, and runs the suites built in $BUILD
# (built on the host: `make BUILD=... tests` first). Each guest suite gets
# its own boot (a crash or hang costs that suite only), VM_PARALLEL of them
# at a time. Exit status: 0 when every guest suite passed; a guest that
# crashes or hangs is a failure, and its console log is shown. Prints the
# suites' PASS/FAIL/SKIP lines.
#
# Adding a suite: drop an executable tests/vm/guest-NAME.sh (see runner.sh
# for what it gets).
# Env: BUILD (build), VM_SUITES (regex of suite names), VM_PARALLEL (2),
# VM_TIMEOUT (540 s per boot), VM_SUITE_TIMEOUT (480 s per suite), MEM, SMP,
# VM_KEEP=1 (keep tests/vm/cache/run-* even when all passed).
set -u
cd "$(dirname "$0")/../.."
SRC=$PWD
BUILD=${BUILD:-build}
MODE=suites SCRIPT= ARGS=()
if [ "${1:-}" = --run ]; then
	MODE=script
	SCRIPT=$(realpath "${2:?usage: check-vm.sh --run SCRIPT [ARGS...]}")
	ARGS=("${@:3}")
elif [ $# -gt 0 ]; then
	echo "usage: tests/vm/check-vm.sh [--run SCRIPT [ARGS...]]" >&2
	exit 2
fi

if [ ! -x "$BUILD/strata" ]; then
	echo "FAIL vm: $BUILD is not built (make BUILD=$BUILD tests)"
	exit 1
fi
if ! tests/vm/prep.sh; then
	echo "FAIL vm: preparing the VM cache failed (tests/vm/prep.sh)"
	exit 1
fi
RUN=$(mktemp -d "$SRC/tests/vm/cache/run-XXXXXX")

# write_env OUT SUITES: what runner.sh reads in the guest
write_env() {
	{
		printf 'STRATA_SRC=%q\nBUILD=%q\nVM_MODE=%q\nVM_SCRIPT=%q\n' "$SRC" "$BUILD" "$MODE" "$SCRIPT"
		printf 'VM_SUITES=%q\nVM_SUITE_TIMEOUT=%q\n' "$2" "${VM_SUITE_TIMEOUT:-480}"
		printf 'VM_ARGS=('
		[ ${#ARGS[@]} -eq 0 ] || printf '%q ' "${ARGS[@]}"
		printf ')\n'
	} >"$1/env"
}

if [ "$MODE" = script ]; then
	write_env "$RUN" .
	t0=$SECONDS
	VM_ECHO=${VM_ECHO:-1} tests/vm/boot.sh tests/vm/runner.sh "$RUN"
	rc=$?
	# what the script left for the host in $VM_OUT/report
	[ -f "$RUN/report" ] && cat "$RUN/report"
	echo "vm: kernel $(cat tests/vm/cache/kver), $((SECONDS - t0)) s, exit $rc"
	if [ $rc != 0 ] && [ "${VM_ECHO:-1}" != 1 ]; then
		echo "vm: console log ($RUN/console.log), last lines:"
		tail -n 60 "$RUN/console.log"
	fi
	[ $rc = 0 ] && [ "${VM_KEEP:-0}" != 1 ] && rm -rf "$RUN"
	exit $rc
fi

# Longest first (as long as the last run took; new suites first), so that
# the parallel boots end close together.
DUR=tests/vm/cache/durations
suites=()
while read -r _ n; do
	suites+=("$n")
done < <(for s in tests/vm/guest-*.sh; do
	[ -f "$s" ] || continue
	n=$(basename "$s" .sh)
	n=${n#guest-}
	[[ $n =~ ${VM_SUITES:-.} ]] || continue
	d=$(awk -v n="$n" '$1 == n {d = $2} END {print d}' "$DUR" 2>/dev/null)
	echo "${d:-999999} $n"
done | sort -rn)
if [ ${#suites[@]} -eq 0 ]; then
	echo "SKIP vm: no guest suite matches VM_SUITES=${VM_SUITES:-.}"
	exit 0
fi

# one boot per suite, VM_PARALLEL at a time (each qemu is one host core)
t0=$SECONDS
for n in "${suites[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "${VM_PARALLEL:-2}" ]; do
		wait -n
	done
	mkdir -p "$RUN/$n"
	write_env "$RUN/$n" "^$n\$"
	(
		tests/vm/boot.sh tests/vm/runner.sh "$RUN/$n"
		echo $? >"$RUN/$n/boot-rc"
	) &
done
wait
echo "vm: kernel $(cat tests/vm/cache/kver), ${#suites[@]} suites, $((SECONDS - t0)) s"

failed=()
for n in "${suites[@]}"; do
	out=$RUN/$n
	log=$out/logs/$n.log
	brc=$(cat "$out/boot-rc" 2>/dev/null || echo 255)
	[ -f "$log" ] && grep -E '^(PASS|FAIL|SKIP)' "$log"
	read -r _ src secs < <(cat "$out/results" 2>/dev/null) || src=
	if [ "$brc" = 255 ] || [ -z "$src" ]; then
		failed+=("$n")
		echo "FAIL vm/$n: the guest crashed or hung (boot exit $brc); console log:"
		sed 's/^/    /' "$out/console.log"
		if [ -f "$log" ]; then
			echo "    --- last lines of the suite's log:"
			tail -n 40 "$log" | sed 's/^/    /'
		fi
	elif [ "$src" = 0 ]; then
		echo "vm/$n: ok (${secs} s)"
		{ grep -v "^$n " "$DUR" 2>/dev/null; echo "$n $secs"; } >"$DUR.tmp" && mv "$DUR.tmp" "$DUR"
	else
		failed+=("$n")
		echo "vm/$n: FAILED, exit $src (${secs} s); last lines of its log:"
		tail -n 60 "$log" | sed 's/^/    /'
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "vm: failed suites: ${failed[*]} (logs kept in $RUN)"
	exit 1
fi
[ "${VM_KEEP:-0}" = 1 ] || rm -rf "$RUN"
exit 0
