#!/bin/bash
# Disk full (tests/torture/diskfull.sh): overlay and vfs on a small
# loop-mounted ext4, btrfs on a small btrfs; apply and build run out of
# space. The loop images live on a tmpfs.
set -u
tmpfs=$(mktemp -d /tmp/strata-diskfull-XXXXXX)
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=2G,mode=0700 strata-diskfull "$tmpfs" 2>/dev/null; then
	rmdir "$tmpfs"
	echo "SKIP diskfull: needs root (tmpfs and loop mounts)"
	exit 0
fi
export STRATA_TEST_TMP=$tmpfs
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/torture/diskfull.sh"
trap 'lib_cleanup; umount -l "$tmpfs"; rmdir "$tmpfs"' EXIT
command -v jq >/dev/null || { echo "SKIP diskfull: jq missing (scripts/deps.sh installs it)"; exit 0; }
[ -e /dev/loop-control ] || { echo "SKIP diskfull: no loop devices"; exit 0; }
for d in $("$TOP/tests/conformance/drivers.sh"); do
	case $d in
	overlay | vfs)
		command -v mkfs.ext4 >/dev/null && diskfull_driver "$d" ext4 96M || skip "diskfull/$d" "mkfs.ext4 missing"
		;;
	btrfs)
		if command -v mkfs.btrfs >/dev/null && grep -qw btrfs /proc/filesystems; then
			diskfull_driver btrfs btrfs 160M
		else
			skip "diskfull/btrfs" "no mkfs.btrfs or no btrfs in the kernel"
		fi
		;;
	*) skip "diskfull/$d" "tested on ext4 and btrfs only (its own filesystem setup: tests/vm)" ;;
	esac
done
exit $((fails > 0))
