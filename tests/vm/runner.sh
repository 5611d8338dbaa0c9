#!/bin/bash
# tests/vm/runner.sh: the first script the guest runs (see boot.sh). It reads
# OUT/env (written by the host: the tree, the build dir, what to run), does
# the guest setup every suite needs, then either runs every
# tests/vm/guest-*.sh (VM_MODE=suites) or one given script (VM_MODE=script).
#
# A guest suite is a bash script that prints PASS/FAIL/SKIP lines per case
# and exits non-zero on any failure. It finds in its environment:
#   STRATA_SRC (the tree, read-only), STRATA_BUILD / STRATA_BIN (built on
#   the host), VM_OUT (the writable share: anything the host should see),
#   STRATA_TEST_TMP=/tmp (guest tmpfs: scratch, driver homes, loop images).
# Each suite's whole output goes to VM_OUT/logs/NAME.log; the console gets
# its PASS/FAIL/SKIP lines and its exit status, and VM_OUT/results one line
# "NAME RC SECONDS".
set -u
OUT=
for w in $(cat /proc/cmdline); do
	case $w in vmtest.out=*) OUT=${w#*=} ;; esac
done
[ -f "$OUT/env" ] || { echo "runner: no env file in \"$OUT\""; exit 1; }
# shellcheck source=/dev/null
. "$OUT/env"
export STRATA_SRC BUILD VM_OUT=$OUT STRATA_VM=1 STRATA_TEST_TMP=/tmp
export STRATA_BUILD=$STRATA_SRC/$BUILD STRATA_BIN=$STRATA_SRC/$BUILD/strata
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-600}

uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "runner: kernel $(uname -r), tree $STRATA_SRC, build $BUILD, uptime $(uptime_s)"
# loop and dm-mod do not autoload (their device nodes are opened, not
# requested); device-mapper targets, filesystems and nfsd do.
modprobe loop max_loop=0 || echo "runner: modprobe loop failed"
modprobe dm-mod || echo "runner: modprobe dm-mod failed"
ip link set lo up || echo "runner: bringing up lo failed (ip is in iproute2, scripts/deps.sh): guest NFS at 127.0.0.1 will be unreachable"
mkdir -p "$OUT/logs"
cd "$STRATA_SRC" || exit 1

if [ "$VM_MODE" = script ]; then
	bash "$VM_SCRIPT" "${VM_ARGS[@]}"
	exit $?
fi

fail=0
: >"$OUT/results"
for s in "$STRATA_SRC"/tests/vm/guest-*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" .sh)
	name=${name#guest-}
	[[ $name =~ ${VM_SUITES:-.} ]] || continue
	log=$OUT/logs/$name.log
	echo "runner: === $name (uptime $(uptime_s))"
	t0=$SECONDS
	# its own process group, so that a timeout ends every child as well
	timeout -k 10 "${VM_SUITE_TIMEOUT:-420}" bash "$s" >"$log" 2>&1
	rc=$?
	[ $rc = 124 ] && echo "runner: $name timed out after ${VM_SUITE_TIMEOUT:-420} s" | tee -a "$log"
	grep -E '^(PASS|FAIL|SKIP)' "$log"
	echo "runner: === $name exit $rc ($((SECONDS - t0)) s)"
	echo "$name $rc $((SECONDS - t0))" >>"$OUT/results"
	[ $rc = 0 ] || fail=1
	# a suite that left mounts or devices behind must not break the next one
	sync
done
exit $fail
