#!/bin/bash
# The local volume driver through the strata command, on the real kernel:
# directory volumes, tmpfs and bind mounts through type/device/o, Docker's
# option validation, data kept across mounts, per-mount-id counting across
# processes, remove refused while mounted, size limits (tmpfs size, project
# quotas on xfs and ext4 loop filesystems), prune.
set -u
cd "$(dirname "$0")/../.."
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-vol-local-XXXXXX")
R=$T/root
fails=0
cleanup() {
	for m in $(awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

st() { "$BIN" --root "$R" --storage-driver vfs "$@"; }
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }
# expect_err NAME "substring" cmd...: the command fails (exit 1) and says so
expect_err() {
	local name=$1 want=$2; shift 2
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ $rc -ne 1 ]; then fail "$name" "exit $rc, want 1 (output: $out)"; return 1; fi
	if [[ $out != *"$want"* ]]; then fail "$name" "message \"$out\" lacks \"$want\""; return 1; fi
	return 0
}
is_mnt() { mountpoint -q "$1"; }

t=directory_volume_create_ls_inspect
st volume create data1 >/dev/null &&
	st volume ls | grep -qE '^local +data1$' &&
	mp=$(st volume inspect data1 | sed -n 's/.*"Mountpoint": "\(.*\)".*/\1/p') &&
	[ "$mp" = "$R/volumes/data1/_data" ] && [ -d "$mp" ] &&
	st volume ls -q | grep -qx data1 &&
	st volume ls --format json | grep -q '"Name":"data1","Scope":"local"' &&
	pass $t || fail $t "ls/inspect do not show data1 at $R/volumes/data1/_data (got \"${mp:-}\")"

t=anonymous_volume_gets_random_name
a1=$(st volume create) && a2=$(st volume create) &&
	[[ $a1 =~ ^[0-9a-f]{64}$ ]] && [ "$a1" != "$a2" ] &&
	st volume inspect "$a1" | grep -q '"Anonymous": true' && pass $t || fail $t "got \"$a1\" and \"$a2\""

t=invalid_names_refused
ok=1
for bad in a -x .x 'a/b' 'x y' '..' "$(printf 'a%.0s' {1..201})"; do
	expect_err $t "invalid volume name" st volume create -- "$bad" || ok=0
done
[ $ok = 1 ] && pass $t

t=same_create_twice_is_one_volume
st volume create twice >/dev/null && st volume create twice >/dev/null &&
	[ "$(st volume ls -q | grep -cx twice)" = 1 ] &&
	expect_err $t "already exists with other options" st volume create -o type=tmpfs -o device=tmpfs twice &&
	pass $t || fail $t "second create of the same volume"

t=data_kept_across_mounts
p1=$(st volume mount data1 run1) && echo kept >"$p1/file" && st volume unmount data1 run1 &&
	p2=$(st volume mount data1 run2) && [ "$(cat "$p2/file")" = kept ] && st volume unmount data1 run2 &&
	pass $t || fail $t "data written under run1 not seen by run2"

t=remove_refused_while_mounted_names_ids
st volume mount data1 ctr-a >/dev/null && st volume mount data1 ctr-b >/dev/null &&
	expect_err $t 'in use by mount ids ctr-a, ctr-b' st volume rm data1 &&
	[ -f "$R/volumes/data1/_data/file" ] &&
	st volume unmount data1 ctr-a && expect_err $t 'in use by mount id ctr-b' st volume rm data1 &&
	st volume unmount data1 ctr-b && st volume rm data1 >/dev/null && [ ! -e "$R/volumes/data1" ] &&
	! st volume ls -q | grep -qx data1 && pass $t

t=unmount_of_unknown_id_refused
st volume create u1 >/dev/null && st volume mount u1 one >/dev/null &&
	expect_err $t 'not mounted for two (held by: one)' st volume unmount u1 two &&
	st volume unmount u1 one && expect_err $t 'is not mounted' st volume unmount u1 one && pass $t

t=same_mount_id_twice_is_one_use
st volume mount u1 same >/dev/null && st volume mount u1 same >/dev/null && st volume unmount u1 same &&
	st volume rm u1 >/dev/null && pass $t || fail $t "a second mount by the same id was counted twice"

