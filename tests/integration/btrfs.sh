#!/bin/bash
# The btrfs driver through the strata command on a loop-mounted btrfs made
# here: layers are subvolumes and children snapshots, read-only layers are
# sealed, commit flips the flag in place, size= quotas through qgroups
# (half written is fine, past the limit fails with EDQUOT/ENOSPC; enabled on
# demand; shown by `strata info`), nested subvolumes a container made go
# with its layer, a busy layer's removal fails clearly and leaves it whole,
# a removal killed half way is finished by the next command.
set -u
cd "$(dirname "$0")/../.."
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
. tests/conformance/env-btrfs.sh
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }

if ! why=$(btrfs_test_available); then
	skip btrfs "$why"
	exit 0
fi
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-btrfs-XXXXXX")
trap 'btrfs_test_cleanup "$T"' EXIT
if ! btrfs_test_mount "$T" 2G; then
	fail btrfs "cannot make a loop-mounted btrfs in $T"
	exit 1
fi
M=$T/mnt
R=$M/root
SV=$R/btrfs/subvolumes
st() { "$BIN" --root "$R" --storage-driver btrfs "$@"; }
# expect_err NAME "substring" cmd...: the command fails (exit 1) and says so
expect_err() {
	local name=$1 want=$2; shift 2
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ $rc -ne 1 ]; then fail "$name" "exit $rc, want 1 (output: $out)"; return 1; fi
	if [[ $out != *"$want"* ]]; then fail "$name" "message \"$out\" lacks \"$want\""; return 1; fi
	return 0
}
ro_flag() { btrfs property get -ts "$1" ro 2>/dev/null | sed 's/^ro=//'; }
subvol_id() { btrfs inspect-internal rootid "$1" 2>/dev/null; }
mktar() { # mktar DIR: a tar of DIR's content on stdout
	tar -C "$1" --numeric-owner -cf - .
}

src=$T/src
mkdir -p "$src/etc" "$src/usr/bin"
echo root > "$src/etc/passwd"
echo hello > "$src/usr/bin/hello"
chmod 755 "$src/usr/bin/hello"

t=probe_refuses_a_home_off_btrfs_with_the_reason
other=$(mktemp -d /dev/shm/strata-btrfs-probe-XXXXXX)
expect_err $t "not btrfs" "$BIN" --root "$other" --storage-driver btrfs info && pass $t
rm -rf "$other"

t=layers_are_subvolumes_children_are_snapshots
if st driver create base >/dev/null && mktar "$src" | st driver apply base >/dev/null &&
	st driver create --parent base --rw c1 >/dev/null &&
	btrfs subvolume show "$SV/base" >/dev/null 2>&1 &&
	puuid=$(btrfs subvolume show "$SV/c1" | awk '/Parent UUID:/ {print $3}') &&
	[ "$puuid" = "$(btrfs subvolume show "$SV/base" | awk '/^[[:space:]]*UUID:/ {print $2}')" ] &&
	[ "$(cat "$SV/c1/etc/passwd")" = root ]; then
	pass $t
else
	fail $t "base/c1 are not a subvolume and its snapshot (parent uuid ${puuid:-none})"
fi

t=read_only_layer_sealed_after_apply_rw_layer_writable
if [ "$(ro_flag "$SV/base")" = true ] && ! (echo x > "$SV/base/new") 2>/dev/null &&
	[ "$(ro_flag "$SV/c1")" = false ] && echo x > "$SV/c1/new"; then
	pass $t
else
	fail $t "base ro=$(ro_flag "$SV/base"), c1 ro=$(ro_flag "$SV/c1")"
fi

t=commit_in_place_keeps_subvolume_and_inodes
id_before=$(subvol_id "$SV/c1")
ino_before=$(stat -c %i "$SV/c1/new")
if st driver commit c1 && [ "$(subvol_id "$SV/c1")" = "$id_before" ] &&
	[ "$(stat -c %i "$SV/c1/new")" = "$ino_before" ] && [ "$(ro_flag "$SV/c1")" = true ] &&
	[ "$(cat "$SV/c1/new")" = x ]; then
	pass $t
else
	fail $t "subvolume $id_before -> $(subvol_id "$SV/c1"), ro=$(ro_flag "$SV/c1")"
fi

t=quota_enabled_on_demand_and_shown_by_info
q_before=$(st info | sed -n 's/^ *Quota: //p')
big=$T/big
mkdir -p "$big" && head -c $((80 << 20)) /dev/urandom > "$big/blob"
if st driver create bigbase >/dev/null && mktar "$big" | st driver apply bigbase >/dev/null &&
	st driver create --parent bigbase --rw --storage-opt size=64M q1 >/dev/null; then
	q_after=$(st info | sed -n 's/^ *Quota: //p')
	if [[ $q_before == disabled* && $q_after == enabled* ]]; then
		pass $t
	else
		fail $t "Quota was \"$q_before\", then \"$q_after\""
	fi
else
	fail $t "cannot create a read-write layer with size=64M"
fi

# The limit counts what the container writes, not the 80 MB it shares with
# its image: half the quota goes in, past it does not.
t=quota_half_written_ok_past_it_fails_edquot
p=$(st driver mount q1)
if dd if=/dev/urandom of="$p/half" bs=1M count=32 conv=fsync status=none 2>"$T/dd1"; then
	if dd if=/dev/urandom of="$p/past" bs=1M count=64 conv=fsync status=none 2>"$T/dd2"; then
		fail $t "64 MB more were written under a 64M quota"
	elif grep -qE "Disk quota exceeded|No space left" "$T/dd2"; then
		pass $t
	else
		fail $t "writing past the quota failed otherwise: $(cat "$T/dd2")"
	fi
