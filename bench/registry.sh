#!/bin/bash
# strata push / pull against the raw baselines and docker, in one run, on a
# tmpfs (stores, registry storage, docker's data root), with Debian's
# docker-registry (distribution 2.8) on a loopback port. Two images:
#   files:  one layer of 120 MB in 20,000 files 0-12 KiB (incompressible)
#   layers: 8 layers of one 16 MB file each (some compressible, some not)
#   push: to an empty registry each run (its storage wiped, restarted) vs
#         `tar -c | gzip | curl` (one chunked PATCH per layer, then PUT
#         ?digest=) and docker push
#   pull: into an empty store each run vs `curl | tar -xz` per blob and
#         docker pull (after docker rmi)
# Medians of RUNS (default 3), seconds. docker is left out when not
# installed.
#   BUILD=build-reg bench/registry.sh [RUNS]
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
RUNS=${1:-3}
[ -x "$BIN" ] || { echo "bench/registry: $BIN is not built" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "SKIP bench/registry: docker-registry is not installed"; exit 0; }
T=$(mktemp -d /tmp/strata-bench-registry-XXXXXX)
DOCKERD_PID=
REG_PID=
cleanup() {
	[ -n "$REG_PID" ] && kill -9 "$REG_PID" 2>/dev/null
	bench_stop_pid "$DOCKERD_PID"
	bench_rm_dir "$T"
}
trap cleanup EXIT
mount -t tmpfs -o size=8G,mode=0700 strata-bench "$T" || { echo "SKIP bench/registry: cannot mount a tmpfs"; exit 0; }

time_it() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>"$T/err" || { echo "bench/registry: $* failed: $(tail -n 3 "$T/err")" >&2; echo FAILED; return; }
	t1=$(now)
	secs "$t0" "$t1"
}

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat >"$T/reg.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/regdata
  delete:
    enabled: true
http:
  addr: $REG
EOF
# a registry with nothing in it
fresh_registry() {
	[ -n "$REG_PID" ] && { kill -9 "$REG_PID"; while kill -0 "$REG_PID" 2>/dev/null; do sleep 0.05; done; }
	rm -rf "$T/regdata"
	docker-registry serve "$T/reg.yml" >>"$T/reg.log" 2>&1 &
	REG_PID=$!
	disown $REG_PID
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://$REG/v2/" && return 0; sleep 0.05; done
	echo "bench/registry: the registry does not start" >&2
	exit 1
}

