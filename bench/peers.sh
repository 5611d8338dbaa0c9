#!/bin/bash
# strata side by side with the peers, in one run on this machine:
#   strata (overlay, vfs, btrfs), dockerd 20.10 (overlay2, vfs, btrfs; the
#   classic builder and BuildKit), podman and buildah (overlay, vfs),
#   containerd's ctr (snapshotters overlayfs, native, btrfs), and the raw
#   baselines (tar -x, tar -c, cp -a, mount(2), rm -rf),
# on the same workload, as far as each tool allows:
#   import      the 120 MB / 20,000-file layer of bench/btrfs.sh (files of
#               0-10 KiB in 100 directories, seeded) plus a busybox root, so
#               that containers can run in it          (raw: tar -x)
#   build-cold  a 5-step Dockerfile (ENV, COPY of 500 files, 2 RUNs, CMD) on a
#               busybox base, --no-cache
#   build-cached  the same build again: every step from the cache
#   create      a container of the imported image         (raw, vfs: cp -a)
#   run         its start, changing a file and adding one (runc everywhere)
#   commit      the change as a new image                 (raw, vfs: cp -a)
#   mount       mount + unmount of the container (strata, podman; raw: mount(2))
#   save        the imported image as a docker-archive    (raw: tar -c, and
#               tar -c + fsync: strata's save fsyncs its file, the peers' do not)
#   remove      rmi of the imported image (its 120 MB layer) (raw: rm -rf)
# ctr has no builder and no container commit: its create/run are `ctr
# containers create` / `ctr task start`, its commit the container snapshot's
# diff (uncompressed, as the others commit), its import and save `ctr images
# import/export` of a docker-archive of the same layer.
#
# Environments (ENVS): tmpfs, and btrfs on a loop image kept in memory
# (the root ext4 is too noisy on metadata to compare code paths; see
# /work/shared/reference/peers.md). Every tool runs on the same filesystem,
# through the CLI a user would type (process start, store open included).
# Runs are interleaved (run 1 of every tool, then run 2, ...) so that other
# load on the machine falls on all of them alike, and the whole benchmark
# (daemons included) runs in a cpu cgroup with a large share, so that other
# work on the machine disturbs it less. Medians of RUNS runs (default 5).
#
# Results: bench/results/peers-DATE.{tsv,md,svg} (every sample; the tables
# of medians with the ratios strata/peer and strata/raw; the plot) and
# bench/results/peers-latest.md; UPDATE_README=1 also puts the table into
# README.md's benchmark section.
#   BUILD=build-bench bench/peers.sh [RUNS]
#   ENVS="tmpfs" ENGINES="strata docker raw" BUILD=build-bench bench/peers.sh 3
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$TOP/$BUILD ;; esac
BIN=${STRATA_BIN:-$B/strata}
RUNS=${1:-${RUNS:-5}}
ENVS=${ENVS:-tmpfs btrfs}
ENGINES=${ENGINES:-strata docker buildkit podman buildah ctr raw}
OUT=${OUT:-$TOP/bench/results}
export LC_ALL=C

[ "$(id -u)" = 0 ] || { echo "SKIP bench/peers: needs root (daemons, mounts)"; exit 0; }
[ -x "$BIN" ] || { echo "bench/peers: $BIN is not built (make BUILD=$BUILD)" >&2; exit 1; }
T=$(mktemp -d /tmp/strata-peers-XXXXXX)
LOG=$T/log
: >"$LOG"
CG=

# --------------------------------------------------------------- cleanup

stop_pidfile() { # pidfile: TERM, wait, KILL; never by name
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
}

umount_below() {
	awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null; done
}

