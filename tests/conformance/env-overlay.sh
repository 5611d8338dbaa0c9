# Conformance environment for overlay (sourced by tests/conformance/run.sh).
# overlay's upper directories need a filesystem that keeps trusted.* xattrs
# and 0/0 character-device whiteouts and is not overlayfs itself (a test
# tree under a container's overlay root is not), and layers carry user.*
# xattrs. When $STRATA_TEST_TMP is such a place (ext4, xfs, btrfs, tmpfs
# since 6.6...: a real test mount decides) the suite runs in a directory there, else on a loop-mounted ext4
# image. STRATA_OVERLAY_CONF_OPTS: init options for a variant run (e.g.
# mount_api=legacy, mountopt=metacopy=on; see tests/integration/overlay.sh).

# 0 when dir can hold overlay upper directories (a test mount there works
# and takes a whiteout), else prints why.
overlay_upper_ok() {
	local t=$1/upper-check rc=0
	mkdir -p "$t"/{l1,l2,u,w,m} && echo x >"$t/l1/f" || { echo "cannot write in $1"; return 1; }
	if [ "$(stat -f -c %T "$1")" = overlayfs ]; then
		echo "$1 is on overlayfs"
		rc=1
	elif ! mount -t overlay overlay -o "lowerdir=$t/l1:$t/l2,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
		echo "an overlay test mount with its upper in $1 fails"
		rc=1
	else
		rm "$t/m/f" && [ -c "$t/u/f" ] || { echo "$1 cannot keep overlay whiteouts"; rc=1; }
		# layers carry user.* xattrs too (tmpfs before 6.6 has none)
		if [ $rc = 0 ] && command -v setfattr >/dev/null; then
			touch "$t/m/g" && setfattr -n user.strata -v 1 "$t/m/g" 2>/dev/null ||
				{ echo "$1 takes no user.* xattrs"; rc=1; }
		fi
		umount "$t/m"
	fi
	rm -rf --one-file-system "$t"
	return $rc
}

conf_setup() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP conformance/overlay: needs root (mounts)"
		return 77
	fi
	grep -qw overlay /proc/filesystems 2>/dev/null || modprobe -q overlay 2>/dev/null
	if ! grep -qw overlay /proc/filesystems; then
		echo "SKIP conformance/overlay: no overlay filesystem in kernel $(uname -r)"
		return 77
	fi
	OVL_CONF_DIR=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/conformance-overlay-XXXXXX") || return 1
	local why
	if why=$(overlay_upper_ok "$OVL_CONF_DIR"); then
		mkdir "$OVL_CONF_DIR/home" || return 1
		export STRATA_TEST_HOME=$OVL_CONF_DIR/home
	else
		echo "conformance/overlay: $why; using a loop-mounted ext4 image"
		if ! command -v mkfs.ext4 >/dev/null || [ ! -e /dev/loop-control ]; then
			echo "SKIP conformance/overlay: $why, and no mkfs.ext4 or loop devices for an image"
			return 77
		fi
		truncate -s 4G "$OVL_CONF_DIR/img" && mkfs.ext4 -q -F "$OVL_CONF_DIR/img" >/dev/null &&
			mkdir "$OVL_CONF_DIR/mnt" && mount -o loop "$OVL_CONF_DIR/img" "$OVL_CONF_DIR/mnt" || return 1
		export STRATA_TEST_HOME=$OVL_CONF_DIR/mnt
	fi
	export STRATA_TEST_DRIVER_OPTS=${STRATA_OVERLAY_CONF_OPTS:-}
	return 0
}

conf_teardown() {
	local dir=${OVL_CONF_DIR:-} mp l
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	dir=$(realpath "$dir")
	awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null; done
	for l in $(losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk -v d="$dir/" 'index($2, d) == 1 {print $1}'); do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf --one-file-system "$dir"
	return 0
}
