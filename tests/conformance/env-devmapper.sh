# Conformance environment for devmapper (sourced by tests/conformance/run.sh).
# Every case's driver home gets its own loopback thin pool (sparse files on
# loop devices) in a directory under $STRATA_TEST_TMP; the base device is
# kept small so that formatting it once per case stays cheap. Needs a kernel
# with device-mapper: this machine's has none, the VM's has (make check-vm).
# Also sourced by the devmapper integration tests and benchmark, for
# dm_test_available and dm_test_cleanup.

# 0 when device-mapper with thin provisioning can be used here; else prints
# why on stdout and returns 1.
dm_test_available() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root"
		return 1
	fi
	grep -q ' device-mapper$' /proc/misc 2>/dev/null || modprobe -q dm-mod 2>/dev/null
	if ! grep -q ' device-mapper$' /proc/misc 2>/dev/null; then
		echo "no device-mapper in kernel $(uname -r) (these tests run in the VM: make check-vm)"
		return 1
	fi
	if ! modprobe -q dm-thin-pool 2>/dev/null && ! grep -qw thin-pool <(DM_DISABLE_UDEV=1 dmsetup targets 2>/dev/null); then
		echo "no dm-thin-pool target in kernel $(uname -r)"
		return 1
	fi
	if [ ! -e /dev/loop-control ]; then
		echo "no loop devices (/dev/loop-control)"
		return 1
	fi
	return 0
}

# Take down whatever strata left below DIR: mounts, the thin devices and
# pools built on loop devices whose files are below DIR, those loop devices.
# Only what belongs to DIR is touched, never another store's devices.
dm_test_cleanup() {
	local dir=$1 mp l majmin p pmm t
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	dir=$(realpath "$dir")
	awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null; done
	for l in $(losetup -n -l -O NAME,BACK-FILE | awk -v d="$dir/" 'index($2, d) == 1 {print $1}'); do
		majmin=$(lsblk -dn -o MAJ:MIN "$l" | tr -d ' ')
		for p in $(DM_DISABLE_UDEV=1 dmsetup table 2>/dev/null |
			awk -v m="$majmin" '$4 == "thin-pool" && ($5 == m || $6 == m) {sub(/:$/, "", $1); print $1}'); do
			pmm=$(DM_DISABLE_UDEV=1 dmsetup info -c --noheadings -o major,minor --separator : "$p" | tr -d ' ')
			for t in $(DM_DISABLE_UDEV=1 dmsetup table 2>/dev/null |
				awk -v m="$pmm" '$4 == "thin" && $5 == m {sub(/:$/, "", $1); print $1}'); do
				DM_DISABLE_UDEV=1 dmsetup remove --retry "$t" 2>/dev/null
			done
			DM_DISABLE_UDEV=1 dmsetup remove --retry "$p" 2>/dev/null
		done
		losetup -d "$l" 2>/dev/null
	done
	return 0
}

conf_setup() {
	local why
	if ! why=$(dm_test_available); then
		echo "SKIP conformance/devmapper: $why"
		return 77
	fi
	DM_CONF_DIR=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/conformance-devmapper-XXXXXX") || return 1
	export STRATA_TEST_HOME=$DM_CONF_DIR
	export STRATA_TEST_DRIVER_OPTS=${STRATA_TEST_DRIVER_OPTS:-dm.loopdatasize=8G,dm.loopmetadatasize=256M,dm.basesize=1G}
	# without a running udev, libdevmapper makes the /dev/mapper nodes itself
	[ -e /run/udev/control ] || export DM_DISABLE_UDEV=1
	return 0
}

conf_teardown() {
	dm_test_cleanup "$DM_CONF_DIR"
	[ -n "${DM_CONF_DIR:-}" ] && rm -rf --one-file-system "$DM_CONF_DIR"
	return 0
}
