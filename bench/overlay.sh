#!/bin/bash
# overlay driver benchmark, in one run on this machine (the store in a fresh
# directory of $STRATA_TEST_TMP):
#  1. apply of a 100 MB / 20,000-file layer tar (`strata driver apply`),
#     against `tar -x` of the same tar into a plain directory of the same
#     filesystem (both leave the data in the page cache; a sync between runs);
#  2. diff of a 20,000-file layer (`strata driver diff`, native: the tar of
#     its diff/), against `tar -c` of that diff/ directory (warm caches);
#  3. mount+unmount of a read-write layer (upper over two lower layers) and
#     of a committed one (read-only, three lower layers): st_drv_get +
#     st_drv_put in one process, against bare mount(2)+umount2(2) of the same
#     overlay with the same options, cycle for cycle in turn
#     (bench/overlay_mount.c); and through the strata command (process start
#     and store open included);
#  4. a 500-layer chain: mount, then readdir, stat and read of its 500 files
#     (one per layer) on the fresh mount, against a flat directory holding
#     the same files.
# Medians of RUNS (default 5) runs. Target: apply and diff within 1.2x of
# tar, mount within 1.5x of bare mount(2).
#   BUILD=build-ovl bench/overlay.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
TOP=$PWD
bench_build
RUNS=${1:-5}
[ "$(id -u)" = 0 ] || { echo "SKIP bench/overlay: needs root (mounts)"; exit 0; }
[ -x "$BIN" ] && [ -f "$B/libstrata.a" ] || { echo "bench/overlay: $B is not built" >&2; exit 1; }
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-bench-overlay-XXXXXX")
cleanup() {
	awk -v d="$T/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null; done
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
R=$T/root
H=$R/overlay
st() { "$BIN" --root "$R" --storage-driver overlay "$@"; }
# timed OUTVAR CMD...: runs CMD (stdout kept), OUTVAR gets "WALL_MS CPU_MS"
# (CPU: user+system of CMD; on a busy machine it varies less than the wall)
timed() {
	local __v=$1 f
	shift
	f=$(mktemp)
	/usr/bin/time -f "%e %U %S" -o "$f" "$@"
	printf -v "$__v" '%s' "$(awk '{printf "%d %d", $1 * 1000, ($2 + $3) * 1000}' "$f")"
	rm -f "$f"
}
minimum() { tr ' ' '\n' | grep . | sort -n | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), a / b}'; }

PKGS="libarchive json-c libcrypto mount libcurl devmapper libbtrfsutil zlib"
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$TOP/include" -o "$T/overlay_mount" "$TOP/bench/overlay_mount.c" \
	"$B/libstrata.a" $(pkg-config --libs $PKGS) -lpthread

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

echo "bench/overlay: kernel $(uname -r), store on $(stat -f -c %T "$T") ($T), $RUNS runs"
st info | sed -n 's/^ \(Mount API\|Native Overlay Diff\|Mount Options\): /  \1: /p'

