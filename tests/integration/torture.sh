#!/bin/bash
# Crash torture on every driver that works here (tests/torture/crash.sh):
# operations killed with SIGKILL at random points, then `system check`
# (or --repair) must leave a clean store that still has every layer, byte
# for byte. Env: STRATA_TORTURE_KILLS (kills over all drivers, default 210,
# at least 200 required), STRATA_TORTURE_SECONDS (time budget per driver,
# default 150).
#
# The stores (and btrfs's loop image) live on a tmpfs: a kill -9 is a
# process crash, not a power cut, so what is tested is the order of the
# store's steps, not fsync; on this VM's disk every fsync costs ~100 ms.
set -u
total=${STRATA_TORTURE_KILLS:-210}
budget=${STRATA_TORTURE_SECONDS:-600}
tmpfs=$(mktemp -d /tmp/strata-torture-XXXXXX)
if ! mount -t tmpfs -o size=4G,mode=0700 strata-torture "$tmpfs" 2>/dev/null; then
	rmdir "$tmpfs"
	echo "SKIP torture: cannot mount a tmpfs (needs root)"
	exit 0
fi
export STRATA_TEST_TMP=$tmpfs
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/torture/crash.sh"
trap 'lib_cleanup; umount -l "$tmpfs"; rmdir "$tmpfs"' EXIT

# the drivers that can run here share the kills
n=0
for d in $("$TOP/tests/conformance/drivers.sh"); do
	case $d in
	overlay) grep -qw overlay /proc/filesystems && n=$((n + 1)) ;;
	btrfs) (. "$TOP/tests/conformance/env-btrfs.sh" && btrfs_test_available >/dev/null) && n=$((n + 1)) ;;
	devmapper) [ -e /dev/mapper/control ] && dmsetup targets 2>/dev/null | grep -q thin-pool && n=$((n + 1)) ;;
	aufs) grep -qw aufs /proc/filesystems && n=$((n + 1)) ;;
	*) n=$((n + 1)) ;;
	esac
done
echo "$n" >"$T/torture-left"
echo "$total" >"$T/torture-need"
echo "$budget" >"$T/torture-secs"

# each driver takes its share of the kills and time still to go
run_torture() {
	local left need secs t0=$SECONDS
	left=$(cat "$T/torture-left") need=$(cat "$T/torture-need") secs=$(cat "$T/torture-secs")
	((left > 0)) || left=1
	torture_driver "$1" "$2" $(((need + left - 1) / left)) $((secs / left))
	echo $((left - 1)) >"$T/torture-left"
	echo $((need - torture_kills)) >"$T/torture-need"
	echo $((secs - (SECONDS - t0))) >"$T/torture-secs"
}
# (not through a pipe: for_each_driver counts failures in this shell)
for_each_driver run_torture >"$T/torture.out" 2>&1
cat "$T/torture.out"
got=$(sed -n 's/^torture\/[a-z]*: [0-9]* runs, \([0-9]*\) killed.*/\1/p' "$T/torture.out" | awk '{s += $1} END {print s + 0}')
if [ "$got" -ge 200 ]; then
	pass "torture/at-least-200-kills-in-all ($got)"
else
	fail "torture/at-least-200-kills-in-all" "only $got kills (raise STRATA_TORTURE_SECONDS?)"
fi
if [ -s "$T/torture-repairs.log" ]; then
	echo "what --repair had to fix (ids elided):"
	grep ': repaired: \|NOT repaired\|cannot be repaired' "$T/torture-repairs.log" |
		sed -E 's/[0-9a-f]{16,}/X/g; s/"\.(tmp|trash)-[^"]*"/".\1-X"/g' | sort | uniq -c | sort -rn
fi
exit $((fails > 0))
