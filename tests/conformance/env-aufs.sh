# Conformance environment for aufs (sourced by tests/conformance/run.sh).
# aufs is out of the mainline kernel: where /proc/filesystems lacks it even
# after `modprobe aufs`, the suite is skipped with that reason (the driver's
# unit tests cover everything but the mount). Where it exists, the suite
# runs in a tmpfs (aufs refuses branches on btrfs, and a tmpfs keeps the
# xino and branch file systems simple).

aufs_test_available() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (mounts)"
		return 1
	fi
	if ! grep -qw aufs /proc/filesystems 2>/dev/null; then
		local why
		why=$(modprobe aufs 2>&1 | head -n 1)
		if ! grep -qw aufs /proc/filesystems 2>/dev/null; then
			echo "no aufs in kernel $(uname -r): not in /proc/filesystems, modprobe aufs: ${why:-loaded nothing}"
			return 1
		fi
	fi
	if [ "$(awk 'NR == 1 {print $1, $2, $3}' /proc/self/uid_map)" != "0 0 4294967295" ]; then
		echo "inside a user namespace, where aufs cannot be mounted"
		return 1
	fi
	return 0
}

conf_setup() {
	local why
	if ! why=$(aufs_test_available); then
		echo "SKIP conformance/aufs: $why"
		return 77
	fi
	AUFS_CONF_DIR=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/conformance-aufs-XXXXXX") || return 1
	mount -t tmpfs -o size=2G,mode=0700 tmpfs "$AUFS_CONF_DIR" || return 1
	export STRATA_TEST_HOME=$AUFS_CONF_DIR
	return 0
}

conf_teardown() {
	local dir=${AUFS_CONF_DIR:-} mp
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	dir=$(realpath "$dir")
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null; done
	rm -rf --one-file-system "$dir"
	return 0
}
