#!/bin/bash
# strata docker-plugin serve, the protocol side (no dockerd here; see
# docker_plugin_dockerd.sh for a real one):
#  - moby's own graph driver suite (daemon/graphdriver/graphtest, from
#    golang-github-docker-docker-dev, built offline in GOPATH mode) through moby's
#    plugin lookup and proxy driver, once per strata driver that works here, the
#    plugin's store at Init's Home on that driver's filesystem (btrfs: with its
#    quota case);
#  - bad requests (malformed JSON, wrong types, unknown and hostile ids, names and
#    paths, a hostile layer tar, wrong methods, unknown calls, oversized bodies) get
#    a JSON Err naming the object, and the plugin serves on;
#  - requests served concurrently;
#  - kill -9 in the middle of an ApplyDiff: the restarted plugin takes up its last
#    Init, the half-applied layer is gone, the store checks clean.
# ~40 s (graphtest ~8 s a driver; its first build ~90 s, then cached in the build dir).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/docker-plugin/lib.sh"
trap 'dp_cleanup; lib_cleanup' EXIT

if ! command -v curl >/dev/null; then
	skip docker_plugin "curl is not installed (scripts/deps.sh)"
	exit 0
fi

# ------------------------------------------------------------ graphtest

graphtest_driver() { # DRIVER ROOT [LABEL QUOTA]: ROOT's directory is on the driver's filesystem
	local d=$1 dir label=${3:-$1} quota=${4:-0} opts=()
	local name=dpgt-$label-$$
	dir=$(dirname "$2")
	[ -n "${STRATA_TEST_DRIVER_OPTS:-}" ] && for o in ${STRATA_TEST_DRIVER_OPTS//,/ }; do opts+=(--storage-opt "$o"); done
	[ "$d" = btrfs ] && quota=1
	if ! dp_start "$name" --graph-driver -s "$d" "${opts[@]}"; then
		fail "graphtest/$label" "the plugin did not start"
		return
	fi
	(cd "$dir" && TMPDIR=$dir STRATA_GRAPHTEST_PLUGIN=$name STRATA_GRAPHTEST_QUOTA=$quota \
		timeout 600 "$GRAPHTEST" -test.v -test.count=1 >"$T/graphtest-$label.log" 2>&1)
	local rc=$? n=0 t
	for t in $(sed -n 's/^--- PASS: \([A-Za-z0-9_]*\).*/\1/p' "$T/graphtest-$label.log"); do
		pass "graphtest/$label/$t"
		n=$((n + 1))
	done
	for t in $(sed -n 's/^--- FAIL: \([A-Za-z0-9_]*\).*/\1/p' "$T/graphtest-$label.log"); do
		fail "graphtest/$label/$t" "$(grep -v '^time=' "$T/graphtest-$label.log" | grep -A3 -- "--- FAIL: $t" | tail -n 3 | tr '\n' ' ')"
	done
	while read -r t; do
		# the quota case where the driver has no quota; any other skip is a
		# plugin that moby's lookup could not use: a failure
		if [ "$t" = TestStrataSetQuota ] && [ $quota = 0 ]; then
			skip "graphtest/$label/$t" "strata's $d driver has no quota on this filesystem"
		else
			fail "graphtest/$label/$t" "skipped: $(grep -v '^time=' "$T/graphtest-$label.log" | grep -B3 -- "--- SKIP: $t" | head -n 3 | tr '\n' ' ')"
		fi
	done < <(sed -n 's/^--- SKIP: \([A-Za-z0-9_]*\).*/\1/p' "$T/graphtest-$label.log")
	if [ $rc != 0 ] && [ $n = 0 ]; then
		fail "graphtest/$label" "exit $rc: $(tail -n 3 "$T/graphtest-$label.log" | tr '\n' ' ')"
	fi
	dp_kill "$name"
	[ -z "$(mounts_under "$dir/")" ] || fail "graphtest/$label/no_mounts_left" "$(mounts_under "$dir/" | head -3)"
}

# the VM guest runs the binary the host built (tests/vm/guest-docker-plugin.sh)
# overlay's quota case needs project quotas: xfs mounted prjquota, on a loop image
graphtest_overlay_prjquota() {
	if ! grep -qw overlay /proc/filesystems || ! command -v mkfs.xfs >/dev/null || [ ! -e /dev/loop-control ]; then
		skip graphtest/overlay-xfs-prjquota "needs overlay, mkfs.xfs (xfsprogs) and loop devices"
		return
	fi
	mkdir -p "$T/xfs" && truncate -s 1G "$T/xfs.img" && mkfs.xfs -q "$T/xfs.img" ||
		{ fail graphtest/overlay-xfs-prjquota "mkfs.xfs failed"; return; }
	if ! mount -o loop,prjquota "$T/xfs.img" "$T/xfs" 2>/dev/null; then
		if mount -o loop "$T/xfs.img" "$T/xfs" 2>/dev/null; then
			umount "$T/xfs"
			skip graphtest/overlay-xfs-prjquota "xfs mounts here, but not with prjquota (kernel $(uname -r) has no XFS quota; the VM runs it)"
		else
			fail graphtest/overlay-xfs-prjquota "cannot mount an xfs image"
		fi
		return
	fi
	mkdir -p "$T/xfs/gt"
	graphtest_driver overlay "$T/xfs/gt/root" overlay-xfs-prjquota 1
	umount "$T/xfs"
}
if [ -n "${STRATA_VM:-}" ] && [ -x "$GRAPHTEST" ]; then
	for_each_driver graphtest_driver
	[ "${DP_OVERLAY_PRJQUOTA:-0}" = 1 ] && graphtest_overlay_prjquota
elif why=$(graphtest_build); then
	pass graphtest_builds_offline
	for_each_driver graphtest_driver
	[ -z "${STRATA_TEST_DRIVERS:-}" ] && graphtest_overlay_prjquota
else
	skip graphtest "$why"
fi
[ "${DP_GRAPHTEST_ONLY:-0}" = 1 ] && exit $((fails > 0))

# ------------------------------------------------------- bad requests

ROOT=$T/store
DRIVER=vfs
N=dpbad-$$
dp_start "$N" --root "$ROOT" -s vfs || { fail plugin_starts "$(tail -n 3 "$T/$N.log")"; exit 1; }

# expect_err NAME STATUS SUBSTRING CALL BODY
expect_err() {
	local name=$1 status=$2 want=$3 out
	out=$(dp_call "$N" "$4" "$5")
	local msg
	msg=$(printf '%s' "${out#* }" | jq -r '.Err | strings' 2>/dev/null)
	if [ "${out%% *}" = "$status" ] && [ -n "$msg" ] && [[ $msg == *"$want"* ]]; then
		pass "$name"
	else
		fail "$name" "wanted $status with an Err naming \"$want\", got: ${out:0:300}"
	fi
}
expect_ok() { # NAME CALL BODY [JQ]
	local out
	out=$(dp_call "$N" "$2" "$3")
	if [ "${out%% *}" = 200 ] && printf '%s' "${out#* }" | jq -e "${4:-.}" >/dev/null 2>&1; then
		pass "$1"
	else
		fail "$1" "got: ${out:0:300}"
	fi
}

expect_err graph_before_init_is_refused 500 "Init was not called" GraphDriver.Create '{"ID":"a"}'
expect_ok init_with_opts GraphDriver.Init "{\"Home\":\"$T/home\",\"Opts\":[],\"UIDMaps\":null,\"GIDMaps\":null}"
expect_err init_unknown_storage_opt 400 '"bogus"' GraphDriver.Init "{\"Home\":\"$T/home\",\"Opts\":[\"bogus=1\"]}"
expect_err init_option_prefix_stripped 400 '"bogus2"' GraphDriver.Init "{\"Home\":\"$T/home\",\"Opts\":[\"$N.bogus2=1\"]}"
expect_ok init_restores GraphDriver.Init "{\"Home\":\"$T/home\"}"
expect_err userns_remap_refused 400 "userns-remap" GraphDriver.Init "{\"Home\":\"$T/home\",\"UIDMaps\":[{\"ContainerID\":0,\"HostID\":100000,\"Size\":65536}]}"
expect_ok init_after_refusal GraphDriver.Init "{\"Home\":\"$T/home\"}"
expect_err malformed_json 400 "invalid JSON" GraphDriver.Create '{"ID": "x",'
expect_err json_not_an_object 400 "must be a JSON object" GraphDriver.Create '["x"]'
expect_err id_not_a_string 400 '"ID" must be a string' GraphDriver.Create '{"ID": 5}'
expect_err no_id 400 "names no layer" GraphDriver.Create '{}'
printf '{"ID":"a"}\0' >"$T/nul.json"
out=$(curl -s --unix-socket "$(dp_sock "$N")" -X POST --data-binary @"$T/nul.json" -w ' %{http_code}' http://plugin/GraphDriver.Exists)
[[ $out == *'NUL byte'*' 400' ]] && pass nul_in_body_refused || fail nul_in_body_refused "$out"
for bad in ../../etc /abs .hidden a/b 'a b' "$(printf 'x%.0s' $(seq 1 200))"; do
	expect_err "hostile_layer_id_${bad:0:12}" 400 "invalid layer id" GraphDriver.Create "{\"ID\":$(jq -Rn --arg v "$bad" '$v')}"
done
expect_err hostile_parent_id 400 "invalid layer id" GraphDriver.Create '{"ID":"ok","Parent":"../x"}'
expect_err unknown_parent 500 'parent layer "nope"' GraphDriver.Create '{"ID":"child","Parent":"nope"}'
expect_err unknown_layer_get 500 'layer "nope" does not exist' GraphDriver.Get '{"ID":"nope"}'
expect_err unknown_layer_diff 500 'layer "nope" does not exist' GraphDriver.Diff '{"ID":"nope"}'
expect_err unknown_layer_changes 500 'layer "nope" does not exist' GraphDriver.Changes '{"ID":"nope"}'
expect_ok unknown_layer_exists_false GraphDriver.Exists '{"ID":"nope"}' '.Exists != true'
expect_ok unknown_layer_remove_ok GraphDriver.Remove '{"ID":"nope"}'
expect_ok create_layer GraphDriver.Create '{"ID":"l1"}'
expect_err create_twice 500 'already exists' GraphDriver.Create '{"ID":"l1"}'
expect_err storage_opt_unknown 400 '"bogus"' GraphDriver.CreateReadWrite '{"ID":"l2","Parent":"l1","StorageOpt":{"bogus":"1"}}'
expect_err storage_opt_not_object 400 '"StorageOpt" must be' GraphDriver.Create '{"ID":"l3","StorageOpt":"size=1G"}'
expect_err unknown_call 404 "unknown plugin call" GraphDriver.Explode '{}'
out=$(curl -s --unix-socket "$(dp_sock "$N")" -w ' %{http_code}' http://plugin/GraphDriver.Status)
[[ $out == *'not allowed'*' 405' ]] && pass get_method_refused || fail get_method_refused "$out"
out=$(head -c 2100000 /dev/zero | tr '\0' ' ' | curl -s --unix-socket "$(dp_sock "$N")" -X POST --data-binary @- -w ' %{http_code}' http://plugin/GraphDriver.Exists)
[[ $out == *'larger than 1 MiB'*' 413' ]] && pass oversized_body_refused || fail oversized_body_refused "${out:0:200}"

apply() { # ID PARENT FILE -> "STATUS BODY"
	dp_curl "$N" "GraphDriver.ApplyDiff?id=$1&parent=$2" -H 'Content-Type: application/x-tar' --data-binary @"$3"
}
head -c 5000 /dev/urandom >"$T/junk.tar"
out=$(apply l1 "" "$T/junk.tar")
[[ $out == 400*'Unrecognized archive format'* ]] && pass apply_not_a_tar || fail apply_not_a_tar "$out"
out=$(apply ../x "" "$T/junk.tar")
[[ $out == 400*'invalid layer id'* ]] && pass apply_hostile_query_id || fail apply_hostile_query_id "$out"
# a tar whose entries climb out of the layer
mkdir -p "$T/evil/sub" && echo pwned >"$T/evil/sub/f"
tar -C "$T/evil" -cf "$T/evil.tar" --transform 's,^sub/f,../../escaped-'$$',' sub/f 2>/dev/null
out=$(apply l1 "" "$T/evil.tar")
if [[ $out == 400*'not allowed'* ]] && ! ls "$T"/../escaped-$$ "$ROOT"/escaped-$$ /escaped-$$ >/dev/null 2>&1; then
	pass apply_hostile_tar_refused
else
	fail apply_hostile_tar_refused "$out"
fi
# ReproducesExactDiffs: the diff of an applied layer is the tar it got, byte for byte
mkdir -p "$T/ex/a/b" && echo hi >"$T/ex/a/b/f" && ln -s f "$T/ex/a/b/l" && ln "$T/ex/a/b/f" "$T/ex/a/h" && mkfifo "$T/ex/a/p"
tar -C "$T/ex" --format=gnu -cf "$T/ex.tar" a
expect_ok exact_layer_create GraphDriver.Create '{"ID":"e1","Parent":"l1"}'
out=$(apply e1 l1 "$T/ex.tar")
curl -s --unix-socket "$(dp_sock "$N")" -X POST -d '{"ID":"e1","Parent":"l1"}' http://plugin/GraphDriver.Diff >"$T/ex-out.tar"
[[ $out == 200* ]] && cmp -s "$T/ex.tar" "$T/ex-out.tar" && pass diff_gives_back_the_applied_tar_exactly ||
	fail diff_gives_back_the_applied_tar_exactly "$out; $(cmp "$T/ex.tar" "$T/ex-out.tar" 2>&1)"
expect_ok capabilities_exact_diffs GraphDriver.Capabilities '{}' '.Capabilities.ReproducesExactDiffs == true'
expect_ok exact_layer_remove GraphDriver.Remove '{"ID":"e1"}'
[ -z "$(ls "$ROOT/docker-plugin/$N/tar-split/")" ] && pass exact_record_goes_with_its_layer || fail exact_record_goes_with_its_layer "$(ls "$ROOT/docker-plugin/$N/tar-split/")"
expect_ok layer_usable_after_bad_applies GraphDriver.Get '{"ID":"l1"}' '.Dir | strings'
expect_ok put GraphDriver.Put '{"ID":"l1"}'
expect_ok put_without_get GraphDriver.Put '{"ID":"l1"}'

# volumes
expect_err hostile_volume_name 400 "invalid volume name" VolumeDriver.Create '{"Name":"../x"}'
expect_err hostile_volume_name_slash 400 "invalid volume name" VolumeDriver.Create '{"Name":"a/b"}'
expect_err volume_unknown_strata_driver 400 'unknown strata volume driver "evil"' VolumeDriver.Create '{"Name":"vv","Opts":{"driver":"evil"}}'
expect_err volume_no_plugin_through_plugin 400 'unknown strata volume driver "plugin"' VolumeDriver.Create '{"Name":"vv","Opts":{"driver":"plugin"}}'
expect_err volume_opts_not_object 400 '"Opts" must be' VolumeDriver.Create '{"Name":"vv","Opts":["a"]}'
expect_err volume_unknown_option 400 '"bogus"' VolumeDriver.Create '{"Name":"vv","Opts":{"bogus":"1"}}'
expect_err volume_nfs_bad_device 400 'is not [HOST]:/EXPORT' VolumeDriver.Create '{"Name":"nv","Opts":{"type":"nfs","device":"nocolon"}}'
expect_err volume_get_unknown 500 'v0' VolumeDriver.Get '{"Name":"v0"}'
expect_err volume_mount_unknown 500 'v0' VolumeDriver.Mount '{"Name":"v0","ID":"abc"}'
expect_ok volume_create VolumeDriver.Create '{"Name":"v1","Opts":{}}'
expect_err volume_hostile_mount_id 400 "invalid mount id" VolumeDriver.Mount '{"Name":"v1","ID":"../x"}'
expect_ok volume_mount VolumeDriver.Mount '{"Name":"v1","ID":"m1"}' '.Mountpoint | strings'
expect_err volume_remove_in_use 500 'v1' VolumeDriver.Remove '{"Name":"v1"}'
expect_ok volume_unmount VolumeDriver.Unmount '{"Name":"v1","ID":"m1"}'
# the docker local driver's nfs spelling becomes strata's nfs driver's
expect_ok volume_nfs_mapping VolumeDriver.Create '{"Name":"nv","Opts":{"type":"nfs4","device":"127.0.0.1:/srv/x","o":"rw,noatime"}}'
expect_ok volume_nfs_mapped_options VolumeDriver.Get '{"Name":"nv"}' \
	'.Volume.Status.Driver == "nfs" and .Volume.Status.Server == "127.0.0.1" and .Volume.Status.Export == "/srv/x"'
# the host in o=addr=, whatever the order of the options
expect_ok volume_nfs_mapping_addr_in_o VolumeDriver.Create '{"Name":"nv2","Opts":{"o":"addr=127.0.0.2,vers=3,ro","device":":/srv/y","type":"nfs"}}'
expect_ok volume_nfs_mapped_addr_in_o VolumeDriver.Get '{"Name":"nv2"}' \
	'.Volume.Status.Server == "127.0.0.2" and .Volume.Status.Export == "/srv/y" and .Volume.Status.Version == "3"'
expect_ok volume_remove_nfs2 VolumeDriver.Remove '{"Name":"nv2"}'
expect_ok volume_list VolumeDriver.List '{}' '[.Volumes[].Name] | sort == ["nv","v1"]'
expect_ok volume_remove VolumeDriver.Remove '{"Name":"v1"}'
expect_ok volume_remove_nfs VolumeDriver.Remove '{"Name":"nv"}'
expect_ok activate_after_bad_requests Plugin.Activate '' '.Implements == ["GraphDriver","VolumeDriver"]'

# --------------------------------------------------------- concurrency

conc() { # K: a chain of create, get, write, put, diff, remove
	local k=$1 i out
	for i in 1 2 3; do
		out=$(dp_call "$N" GraphDriver.CreateReadWrite "{\"ID\":\"c$k-$i\",\"Parent\":\"l1\"}")
		[ "${out%% *}" = 200 ] || { echo "create c$k-$i: $out"; return 1; }
		dir=$(dp_call "$N" GraphDriver.Get "{\"ID\":\"c$k-$i\"}" | sed 's/^200 //' | jq -r .Dir)
		echo "$k-$i" >"$dir/f-$k" || return 1
		dp_call "$N" GraphDriver.Put "{\"ID\":\"c$k-$i\"}" >/dev/null
		n=$(curl -s --unix-socket "$(dp_sock "$N")" -X POST -d "{\"ID\":\"c$k-$i\",\"Parent\":\"l1\"}" http://plugin/GraphDriver.Diff | tar -xOf - "f-$k")
		[ "$n" = "$k-$i" ] || { echo "diff of c$k-$i: $n"; return 1; }
		out=$(dp_call "$N" GraphDriver.Remove "{\"ID\":\"c$k-$i\"}")
		[ "${out%% *}" = 200 ] || { echo "remove c$k-$i: $out"; return 1; }
	done
}
pids=()
for k in $(seq 1 8); do conc "$k" >"$T/conc-$k.log" 2>&1 & pids+=($!); done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
[ $bad = 0 ] && pass concurrent_requests_8_clients || fail concurrent_requests_8_clients "$bad clients failed: $(cat "$T"/conc-*.log | head -3)"
# the plugin's layers are dockerd's to system check (a holder kind), not orphans
if out=$(st system check 2>&1); then pass store_checks_clean_with_plugin_layers; else fail store_checks_clean_with_plugin_layers "$out"; fi
mv "$ROOT/docker-plugin/$N" "$T/forgotten"
out=$(st system check 2>&1)
[[ $out == *"docker.$N.l1"*orphaned* ]] && pass forgotten_plugins_layers_are_orphans || fail forgotten_plugins_layers_are_orphans "$out"
mv "$T/forgotten" "$ROOT/docker-plugin/$N"
expect_ok remove_l1 GraphDriver.Remove '{"ID":"l1"}'
if out=$(st system check 2>&1); then pass store_checks_clean_after_bad_requests; else fail store_checks_clean_after_bad_requests "$out"; fi

# ------------------------------------------------ kill -9 mid ApplyDiff

mkdir -p "$T/big" && head -c 120M /dev/urandom >"$T/big/blob" && tar -C "$T/big" -cf "$T/big.tar" . && rm -rf "$T/big"
expect_ok kill_layer_create GraphDriver.Create '{"ID":"k1"}'
# the first 40 MB, then nothing more: the plugin is mid-apply when it is killed
mkfifo "$T/upload"
curl -s --unix-socket "$(dp_sock "$N")" -X POST -T - "http://plugin/GraphDriver.ApplyDiff?id=k1&parent=" \
	<"$T/upload" >"$T/kill-apply.out" 2>&1 &
cpid=$!
exec 3>"$T/upload"
head -c 40M "$T/big.tar" >&3
for _ in $(seq 1 100); do grep -qs "docker.$N.k1" "$ROOT"/leases/*.json && break; sleep 0.1; done
sleep 0.5
dp_kill "$N" KILL
exec 3>&-
wait $cpid 2>/dev/null
if grep -qs "docker.$N.k1" "$ROOT"/leases/*.json; then pass kill_mid_apply_left_its_lease; else fail kill_mid_apply_left_its_lease "no lease claims k1"; fi
dp_start "$N" --root "$ROOT" -s vfs || fail plugin_restarts "$(tail -n 3 "$T/$N.log")"
expect_ok restart_takes_up_last_init GraphDriver.Status '{}' '.Status[0][1] | strings'
expect_ok half_applied_layer_is_gone GraphDriver.Exists '{"ID":"k1"}' '.Exists != true'
expect_ok removal_after_kill_succeeds GraphDriver.Remove '{"ID":"k1"}'
if out=$(st system check 2>&1); then pass store_checks_clean_after_kill; else fail store_checks_clean_after_kill "$out"; fi
expect_ok create_after_kill GraphDriver.Create '{"ID":"k2"}'
out=$(apply k2 "" "$T/big.tar")
[[ $out == 200*'"Size":'* ]] && pass apply_after_kill || fail apply_after_kill "$out"
expect_ok remove_after_apply GraphDriver.Remove '{"ID":"k2"}'
dp_kill "$N"
[ -z "$(mounts_under "$ROOT")" ] && pass no_mounts_left || fail no_mounts_left "$(mounts_under "$ROOT")"
[ ! -e "$(dp_sock "$N")" ] && pass socket_removed_at_exit || fail socket_removed_at_exit "$(dp_sock "$N") is still there"

# --------------------------------------- socket elsewhere, spec file, pidfile

A=dpalt-$$
"$BIN" docker-plugin serve --name "$A" --socket "$T/alt/p.sock" --spec "$T/specs/$A.spec" --pidfile "$T/$A.pid" \
	--volume-driver --root "$T/altstore" >"$T/$A.log" 2>&1 &
apid=$!
for _ in $(seq 1 100); do [ -S "$T/alt/p.sock" ] && break; sleep 0.1; done
out=$(curl -s --unix-socket "$T/alt/p.sock" -X POST http://plugin/Plugin.Activate)
[ "$out" = '{"Implements":["VolumeDriver"]}' ] && pass volume_only_plugin_activates || fail volume_only_plugin_activates "$out"
out=$(curl -s --unix-socket "$T/alt/p.sock" -X POST -d '{"ID":"x"}' http://plugin/GraphDriver.Exists)
[[ $out == *'unknown plugin call'* ]] && pass volume_only_plugin_serves_no_graph_calls || fail volume_only_plugin_serves_no_graph_calls "$out"
[ "$(cat "$T/specs/$A.spec" 2>&1)" = "unix://$T/alt/p.sock" ] && pass spec_file_names_the_socket || fail spec_file_names_the_socket "$(cat "$T/specs/$A.spec" 2>&1)"
[ "$(stat -c %a "$T/alt/p.sock")" = 600 ] && pass socket_is_root_only || fail socket_is_root_only "$(stat -c %a "$T/alt/p.sock")"
out=$("$BIN" docker-plugin serve --name "$A" --socket "$T/alt/q.sock" --pidfile "$T/$A.pid" --root "$T/altstore" 2>&1)
[ $? = 1 ] && [[ $out == *"a server is running (pid $apid)"* ]] && pass second_server_on_pidfile_refused || fail second_server_on_pidfile_refused "$out"
out=$("$BIN" docker-plugin serve --name "$A" --socket "$T/alt/p.sock" --root "$T/altstore" 2>&1)
[ $? = 1 ] && [[ $out == *"another server is listening"* ]] && pass second_server_on_socket_refused || fail second_server_on_socket_refused "$out"
out=$("$BIN" docker-plugin serve --name ../x 2>&1)
[ $? = 2 ] && [[ $out == *'invalid plugin name'* ]] && pass hostile_plugin_name_refused || fail hostile_plugin_name_refused "$out"
kill "$apid"
wait "$apid" 2>/dev/null
[ ! -e "$T/alt/p.sock" ] && [ ! -e "$T/specs/$A.spec" ] && [ ! -e "$T/$A.pid" ] && pass socket_spec_pidfile_removed_at_exit ||
	fail socket_spec_pidfile_removed_at_exit "$(ls "$T/alt" "$T/specs" 2>&1)"
exit $((fails > 0))
