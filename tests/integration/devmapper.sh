#!/bin/bash
# The devmapper driver through the strata command, on loopback thin pools
# made here (and one pool given with dm.thinpooldev): layers are thin
# snapshots that share their parent's blocks, an idle loopback pool is taken
# down while a mounted layer keeps it up, a create or delete interrupted
# between the pool message and the metadata write is rolled back or
# finished by the next command (transaction ids agree with the pool's, the
# pool holds exactly the recorded devices), dm.min_free_space refuses new
# devices, a full pool fails the write and leaves the other layers and the
# pool's metadata (thin_check) intact, deferred removal and deletion wait
# for a busy device's last user, udev synchronisation when udevd runs, xfs
# base devices (nouuid), size= grows a layer's filesystem, option checks.
# Needs device-mapper: on this machine's kernel every case prints SKIP; the
# VM runs them (tests/vm/guest-devmapper.sh, make check-vm).
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
. tests/conformance/env-devmapper.sh
fails=0
pass() { echo "PASS devmapper/$1"; }
fail() { echo "FAIL devmapper/$1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP devmapper/$1: $2"; }

CASES=(snapshot_shares_parent_blocks_and_diverges info_reports_pool_and_loopback_warning
	idle_pool_taken_down_mounted_layer_keeps_it device_left_active_by_killed_mount_deactivated
	create_interrupted_after_pool_message_rolled_back
	delete_interrupted_after_pool_message_finished min_free_space_refuses_new_device
	full_pool_fails_write_keeps_other_layers_and_metadata deferred_removal_and_deletion_wait_for_busy_device
	busy_device_without_deferred_removal_refuses_unmount udev_sync_with_running_udevd
	xfs_snapshots_mount_side_by_side size_option_grows_layer_filesystem
	given_thinpooldev_used_and_left_active options_checked)
if ! why=$(dm_test_available); then
	for c in "${CASES[@]}"; do skip "$c" "$why"; done
	exit 0
