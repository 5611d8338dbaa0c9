#!/bin/bash
# A real dockerd 20.10 on strata's plugin (--experimental --storage-driver NAME;
# private data root, exec root, socket and pidfile): docker info shows strata; a
# busybox base imported; the demo's app1 and app2 built (classic builder) sharing
# their first three layers; run; docker diff; docker commit; docker save and the
# saved tar loaded back; the plugin killed -9 in the middle of an import and
# restarted, dockerd going on. Volumes through the same plugin: docker volume
# create -d NAME, run -v writing then reading back; an nfs volume's options
# mapped to strata's nfs driver; podman through containers.conf
# [engine.volume_plugins]: create, run -v, rm. The strata store (--root) checks
# clean at the end. ~60 s.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/docker-plugin/lib.sh"
. "$TOP/tests/lib/podman.sh"

D() { /usr/bin/docker -H "unix://$T/docker/run/docker.sock" "$@"; }
export CONTAINERS_STORAGE_CONF=$T/podman/storage.conf CONTAINERS_CONF=$T/podman/containers.conf
export DOCKER_BUILDKIT=0
N=strata-it-$$
ROOT=$T/strata
DRIVER=

stop_dockerd() {
	local pid
	pid=$(cat "$T/docker/run/docker.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
}
trap 'stop_dockerd; dp_cleanup; lib_cleanup' EXIT

if ! command -v dockerd >/dev/null || [ ! -x /usr/bin/docker ] || ! command -v curl >/dev/null; then
	skip docker_plugin_dockerd "dockerd, /usr/bin/docker or curl missing (docker.io, curl: scripts/deps.sh)"
	exit 0
fi
if ! grep -qw overlay /proc/filesystems; then
	skip docker_plugin_dockerd "no overlay in this kernel (the plugin runs on strata's overlay driver here)"
	exit 0
fi

dp_start "$N" --root "$ROOT" -s overlay || { fail plugin_starts "$(tail -n 3 "$T/$N.log")"; exit 1; }
mkdir -p "$T/docker/root" "$T/docker/run"
dockerd --experimental --storage-driver "$N" --data-root "$T/docker/root" --exec-root "$T/docker/run/exec" \
	--pidfile "$T/docker/run/docker.pid" -H "unix://$T/docker/run/docker.sock" \
	--iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
	>"$T/docker/dockerd.log" 2>&1 &
disown $!
for _ in $(seq 1 150); do D version >/dev/null 2>&1 && break; sleep 0.2; done
if ! D version >/dev/null 2>&1; then
	fail dockerd_starts_on_strata "$(tail -n 5 "$T/docker/dockerd.log")"
	exit 1
fi
pass dockerd_starts_on_strata

info=$(D info 2>&1)
if grep -q "Storage Driver: $N" <<<"$info" && grep -q "Strata Storage Driver: overlay" <<<"$info" &&
	grep -q "Strata Store: $ROOT" <<<"$info"; then
	pass docker_info_shows_strata
else
	fail docker_info_shows_strata "$(grep -A3 'Storage Driver' <<<"$info")"
fi

"$TOP/scripts/busybox-rootfs.sh" "$T/rootfs" >/dev/null && tar -C "$T/rootfs" -cf "$T/base.tar" .
if D import "$T/base.tar" base >/dev/null 2>"$T/err" && [ "$(D run --rm base echo ok 2>&1)" = ok ]; then
	pass import_busybox_base_and_run
else
	fail import_busybox_base_and_run "$(cat "$T/err")"
fi

# app1 and app2: the same base and RUN steps, their own COPY
if D build --network=none -q -t app1 "$TOP/examples/demo/app1" >/dev/null 2>"$T/err" &&
	D build --network=none -t app2 "$TOP/examples/demo/app2" >"$T/build2.log" 2>&1; then
	pass build_app1_app2
else
	fail build_app1_app2 "$(cat "$T/err"; tail -n 5 "$T/build2.log")"
fi
l1=$(D image inspect -f '{{join .RootFS.Layers " "}}' app1 2>/dev/null)
l2=$(D image inspect -f '{{join .RootFS.Layers " "}}' app2 2>/dev/null)
read -ra a1 <<<"$l1"
read -ra a2 <<<"$l2"
if [ ${#a1[@]} = 4 ] && [ ${#a2[@]} = 4 ] && [ "${a1[*]:0:3}" = "${a2[*]:0:3}" ] && [ "${a1[3]}" != "${a2[3]}" ] &&
	[ "$(grep -c 'Using cache' "$T/build2.log")" = 2 ]; then
	pass app1_app2_share_three_layers
else
	fail app1_app2_share_three_layers "app1: $l1; app2: $l2"
fi
# shared in the store too: one driver layer per distinct docker layer
nlayers=$(find "$ROOT/overlay/.strata/layers" -maxdepth 1 -name "docker.$N.*" ! -name '*-init' | wc -l)
[ "$nlayers" = 5 ] && pass store_holds_each_shared_layer_once || fail store_holds_each_shared_layer_once "$nlayers driver layers (want 5: base, 2 RUN, 2 COPY)"
out1=$(D run --rm app1 2>&1 | tail -n 1)
out2=$(D run --rm app2 2>&1 | tail -n 1)
[ "$out1" = "hello from app1" ] && [ "$out2" = "hello from app2" ] && pass run_app1_app2 || fail run_app1_app2 "$out1 / $out2"

# diff and commit
D run --name c1 base sh -c 'echo x > /new; rm /etc/group; mkdir -p /var/tmp/d' >/dev/null 2>&1
diff=$(D diff c1 2>&1 | sort | tr '\n' ' ')
[ "$diff" = "A /new A /var/tmp/d C /etc C /var C /var/tmp D /etc/group " ] && pass docker_diff || fail docker_diff "$diff"
if D commit c1 committed >/dev/null 2>"$T/err" && [ "$(D run --rm committed sh -c 'cat /new; ls /etc/group 2>&1')" = "x
ls: /etc/group: No such file or directory" ]; then
	pass docker_commit
else
	fail docker_commit "$(cat "$T/err")"
fi
D rm c1 >/dev/null 2>&1

# save, remove, load back
if D save -o "$T/apps.tar" app1 app2 committed 2>"$T/err" && D rmi app1 app2 committed >/dev/null 2>>"$T/err" &&
	D load -i "$T/apps.tar" >/dev/null 2>>"$T/err" &&
	[ "$(D image inspect -f '{{join .RootFS.Layers " "}}' app1)" = "$l1" ] &&
	[ "$(D run --rm app2 2>&1 | tail -n 1)" = "hello from app2" ]; then
	pass save_and_load_back
else
	fail save_and_load_back "$(cat "$T/err")"
fi

# kill -9 of the plugin in the middle of an import; dockerd goes on
mkdir -p "$T/big/bin" && cp /bin/busybox "$T/big/bin/" && head -c 80M /dev/urandom >"$T/big/blob" &&
	tar -C "$T/big" -cf "$T/big.tar" . && rm -rf "$T/big"
D import "$T/big.tar" big >"$T/import1.log" 2>&1 &
ipid=$!
# the plugin frozen as soon as it is applying the layer, then killed: it
# dies mid-apply whatever the machine's speed
for _ in $(seq 1 300); do ls "$ROOT"/leases/*.json 2>/dev/null | xargs -r grep -l "docker.$N." >/dev/null 2>&1 && break; sleep 0.05; done
kill -STOP "$(cat "$T/$N.pid")"
dp_kill "$N" KILL
dp_start "$N" --root "$ROOT" -s overlay || fail plugin_restarts "$(tail -n 3 "$T/$N.log")"
for _ in $(seq 1 90); do kill -0 $ipid 2>/dev/null || break; sleep 1; done
if kill -0 $ipid 2>/dev/null; then
	fail kill_mid_import_fails_the_import "the import still runs 90 s after the kill"
	kill $ipid
elif wait $ipid; then
	fail kill_mid_import_fails_the_import "the import went through"
else
	pass kill_mid_import_fails_the_import
fi
if D import "$T/big.tar" big >/dev/null 2>"$T/err" && [ "$(D run --rm big /bin/busybox wc -c /blob 2>&1)" = "83886080 /blob" ] &&
	[ "$(D run --rm app1 2>&1 | tail -n 1)" = "hello from app1" ]; then
	pass dockerd_goes_on_after_plugin_kill
else
	fail dockerd_goes_on_after_plugin_kill "$(cat "$T/err")"
fi
D rmi big >/dev/null 2>&1

# volumes
if D volume create -d "$N" v1 >/dev/null 2>"$T/err" &&
	D run --rm -v v1:/data base sh -c 'echo hello > /data/f' 2>>"$T/err" &&
	[ "$(D run --rm -v v1:/data base cat /data/f 2>&1)" = hello ] &&
	[ "$(cat "$ROOT/volumes/v1/_data/f")" = hello ]; then
	pass docker_volume_write_read_back
else
	fail docker_volume_write_read_back "$(cat "$T/err")"
fi
st volume ls | grep -qw v1 && pass strata_lists_dockers_volume || fail strata_lists_dockers_volume "$(st volume ls)"
D volume rm v1 >/dev/null 2>&1 && ! st volume ls | grep -qw v1 && pass docker_volume_rm || fail docker_volume_rm "$(st volume ls)"
# nfs: Docker's local-driver spelling selects strata's nfs driver
if D volume create -d "$N" -o type=nfs -o o=addr=127.0.0.1,vers=4 -o device=:/srv/export nv >/dev/null 2>"$T/err" &&
	[ "$(D volume inspect -f '{{.Status.Driver}} {{.Status.Server}} {{.Status.Export}} {{.Status.Version}}' nv)" = "nfs 127.0.0.1 /srv/export 4" ]; then
	pass docker_nfs_volume_maps_to_strata_nfs
else
	fail docker_nfs_volume_maps_to_strata_nfs "$(cat "$T/err"; D volume inspect nv 2>&1 | head -20)"
fi
if grep -qw nfs4 /proc/filesystems; then
	skip docker_nfs_volume_mount "the NFS mount runs in the VM (tests/vm/guest-docker-plugin.sh)"
else
	out=$(D run --rm -v nv:/data base true 2>&1)
	[[ $out == *nv* ]] && pass docker_nfs_volume_mount_error_names_volume || fail docker_nfs_volume_mount_error_names_volume "$out"
fi
D volume rm nv >/dev/null 2>&1

# podman through containers.conf
if command -v podman >/dev/null; then
	setup_podman "[engine.volume_plugins]
	$N = \"$(dp_sock "$N")\""
	if podman import "$T/base.tar" localhost/base >/dev/null 2>"$T/err" &&
		podman volume create --driver "$N" pv >/dev/null 2>>"$T/err" &&
		podman run --rm -v pv:/data localhost/base sh -c 'echo from-podman > /data/f' 2>>"$T/err" &&
		[ "$(podman run --rm -v pv:/data localhost/base cat /data/f 2>&1)" = from-podman ] &&
		st volume ls | grep -qw pv; then
		pass podman_volume_plugin_create_run
	else
		fail podman_volume_plugin_create_run "$(tail -n 5 "$T/err")"
	fi
	podman volume rm pv >/dev/null 2>&1 && ! st volume ls | grep -qw pv && pass podman_volume_rm || fail podman_volume_rm "$(st volume ls)"
	podman rmi -a -f >/dev/null 2>&1
else
	skip podman_volume_plugin "podman is not installed (scripts/deps.sh)"
fi

if out=$(st system check 2>&1); then pass store_checks_clean_with_dockerd; else fail store_checks_clean_with_dockerd "$out"; fi
D rmi -f $(D images -aq) >/dev/null 2>&1
stop_dockerd
dp_kill "$N"
[ -z "$(mounts_under "$ROOT/")" ] && pass no_mounts_left || fail no_mounts_left "$(mounts_under "$ROOT/" | head -3)"
exit $((fails > 0))