echo "== bench/registry: $(uname -r), $(nproc) cores, tmpfs, loopback registry, $RUNS runs, medians in seconds"
python3 - "$T/files" "$T/layers" <<'EOF'
import os, random, sys
rnd = random.Random(42)
for i in range(20000):
    d = os.path.join(sys.argv[1], "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(0, 12288)))
for k in range(8):
    d = os.path.join(sys.argv[2], "l%d" % k)
    os.makedirs(d)
    with open(os.path.join(d, "blob"), "wb") as f:
        # half text-like (compresses), half random
        f.write((b"strata %d " % k) * (1 << 20) if k % 2 else rnd.randbytes(16 << 20))
EOF
mkdir -p "$T/base"
cp /bin/busybox "$T/base/busybox"
tar --numeric-owner -C "$T/base" -cf "$T/base.tar" .

R=$T/strata
st() { "$BIN" --root "$R" "$@"; }
st import "$T/base.tar" bench/base:1 >/dev/null
driver=$(st info | sed -n 's/^Storage Driver: //p')
mkdir -p "$T/ctx-files" "$T/ctx-layers"
cp -a "$T/files" "$T/ctx-files/files"
printf 'FROM bench/base:1\nCOPY files /files\n' >"$T/ctx-files/Dockerfile"
cp -a "$T/layers" "$T/ctx-layers/layers"
{ echo 'FROM bench/base:1'; for k in $(seq 0 7); do echo "COPY layers/l$k /l$k"; done; } >"$T/ctx-layers/Dockerfile"
st build --network none -q -t "$REG/files:1" "$T/ctx-files" >/dev/null || { echo "bench/registry: build" >&2; exit 1; }
st build --network none -q -t "$REG/layers:1" "$T/ctx-layers" >/dev/null || { echo "bench/registry: build" >&2; exit 1; }
for img in files layers; do
	echo "image $img: $(st inspect "$REG/$img:1" | jq '.[0].RootFS.diff_ids | length') layers, $(st images --format json | jq -r --arg r "$REG/$img" '.[] | select(.Repository == $r) | .Size')"
done

# raw push of one image: every layer's exact tar, gzip'd, one PATCH
raw_push() { # image
	local chain="" d loc dg
	for d in $(st inspect "$REG/$1:1" | jq -r '.[0].RootFS.diff_ids[]'); do
		loc=$(curl -s -D - -o /dev/null -X POST "http://$REG/v2/raw-$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^Location: //Ip')
		if [ -z "$chain" ]; then chain=$d; else chain=sha256:$(printf '%s %s' "$chain" "$d" | sha256sum | cut -d' ' -f1); fi
		st layer export "$chain" | gzip -6 >"$T/l.gz" || return 1
		dg=sha256:$(sha256sum "$T/l.gz" | cut -d' ' -f1)
		# (curl 7.88 crashes with -T and -D together: -w reads the header)
		loc=$(curl -sf -X PATCH -H 'Content-Type: application/octet-stream' -T "$T/l.gz" "$loc" -o /dev/null \
			-w '%header{location}') || return 1
		curl -sf -X PUT "$loc&digest=$dg" -o /dev/null || return 1
	done
}
# raw pull: every blob through curl into tar -xz
raw_pull() { # image dir
	local m b
	m=$(curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REG/v2/$1/manifests/1")
	mkdir -p "$2"
	for b in $(jq -r '.layers[].digest' <<<"$m"); do
		curl -sf "http://$REG/v2/$1/blobs/$b" | tar -C "$2" -xzf - || return 1
	done
}

have_docker=0
if command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; then
	D() { /usr/bin/docker -H "unix://$T/docker/run/docker.sock" "$@"; }
	mkdir -p "$T/docker/root" "$T/docker/run"
	dockerd --data-root "$T/docker/root" --exec-root "$T/docker/run/exec" --pidfile "$T/docker/run/docker.pid" \
		-H "unix://$T/docker/run/docker.sock" --storage-driver overlay2 --insecure-registry "$REG" \
		--iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false >"$T/docker/log" 2>&1 &
	DOCKERD_PID=$!
	for _ in $(seq 1 100); do D version >/dev/null 2>&1 && { have_docker=1; break; }; sleep 0.2; done
	st save -o "$T/imgs.tar" "$REG/files:1" "$REG/layers:1" && D load -q -i "$T/imgs.tar" >/dev/null || have_docker=0
fi

declare -A res
for i in $(seq 1 "$RUNS"); do
	for img in files layers; do
		fresh_registry
		res[raw_push_$img]+=" $(time_it raw_push "$img")"
		fresh_registry
		rm -rf "$R/distribution" # no record of where the blobs went: a cold push
		res[strata_push_$img]+=" $(time_it st push "$REG/$img:1")"
		if [ $have_docker = 1 ]; then
			fresh_registry
			res[docker_push_$img]+=" $(time_it D push "$REG/$img:1")"
		fi
		# pulls from what strata pushed
		fresh_registry
		st push "$REG/$img:1" >/dev/null 2>&1
		rm -rf "$T/x"
		res[raw_pull_$img]+=" $(time_it raw_pull "$img" "$T/x")"
		rm -rf "$T/x" "$T/s2"
		res[strata_pull_$img]+=" $(time_it "$BIN" --root "$T/s2" ${driver:+--storage-driver "$driver"} pull "$REG/$img:1")"
		rm -rf "$T/s2"
		if [ $have_docker = 1 ]; then
			# its own layers go; the busybox base both images share stays
			D rmi "$REG/$img:1" >/dev/null 2>&1
			res[docker_pull_$img]+=" $(time_it D pull "$REG/$img:1")"
		fi
	done
done
row() {
	[ -n "${res[$2]:-}" ] || return 0
	if [[ ${res[$2]} == *FAILED* ]]; then printf '%-40s %8s\n' "$1" failed; else printf '%-40s %8s\n' "$1" "$(echo "${res[$2]}" | median)"; fi
}
for img in files layers; do
	echo "-- push ($img)"
	row "tar | gzip | curl (raw)" "raw_push_$img"
	row "strata push" "strata_push_$img"
	row "docker push" "docker_push_$img"
	echo "-- pull ($img)"
	row "curl | tar -xz (raw)" "raw_pull_$img"
	row "strata pull ($driver)" "strata_pull_$img"
	row "docker pull (overlay2)" "docker_pull_$img"
done
exit 0
