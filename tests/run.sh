#!/bin/bash
# Runs every test suite and prints a summary line per suite and a total.
#   unit         build/tests/test_*            (Check)
#   conformance  build/tests/conformance, once per driver (tests/conformance/run.sh)
#   integration  tests/integration/*.sh        (real kernel, real mounts)
#   vm           tests/vm/check-vm.sh          (skipped when STRATA_SKIP_VM=1)
# A suite's skipped tests print "SKIP <name>: <reason>"; they are counted, not passed.
# Env: BUILD (build dir), STRATA_TESTS (regex of suite names to run).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export STRATA_BIN="$PWD/$BUILD/strata" STRATA_BUILD="$PWD/$BUILD"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-600}
only=${STRATA_TESTS:-.}
logdir=$(mktemp -d /tmp/strata-testlogs-XXXXXX)
total_fail=0 total_skip=0 suites=0 failed_suites=()

run_suite() { # name command...
	local name=$1; shift
	[[ $name =~ $only ]] || return 0
	suites=$((suites + 1))
	local log="$logdir/$name.log" t0=$SECONDS
	mkdir -p "$(dirname "$log")" # suite names have a slash (unit/x, conformance/y)
	"$@" >"$log" 2>&1
	local rc=$?
	local skips; skips=$(grep -c '^SKIP' "$log")
	local summary; summary=$(grep -E '^[0-9]+%: Checks: |^# (pass|PASS)' "$log" | tail -n 1)
	[ -n "$summary" ] || summary=$(grep -E '^(PASS|FAIL|ok|not ok)' "$log" | awk '/^(PASS|ok)/{p++} /^(FAIL|not ok)/{f++} END{printf "%d passed, %d failed", p, f}')
	total_skip=$((total_skip + skips))
	if [ $rc -ne 0 ]; then
		total_fail=$((total_fail + 1)); failed_suites+=("$name")
		printf '%-34s FAIL (exit %d, %ds): %s, %d skipped\n' "$name" $rc $((SECONDS - t0)) "$summary" "$skips"
		echo "----- $name output (last 60 lines) -----"; tail -n 60 "$log"; echo "-----"
	else
		printf '%-34s ok   (%ds): %s, %d skipped\n' "$name" $((SECONDS - t0)) "$summary" "$skips"
	fi
	grep '^SKIP' "$log" | sed 's/^/    /'
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && run_suite "unit/$(basename "$t")" "$t"
done
for d in $(tests/conformance/drivers.sh); do
	run_suite "conformance/$d" tests/conformance/run.sh "$d"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] && [ "$(basename "$t")" != lib.sh ] && run_suite "integration/$(basename "$t" .sh)" bash "$t"
done
if [ "${STRATA_SKIP_VM:-0}" != 1 ] && [ -x tests/vm/check-vm.sh ]; then
	run_suite "vm" tests/vm/check-vm.sh
fi

echo "== $suites suites, $total_fail failed, $total_skip tests skipped (logs: $logdir)"
[ $total_fail -eq 0 ] || { echo "failed: ${failed_suites[*]}"; exit 1; }
