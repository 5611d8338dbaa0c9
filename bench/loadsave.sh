#!/bin/bash
# strata save / load against the raw baselines and the peers, in one run, on
# a tmpfs (the root disk is too noisy for metadata work; see
# ../shared/reference/peers.md): an image whose one layer is 120 MB in
# 20,000 files 0-12 KiB.
#   save: strata save (docker-archive) vs `tar -c` of the same tree, docker
#         save, podman save
#   load: strata load into an empty store vs `tar -x`, docker load, podman load
# Each engine loads the archive it saved itself (all have the same layer
# bytes: strata's are the import tar, byte for byte). Medians of RUNS
# (default 3), seconds. Peers that are not installed are left out.
#   BUILD=build-io bench/loadsave.sh [RUNS]
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
RUNS=${1:-3}
[ -x "$BIN" ] || { echo "bench/loadsave: $BIN is not built" >&2; exit 1; }
T=$(mktemp -d /tmp/strata-bench-loadsave-XXXXXX)
DOCKERD_PID=
cleanup() {
	bench_stop_pid "$DOCKERD_PID"
	bench_rm_dir "$T"
}
trap cleanup EXIT
mount -t tmpfs -o size=6G,mode=0700 strata-bench "$T" || { echo "SKIP bench/loadsave: cannot mount a tmpfs"; exit 0; }

# time_it CMD...: seconds the command took (fails the bench if it fails)
time_it() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>"$T/err" || { echo "bench/loadsave: $* failed: $(tail -n 3 "$T/err")" >&2; exit 1; }
	t1=$(now)
	secs "$t0" "$t1"
}

echo "== bench/loadsave: $(uname -r), $(nproc) cores, tmpfs, $RUNS runs, medians in seconds"
python3 - "$T/tree" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(42)
for i in range(20000):
    d = os.path.join(root, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(0, 12288)))
EOF
cp /bin/busybox "$T/tree/busybox"
tar --numeric-owner -C "$T/tree" -cf "$T/layer.tar" .
echo "layer: $(du -m "$T/layer.tar" | cut -f1) MB, $(find "$T/tree" -type f | wc -l) files"

R=$T/strata
st() { "$BIN" --root "$R" "$@"; }
st import "$T/layer.tar" bench/img:1 >/dev/null
driver=$(st info | sed -n 's/^Storage Driver: //p')

declare -A res
for i in $(seq 1 "$RUNS"); do
	rm -f "$T/s.tar"
	res[tar_c]+=" $(time_it tar -C "$T/tree" -cf "$T/raw.tar" .)"
	res[strata_save]+=" $(time_it st save -o "$T/s.tar" bench/img:1)"
	rm -rf "$T/x" && mkdir "$T/x"
	res[tar_x]+=" $(time_it tar -C "$T/x" -xf "$T/raw.tar")"
	rm -rf "$T/x" "$T/s2"
	res[strata_load]+=" $(time_it "$BIN" --root "$T/s2" ${driver:+--storage-driver "$driver"} load -q -i "$T/s.tar")"
	rm -rf "$T/s2"
done
row() { printf '%-30s %8s\n' "$1" "$(echo "${res[$2]}" | median)"; }
echo "-- save (120 MB layer)"
row "tar -c (raw)" tar_c
row "strata save ($driver)" strata_save

if command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; then
	D() { /usr/bin/docker -H "unix://$T/docker/run/docker.sock" "$@"; }
	mkdir -p "$T/docker/root" "$T/docker/run"
	dockerd --data-root "$T/docker/root" --exec-root "$T/docker/run/exec" --pidfile "$T/docker/run/docker.pid" \
		-H "unix://$T/docker/run/docker.sock" --storage-driver overlay2 --iptables=false --ip6tables=false \
		--bridge=none --ip-masq=false --userland-proxy=false >"$T/docker/log" 2>&1 &
	DOCKERD_PID=$!
	for _ in $(seq 1 100); do D version >/dev/null 2>&1 && break; sleep 0.2; done
	D load -q -i "$T/s.tar" >/dev/null
	for i in $(seq 1 "$RUNS"); do
		rm -f "$T/d.tar"
		res[docker_save]+=" $(time_it D save -o "$T/d.tar" bench/img:1)"
		D rmi bench/img:1 >/dev/null
		res[docker_load]+=" $(time_it D load -q -i "$T/d.tar")"
	done
	row "docker save (overlay2)" docker_save
fi
if command -v podman >/dev/null; then
	export CONTAINERS_STORAGE_CONF=$T/podman.conf CONTAINERS_CONF=$T/containers.conf
	printf '[engine]\nevents_logger = "file"\nevents_logfile_path = "%s/podman/events.log"\ntmp_dir = "%s/podman/tmp"\n' "$T" "$T" >"$CONTAINERS_CONF"
	printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/podman/graph"\nrunroot = "%s/podman/run"\n' "$T" "$T" >"$CONTAINERS_STORAGE_CONF"
	podman load -q -i "$T/s.tar" >/dev/null 2>&1
	for i in $(seq 1 "$RUNS"); do
		rm -f "$T/p.tar"
		res[podman_save]+=" $(time_it podman save -q -o "$T/p.tar" bench/img:1)"
		podman rmi bench/img:1 >/dev/null 2>&1
		res[podman_load]+=" $(time_it podman load -q -i "$T/p.tar")"
	done
	row "podman save (overlay)" podman_save
fi
echo "-- load (120 MB layer)"
row "tar -x (raw)" tar_x
row "strata load ($driver)" strata_load
[ -n "${res[docker_load]:-}" ] && row "docker load (overlay2)" docker_load
[ -n "${res[podman_load]:-}" ] && row "podman load (overlay)" podman_load
exit 0