cleanup() {
	for p in $(find "$T" -maxdepth 4 -name '*.pid' 2>/dev/null); do stop_pidfile "$p"; done
	umount_below "$T"
	for l in $(losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk -v d="$T/" 'index($2, d) == 1 {print $1}'); do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf --one-file-system "$T"
	if [ -n "$CG" ]; then
		echo $$ >"$(dirname "$CG")/cgroup.procs" 2>/dev/null || echo $$ >"$(dirname "$CG")/tasks" 2>/dev/null
		rmdir "$CG" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A cpu cgroup with a large share for this script and all it starts: the
# machine may be busy with other work, and a share is what the scheduler
# honours across sessions (nice does not, with autogroups).
prio_cgroup() {
	local base
	for base in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
		[ -w "$base/cpu.shares" ] || [ -d "$base" ] || continue
		CG=$base/strata-peers-$$
		mkdir "$CG" 2>/dev/null && echo 20000 >"$CG/cpu.shares" 2>/dev/null && echo $$ >"$CG/tasks" 2>/dev/null &&
			return 0
		rmdir "$CG" 2>/dev/null
		CG=
	done
	if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
		CG=/sys/fs/cgroup/strata-peers-$$
		mkdir "$CG" 2>/dev/null && echo 10000 >"$CG/cpu.weight" 2>/dev/null && echo $$ >"$CG/cgroup.procs" 2>/dev/null &&
			return 0
		rmdir "$CG" 2>/dev/null
		CG=
	fi
	return 1
}
prio_cgroup && PRIO="cpu cgroup with a 20x share" || PRIO="none (no writable cpu cgroup)"

# ---------------------------------------------------------------- inputs

IN=$T/in
mkdir -p "$IN"
mount -t tmpfs -o size=2g tmpfs "$IN" || { echo "bench/peers: cannot mount a tmpfs" >&2; exit 1; }

# gen DIR NFILES TOTAL_BYTES: bench/btrfs.sh's layer generator (same seed,
# same files)
gen() {
	python3 - "$@" <<'EOF'
import os, random, sys
root, n, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
avg = total // n if n else 0
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    size = rnd.randint(0, 2 * avg) if avg else 1
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(rnd.randbytes(size) if size else b"")
EOF
}

echo "bench/peers: making the inputs in $IN"
"$TOP/scripts/busybox-rootfs.sh" "$IN/base" >/dev/null || { echo "bench/peers: busybox-rootfs failed" >&2; exit 1; }
tar --numeric-owner -C "$IN/base" -cf "$IN/base.tar" .
mkdir -p "$IN/src"
gen "$IN/src" 20000 $((100 << 20))
cp -a "$IN/base/." "$IN/src/"
tar --numeric-owner -C "$IN/src" -cf "$IN/layer.tar" .
rm -rf "$IN/src"
LAYER_MB=$(($(stat -c %s "$IN/layer.tar") >> 20))
LAYER_FILES=$(tar -tf "$IN/layer.tar" | grep -vc '/$')
# the build context: 500 files of 4 KiB (seeded), one Dockerfile per base name
mkdir -p "$IN/ctx/app"
python3 - "$IN/ctx/app" <<'EOF'
import os, random, sys
rnd = random.Random(7)
for i in range(500):
    d = os.path.join(sys.argv[1], "d%d" % (i % 5))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "f%03d" % i), "wb").write(rnd.randbytes(4096))
EOF
dockerfile() {
	cat <<-EOF
	FROM $1
	ENV APP=/app GREETING=hello
	COPY app/ /app/
	RUN mkdir -p /data && cp -r /app /data/copy && echo \$GREETING > /data/hello
	RUN rm -rf /data/copy/d0 && touch /data/stamp
	CMD ["sh", "-c", "cat /data/hello"]
	EOF
}
cp -a "$IN/ctx" "$IN/ctx-podman"
dockerfile benchbase >"$IN/ctx/Dockerfile"
dockerfile localhost/benchbase >"$IN/ctx-podman/Dockerfile"
CHANGE='echo changed > /d00/f000000 && echo new > /new'
# ctr imports image archives, not layer tars: the same layer as a docker-archive
"$BIN" --root "$IN/st" --storage-driver vfs import "$IN/layer.tar" bench/layer >/dev/null &&
	"$BIN" --root "$IN/st" --storage-driver vfs save -o "$IN/layer-image.tar" bench/layer &&
	rm -rf "$IN/st" || { echo "bench/peers: cannot make the docker-archive for ctr" >&2; exit 1; }
echo "bench/peers: layer tar $LAYER_MB MB, $LAYER_FILES files; $RUNS runs"

# ---------------------------------------------------------- environments

. "$TOP/tests/conformance/env-btrfs.sh"

