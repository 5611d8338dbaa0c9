#!/bin/bash
# devmapper driver benchmark, on a loopback thin pool, in one run:
#  1. snapshot creation (a read-write child) for a parent of 10 files and of
#     100,000 files: must be flat, the parent's size must not show. Timed
#     in-process (bench/devmapper_snap.c: st_drv_create; a strata command's
#     own start-up in the VM is larger than the create), the two parents
#     interleaved, against the bare pool message (create_snap);
#  2. apply of a 100 MB / 20,000-file layer tar (`strata driver apply`:
#     activate, mount, extract, sync, unmount), against `tar -x` into ext4 on
#     a thin device of a raw pool of the same geometry on the same filesystem
#     (mount, extract, sync, unmount).
# Medians in ms, and ratios.
#
# This machine's kernel has no device-mapper: run from here, the script
# makes its inputs (bench/results/tmp/devmapper/, ignored by git) and the
# timing helper ($BUILD/bench/devmapper_snap), boots the VM (tests/vm) and
# runs itself inside; the numbers are the VM's (TCG).
#   BUILD=build-dm bench/devmapper.sh [RUNS] [SNAPSHOT_RUNS]
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
TOP=$PWD
BUILD=${BUILD:-build}
BIN=${STRATA_BIN:-$TOP/$BUILD/strata}
RUNS=${1:-3}
SNAP_RUNS=${2:-15}
IN=$TOP/bench/results/tmp/devmapper
SNAP=$TOP/$BUILD/bench/devmapper_snap
. tests/conformance/env-devmapper.sh

# gen DIR NFILES TOTAL_BYTES: NFILES files in 100 directories, sizes drawn
# (seeded) so that they add up to about TOTAL_BYTES
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

if ! why=$(dm_test_available); then
	if [ -n "${STRATA_VM:-}" ] || [ ! -x tests/vm/check-vm.sh ]; then
		echo "SKIP bench/devmapper: $why"
		exit 0
	fi
	# inputs are made here (native speed) and read by the guest over 9p
	if [ ! -f "$IN/layer.tar" ]; then
		rm -rf "$IN" && mkdir -p "$IN/src"
		for x in p10:10:0 p100k:100000:0 layer:20000:$((100 << 20)); do
			mkdir -p "$IN/src/${x%%:*}"
			gen "$IN/src/${x%%:*}" "$(echo "$x" | cut -d: -f2)" "${x##*:}"
			tar -C "$IN/src/${x%%:*}" -cf "$IN/${x%%:*}.tar" .
		done
		rm -rf "$IN/src"
	fi
	[ -f "$BUILD/libstrata.a" ] || { echo "bench/devmapper: $BUILD is not built" >&2; exit 1; }
	mkdir -p "$(dirname "$SNAP")"
	# shellcheck disable=SC2046
	${CC:-cc} -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags devmapper) -o "$SNAP" \
		bench/devmapper_snap.c "$BUILD/libstrata.a" \
		$(pkg-config --libs libarchive json-c libcrypto mount libcurl devmapper libbtrfsutil zlib) -lpthread
	echo "bench/devmapper: no device-mapper here ($why); running in the VM"
	MEM=${MEM:-4G} VM_TIMEOUT=${VM_TIMEOUT:-3000} VM_SUITE_TIMEOUT=3000 VM_ECHO=0 BUILD=$BUILD \
		exec tests/vm/check-vm.sh --run bench/devmapper.sh "$RUNS" "$SNAP_RUNS"
fi