# ------------------------------------------------------------ 1. apply
mkdir "$T/src"
gen "$T/src" 20000 $((100 * 1000 * 1000))
tar -C "$T/src" --numeric-owner -cf "$T/layer.tar" .
echo "layer: $(find "$T/src" -type f | wc -l) files, $(du -sm --apparent-size "$T/src" | cut -f1) MB, tar $(($(stat -c %s "$T/layer.tar") / 1000000)) MB"
st driver create base >/dev/null
# in turn, which goes first alternating (the machine may be busy: medians,
# and the best run of each)
tar_x=() st_apply=() tar_xc=() st_applyc=()
apply_tar() {
	mkdir "$T/x$1"
	sync
	timed r tar -C "$T/x$1" -xf "$T/layer.tar"
	tar_x+=("${r% *}") tar_xc+=("${r#* }")
}
apply_st() {
	st driver create --parent base "a$1" >/dev/null
	sync
	timed r "$BIN" --root "$R" --storage-driver overlay driver apply "a$1" <"$T/layer.tar" >/dev/null
	st_apply+=("${r% *}") st_applyc+=("${r#* }")
}
for i in $(seq 1 "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then apply_tar "$i"; apply_st "$i"; else apply_st "$i"; apply_tar "$i"; fi
	rm -rf "$T/x$i"
	[ "$i" = 1 ] || st driver rm "a$i" >/dev/null
done
ta=$(echo "${tar_x[*]}" | median_int) sa=$(echo "${st_apply[*]}" | median_int)
tac=$(echo "${tar_xc[*]}" | median_int) sac=$(echo "${st_applyc[*]}" | median_int)
tam=$(echo "${tar_x[*]}" | minimum) sam=$(echo "${st_apply[*]}" | minimum)
echo "apply  100 MB / 20,000 files: strata $sa ms, tar -x $ta ms: $(ratio "$sa" "$ta")x (best $sam vs $tam ms: $(ratio "$sam" "$tam")x); cpu $sac vs $tac ms: $(ratio "$sac" "$tac")x"
echo "       (wall runs: strata ${st_apply[*]}; tar ${tar_x[*]})"

# ------------------------------------------------------------- 2. diff
st driver diff a1 | cat >/dev/null # warm caches for both
tar -C "$H/a1/diff" -cf - . | cat >/dev/null
tar_c=() st_diff=() tar_cc=() st_diffc=()
diff_tar() {
	timed r tar -C "$H/a1/diff" -cf - . > >(cat >/dev/null)
	tar_c+=("${r% *}") tar_cc+=("${r#* }")
}
diff_st() {
	timed r "$BIN" --root "$R" --storage-driver overlay driver diff a1 > >(cat >/dev/null)
	st_diff+=("${r% *}") st_diffc+=("${r#* }")
}
for i in $(seq 1 "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then diff_tar; diff_st; else diff_st; diff_tar; fi
done
tc=$(echo "${tar_c[*]}" | median_int) sd=$(echo "${st_diff[*]}" | median_int)
tcc=$(echo "${tar_cc[*]}" | median_int) sdc=$(echo "${st_diffc[*]}" | median_int)
tcm=$(echo "${tar_c[*]}" | minimum) sdm=$(echo "${st_diff[*]}" | minimum)
echo "diff   20,000-file layer:     strata $sd ms, tar -c $tc ms: $(ratio "$sd" "$tc")x (best $sdm vs $tcm ms: $(ratio "$sdm" "$tcm")x); cpu $sdc vs $tcc ms: $(ratio "$sdc" "$tcc")x"
echo "       (wall runs: strata ${st_diff[*]}; tar ${tar_c[*]})"
st driver rm a1 >/dev/null

# ------------------------------------------------------------ 3. mount
printf 'x' >"$T/one" && tar -C "$T" -cf "$T/one.tar" one
st driver create --parent base mid >/dev/null && st driver apply mid <"$T/one.tar" >/dev/null
st driver create --parent mid --rw c >/dev/null
st driver create --parent mid ro >/dev/null
low() { sed "s|l/|$H/l/|g" "$H/$1/lower"; }
opts=$(st info | sed -n 's/^ Mount Options: //p')
mkdir "$T/bare"
N=$((RUNS * 40))
read -r s_rw b_rw < <("$T/overlay_mount" cycles "$H" c "lowerdir=$(low c),upperdir=$H/c/diff,workdir=$H/c/work,$opts" \
	"$T/bare" "$N" rw)
read -r s_ro b_ro < <("$T/overlay_mount" cycles "$H" ro "lowerdir=$H/l/$(cat "$H/ro/link"):$(low ro),$opts" \
	"$T/bare" "$N" ro)
cli=()
for i in $(seq 1 "$RUNS"); do
	t0=$(now); st driver mount c >/dev/null; st driver unmount c; t1=$(now)
	cli+=("$(ms "$t0" "$t1")")
done
echo "mount+unmount, read-write (2 lower + upper): strata $s_rw us, bare mount(2) $b_rw us: $(ratio "$s_rw" "$b_rw")x"
echo "mount+unmount, committed (3 lower, ro):      strata $s_ro us, bare mount(2) $b_ro us: $(ratio "$s_ro" "$b_ro")x"
echo "mount+unmount through the strata command (2 processes): $(echo "${cli[*]}" | median_int) ms"

# ------------------------------------------------------ 4. 500 layers
mkdir "$T/flat" "$T/one500"
p=base
t0=$(now)
for i in $(seq 1 500); do
	rm -f "$T/one500"/*
	head -c 4096 /dev/urandom >"$T/one500/f$i"
	cp "$T/one500/f$i" "$T/flat/"
	tar -C "$T/one500" -cf "$T/l.tar" "f$i"
	[ "$i" = 1 ] && p=
	st driver create ${p:+--parent "$p"} "c$i" >/dev/null && st driver apply "c$i" <"$T/l.tar" >/dev/null
	p=c$i
done
t1=$(now)
echo "500-layer chain made in $(ms "$t0" "$t1") ms (500 x create + apply through the command)"
mnt=() rd=() sta=() red=()
for i in $(seq 1 "$RUNS"); do
	t0=$(now); m=$(st driver mount c500); t1=$(now)
	mnt+=("$(ms "$t0" "$t1")")
	read -r a b c < <("$T/overlay_mount" walk "$m")
	rd+=("$a") sta+=("$b") red+=("$c")
	st driver unmount c500
done
"$T/overlay_mount" walk "$T/flat" >/dev/null # warm
fl=() ; for i in $(seq 1 "$RUNS"); do fl+=("$("$T/overlay_mount" walk "$T/flat")"); done
fa=$(printf '%s\n' "${fl[@]}" | cut -d' ' -f1 | median_int)
fb=$(printf '%s\n' "${fl[@]}" | cut -d' ' -f2 | median_int)
fc=$(printf '%s\n' "${fl[@]}" | cut -d' ' -f3 | median_int)
oa=$(echo "${rd[*]}" | median_int) ob=$(echo "${sta[*]}" | median_int) oc=$(echo "${red[*]}" | median_int)
echo "500-layer chain: mount (strata command) $(echo "${mnt[*]}" | median_int) ms; on the fresh mount:"
echo "  readdir of 500 names  $oa us (flat dir $fa us: $(ratio "$oa" "$fa")x)"
echo "  stat of 500 files     $ob us (flat dir $fb us: $(ratio "$ob" "$fb")x)"
echo "  read of 500 x 4 KB    $oc us (flat dir $fc us: $(ratio "$oc" "$fc")x)"