else
	fail $t "half the quota could not be written: $(cat "$T/dd1")"
fi
st driver unmount q1

t=size_refused_on_read_only_layers_and_when_malformed
expect_err $t "read-write layers only" st driver create --storage-opt size=10M ro1 &&
	expect_err $t "invalid size" st driver create --rw --storage-opt size=lots rw1 &&
	expect_err $t "unknown option" st driver create --rw --storage-opt quota=1G rw2 &&
	! st driver exists rw1 && pass $t

t=layer_at_its_quota_still_removable
if st driver create --rw --storage-opt size=16M full >/dev/null && p=$(st driver mount full) &&
	btrfs subvolume create "$p/inner" >/dev/null &&
	! dd if=/dev/zero of="$p/fill" bs=1M count=64 status=none 2>/dev/null && st driver unmount full &&
	st driver rm full && [ ! -e "$SV/full" ]; then
	pass $t
else
	fail $t "a full layer with a nested subvolume could not be removed"
fi

t=nested_subvolume_a_container_made_goes_with_its_layer
if st driver create --parent base --rw c2 >/dev/null && p=$(st driver mount c2) &&
	btrfs subvolume create "$p/vol" >/dev/null && btrfs subvolume create "$p/vol/deeper" >/dev/null &&
	echo data > "$p/vol/deeper/f" && st driver unmount c2 &&
	[ "$(btrfs subvolume list -o "$SV/c2" | wc -l)" = 1 ] &&
	st driver rm c2 && [ ! -e "$SV/c2" ] &&
	! btrfs subvolume list "$M" | grep -qE '/(c2|vol|deeper)$|trash'; then
	pass $t
else
	fail $t "left: $(btrfs subvolume list "$M" | grep -E '/(c2|vol|deeper)$|trash')"
fi

t=nested_subvolume_is_layer_content_for_children
if st driver create --parent base --rw c3 >/dev/null && p=$(st driver mount c3) &&
	btrfs subvolume create "$p/vol" >/dev/null && echo kept > "$p/vol/f" && st driver unmount c3 &&
	st driver commit c3 && [ "$(ro_flag "$SV/c3/vol")" = true ] &&
	st driver create --parent c3 --rw c4 >/dev/null && [ "$(cat "$SV/c4/vol/f")" = kept ] &&
	[ -z "$(st driver changes c4)" ] && st driver rm c4 && st driver rm c3 &&
	! btrfs subvolume list "$M" | grep -qE '/(c3|c4)(/|$)'; then
	pass $t
else
	fail $t "the child of a layer with a nested subvolume does not see it unchanged"
fi

t=busy_removal_fails_clearly_layer_stays_usable
st driver create --parent base --rw busy >/dev/null
mkdir -p "$SV/busy/proc" "$T/elsewhere"
mount --bind "$T/elsewhere" "$SV/busy/proc"
if expect_err $t "is busy" st driver rm busy && st driver exists busy && p=$(st driver mount busy) &&
	[ "$(cat "$p/etc/passwd")" = root ] && echo more > "$p/more" && st driver unmount busy; then
	umount "$SV/busy/proc"
	if st driver rm busy && ! st driver exists busy; then pass $t; else fail $t "removal after umount failed"; fi
else
	umount "$SV/busy/proc" 2>/dev/null
	fail $t "the busy layer was not refused or not left usable"
fi

t=removal_killed_after_rename_is_finished_by_next_command
st driver create --parent base --rw doomed >/dev/null
mv "$SV/doomed" "$SV/.trash-doomed-0123456789abcdef"
btrfs property set -ts "$SV/.trash-doomed-0123456789abcdef" ro true
if st driver ls >/dev/null && [ ! -e "$SV/.trash-doomed-0123456789abcdef" ] &&
	! btrfs subvolume list "$M" | grep -q trash; then
	pass $t
else
	fail $t "the .trash- subvolume is still there"
fi

t=info_shows_data_space_used_and_free
info=$(st info)
if grep -q "Data Space Used: " <<<"$info" && grep -q "Data Space Available: " <<<"$info" &&
	grep -q "Backing Filesystem: btrfs" <<<"$info"; then
	pass $t
else
	fail $t "info: $info"
fi

t=no_mount_left_after_commands
if awk -v d="$R" 'index($5, d) == 1' /proc/self/mountinfo | grep -q .; then
	fail $t "$(awk -v d="$R" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo)"
else
	pass $t
fi

# Where the filesystem is mounted shared, the home becomes a private mount
# (bound onto itself) once, and stays one: no second mount on the next run.
t=home_made_private_where_the_mount_is_shared
mount --make-shared "$M"
st driver ls >/dev/null && st driver ls >/dev/null
prop=$(findmnt -n -o PROPAGATION --mountpoint "$R/btrfs" 2>/dev/null)
n=$(awk -v d="$R/btrfs" '$5 == d' /proc/self/mountinfo | wc -l)
if [ "$prop" = private ] && [ "$n" = 1 ]; then
	pass $t
else
	fail $t "home propagation \"$prop\", $n mounts on it"
fi

for l in $(st driver ls 2>/dev/null | awk 'NR > 1 {print $1}' | tac); do st driver rm "$l" >/dev/null 2>&1; done
exit $((fails > 0))
