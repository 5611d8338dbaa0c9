#!/bin/bash
# dockerd 20.10 on strata's graph driver plugin against dockerd's own drivers,
# side by side in one run, on the same filesystem:
#   strata/overlay vs overlay2, strata/vfs vs vfs  (tmpfs)
#   strata/btrfs vs btrfs                          (btrfs on a loop image in tmpfs)
# through the docker command line, medians of RUNS runs (default 3), runs
# interleaved across the engines:
#   import   docker import of a 40 MB / 5,000-file layer on a busybox root
#   build    the demo's app1 (classic builder), --no-cache
#   run      docker run --rm of the imported image, writing 10 MB
#   commit   docker commit of a container that wrote 10 MB
#   save     docker save of the imported image
# and the plugin protocol's own cost, one keep-alive connection, medians of
# 2,000 calls (python3's http.client): Plugin.Activate (HTTP + JSON alone),
# GraphDriver.Exists (a store lookup), GraphDriver.Get + Put of an overlay
# layer (a mount and an unmount), next to mount(2)+umount2(2) of an overlay
# made directly.
# Results: bench/results/docker-plugin-DATE.{tsv,md} and docker-plugin-latest.md.
#   BUILD=build-bench bench/docker_plugin.sh [RUNS]
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
. bench/lib.sh
bench_build
RUNS=${1:-${RUNS:-3}}
OUT=${OUT:-$TOP/bench/results}
export LC_ALL=C DOCKER_BUILDKIT=0

