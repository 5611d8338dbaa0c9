#!/bin/bash
# btrfs driver benchmark, on a loop-mounted btrfs made here, in one run:
#  1. snapshot creation (a read-write child) for a parent of 10 files and of
#     100,000 files: must be flat, the parent's size must not show;
#     against `btrfs subvolume snapshot` and a no-op strata command (the
#     process and store-open cost every strata command pays);
#  2. apply of a 100 MB / 20,000-file layer tar, against `tar -x` into a
#     fresh subvolume of the same filesystem, both with and without the
#     final sync; and the full `strata layer import` (hashing, tar-split);
#  3. `driver changes` of a container that changed 4 paths on the 100,000-
#     file parent: by generation (the default) against the tree walk
#     (--storage-opt changes=walk), page cache warm.
# Medians of RUNS (default 5) runs, milliseconds. The dockerd comparison is
# a separate benchmark.
#   BUILD=build-fs bench/btrfs.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
RUNS=${1:-5}
. tests/conformance/env-btrfs.sh
if ! why=$(btrfs_test_available); then
	echo "SKIP bench/btrfs: $why"
	exit 0
fi
[ -x "$BIN" ] || { echo "bench/btrfs: $BIN is not built" >&2; exit 1; }
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-bench-btrfs-XXXXXX")
trap 'btrfs_test_cleanup "$T"' EXIT
btrfs_test_mount "$T" 8G
M=$T/mnt
R=$M/root
st() { "$BIN" --root "$R" --storage-driver btrfs "$@"; }
stm() { "$BIN" --root "$R" --storage-driver btrfs --storage-opt "changes=$1" "${@:2}"; }

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

echo "== bench/btrfs: $(uname -r), $(nproc) cores, btrfs loop image in $T, $RUNS runs, medians in ms"
src=$M/src
mkdir -p "$src/p10" "$src/p100k" "$src/layer"
gen "$src/p10" 10 0
gen "$src/p100k" 100000 0
gen "$src/layer" 20000 $((100 << 20))
for x in p10 p100k layer; do tar -C "$src/$x" -cf "$M/$x.tar" .; done
echo "layer tar: $(du -m "$M/layer.tar" | cut -f1) MB, $(tar -tf "$M/layer.tar" | grep -vc '/$') files"

st driver create p10 >/dev/null
st driver apply p10 <"$M/p10.tar" >/dev/null
st driver create p100k >/dev/null
st driver apply p100k <"$M/p100k.tar" >/dev/null
sync

# --- 1. snapshot creation
noop=()
for i in $(seq "$RUNS"); do
	a=$(now); st driver exists p10; b=$(now); noop+=("$(ms "$a" "$b")")
done
# interleaved, so that both parents see the same machine load
c_p10=() c_p100k=() raw_p10=() raw_p100k=()
for i in $(seq $((RUNS * 3))); do
	for p in p10 p100k; do
		a=$(now); st driver create --parent "$p" --rw "c$p$i" >/dev/null; b=$(now)
		eval "c_$p+=(\"$(ms "$a" "$b")\")"
		a=$(now); btrfs subvolume snapshot "$R/btrfs/subvolumes/$p" "$M/raw$p$i" >/dev/null; b=$(now)
		eval "raw_$p+=(\"$(ms "$a" "$b")\")"
		st driver rm "c$p$i"
		btrfs subvolume delete "$M/raw$p$i" >/dev/null
	done
done
for p in p10 p100k; do
	eval "cs=\${c_$p[*]} rs=\${raw_$p[*]}"
	printf '%-44s %6s ms   (btrfs subvolume snapshot: %s ms)\n' "snapshot create, parent of ${p#p} files:" \
		"$(echo "$cs" | median_int)" "$(echo "$rs" | median_int)"
done
printf '%-44s %6s ms\n' "strata no-op command (driver exists):" "$(echo "${noop[*]}" | median_int)"

# --- 2. apply of the 100 MB / 20,000-file layer
sync
ap=() aps=() tx=() txs=() imp=()
for i in $(seq "$RUNS"); do
	st driver create "l$i" >/dev/null
	a=$(now); st driver apply "l$i" <"$M/layer.tar" >/dev/null; b=$(now); sync; c=$(now)
	ap+=("$(ms "$a" "$b")"); aps+=("$(ms "$a" "$c")")
	btrfs subvolume create "$M/tx$i" >/dev/null
	a=$(now); tar -C "$M/tx$i" -xf "$M/layer.tar"; b=$(now); sync; c=$(now)
	tx+=("$(ms "$a" "$b")"); txs+=("$(ms "$a" "$c")")
	a=$(now); id=$(st layer import - <"$M/layer.tar"); b=$(now); sync
	imp+=("$(ms "$a" "$b")")
	st layer rm "$id" >/dev/null
	st driver rm "l$i"
	btrfs subvolume delete "$M/tx$i" >/dev/null
	sync
done
printf '%-44s %6s ms   (with sync: %s ms)\n' "strata driver apply, 100 MB / 20,000 files:" \
	"$(echo "${ap[*]}" | median_int)" "$(echo "${aps[*]}" | median_int)"
printf '%-44s %6s ms   (with sync: %s ms)\n' "tar -x into a fresh subvolume:" \
	"$(echo "${tx[*]}" | median_int)" "$(echo "${txs[*]}" | median_int)"
printf '%-44s %6s ms\n' "strata layer import (hash + tar-split):" "$(echo "${imp[*]}" | median_int)"

# --- 3. changes of a small change on the 100,000-file parent
st driver create --parent p100k --rw cc >/dev/null
p=$(st driver mount cc)
echo new > "$p/d05/f000005"
rm "$p/d07/f000007"
mkdir "$p/newdir"
echo a > "$p/newdir/a"
st driver unmount cc
sync
for mode in generation walk; do
	t=()
	for i in $(seq "$RUNS"); do
		a=$(now); n=$(stm $mode driver changes cc | wc -l); b=$(now)
		t+=("$(ms "$a" "$b")")
	done
	printf '%-44s %6s ms   (%s changes)\n' "driver changes, 100k-file parent, $mode:" "$(echo "${t[*]}" | median_int)" "$n"
done
