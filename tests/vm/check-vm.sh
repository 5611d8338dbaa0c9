#!/bin/bash
# tests/vm/check-vm.sh: the privileged suites on a second, stock kernel.
#
#   tests/vm/check-vm.sh                    every tests/vm/guest-*.sh, one boot
#   tests/vm/check-vm.sh --run SCRIPT ARGS  one script in the VM, console shown
#
# Prepares tests/vm/cache/ once (prep.sh: packages, the Debian kernel behind
# linux-image-amd64, the initramfs), boots that kernel under qemu with this
# machine's / as a read-only root, and runs the suites built in $BUILD
# (built on the host: `make BUILD=... tests` first). Exit status: 0 when
# every guest suite passed; a guest that crashes or hangs is a failure, and
# the console log is shown. Prints the suites' PASS/FAIL/SKIP lines.
#
# Adding a suite: drop tests/vm/guest-NAME.sh (see runner.sh for what it
# gets); it runs in the same boot as the others.
# Env: BUILD (build), VM_SUITES (regex of suite names), VM_TIMEOUT (540 s for
# the whole boot), VM_SUITE_TIMEOUT (420 s per suite), MEM, SMP,
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

OUT=$(mktemp -d "$SRC/tests/vm/cache/run-XXXXXX")
{
	printf 'STRATA_SRC=%q\nBUILD=%q\nVM_MODE=%q\nVM_SCRIPT=%q\n' "$SRC" "$BUILD" "$MODE" "$SCRIPT"
	printf 'VM_SUITES=%q\nVM_SUITE_TIMEOUT=%q\n' "${VM_SUITES:-.}" "${VM_SUITE_TIMEOUT:-420}"
	printf 'VM_ARGS=('
	[ ${#ARGS[@]} -eq 0 ] || printf '%q ' "${ARGS[@]}"
	printf ')\n'
} >"$OUT/env"

t0=$SECONDS
[ "$MODE" = script ] && export VM_ECHO=1
tests/vm/boot.sh tests/vm/runner.sh "$OUT"
rc=$?
echo "vm: kernel $(cat tests/vm/cache/kver), $((SECONDS - t0)) s for boot and run, exit $rc"
[ "$MODE" = script ] && { [ $rc = 0 ] && [ "${VM_KEEP:-0}" != 1 ] && rm -rf "$OUT"; exit $rc; }

# The suites' lines, from their logs (the console has them too, mixed with
# kernel messages).
failed=()
while read -r name src secs; do
	log=$OUT/logs/$name.log
	grep -E '^(PASS|FAIL|SKIP)' "$log"
	if [ "$src" = 0 ]; then
		echo "vm/$name: ok (${secs} s)"
	else
		failed+=("$name")
		echo "vm/$name: FAILED, exit $src (${secs} s); last lines of its log:"
		tail -n 40 "$log" | sed 's/^/    /'
	fi
done < <(cat "$OUT/results" 2>/dev/null)

if [ $rc = 255 ]; then
	echo "FAIL vm: the guest crashed or hung; console log ($OUT/console.log):"
	sed 's/^/    /' "$OUT/console.log"
	for log in "$OUT"/logs/*.log; do
		[ -f "$log" ] || continue
		grep -q "^$(basename "$log" .log) " "$OUT/results" 2>/dev/null && continue
		echo "    --- unfinished suite $(basename "$log" .log), last lines:"
		tail -n 40 "$log" | sed 's/^/    /'
	done
	exit 1
fi
if [ $rc != 0 ]; then
	[ ${#failed[@]} -gt 0 ] || { echo "FAIL vm: the guest runner failed; console log:"; sed 's/^/    /' "$OUT/console.log"; }
	echo "vm: failed suites: ${failed[*]} (logs kept in $OUT)"
	exit 1
fi
[ "${VM_KEEP:-0}" = 1 ] || rm -rf "$OUT"
exit 0