[ "$(id -u)" = 0 ] || { echo "SKIP bench/docker_plugin: needs root (daemons, mounts)"; exit 0; }
[ -x "$BIN" ] || { echo "bench/docker_plugin: $BIN is not built (make BUILD=$BUILD)" >&2; exit 1; }
T=$(mktemp -d /tmp/strata-dpbench-XXXXXX)
PIDS=()
cleanup() {
	local i
	# each dockerd before the plugin it stands on
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do bench_stop_pid "${PIDS[i]}"; done
	rm -f /run/docker/plugins/sbench-*-$$.sock /run/docker/plugins/sbench-*-$$.sock.init.json
	bench_rm_dir "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------- inputs
mkdir -p "$T/in"
"$TOP/scripts/busybox-rootfs.sh" "$T/in/root" >/dev/null
python3 - "$T/in/root/data" <<'EOF'
import os, random, sys
random.seed(21)
top = sys.argv[1]
for d in range(50):
    os.makedirs(f"{top}/d{d}", exist_ok=True)
    for f in range(100):
        with open(f"{top}/d{d}/f{f}", "wb") as fh:
            fh.write(random.randbytes(random.randint(0, 16384)))
EOF
tar -C "$T/in/root" -cf "$T/in/layer.tar" .
"$TOP/scripts/busybox-rootfs.sh" "$T/in/base" >/dev/null
tar -C "$T/in/base" -cf "$T/in/base.tar" .
cp -r "$TOP/examples/demo/app1" "$T/in/app1"

# -------------------------------------------------------- environments
mkdir -p "$T/tmpfs" "$T/btrfs-img" "$T/btrfs"
mount -t tmpfs -o size=12g tmpfs "$T/tmpfs"
mount -t tmpfs -o size=8g tmpfs "$T/btrfs-img"
truncate -s 6G "$T/btrfs-img/img" && mkfs.btrfs -q "$T/btrfs-img/img" && mount -o loop "$T/btrfs-img/img" "$T/btrfs"

ENGINES=(strata/overlay:tmpfs docker/overlay2:tmpfs strata/vfs:tmpfs docker/vfs:tmpfs strata/btrfs:btrfs docker/btrfs:btrfs)
declare -A SOCK

start_engine() { # ENGINE/DRIVER:FS
	local e=$1 kind drv fs name dir
	kind=${e%%/*}; drv=${e#*/}; drv=${drv%%:*}; fs=${e##*:}
	name=$kind-$drv; dir=$T/$fs/$name
	mkdir -p "$dir/root" "$dir/run"
	local sd=$drv
	if [ "$kind" = strata ]; then
		sd=sbench-$drv-$$
		"$BIN" docker-plugin serve -q --name "$sd" --graph-driver -s "$drv" >"$dir/plugin.log" 2>&1 &
		PIDS+=($!)
		for _ in $(seq 1 100); do [ -S "/run/docker/plugins/$sd.sock" ] && break; sleep 0.1; done
	fi
	dockerd --experimental --storage-driver "$sd" --data-root "$dir/root" --exec-root "$dir/run/exec" \
		--pidfile "$dir/run/docker.pid" -H "unix://$dir/run/docker.sock" \
		--iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
		>"$dir/dockerd.log" 2>&1 &
	PIDS+=($!)
	SOCK[$e]=unix://$dir/run/docker.sock
	for _ in $(seq 1 150); do /usr/bin/docker -H "${SOCK[$e]}" version >/dev/null 2>&1 && return 0; sleep 0.2; done
	echo "bench/docker_plugin: dockerd $e did not start: $(tail -n 3 "$dir/dockerd.log")" >&2
	return 1
}

D() { /usr/bin/docker -H "${SOCK[$E]}" "$@"; }
# the demo's FROM base: there locally, nothing is ever pulled
for E in "${ENGINES[@]}"; do start_engine "$E" && D import "$T/in/base.tar" base >/dev/null || exit 1; done

TSV=$OUT/docker-plugin-$(date +%Y%m%d-%H%M).tsv
mkdir -p "$OUT"
printf 'engine\top\trun\tseconds\n' >"$TSV"
timed() { # OP RUN CMD...
	local op=$1 run=$2 t0 t1; shift 2
	t0=$(now)
	"$@" >/dev/null 2>>"$T/errors.log" || echo "$E $op: failed" >>"$T/errors.log"
	t1=$(now)
	printf '%s\t%s\t%s\t%s\n' "$E" "$op" "$run" "$(secs "$t0" "$t1")" >>"$TSV"
}
for run in $(seq 1 "$RUNS"); do
	for E in "${ENGINES[@]}"; do
		timed import "$run" D import "$T/in/layer.tar" bench:$run
		timed build "$run" D build --network=none --no-cache -q -t app:$run "$T/in/app1"
		timed run "$run" D run --rm bench:$run sh -c 'head -c 10000000 /dev/zero > /big'
		D run --name c$run bench:$run sh -c 'head -c 10000000 /dev/zero > /big' >/dev/null 2>&1
		timed commit "$run" D commit c$run committed:$run
		timed save "$run" D save -o "$T/tmpfs/save-$run.tar" bench:$run
		rm -f "$T/tmpfs/save-$run.tar"
		D rm -f c$run >/dev/null 2>&1
		D rmi -f bench:$run app:$run committed:$run >/dev/null 2>&1
	done
done

# ------------------------------------------------- the protocol's cost
PT=$T/tmpfs/proto
mkdir -p "$PT"
pn=sbench-proto-$$
"$BIN" docker-plugin serve -q --name "$pn" --root "$PT/store" -s overlay --graph-driver >"$PT/plugin.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -S "/run/docker/plugins/$pn.sock" ] && break; sleep 0.1; done
mkdir -p "$PT/raw"/{l,u,w,m}
python3 - "/run/docker/plugins/$pn.sock" "$PT/home" "$PT/raw" >"$PT/proto.tsv" <<'EOF'
import ctypes, http.client, json, os, socket, sys, time, statistics
class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("plugin")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
c = Conn(sys.argv[1])
def call(method, body):
    c.request("POST", "/" + method, body=json.dumps(body), headers={"Accept": "application/vnd.docker.plugins.v1.2+json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"{method}: {r.status} {data!r}")
    return json.loads(data) if data else {}
call("GraphDriver.Init", {"Home": sys.argv[2]})
call("GraphDriver.Create", {"ID": "base"})
call("GraphDriver.CreateReadWrite", {"ID": "rw", "Parent": "base"})
def measure(name, fn, n=2000):
    for _ in range(50):
        fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        ts.append(time.perf_counter_ns() - t0)
    print(f"{name}\t{statistics.median(ts) / 1000:.1f}")
measure("Plugin.Activate", lambda: call("Plugin.Activate", None))
measure("GraphDriver.Exists", lambda: call("GraphDriver.Exists", {"ID": "rw"}))
measure("GraphDriver.Get+Put", lambda: (call("GraphDriver.Get", {"ID": "rw"}), call("GraphDriver.Put", {"ID": "rw"})), 500)
call("GraphDriver.Remove", {"ID": "rw"})
call("GraphDriver.Remove", {"ID": "base"})
call("GraphDriver.Cleanup", {})
# the same overlay mount made directly: mount(2) + umount2(2)
libc = ctypes.CDLL(None, use_errno=True)
raw = sys.argv[3]
opts = f"lowerdir={raw}/l,upperdir={raw}/u,workdir={raw}/w".encode()
def bare():
    if libc.mount(b"overlay", f"{raw}/m".encode(), b"overlay", 0, opts) != 0:
        raise SystemExit(f"mount: {os.strerror(ctypes.get_errno())}")
    libc.umount2(f"{raw}/m".encode(), 0)
measure("mount(2)+umount2(2) of an overlay", bare, 500)
EOF

# ------------------------------------------------------------ report
MD=${TSV%.tsv}.md
{
	echo "# dockerd on strata's plugin vs dockerd's own drivers ($(date -u +%Y-%m-%d), $(nproc) cores, medians of $RUNS, seconds)"
	echo
	echo "| dockerd storage | fs | import | build | run | commit | save |"
	echo "|---|---|---|---|---|---|---|"
	for e in "${ENGINES[@]}"; do
		row="| ${e%%:*} | ${e##*:} |"
		for op in import build run commit save; do
			row="$row $(awk -F'\t' -v e="$e" -v o="$op" '$1 == e && $2 == o {print $4}' "$TSV" | median) |"
		done
		echo "$row"
	done
	echo
	echo "Plugin protocol, one keep-alive connection (median microseconds per call):"
	echo
	echo "| call | µs |"
	echo "|---|---|"
	awk -F'\t' '{printf "| %s | %s |\n", $1, $2}' "$PT/proto.tsv"
	if [ -s "$T/errors.log" ]; then
		echo
		echo "Errors during the run:"
		echo
		sed 's/^/    /' "$T/errors.log" | head -20
	fi
} >"$MD"
cp "$MD" "$OUT/docker-plugin-latest.md"
cat "$MD"
