# Conformance environment for btrfs (sourced by tests/conformance/run.sh):
# a sparse image file formatted with mkfs.btrfs and loop-mounted in a fresh
# directory under $STRATA_TEST_TMP; teardown unmounts everything below it
# (the driver homes' private bind mounts too), detaches the loop device and
# removes the image. Also sourced by tests/integration/btrfs.sh and
# bench/btrfs.sh for btrfs_test_available, btrfs_test_mount, btrfs_test_cleanup.

# 0 when a loop-mounted btrfs can be made here; else prints why, returns 1.
btrfs_test_available() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (mkfs, loop mounts)"
		return 1
	fi
	if ! command -v mkfs.btrfs >/dev/null; then
		echo "mkfs.btrfs not installed (btrfs-progs; scripts/deps.sh)"
		return 1
	fi
	grep -qw btrfs /proc/filesystems 2>/dev/null || modprobe -q btrfs 2>/dev/null
	if ! grep -qw btrfs /proc/filesystems; then
		echo "no btrfs in kernel $(uname -r)"
		return 1
	fi
	if [ ! -e /dev/loop-control ]; then
		echo "no loop devices (/dev/loop-control)"
		return 1
	fi
	return 0
}

# btrfs_test_mount DIR SIZE: DIR/img formatted and mounted on DIR/mnt.
btrfs_test_mount() {
	local dir=$1 size=${2:-2G}
	truncate -s "$size" "$dir/img" || return 1
	mkfs.btrfs -q -f "$dir/img" >/dev/null || return 1
	mkdir -p "$dir/mnt" || return 1
	mount -o loop "$dir/img" "$dir/mnt" || return 1
}

# Unmount everything below DIR (deepest first), detach DIR's loop devices,
# remove DIR. Touches nothing that is not below DIR.
btrfs_test_cleanup() {
	local dir=$1 mp l
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	dir=$(realpath "$dir")
	awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null; done
	for l in $(losetup -n -l -O NAME,BACK-FILE | awk -v d="$dir/" 'index($2, d) == 1 {print $1}'); do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf --one-file-system "$dir"
	return 0
}

conf_setup() {
	local why
	if ! why=$(btrfs_test_available); then
		echo "SKIP conformance/btrfs: $why"
		return 77
	fi
	BTRFS_CONF_DIR=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/conformance-btrfs-XXXXXX") || return 1
	btrfs_test_mount "$BTRFS_CONF_DIR" 4G || return 1
	export STRATA_TEST_HOME=$BTRFS_CONF_DIR/mnt
	return 0
}

conf_teardown() {
	btrfs_test_cleanup "${BTRFS_CONF_DIR:-}"
	return 0
}