t=tmpfs_through_type_device_o
st volume create -o type=tmpfs -o device=tmpfs -o o=size=4m,mode=0750 tmp1 >/dev/null &&
	p=$(st volume mount tmp1 c1) && is_mnt "$p" &&
	findmnt -n -o FSTYPE,OPTIONS "$p" | grep -q '^tmpfs .*size=4096k.*mode=750' &&
	echo x >"$p/f" && st volume inspect tmp1 | grep -q '"o": "size=4m,mode=0750"' &&
	pass $t || fail $t "tmpfs volume not mounted as asked: $(findmnt -n -o FSTYPE,OPTIONS "${p:-/nonexistent}")"

t=first_mount_mounts_last_unmount_unmounts
p=$(st volume mount tmp1 c2) && is_mnt "$p" && [ -f "$p/f" ] &&
	st volume unmount tmp1 c1 && is_mnt "$p" && [ -f "$p/f" ] &&
	st volume unmount tmp1 c2 && ! is_mnt "$p" && pass $t || fail $t "tmpfs mount state wrong after unmounts"

t=mount_gone_by_hand_releases_holders
p=$(st volume mount tmp1 c3) && umount "$p" && st volume rm tmp1 >/dev/null && pass $t ||
	fail $t "holders of a mount that was unmounted by hand still block rm"

# a process killed after the driver mounted, before the holder was recorded
t=mount_left_by_a_crash_is_reused_then_removed
st volume create -o type=tmpfs -o device=tmpfs crash1 >/dev/null && p=$R/volumes/crash1/_data &&
	mount -t tmpfs tmpfs "$p" && echo before >"$p/f" && q=$(st volume mount crash1 c1) && [ "$q" = "$p" ] &&
	[ "$(awk -v p="$p" '$2 == p' /proc/mounts | wc -l)" = 1 ] && [ "$(cat "$p/f")" = before ] &&
	st volume unmount crash1 c1 && ! is_mnt "$p" && mount -t tmpfs tmpfs "$p" &&
	st volume rm crash1 >/dev/null && ! is_mnt "$p" && [ ! -e "$R/volumes/crash1" ] && pass $t ||
	fail $t "a leftover mount was stacked on or blocked removal ($(awk -v p="$p" '$2 == p' /proc/mounts | wc -l) mounts)"

t=tmpfs_size_option_limits_space
st volume create -o type=tmpfs -o device=tmpfs -o size=2m tsz >/dev/null && p=$(st volume mount tsz c1) &&
	! dd if=/dev/zero of="$p/big" bs=1M count=3 status=none 2>/dev/null &&
	findmnt -n -o OPTIONS "$p" | grep -q 'size=2048k' && st volume unmount tsz c1 && pass $t ||
	fail $t "3 MB fit in a 2 MB tmpfs volume"

t=bind_through_type_device_o
src=$T/bindsrc; mkdir -p "$src"; echo from-host >"$src/h"
st volume create -o type=none -o device="$src" -o o=bind bnd >/dev/null && p=$(st volume mount bnd c1) &&
	[ "$(cat "$p/h")" = from-host ] && echo from-volume >"$p/v" && st volume unmount bnd c1 &&
	[ "$(cat "$src/v")" = from-volume ] && ! is_mnt "$p" && st volume rm bnd >/dev/null &&
	[ -f "$src/h" ] && [ -f "$src/v" ] && pass $t || fail $t "bind volume did not show or keep the source"

t=option_validation_as_docker
expect_err $t 'missing required option: "type"' st volume create -o device=/dev/sda1 v-a &&
	expect_err $t 'missing required option: "device"' st volume create -o type=ext4 v-b &&
	expect_err $t 'missing required option: "device"' st volume create -o o=ro v-c &&
	expect_err $t 'missing required option: "type"' st volume create -o device=x -o o=ro v-c2 &&
	expect_err $t 'invalid option "foo"' st volume create -o foo=1 v-d &&
	expect_err $t 'invalid size "lots"' st volume create -o size=lots v-e &&
	expect_err $t 'size applies to type=tmpfs' st volume create -o type=none -o device=/x -o o=bind -o size=1m v-f &&
	expect_err $t 'a bind needs an absolute device path' st volume create -o type=none -o device=rel -o o=bind v-g &&
	expect_err $t 'given twice' st volume create -o type=tmpfs -o type=tmpfs -o device=tmpfs v-h &&
	expect_err $t 'invalid type' st volume create -o 'type=tm fs' -o device=tmpfs v-i &&
	[ -z "$(st volume ls -q | grep '^v-')" ] && [ -z "$(ls "$R/volumes/.strata/locks" | grep '^v-')" ] && pass $t ||
	fail $t "a refused create left a volume or a lock file behind"

