#!/bin/bash
# Guest suite: strata docker-plugin serve where the host kernel cannot go.
#  - NFS volumes through the VolumeDriver protocol, against the kernel NFS
#    server on the guest's loopback. dockerd is not run in the guest (no
#    containerd, no cgroup setup in the initramfs, and a boot per daemon
#    under TCG); the calls dockerd makes are sent with curl --unix-socket:
#    Create with Docker's local-driver NFS spelling, Mount by two mount ids
#    sharing one NFS mount, data through the mount on the server, Unmount of
#    the last unmounting, Remove.
#  - moby's graph driver suite (graphtest, built by the host) through moby's
#    plugin client on strata's devmapper driver, and on overlay over xfs with
#    project quotas (its quota case; the host kernel has no XFS quota).
# Prints PASS/FAIL/SKIP per case; run by tests/vm/runner.sh (or alone:
# tests/vm/check-vm.sh --run tests/vm/guest-docker-plugin.sh).
set -u
: "${STRATA_BIN:?run by tests/vm/runner.sh}"
. tests/vm/guestlib.sh
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-dp-XXXXXX")
EXP=/srv/strata-dp-nfs
N=dpvm
S=/run/docker/plugins/$N.sock
fails=0
pass() { echo "PASS docker-plugin/$1"; }
fail() { echo "FAIL docker-plugin/$1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP docker-plugin/$1: $2"; }
call() { curl -s --unix-socket "$S" -X POST --data-binary "$2" "http://plugin/$1"; }
mounts_at() { awk -v p="$1" '$2 == p' /proc/mounts | wc -l; }

nfs_ok=1
for tool in rpcbind rpc.mountd rpc.nfsd exportfs curl jq; do
	command -v $tool >/dev/null || { skip nfs "$tool is not installed (scripts/deps.sh)"; nfs_ok=0; break; }
done
if [ $nfs_ok = 1 ]; then
	nfs_server_prepare "$EXP"
	echo served >"$EXP/served.txt"
	if ! nfs_server_start "$EXP"; then
		fail nfs_server "the kernel NFS server did not start"
		nfs_ok=0
	fi
fi
if [ $nfs_ok = 1 ]; then
	"$STRATA_BIN" docker-plugin serve --name $N --volume-driver --root "$T/root" -s vfs >"$T/plugin.log" 2>&1 &
	ppid=$!
	for _ in $(seq 1 100); do [ -S "$S" ] && break; sleep 0.1; done
	out=$(call VolumeDriver.Create '{"Name":"nv","Opts":{"type":"nfs","device":":/","o":"addr=127.0.0.1,vers=4.2,noac"}}')
	[ "$out" = "{}" ] && pass create_nfs_volume_docker_spelling || fail create_nfs_volume_docker_spelling "$out"
	r1=$(call VolumeDriver.Mount '{"Name":"nv","ID":"m1"}')
	r2=$(call VolumeDriver.Mount '{"Name":"nv","ID":"m2"}')
	p1=$(jq -r '.Mountpoint // empty' <<<"$r1")
	p2=$(jq -r '.Mountpoint // empty' <<<"$r2")
	if [ -n "$p1" ] && [ "$p1" = "$p2" ] && [ "$(mounts_at "$p1")" = 1 ] && [ "$(cat "$p1/served.txt" 2>&1)" = served ] &&
		awk -v p="$p1" '$2 == p' /proc/mounts | grep -q ' nfs4 .*vers=4.2'; then
		pass two_mount_ids_share_one_nfs_mount
	else
		fail two_mount_ids_share_one_nfs_mount "$r1 / $r2: $(awk -v p="$p1" '$2 == p' /proc/mounts)"
		sed 's/^/    plugin: /' "$T/plugin.log"
		dmesg | grep -i -E 'nfs|rpc' | tail -n 5 | sed 's/^/    dmesg: /'
	fi
	echo from-plugin >"$p1/written.txt" 2>/dev/null
	[ "$(cat "$EXP/written.txt" 2>&1)" = from-plugin ] && pass data_reaches_the_server || fail data_reaches_the_server "$(cat "$EXP/written.txt" 2>&1)"
	out=$(call VolumeDriver.Path '{"Name":"nv"}' | jq -r .Mountpoint)
	[ "$out" = "$p1" ] && pass path_is_the_mountpoint || fail path_is_the_mountpoint "$out"
	out=$(call VolumeDriver.Remove '{"Name":"nv"}')
	[[ $out == *'"Err":'*nv* ]] && pass remove_refused_while_mounted || fail remove_refused_while_mounted "$out"
	call VolumeDriver.Unmount '{"Name":"nv","ID":"m1"}' >/dev/null
	[ "$(mounts_at "$p1")" = 1 ] && pass unmount_of_one_user_keeps_the_mount || fail unmount_of_one_user_keeps_the_mount "$(mounts_at "$p1") mounts"
	call VolumeDriver.Unmount '{"Name":"nv","ID":"m2"}' >/dev/null
	[ "$(mounts_at "$p1")" = 0 ] && pass last_unmount_unmounts || fail last_unmount_unmounts "$(mounts_at "$p1") mounts"
	out=$(call VolumeDriver.Remove '{"Name":"nv"}')
	[ "$out" = "{}" ] && [ -z "$("$STRATA_BIN" --root "$T/root" volume ls -q)" ] && pass remove || fail remove "$out"
	kill "$ppid"
	wait "$ppid" 2>/dev/null
	nfs_server_stop
fi

# moby's graphtest on devmapper (the host's integration suite, this driver only)
if [ -x "$STRATA_BUILD/tests/graphtest" ]; then
	STRATA_TEST_DRIVERS=devmapper DP_OVERLAY_PRJQUOTA=1 DP_GRAPHTEST_ONLY=1 bash tests/integration/docker_plugin.sh 2>&1 |
		sed -n 's/^\(PASS\|FAIL\|SKIP\) /\1 docker-plugin\//p' >"$T/graphtest.out"
	cat "$T/graphtest.out"
	grep -q '^FAIL' "$T/graphtest.out" && fails=$((fails + 1))
else
	skip graphtest "the host did not build moby's graphtest ($STRATA_BUILD/tests/graphtest)"
fi
rm -rf "$T"
exit $((fails > 0))