fi
ONLY=${DM_TEST_CASES:-.}
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-devmapper-XXXXXX")
cleanup() {
	exec 3<&- 2>/dev/null
	[ -n "${UDEVD_PID:-}" ] && kill "$UDEVD_PID" 2>/dev/null
	dm_test_cleanup "$T"
	DM_DISABLE_UDEV=1 dmsetup remove "strata-test-pool-$$" 2>/dev/null
	for l in $(losetup -n -l -O NAME,BACK-FILE | awk -v d="$T/" 'index($2, d) == 1 {print $1}'); do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
[ -e /run/udev/control ] || export DM_DISABLE_UDEV=1

OPTS=()
R=
# dms ARGS...: strata on the case's store with its options
dms() {
	local o a=()
	for o in "${OPTS[@]}"; do a+=(--storage-opt "$o"); done
	"$BIN" --root "$R" --storage-driver devmapper "${a[@]}" "$@"
}
# new_store CASE OPTS...: a fresh store for the case
new_store() {
	R=$T/$1
	shift
	OPTS=(dm.loopdatasize=2G dm.loopmetadatasize=64M dm.basesize=512M "$@")
	mkdir -p "$R"
}
prefix() { dms info 2>/dev/null | sed -n 's/^ Pool Name: \(.*\)-pool$/\1/p'; }
info_field() { dms info 2>/dev/null | sed -n "s/^ $1: //p"; }
# Pool status fields while the pool is up: transaction id, used data blocks
pool_tid() { DM_DISABLE_UDEV=1 dmsetup status "$1-pool" 2>/dev/null | awk '{print $4}'; }
pool_used() { DM_DISABLE_UDEV=1 dmsetup status "$1-pool" 2>/dev/null | awk '{split($6, a, "/"); print a[1]}'; }
recorded_tid() { sed -n 's/.*"transaction_id":\([0-9]*\).*/\1/p' "$R/devmapper/deviceset.json"; }
# With the pool down: check its metadata and count its thin devices.
meta_check() {
	local l n
	l=$(losetup -f --show -r "$R/devmapper/devicemapper/metadata") || return 1
	if ! thin_check -q "$l"; then
		losetup -d "$l"
		return 1
	fi
	n=$(thin_dump "$l" | grep -c '<device ')
	losetup -d "$l"
	echo "$n"
}
active_devices() { DM_DISABLE_UDEV=1 dmsetup ls 2>/dev/null | awk -v p="$1-" 'index($1, p) == 1 {print $1}'; }
want() { # CASE LABEL EXPECTED ACTUAL
	[ "$3" = "$4" ] && return 0
	fail "$1" "$2: expected \"$3\", got \"$4\""
	return 1
}
run_case() {
	[[ $1 =~ $ONLY ]] || return 0
	local t0=$SECONDS
	"case_$1"
	echo "  ($1: $((SECONDS - t0)) s)"
}

case_snapshot_shares_parent_blocks_and_diverges() {
	local c=snapshot_shares_parent_blocks_and_diverges p p1 pre u0 u1
	new_store $c
	dms driver create l1 >/dev/null || { fail $c "create l1"; return; }
	p1=$(dms driver mount l1) || { fail $c "mount l1"; return; }
	echo one >"$p1/f"
	head -c 32M /dev/urandom >"$p1/big"
	sync
	pre=$(prefix)
	u0=$(pool_used "$pre")
	dms driver create --parent l1 l2 >/dev/null || { fail $c "create l2 on a mounted parent"; return; }
	u1=$(pool_used "$pre")
	# a snapshot of 32 MB of data takes no data blocks (64K blocks: < 1 MB)
	[ $((u1 - u0)) -lt 16 ] || { fail $c "snapshot used $((u1 - u0)) pool blocks"; return; }
	p=$(dms driver mount l2) || { fail $c "mount l2"; return; }
	want $c "l2 sees l1's file" one "$(cat "$p/f")" || return
	cmp -s "$p/big" "$p1/big" || { fail $c "l2's copy of big differs"; return; }
	echo two >"$p/f"
	want $c "l1 after l2 changed f" one "$(cat "$p1/f")" || return
	# two active thin devices with different device ids in one pool
	local ids
	ids=$(DM_DISABLE_UDEV=1 dmsetup table | awk -v p="$pre-" 'index($1, p) == 1 && $4 == "thin" {print $6}' | sort -u | wc -l)
	want $c "distinct thin device ids" 2 "$ids" || return
	dms driver unmount l2 && dms driver unmount l1 || { fail $c "unmount"; return; }
	p=$(dms driver mount l2) && want $c "l2 after remount" two "$(cat "$p/f")" && dms driver unmount l2 || return
	dms driver rm l2 && dms driver rm l1 || { fail $c "rm"; return; }
	pass $c
}

case_info_reports_pool_and_loopback_warning() {
	local c=info_reports_pool_and_loopback_warning out k
	new_store $c dm.use_deferred_removal=true
	out=$(dms info) || { fail $c "info: $out"; return; }
	for k in "Pool Name: strata-.*-pool" "Pool Blocksize: 65.5kB" "Base Device Size: 537MB" \
		"Base Device Filesystem: ext4" "Data Space Used: " "Data Space Total: 2.15GB" "Data Space Available: " \
		"Metadata Space Used: " "Metadata Space Total: 67.1MB" "Metadata Space Available: " \
		"Udev Sync Supported: (true|false)" "Deferred Removal Enabled: true" "Deferred Deletion Enabled: false" \
		"Thin Pool Minimum Free Space: 215MB" "Warning: .*loop devices.*testing only.*dm.thinpooldev"; do
		grep -Eq "^ $k" <<<"$out" || { fail $c "no \"$k\" in: $out"; return; }
	done
	pass $c
}

case_idle_pool_taken_down_mounted_layer_keeps_it() {
	local c=idle_pool_taken_down_mounted_layer_keeps_it pre p
	new_store $c
	dms driver create l1 >/dev/null || { fail $c "create"; return; }
	pre=$(prefix)
	[ -z "$(active_devices "$pre")" ] || { fail $c "left active after create: $(active_devices "$pre")"; return; }
	losetup -l | grep -q "$R/" && { fail $c "loop devices left attached"; return; }
	p=$(dms driver mount l1) || { fail $c "mount"; return; }
	echo kept >"$p/x"
	# the mounting process has exited; pool and device stay for the mount
	want $c "active after mount" "$pre-2 $pre-pool" "$(active_devices "$pre" | sort | tr '\n' ' ' | sed 's/ $//')" || return
	want $c "mount count" "1" "$(dms driver ls | awk '$1 == "l1" {print $NF}')" || return
	dms driver unmount l1 || { fail $c "unmount"; return; }
	[ -z "$(active_devices "$pre")" ] || { fail $c "left active after unmount: $(active_devices "$pre")"; return; }
	p=$(dms driver mount l1) && want $c "content after remount" kept "$(cat "$p/x")" && dms driver unmount l1 || return
	pass $c
}

case_device_left_active_by_killed_mount_deactivated() {
	local c=device_left_active_by_killed_mount_deactivated pre rc p
	new_store $c
	dms driver create l1 >/dev/null || { fail $c "create"; return; }
	pre=$(prefix)
	STRATA_DM_FAULT=get-after-activate dms driver mount l1 >/dev/null 2>&1
	rc=$?
	want $c "exit of the interrupted mount" 70 $rc || return
	want $c "left active" "$pre-2 $pre-pool" "$(active_devices "$pre" | sort | tr '\n' ' ' | sed 's/ $//')" || return
	dms driver ls >/dev/null || { fail $c "open after the interruption"; return; }
	[ -z "$(active_devices "$pre")" ] || { fail $c "still active: $(active_devices "$pre")"; return; }
	p=$(dms driver mount l1) && dms driver unmount l1 || { fail $c "mount after recovery"; return; }
	pass $c
}

case_create_interrupted_after_pool_message_rolled_back() {
	local c=create_interrupted_after_pool_message_rolled_back rc n p
	new_store $c
	dms driver create l1 >/dev/null || { fail $c "create l1"; return; }
	STRATA_DM_FAULT=create-after-message dms driver create --parent l1 l2 >/dev/null 2>&1
	rc=$?
	want $c "exit of the interrupted create" 70 $rc || return
	[ -f "$R/devmapper/transaction.json" ] || { fail $c "no open transaction left behind"; return; }
	# the pool has the device (base, l1, l2); no record was written for it
	n=$(meta_check) || { fail $c "thin_check after the interruption"; return; }
	want $c "thin devices in the pool before recovery" 3 "$n" || return
	dms driver ls >/dev/null || { fail $c "open after the interruption"; return; }
	[ ! -e "$R/devmapper/transaction.json" ] || { fail $c "transaction still open after recovery"; return; }
	dms driver exists l2 && { fail $c "l2 exists after the rollback"; return; }
	n=$(meta_check) || { fail $c "thin_check after recovery"; return; }
	want $c "thin devices in the pool after recovery" 2 "$n" || return
	dms driver create --parent l1 l2 >/dev/null || { fail $c "create l2 again"; return; }
	p=$(dms driver mount l2) || { fail $c "mount l2"; return; }
	local pre tid
	pre=$(prefix)
	tid=$(pool_tid "$pre")
	want $c "pool transaction id vs recorded" "$(recorded_tid)" "$tid" || return
	dms driver unmount l2 || return
	n=$(meta_check) && want $c "thin devices at the end" 3 "$n" || return
	pass $c
}

case_delete_interrupted_after_pool_message_finished() {
	local c=delete_interrupted_after_pool_message_finished rc n
	new_store $c
	dms driver create l1 >/dev/null && dms driver create --parent l1 l2 >/dev/null || { fail $c "create"; return; }
	STRATA_DM_FAULT=delete-after-message dms driver rm l2 >/dev/null 2>&1
	rc=$?
	want $c "exit of the interrupted delete" 70 $rc || return
	[ -f "$R/devmapper/metadata/l2" ] || { fail $c "l2's record went before recovery"; return; }
	dms driver ls >/dev/null || { fail $c "open after the interruption"; return; }
	[ ! -e "$R/devmapper/metadata/l2" ] || { fail $c "l2's record still there after recovery"; return; }
	[ ! -e "$R/devmapper/transaction.json" ] || { fail $c "transaction still open"; return; }
	dms driver exists l2 && { fail $c "l2 exists after recovery"; return; }
	n=$(meta_check) || { fail $c "thin_check after recovery"; return; }
	want $c "thin devices in the pool" 2 "$n" || return
	dms driver create --parent l1 l3 >/dev/null || { fail $c "create after recovery"; return; }
	pass $c
}

case_min_free_space_refuses_new_device() {
	local c=min_free_space_refuses_new_device p out
	new_store $c dm.loopdatasize=128M dm.basesize=1G dm.min_free_space=50%
	dms driver create --rw l1 >/dev/null || { fail $c "create l1"; return; }
	p=$(dms driver mount l1) || { fail $c "mount l1"; return; }
	dd if=/dev/zero of="$p/fill" bs=1M count=80 conv=fsync status=none || { fail $c "fill 80 MB"; return; }
	if out=$(dms driver create --parent l1 l2 2>&1); then
		fail $c "create with less than half of the pool free succeeded"
		return
	fi
	grep -q "dm.min_free_space=50%" <<<"$out" || { fail $c "unclear refusal: $out"; return; }
	dms driver exists l2 && { fail $c "l2 exists after the refusal"; return; }
	dms driver unmount l1 || return
	pass $c
}

case_full_pool_fails_write_keeps_other_layers_and_metadata() {
	local c=full_pool_fails_write_keeps_other_layers_and_metadata p sum out n
	new_store $c dm.loopdatasize=64M dm.basesize=1G
	mkdir -p "$T/$c-src/d"
	head -c 4M /dev/urandom >"$T/$c-src/d/keep"
	(cd "$T/$c-src" && tar -cf "$T/$c-keep.tar" d) || return
	sum=$(sha256sum <"$T/$c-src/d/keep")
	dms driver create l1 >/dev/null && dms driver apply l1 <"$T/$c-keep.tar" >/dev/null ||
		{ fail $c "create and fill l1"; return; }
	dms driver create --rw --parent l1 l2 >/dev/null || { fail $c "create l2"; return; }
	# not zeros: the apply would keep those as holes
	yes "strata devmapper pool-full test" | head -c 100M >"$T/$c-src/huge" &&
		(cd "$T/$c-src" && tar -cf "$T/$c-huge.tar" huge) || return
	rm -f "$T/$c-src/huge"
	if out=$(timeout 300 "$BIN" --root "$R" --storage-driver devmapper driver apply l2 <"$T/$c-huge.tar" 2>&1); then
		fail $c "applying 100 MB to a 64 MB pool succeeded: $out"
		return
	fi
	rm -f "$T/$c-huge.tar"
	grep -Eq "thin pool .* is out_of_data_space|No space left|Input/output error" <<<"$out" ||
		{ fail $c "unclear error: $out"; return; }
	dms driver rm l2 || { fail $c "remove the failed layer"; return; }
	p=$(dms driver mount l1) || { fail $c "mount l1 after the failure"; return; }
	want $c "l1's file" "$sum" "$(sha256sum <"$p/d/keep")" || return
	dms driver unmount l1 || return
	want $c "pool mode after freeing" rw "$(info_field "Pool Mode")" || return
	dms driver create --parent l1 l3 >/dev/null || { fail $c "create after freeing"; return; }
	n=$(meta_check) || { fail $c "thin_check fails on the pool's metadata"; return; }
	want $c "thin devices" 3 "$n" || return
	pass $c
}

case_deferred_removal_and_deletion_wait_for_busy_device() {
	local c=deferred_removal_and_deletion_wait_for_busy_device p pre i
	new_store $c dm.use_deferred_removal=true dm.use_deferred_deletion=true
	# l0 (device 2) stays mounted to keep the pool up; l1 is device 3
	dms driver create l0 >/dev/null && p=$(dms driver mount l0) || { fail $c "mount l0"; return; }
	dms driver create l1 >/dev/null && p=$(dms driver mount l1) || { fail $c "create and mount l1"; return; }
	echo busy >"$p/f"
	pre=$(prefix)
	exec 3<"$p/f"
	dms driver unmount l1 || { fail $c "unmount of a busy layer with deferred removal"; return; }
	DM_DISABLE_UDEV=1 dmsetup info "$pre-3" 2>/dev/null | grep -q "DEFERRED REMOVE" ||
		{ fail $c "no deferred removal pending on $pre-3"; return; }
	dms driver rm l1 || { fail $c "rm of a busy layer with deferred deletion"; return; }
	dms driver exists l1 && { fail $c "l1 still listed"; return; }
	want $c "deferred deleted devices while busy" 1 "$(info_field "Deferred Deleted Device Count")" || return
	exec 3<&-
	for i in $(seq 50); do
		DM_DISABLE_UDEV=1 dmsetup info "$pre-3" >/dev/null 2>&1 || break
		sleep 0.1
	done
	DM_DISABLE_UDEV=1 dmsetup info "$pre-3" >/dev/null 2>&1 && { fail $c "device not removed after its user left"; return; }
	want $c "deferred deleted devices after" 0 "$(info_field "Deferred Deleted Device Count")" || return
	dms driver unmount l0 || return
	n=$(meta_check) && want $c "thin devices" 2 "$n" || return
	pass $c
}

case_busy_device_without_deferred_removal_refuses_unmount() {
	local c=busy_device_without_deferred_removal_refuses_unmount p out
	new_store $c
	dms driver create l1 >/dev/null && p=$(dms driver mount l1) || { fail $c "mount"; return; }
	echo busy >"$p/f"
	exec 3<"$p/f"
	if out=$(dms driver unmount l1 2>&1); then
		fail $c "unmount of a busy layer succeeded"
		exec 3<&-
		return
	fi
	grep -q "busy" <<<"$out" || { fail $c "unclear error: $out"; exec 3<&-; return; }
	want $c "still mounted" busy "$(cat "$p/f")" || { exec 3<&-; return; }
	exec 3<&-
	dms driver unmount l1 || { fail $c "unmount after the user left"; return; }
	pass $c
}

case_udev_sync_with_running_udevd() {
	local c=udev_sync_with_running_udevd p pre i udevd=/lib/systemd/systemd-udevd
	if [ -e /run/udev/control ]; then
		skip $c "udevd is already running here (this case starts its own)"
		return
	fi
	[ -x $udevd ] || { skip $c "no $udevd (package udev)"; return; }
	$udevd --daemon >/dev/null 2>&1 || { fail $c "start udevd"; return; }
	for i in $(seq 50); do [ -e /run/udev/control ] && break; sleep 0.1; done
	UDEVD_PID=$(pgrep -xo systemd-udevd)
	new_store $c
	(
		unset DM_DISABLE_UDEV
		dms driver create l1 >/dev/null || { echo "create"; exit 1; }
		[ "$(info_field "Udev Sync Supported")" = true ] || { echo "udev sync not in use: $(dms info | grep Udev)"; exit 1; }
		p=$(timeout 120 "$BIN" --root "$R" --storage-driver devmapper driver mount l1) || { echo "mount"; exit 1; }
		pre=$(prefix)
		[ -L "/dev/mapper/$pre-2" ] || [ -b "/dev/mapper/$pre-2" ] || { echo "no /dev/mapper/$pre-2"; exit 1; }
		echo u >"$p/f" && timeout 120 "$BIN" --root "$R" --storage-driver devmapper driver unmount l1 || { echo "unmount"; exit 1; }
		[ ! -e "/dev/mapper/$pre-2" ] || { echo "/dev/mapper/$pre-2 left after unmount"; exit 1; }
		timeout 120 "$BIN" --root "$R" --storage-driver devmapper driver rm l1 || { echo "rm"; exit 1; }
	) >"$T/$c.out" 2>&1
	local rc=$?
	kill "$UDEVD_PID" 2>/dev/null
	for i in $(seq 50); do kill -0 "$UDEVD_PID" 2>/dev/null || break; sleep 0.1; done
	rm -f /run/udev/control # what makes libdevmapper think udev runs
	UDEVD_PID=
	[ $rc = 0 ] || { fail $c "$(tail -1 "$T/$c.out")"; return; }
	pass $c
}

case_xfs_snapshots_mount_side_by_side() {
	local c=xfs_snapshots_mount_side_by_side p1 p2
	new_store $c dm.fs=xfs
	dms driver create l1 >/dev/null && p1=$(dms driver mount l1) || { fail $c "create and mount l1"; return; }
	echo x1 >"$p1/f"
	sync
	dms driver create --parent l1 l2 >/dev/null && p2=$(dms driver mount l2) || { fail $c "create and mount l2 beside l1"; return; }
	want $c "l2 sees l1" x1 "$(cat "$p2/f")" || return
	want $c "filesystem" xfs "$(findmnt -n -o FSTYPE --target "$p2")" || return
	findmnt -n -o OPTIONS --target "$p2" | grep -q nouuid || { fail $c "mounted without nouuid"; return; }
	dms driver unmount l2 && dms driver unmount l1 || { fail $c "unmount"; return; }
	pass $c
}

case_size_option_grows_layer_filesystem() {
	local c=size_option_grows_layer_filesystem p size out
	new_store $c
	dms driver create --rw --storage-opt size=1G l1 >/dev/null || { fail $c "create size=1G"; return; }
	p=$(dms driver mount l1) || { fail $c "mount"; return; }
	size=$(df -B1M --output=size "$p" | tail -1 | tr -d ' ')
	[ "$size" -gt 900 ] || { fail $c "filesystem has ${size} MB, want about 1024"; return; }
	dms driver unmount l1 || return
	if out=$(dms driver create --rw --storage-opt size=256M l2 2>&1); then
		fail $c "size below the base device's was accepted"
		return
	fi
	grep -q "smaller than the base" <<<"$out" || { fail $c "unclear refusal: $out"; return; }
	pass $c
}

case_given_thinpooldev_used_and_left_active() {
	local c=given_thinpooldev_used_and_left_active pool=strata-test-pool-$$ d m p out
	truncate -s 1G "$T/given-data" && truncate -s 32M "$T/given-meta"
	d=$(losetup -f --show "$T/given-data") && m=$(losetup -f --show "$T/given-meta") || { fail $c "loop devices"; return; }
	DM_DISABLE_UDEV=1 dmsetup create $pool --table "0 $(blockdev --getsz "$d") thin-pool $m $d 128 1024" ||
		{ fail $c "make the pool"; return; }
	new_store $c
	OPTS=(dm.thinpooldev=/dev/mapper/$pool dm.basesize=256M)
	dms driver create l1 >/dev/null && p=$(dms driver mount l1) || { fail $c "create and mount"; return; }
	echo given >"$p/f"
	dms driver unmount l1 || return
	out=$(dms info)
	grep -q "^ Pool Name: $pool$" <<<"$out" || { fail $c "info does not name the pool: $out"; return; }
	grep -q "^ Warning:" <<<"$out" && { fail $c "loopback warning for a given pool"; return; }
	DM_DISABLE_UDEV=1 dmsetup info $pool >/dev/null 2>&1 || { fail $c "the given pool was taken down"; return; }
	# opening again without the option finds the recorded pool
	OPTS=()
	p=$(dms driver mount l1) && want $c "content" given "$(cat "$p/f")" && dms driver unmount l1 || return
	# a second store must not adopt a pool that is in use
	new_store $c-second
	OPTS=(dm.thinpooldev=/dev/mapper/$pool)
	if out=$(dms driver ls 2>&1); then
		fail $c "a second store adopted a pool in use"
		return
	fi
	grep -q "is in use" <<<"$out" || { fail $c "unclear refusal: $out"; return; }
	R=$T/$c
	dms driver rm l1 || return
	pass $c
}

case_options_checked() {
	local c=options_checked o out
	for o in dm.fs=btrfs dm.min_free_space=150% dm.min_free_space=10 dm.thinpooldev=/dev/sda dm.blocksize=100K \
		dm.use_deferred_removal=maybe dm.basesize=junk dm.mountopt=ro\;x dm.nosuchoption=1; do
		new_store $c
		OPTS=("$o")
		if out=$(dms driver ls 2>&1); then
			fail $c "$o was accepted"
			return
		fi
		grep -q "${o%%=*}" <<<"$out" || { fail $c "error for $o does not name it: $out"; return; }
	done
	new_store $c-fixed
	dms driver ls >/dev/null || { fail $c "default options"; return; }
	OPTS=(dm.basesize=1G)
	out=$(dms driver ls 2>&1) && { fail $c "changing dm.basesize of a made store was accepted"; return; }
	grep -q "dm.basesize" <<<"$out" || { fail $c "unclear: $out"; return; }
	OPTS=(dm.fs=xfs)
	out=$(dms driver ls 2>&1) && { fail $c "changing dm.fs of a made store was accepted"; return; }
	pass $c
}

for c in "${CASES[@]}"; do
	run_case "$c"
	dm_test_cleanup "$T/$c" # whatever a failed case left
done
exit $((fails > 0))