[ -x "$BIN" ] || { echo "bench/devmapper: $BIN is not built" >&2; exit 1; }
[ -f "$IN/layer.tar" ] || { echo "bench/devmapper: no inputs in $IN (run it from the host)" >&2; exit 1; }
[ -e /run/udev/control ] || export DM_DISABLE_UDEV=1
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-bench-dm-XXXXXX")
trap 'rc=$?; set +e; umount "$T/rawmnt" 2>/dev/null; dmsetup remove rawthin 2>/dev/null; dmsetup remove rawpool 2>/dev/null; dm_test_cleanup "$T"; rm -rf "$T"; exit $rc' EXIT
R=$T/root
st() { "$BIN" --root "$R" --storage-driver devmapper --storage-opt dm.loopdatasize=8G "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b ? a / b : 0}'; }
report() { echo "$*" | tee -a "${VM_OUT:-$T}/report"; }

for x in p10 p100k layer; do cp "$IN/$x.tar" "$T/"; done
report "== bench/devmapper: kernel $(uname -r), $(nproc) cpu$([ -n "${STRATA_VM:-}" ] && echo ", qemu TCG guest"), loopback pool on $(stat -f -c %T "$T"), $RUNS runs, medians in ms"
report "layer tar: $(du -m "$T/layer.tar" | cut -f1) MB, $(tar -tf "$T/layer.tar" | grep -vc '/$') files"

# --- 1. snapshot creation, in-process
[ -x "$SNAP" ] || { echo "bench/devmapper: $SNAP is not built (run from the host)" >&2; exit 1; }
mkdir -p "$T/snaphome"
res=$("$SNAP" "$T/snaphome" "$SNAP_RUNS" "$T/p10.tar" "$T/p100k.tar" dm.loopdatasize=8G)
read -r _ s10 r10 _ s100k r100k <<<"$(echo $res)"
dm_test_cleanup "$T/snaphome"
report "$(printf '%-46s %8s ms   (create_snap message: %s ms)' "snapshot create, parent of 10 files:" "$s10" "$r10")"
report "$(printf '%-46s %8s ms   (create_snap message: %s ms)' "snapshot create, parent of 100,000 files:" "$s100k" "$r100k")"
report "ratio snapshot create 100,000 / 10 files:       $(ratio "$s100k" "$s10") (strata, $SNAP_RUNS runs)  $(ratio "$r100k" "$r10") (bare message)"

# a mounted layer keeps the pool up between commands, as in a running
# system; every command still opens the store and the driver
st driver create keep >/dev/null
st driver mount keep >/dev/null
noop=()
for i in $(seq "$RUNS"); do
	a=$(now); st driver exists keep; b=$(now); noop+=("$(ms "$a" "$b")")
done
nop=$(echo "${noop[*]}" | median_int)
report "$(printf '%-46s %8s ms' "strata no-op command (driver exists):" "$nop")"

# --- 2. apply of the 100 MB / 20,000-file layer, against tar -x into ext4
# on a thin device of a raw pool of the same geometry
truncate -s 8G "$T/rawdata" && truncate -s 2G "$T/rawmeta"
dl=$(losetup -f --show "$T/rawdata") && ml=$(losetup -f --show "$T/rawmeta")
dmsetup create rawpool --table "0 $(blockdev --getsz "$dl") thin-pool $ml $dl 128 32768 1 error_if_no_space"
mkdir -p "$T/rawmnt"
ap=() tx=()
for i in $(seq "$RUNS"); do
	st driver create "l$i" >/dev/null
	sync
	a=$(now); st driver apply "l$i" <"$T/layer.tar" >/dev/null; b=$(now)
	ap+=("$(ms "$a" "$b")")
	dmsetup message rawpool 0 "create_thin $i"
	dmsetup create rawthin --table "0 $((10 << 21)) thin $(dmsetup info -c --noheadings -o major,minor --separator : rawpool | tr -d ' ') $i"
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 /dev/mapper/rawthin
	sync
	a=$(now)
	mount -o noinit_itable /dev/mapper/rawthin "$T/rawmnt"
	tar -C "$T/rawmnt" -xf "$T/layer.tar"
	sync -f "$T/rawmnt"
	umount "$T/rawmnt"
	b=$(now)
	tx+=("$(ms "$a" "$b")")
	dmsetup remove rawthin
	dmsetup message rawpool 0 "delete $i"
	st driver rm "l$i"
done
a_ms=$(echo "${ap[*]}" | median_int)
t_ms=$(echo "${tx[*]}" | median_int)
report "$(printf '%-46s %6s ms' "strata driver apply, 100 MB / 20,000 files:" "$a_ms")"
report "$(printf '%-46s %6s ms' "mount + tar -x + sync + umount, raw thin ext4:" "$t_ms")"
report "ratio apply / tar into ext4 on a thin device:   $(ratio "$a_ms" "$t_ms") ($(ratio $((a_ms - nop)) "$t_ms") net of the no-op command)"
st driver unmount keep