# env_mount NAME: the filesystem every tool of that environment works on
env_mount() {
	local name=$1 dir=$T/$1
	mkdir -p "$dir"
	case $name in
	tmpfs)
		mount -t tmpfs -o size=16g tmpfs "$dir" || { WHY="cannot mount a tmpfs"; return 1; }
		ENV_DESC="tmpfs"
		;;
	btrfs)
		WHY=$(btrfs_test_available) || return 1
		# the image in memory, so the disk under / does not show
		mkdir -p "$T/btrfs-img"
		mount -t tmpfs -o size=20g tmpfs "$T/btrfs-img" || { WHY="cannot mount a tmpfs"; return 1; }
		btrfs_test_mount "$T/btrfs-img" 16G || { WHY="mkfs.btrfs or the loop mount failed"; return 1; }
		mount --bind "$T/btrfs-img/mnt" "$dir" || { WHY="bind mount failed"; return 1; }
		ENV_DESC="btrfs on a 16G loop image in tmpfs"
		;;
	*)
		WHY="unknown environment"
		return 1
		;;
	esac
}

env_configs() { # engine/driver pairs of an environment
	case $1 in
	tmpfs) echo strata/overlay docker/overlay2 buildkit/overlay2 podman/overlay buildah/overlay ctr/overlayfs \
		strata/vfs docker/vfs buildkit/vfs podman/vfs buildah/vfs ctr/native raw/- ;;
	btrfs) echo strata/btrfs docker/btrfs buildkit/btrfs ctr/btrfs raw/- ;;
	esac
}

# ------------------------------------------------------------- timing

TSV=$T/samples.tsv
: >"$TSV"
# timed OP COMMAND...: one sample of the current ENV/E/DRV/RUN
timed() {
	local op=$1 a b rc
	shift
	a=${EPOCHREALTIME/./}
	"$@" >>"$LOG" 2>&1
	rc=$?
	b=${EPOCHREALTIME/./}
	if [ $rc = 0 ]; then
		printf '%s\t%s\t%s\t%s\t%s\t%d.%06d\n' "$ENV" "$E" "$DRV" "$op" "$RUN" $(((b - a) / 1000000)) $(((b - a) % 1000000)) >>"$TSV"
	else
		echo "FAIL $ENV $E/$DRV $op (run $RUN): $(tail -n 3 "$LOG" | tr '\n' ' ' | cut -c1-300)"
		printf '%s\t%s\t%s\t%s\t%s\tfail\n' "$ENV" "$E" "$DRV" "$op" "$RUN" >>"$TSV"
	fi
	return $rc
}
quiet() { "$@" >>"$LOG" 2>&1; }

# ------------------------------------------------------------- engines
# Each engine: <e>_setup (DIR exists; start what it needs, load the base
# image; set WHY and fail to be skipped), <e>_ops (the operations it has),
# <e>_<op> RUN, <e>_tidy RUN (untimed, before remove), <e>_teardown.