t=bad_mount_fails_cleanly
st volume create -o type=ext4 -o device=/nonexistent/dev bad1 >/dev/null &&
	expect_err $t 'mount /nonexistent/dev' st volume mount bad1 c1 &&
	[ "$(st volume inspect bad1 | tr -d ' \n' | grep -o '"MountIDs":\[\]')" = '"MountIDs":[]' ] &&
	st volume rm bad1 >/dev/null && pass $t

t=unknown_driver_refused
expect_err $t 'volume driver "nosuchdriver" not found' st volume create -d nosuchdriver v1 &&
	[ ! -e "$R/volume-drivers/nosuchdriver" ] && pass $t

t=rm_force_ignores_missing
expect_err $t 'no such volume: ghost' st volume rm ghost && st volume rm -f ghost >/dev/null && pass $t

t=prune_removes_unused_only
st volume create keep >/dev/null && st volume create gone >/dev/null && st volume mount keep c1 >/dev/null &&
	echo 12345 >"$R/volumes/gone/_data/f" &&
	out=$(st volume prune) && [[ $out == *"Deleted Volumes:"*gone* ]] && [[ $out != *keep* ]] &&
	[[ $out == *"Total reclaimed space: 6B"* ]] &&
	st volume ls -q | grep -qx keep && ! st volume ls -q | grep -qx gone && ! st volume ls -q | grep -qx "$a1" &&
	st volume unmount keep c1 && pass $t || fail $t "prune output: ${out:-}"

# ---------------------------------------------------------- quotas
quota_case() { # name mkfs-command mount-options
	local t=$1 mk=$2 mo=$3
	command -v "${mk%% *}" >/dev/null || { skip $t "${mk%% *} not installed"; return; }
	local img=$T/$t.img mnt=$T/$t.mnt
	truncate -s 300M "$img" && mkdir -p "$mnt"
	if ! $mk "$img" >/dev/null 2>&1 || ! mount -o loop,"$mo" "$img" "$mnt" 2>/dev/null; then
		skip $t "cannot mount a ${mk%% *} image with -o $mo here ($(dmesg 2>/dev/null | grep -i quota | tail -n 1 | sed 's/^\[[^]]*\] //'))"
		return
	fi
	local QR=$mnt/root
	# ext4 (the kernel's generic quota code) lets CAP_SYS_RESOURCE pass its
	# limits, as containers do not have it: write as they would
	local nocap="setpriv --bounding-set -sys_resource"
	local s=("$BIN" --root "$QR" --storage-driver vfs)
	if "${s[@]}" volume create -o size=8m q1 >/dev/null && p=$("${s[@]}" volume mount q1 c1) &&
		dd if=/dev/zero of="$p/ok" bs=1M count=4 status=none && mkdir "$p/sub" &&
		! $nocap dd if=/dev/zero of="$p/sub/over" bs=1M count=8 status=none 2>/dev/null &&
		"${s[@]}" volume inspect q1 | grep -q 'project quota' &&
		"${s[@]}" volume unmount q1 c1 && "${s[@]}" volume rm q1 >/dev/null; then
		pass $t
	else
		fail $t "8 MB quota not enforced on $mk ($(du -sh "${p:-$mnt}" 2>/dev/null | cut -f1) written)"
	fi
	umount "$mnt"
}
quota_case size_quota_on_xfs_prjquota "mkfs.xfs -q -f" prjquota
quota_case size_quota_on_ext4_project "mkfs.ext4 -q -F -O quota,project" prjquota

t=size_refused_without_quota_support
mkdir -p "$T/plain" && mount -t tmpfs tmpfs "$T/plain" &&
	expect_err $t 'size needs project quotas' "$BIN" --root "$T/plain/root" --storage-driver vfs volume create -o size=1m nq &&
	pass $t
umount "$T/plain" 2>/dev/null

echo "volume_local: $fails failed"
[ $fails -eq 0 ]
