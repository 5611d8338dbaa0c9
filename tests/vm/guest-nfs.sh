#!/bin/bash
# Guest suite: the nfs volume driver against the kernel NFS server on the
# guest's own loopback (the host kernel has neither NFS client nor server).
# NFSv3 and v4.2 mounts, a host name resolved before mounting, two mount ids
# sharing one mount, the last unmount unmounting, remove refused while
# mounted, and a stopped server giving an error in bounded time.
# Prints PASS/FAIL/SKIP per case; run by tests/vm/runner.sh (or alone:
# tests/vm/check-vm.sh --run tests/vm/guest-nfs.sh).
set -u
: "${STRATA_BIN:?run by tests/vm/runner.sh}"
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-nfs-XXXXXX")
R=$T/root
EXP=/srv/strata-nfs
fails=0
pass() { echo "PASS nfs/$1"; }
fail() { echo "FAIL nfs/$1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP nfs/$1: $2"; }
st() { "$STRATA_BIN" --root "$R" --storage-driver vfs "$@"; }
ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
expect_err() {
	local name=$1 want=$2; shift 2
	local out rc
	out=$("$@" 2>&1); rc=$?
	echo "  ($name: exit $rc: $out)"
	if [ $rc -ne 1 ]; then fail "$name" "exit $rc, want 1 (output: $out)"; return 1; fi
	if [[ $out != *"$want"* ]]; then fail "$name" "message \"$out\" lacks \"$want\""; return 1; fi
	return 0
}
mounts_at() { awk -v p="$1" '$2 == p' /proc/mounts | wc -l; }

for tool in rpcbind rpc.mountd rpc.nfsd exportfs; do
	command -v $tool >/dev/null || { skip suite "$tool is not installed (nfs-kernel-server, rpcbind)"; exit 0; }
done

# ------------------------------------------------------------ the server
. tests/vm/guestlib.sh
server_start() { nfs_server_start "$EXP"; }
server_stop() { nfs_server_stop; }
nfs_server_prepare "$EXP"
echo served >"$EXP/served.txt"
grep -q nfs-server.test /etc/hosts || echo "127.0.0.1 nfs-server.test" >>/etc/hosts
t0=$(ms)
if ! server_start; then
	fail server "the kernel NFS server did not start"
	exit 1
fi
echo "nfs server up in $(($(ms) - t0)) ms"

# ------------------------------------------------------------ the cases
t=v3_mount_resolves_host_and_shares_data
if st volume create -d nfs -o addr=nfs-server.test -o export=$EXP -o vers=3 -o o=noac n3 >/dev/null &&
	p=$(st volume mount n3 c1) && [ "$(cat "$p/served.txt")" = served ] && echo from-v3 >"$p/v3.txt" &&
	[ "$(cat $EXP/v3.txt)" = from-v3 ] &&
	line=$(awk -v p="$p" '$2 == p' /proc/mounts) && [[ $line == "nfs-server.test:$EXP $p nfs "* ]] &&
	[[ $line == *vers=3* ]] && [[ $line == *addr=127.0.0.1* ]] && [[ $line == *noac* ]]; then
	pass $t
else
	fail $t "v3 volume: $(awk -v p="${p:-/x}" '$2 == p' /proc/mounts)"
fi

t=two_mount_ids_share_one_mount
p2=$(st volume mount n3 c2) && [ "$p2" = "$p" ] && [ "$(mounts_at "$p")" = 1 ] &&
	st volume inspect n3 | tr -d ' \n' | grep -q '"MountIDs":\["c1","c2"\]' && pass $t ||
	fail $t "second user: path ${p2:-?}, $(mounts_at "$p") mounts at $p"

t=remove_refused_while_mounted
expect_err $t 'in use by mount ids c1, c2' st volume rm n3 && pass $t

t=last_unmount_unmounts
st volume unmount n3 c1 && [ "$(mounts_at "$p")" = 1 ] && st volume unmount n3 c2 && [ "$(mounts_at "$p")" = 0 ] &&
	[ "$(cat $EXP/v3.txt)" = from-v3 ] && pass $t || fail $t "$(mounts_at "$p") mounts at $p after the unmounts"