# --- strata
st() { "$BIN" --root "$DIR/root" --storage-driver "$DRV" "$@"; }
strata_setup() {
	WHY=$(st info 2>&1 >/dev/null) || { WHY=${WHY#strata: error: }; return 1; }
	quiet st import "$IN/base.tar" benchbase || { WHY="import of the base failed"; return 1; }
}
strata_ops() { echo import build-cold build-cached create run commit mount save remove; }
strata_import() { st import "$IN/layer.tar" "imp$1"; }
strata_build-cold() { st build --network none --no-cache -q -t "b$1" "$IN/ctx"; }
strata_build-cached() { st build --network none -q -t "b$1" "$IN/ctx"; }
strata_create() { st create --name "c$1" "imp$1" sh -c "$CHANGE"; }
strata_run() { st start -a "c$1"; }
strata_commit() { st commit "c$1" "com$1"; }
strata_mount() { st mount "c$1" && st umount "c$1"; }
strata_save() { st save -o "$DIR/save.tar" "imp$1"; }
strata_tidy() { rm -f "$DIR/save.tar"; st rm -f "c$1"; st rmi "com$1" "b$1"; }
strata_remove() { st rmi "imp$1"; }
strata_teardown() { :; }

# --- dockerd (classic builder) and BuildKit on the same daemon
dk_dir() { echo "$T/$ENV/docker-$DRV"; }
D() { /usr/bin/docker -H "unix://$(dk_dir)/run/docker.sock" "$@"; }
docker_setup() {
	command -v dockerd >/dev/null && [ -x /usr/bin/docker ] || { WHY="dockerd not installed (docker.io)"; return 1; }
	local d
	d=$(dk_dir)
	mkdir -p "$d/root" "$d/run"
	dockerd --data-root "$d/root" --exec-root "$d/run/exec" --pidfile "$d/run/docker.pid" \
		-H "unix://$d/run/docker.sock" --storage-driver "$DRV" \
		--iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
		>"$d/dockerd.log" 2>&1 &
	echo $! >"$d/dockerd.pid"
	for _ in $(seq 1 150); do
		D version >/dev/null 2>&1 && break
		kill -0 "$(cat "$d/dockerd.pid")" 2>/dev/null || break
		sleep 0.2
	done
	if ! D version >/dev/null 2>&1; then
		WHY="dockerd --storage-driver $DRV did not start: $(grep -i 'level=\(error\|fatal\)' "$d/dockerd.log" | tail -n 1 | cut -c1-200)"
		stop_pidfile "$d/dockerd.pid"
		umount_below "$d"
		return 1
	fi
	quiet D import "$IN/base.tar" benchbase || { WHY="docker import of the base failed"; return 1; }
}
docker_ops() { echo import build-cold build-cached create run commit save remove; }
docker_import() { D import "$IN/layer.tar" "imp$1"; }
docker_build-cold() { DOCKER_BUILDKIT=0 D build --network=none --no-cache -q -t "b$1" "$IN/ctx"; }
docker_build-cached() { DOCKER_BUILDKIT=0 D build --network=none -q -t "b$1" "$IN/ctx"; }
docker_create() { D create --name "c$1" "imp$1" sh -c "$CHANGE"; }
docker_run() { D start -a "c$1"; }
docker_commit() { D commit "c$1" "com$1"; }
docker_save() { D save -o "$DIR/save.tar" "imp$1"; }
docker_tidy() { rm -f "$DIR/save.tar"; D rm -f "c$1"; D rmi "com$1" "b$1"; }
docker_remove() { D rmi "imp$1"; }
docker_teardown() {
	stop_pidfile "$(dk_dir)/dockerd.pid"
	umount_below "$(dk_dir)"
}

buildkit_setup() {
	D version >/dev/null 2>&1 || { WHY="needs the docker/$DRV daemon, which did not start"; return 1; }
}
buildkit_ops() { echo build-cold build-cached; }
buildkit_build-cold() { DOCKER_BUILDKIT=1 D build --network=none --no-cache -q -t "bk$1" "$IN/ctx"; }
buildkit_build-cached() { DOCKER_BUILDKIT=1 D build --network=none -q -t "bk$1" "$IN/ctx"; }
buildkit_tidy() { D rmi "bk$1"; D builder prune -af; }
buildkit_teardown() { :; }

# --- podman and buildah (containers/storage), a storage of their own each
pm_env() {
	mkdir -p "$DIR/tmp"
	cat >"$DIR/storage.conf" <<-EOF
	[storage]
	driver = "$DRV"
	graphroot = "$DIR/graph"
	runroot = "$DIR/run"
	EOF
	cat >"$DIR/containers.conf" <<-EOF
	[engine]
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	events_logfile_path = "$DIR/events.log"
	tmp_dir = "$DIR/tmp"
	runtime = "runc"
	[containers]
	default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
	netns = "none"
	EOF
}
P() { CONTAINERS_STORAGE_CONF=$DIR/storage.conf CONTAINERS_CONF=$DIR/containers.conf podman "$@"; }
BA() { CONTAINERS_STORAGE_CONF=$DIR/storage.conf CONTAINERS_CONF=$DIR/containers.conf buildah "$@"; }
podman_setup() {
	command -v podman >/dev/null || { WHY="podman not installed"; return 1; }
	pm_env
	quiet P import "$IN/base.tar" localhost/benchbase || { WHY="podman import of the base failed: $(tail -n 1 "$LOG")"; return 1; }
}
podman_ops() { echo import build-cold build-cached create run commit mount save remove; }
podman_import() { P import "$IN/layer.tar" "localhost/imp$1"; }
podman_build-cold() { P build --layers --network=none --no-cache -q -t "localhost/b$1" "$IN/ctx-podman"; }
podman_build-cached() { P build --layers --network=none -q -t "localhost/b$1" "$IN/ctx-podman"; }
podman_create() { P create --name "c$1" "localhost/imp$1" sh -c "$CHANGE"; }
podman_run() { P start -a "c$1"; }
podman_commit() { P commit -q "c$1" "localhost/com$1"; }
podman_mount() { P mount "c$1" && P umount "c$1"; }
podman_save() { P save -o "$DIR/save.tar" "localhost/imp$1"; }
podman_tidy() { rm -f "$DIR/save.tar"; P rm -f "c$1"; P rmi "localhost/com$1" "localhost/b$1"; P image prune -f; }
podman_remove() { P rmi "localhost/imp$1"; }
podman_teardown() { P system reset -f >/dev/null 2>&1; umount_below "$DIR"; }

buildah_setup() {
	command -v buildah >/dev/null || { WHY="buildah not installed"; return 1; }
	command -v podman >/dev/null || { WHY="podman (to import the base) not installed"; return 1; }
	pm_env
	quiet P import "$IN/base.tar" localhost/benchbase || { WHY="podman import of the base failed"; return 1; }
}
buildah_ops() { echo build-cold build-cached; }
buildah_build-cold() { BA bud --layers --network=none --no-cache -q -t "localhost/b$1" "$IN/ctx-podman"; }
buildah_build-cached() { BA bud --layers --network=none -q -t "localhost/b$1" "$IN/ctx-podman"; }
buildah_tidy() { BA rmi -f "localhost/b$1"; BA rmi --prune; }
buildah_teardown() { podman_teardown; }

# --- containerd: one daemon per environment, a namespace per snapshotter
ctd_dir() { echo "$T/$ENV/containerd"; }
C() { ctr -a "$(ctd_dir)/ctd.sock" -n "bench-$DRV" "$@"; }
ctr_setup() {
	command -v containerd >/dev/null && command -v ctr >/dev/null || { WHY="containerd not installed"; return 1; }
	local d
	d=$(ctd_dir)
	if [ ! -f "$d/containerd.pid" ]; then
		mkdir -p "$d"
		cat >"$d/config.toml" <<-EOF
		version = 2
		root = "$d/root"
		state = "$d/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
		  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
		[grpc]
		  address = "$d/ctd.sock"
		[ttrpc]
		  address = "$d/ctd.sock.ttrpc"
		[debug]
		  address = "$d/debug.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$d/opt"
		EOF
		containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
		echo $! >"$d/containerd.pid"
		for _ in $(seq 1 100); do
			ctr -a "$d/ctd.sock" version >/dev/null 2>&1 && break
			sleep 0.1
		done
	fi
	ctr -a "$d/ctd.sock" version >/dev/null 2>&1 || { WHY="containerd did not start"; return 1; }
	C plugins ls 2>/dev/null | grep -q "snapshotter.*$DRV.*ok" ||
		{ WHY="containerd's $DRV snapshotter does not load here ($ENV_DESC)"; return 1; }
}
ctr_ops() { echo import create run commit save remove; }
CREF=docker.io/bench/layer:latest
ctr_import() { C images import --snapshotter "$DRV" "$IN/layer-image.tar"; }
ctr_create() { C containers create --snapshotter "$DRV" "$CREF" "c$1" -- sh -c "$CHANGE"; }
ctr_run() { C task start "c$1"; }
ctr_commit() { C snapshots --snapshotter "$DRV" diff --media-type application/vnd.oci.image.layer.v1.tar "c$1" >/dev/null; }
ctr_save() { C images export "$DIR/save.tar" "$CREF"; }
ctr_tidy() { rm -f "$DIR/save.tar"; C task delete "c$1"; C containers delete "c$1"; }
ctr_remove() { C images rm --sync "$CREF"; }
ctr_teardown() { :; }
ctd_stop() {
	stop_pidfile "$(ctd_dir)/containerd.pid"
	umount_below "$(ctd_dir)"
}

# --- raw baselines on the same filesystem
raw_setup() { :; }
raw_ops() { echo import create mount save save-fsync remove; }
raw_import() { mkdir "$DIR/x$1" && tar -C "$DIR/x$1" -xf "$IN/layer.tar"; }
raw_create() { cp -a "$DIR/x$1" "$DIR/y$1"; }
raw_mount() {
	mkdir -p "$DIR/u$1" "$DIR/w$1" "$DIR/m$1" &&
		mount -t overlay overlay -o "lowerdir=$DIR/x$1,upperdir=$DIR/u$1,workdir=$DIR/w$1" "$DIR/m$1" &&
		umount "$DIR/m$1"
}
raw_save() { tar -C "$DIR/x$1" -cf "$DIR/save.tar" .; }
# strata save fsyncs its output (a complete file or none): the same, durable
raw_save-fsync() { rm -f "$DIR/save.tar" && tar -C "$DIR/x$1" -cf "$DIR/save.tar" . && sync "$DIR/save.tar"; }
raw_tidy() { rm -rf "$DIR/save.tar" "$DIR/y$1" "$DIR/u$1" "$DIR/w$1" "$DIR/m$1"; }
raw_remove() { rm -rf "$DIR/x$1"; }
raw_teardown() { :; }

# ------------------------------------------------------------------ run

describe_machine() {
	local rootsrc
	rootsrc=$(findmnt -no SOURCE,FSTYPE,OPTIONS / 2>/dev/null)
	echo "date	$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "kernel	$(uname -r)"
	echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
	echo "memory	$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "disk	/ on $rootsrc ($(lsblk -dno SIZE,ROTA "$(echo "$rootsrc" | cut -d' ' -f1)" 2>/dev/null | awk '{print $1 ($2 == 1 ? ", rotational" : ", non-rotational")}'))"
	echo "load	$(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average at the start)"
	echo "priority	$PRIO"
	# STRATA_COMMIT: what the binary was built from when not this checkout
	local local_changes=
	git -C "$TOP" diff --quiet HEAD -- core drivers cli include 2>/dev/null || local_changes='+local changes'
	echo "strata	${STRATA_COMMIT:-$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$local_changes}, $BIN"
	echo "docker	$(dockerd --version 2>/dev/null | cut -d' ' -f3 | tr -d ,)"
	echo "podman	$(podman --version 2>/dev/null | cut -d' ' -f3)"
	echo "buildah	$(buildah --version 2>/dev/null | cut -d' ' -f3)"
	echo "containerd	$(containerd --version 2>/dev/null | cut -d' ' -f3)"
	echo "runc	$(runc --version 2>/dev/null | head -1 | cut -d' ' -f3)"
	echo "workload	layer tar $LAYER_MB MB / $LAYER_FILES files; $RUNS runs"
}
META=$T/meta.tsv
describe_machine >"$META"

for ENV in $ENVS; do
	WHY=
	if ! env_mount "$ENV"; then
		echo "SKIP bench/peers $ENV: $WHY"
		continue
	fi
	echo "env	$ENV	$ENV_DESC" >>"$META"
	echo "== $ENV ($ENV_DESC)"
	active=()
	for cfg in $(env_configs "$ENV"); do
		E=${cfg%/*} DRV=${cfg#*/}
		case " $ENGINES " in *" $E "*) ;; *) continue ;; esac
		DIR=$T/$ENV/$E-$DRV
		mkdir -p "$DIR"
		WHY=
		if "${E}_setup"; then
			active+=("$cfg")
		else
			echo "SKIP $ENV $E/$DRV: $WHY"
			printf 'skip\t%s\t%s\t%s\t%s\n' "$ENV" "$E" "$DRV" "$WHY" >>"$META"
		fi
	done
	for RUN in $(seq 1 "$RUNS"); do
		echo "-- $ENV run $RUN/$RUNS: ${active[*]}"
		for cfg in "${active[@]}"; do
			E=${cfg%/*} DRV=${cfg#*/}
			DIR=$T/$ENV/$E-$DRV
			for op in $("${E}_ops"); do
				[ "$op" = remove ] && quiet "${E}_tidy" "$RUN"
				timed "$op" "${E}_$op" "$RUN"
			done
			declare -F "${E}_tidy" >/dev/null && ! "${E}_ops" | grep -qw remove && quiet "${E}_tidy" "$RUN"
			sync
		done
	done
	for cfg in "${active[@]}"; do
		E=${cfg%/*} DRV=${cfg#*/}
		DIR=$T/$ENV/$E-$DRV
		"${E}_teardown" >>"$LOG" 2>&1
	done
	ctd_stop
	umount_below "$T/$ENV"
done

mkdir -p "$OUT"
stamp=$(date -u +%Y%m%d-%H%M)
cp "$TSV" "$OUT/peers-$stamp.tsv"
cp "$META" "$OUT/peers-$stamp.meta.tsv"
python3 "$TOP/bench/peers-report.py" "$OUT/peers-$stamp.tsv" "$OUT/peers-$stamp.meta.tsv" "$OUT/peers-$stamp" \
	${UPDATE_README:+--readme "$TOP/README.md"} || exit 1
cp "$OUT/peers-$stamp.md" "$OUT/peers-latest.md"
echo "bench/peers: $OUT/peers-$stamp.md, .svg, .tsv"
