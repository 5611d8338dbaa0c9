#!/bin/bash
# Guest suite: the overlay driver's unit tests on the stock Debian kernel. Its overlayfs
# has no "lowerdir+" (6.8+), so every mount goes through one page of mount(2)
# data with short relative names, 500-layer chains included; and it has
# quota support, which the host kernel lacks, so the project-quota cases
# (loop-mounted xfs with pquota, ext4 with prjquota) run here.
# Prints PASS/FAIL/SKIP per case (from Check's verbose output).
set -u
: "${STRATA_BUILD:?run by tests/vm/runner.sh}"
fail=0

# NAME BINARY: run a Check program, one PASS/FAIL/SKIP line per case (from
# its TAP log; a case that printed SKIP is counted as skipped, not passed)
check_suite() {
	local name=$1 bin=$2
	if [ ! -x "$bin" ]; then
		echo "SKIP overlay/$name: $bin is not built"
		return
	fi
	local tap out rc
	tap=$(mktemp)
	out=$(CK_TAP_LOG_FILE_NAME=$tap "$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	local skipped
	skipped=$(printf '%s\n' "$out" | sed -n 's/^SKIP \([^: ]*\):.*/\1/p' | sed 's/_fn$//')
	while IFS= read -r line; do
		local t=${line#*- } test
		test=$(printf '%s' "$t" | cut -d: -f3)
		case $line in
		"ok "*) printf '%s\n' "$skipped" | grep -qx "$test" || echo "PASS overlay/$test" ;;
		"not ok "*) echo "FAIL overlay/$test: $(printf '%s' "$t" | cut -d: -f4-)" ;;
		esac
	done <"$tap"
	rm -f "$tap"
	printf '%s\n' "$out" | grep '^SKIP'
	[ $rc = 0 ] || { echo "FAIL overlay/$name: exit $rc"; fail=1; }
}

modprobe overlay 2>/dev/null
modprobe xfs 2>/dev/null
modprobe ext4 2>/dev/null
echo "kernel $(uname -r); overlay parameters:"
grep -H . /sys/module/overlay/parameters/* 2>/dev/null | sed 's/^/  /'

check_suite unit "$STRATA_BUILD/tests/test_overlay"
check_suite quota "$STRATA_BUILD/tests/test_overlay_quota"
# (the conformance suite and tests/integration/overlay.sh on this kernel: guest-kernel61.sh)
exit $fail