t=v42_mount
if st volume create -d nfs -o addr=127.0.0.1 -o export=/ -o vers=4.2 n42 >/dev/null &&
	t1=$(ms) && p=$(st volume mount n42 c1) && [ "$(cat "$p/v3.txt")" = from-v3 ] && echo from-v42 >"$p/v42.txt" &&
	[ "$(cat $EXP/v42.txt)" = from-v42 ] &&
	line=$(awk -v p="$p" '$2 == p' /proc/mounts) && [[ $line == *" nfs4 "*vers=4.2* ]] &&
	st volume inspect n42 | grep -q '"Scope": "global"' && st volume unmount n42 c1 && [ "$(mounts_at "$p")" = 0 ]; then
	pass $t
	echo "  (v4.2 first mount took $(($(ms) - t1)) ms with unmount)"
else
	fail $t "v4.2 volume: ${line:-no mount}"
fi

t=options_validated
expect_err $t 'missing required option: "export"' st volume create -d nfs -o addr=127.0.0.1 bad1 &&
	expect_err $t 'invalid vers "5"' st volume create -d nfs -o addr=h -o export=/x -o vers=5 bad2 &&
	expect_err $t 'the version comes from -o vers=' st volume create -d nfs -o addr=h -o export=/x -o o=nfsvers=3 bad3 &&
	expect_err $t 'invalid export' st volume create -d nfs -o addr=h -o export=rel bad4 &&
	expect_err $t 'invalid option "device"' st volume create -d nfs -o addr=h -o export=/x -o device=y bad5 &&
	pass $t

t=unresolvable_host_clear_error
st volume create -d nfs -o addr=no-such-host.invalid -o export=$EXP nx >/dev/null &&
	expect_err $t 'resolve "no-such-host.invalid"' st volume mount nx c1 && st volume rm nx >/dev/null && pass $t

# ---------------------------------------------------- a server that is down
st volume create -d nfs -o addr=127.0.0.1 -o export=/ -o vers=4.2 -o timeout=10 -o o=soft,timeo=20,retrans=1 down4 >/dev/null
st volume create -d nfs -o addr=127.0.0.1 -o export=$EXP -o vers=3 -o timeout=10 -o o=soft,timeo=20,retrans=1 down3 >/dev/null
pm=$(st volume mount down4 held)
server_stop

for v in down4b down3b; do
	vers=4.2 ex=/; [ $v = down3b ] && vers=3 ex=$EXP
	t=stopped_server_timely_error_v${vers/./}
	st volume create -d nfs -o addr=127.0.0.1 -o export=$ex -o vers=$vers -o timeout=10 $v >/dev/null
	t1=$(ms)
	out=$(st volume mount $v c1 2>&1); rc=$?
	took=$(($(ms) - t1))
	echo "  ($t: exit $rc after $took ms: $out)"
	if [ $rc = 1 ] && [ $took -lt 20000 ] && [[ $out == *"nfs: volume \"$v\": mount 127.0.0.1:$ex"* ]] &&
		[[ $out == *"is the server"* ]] &&
		st volume inspect $v | tr -d ' \n' | grep -q '"MountIDs":\[\]'; then
		pass $t
	else
		fail $t "exit $rc after $took ms: $out"
	fi
done

t=unmount_with_server_down_bounded
t1=$(ms)
st volume unmount down4 held; rc=$?
took=$(($(ms) - t1))
[ $rc = 0 ] && [ "$(mounts_at "$pm")" = 0 ] && [ $took -lt 25000 ] && pass $t ||
	fail $t "exit $rc after $took ms, $(mounts_at "$pm") mounts left at $pm"
echo "  (unmount with the server down took $took ms)"

t=server_back_mount_works_again
server_start && p=$(st volume mount down3 c1) && [ "$(cat "$p/served.txt")" = served ] && st volume unmount down3 c1 &&
	pass $t || fail $t "no mount after the server came back"

for v in n3 n42 down4 down3 down4b down3b; do st volume rm $v >/dev/null 2>&1; done
t=removed_volumes_leave_server_data
[ "$(cat $EXP/v42.txt)" = from-v42 ] && [ -z "$(ls "$R/volume-drivers/nfs/mnt")" ] && pass $t ||
	fail $t "data on the server or mount points gone wrong"

server_stop
for m in $(awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m"; done
umount "$EXP" 2>/dev/null
rm -rf "$T"
echo "nfs: $fails failed"
[ $fails -eq 0 ]
