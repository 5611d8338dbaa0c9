#!/bin/bash
# How strata's costs grow with the store: one store grown step by step to
# SIZES layers (default 10 100 1000 10000), a tenth of them one-layer images
# (so 1,000 images at 10,000 layers) and as many containers (strata create);
# at every size the medians of RUNS runs (default 5) of
#   in process (bench/scale_fill.c, libstrata's API):
#     open       st_store_open + st_store_close (lock, driver, recovery sweeps)
#     image-get  st_image_get of one image by name
#     layer-get  st_layer_get of one layer by chain id
#   through the command line (process start included):
#     images, ps -a, inspect IMAGE, inspect CONTAINER (by name), system df, system check, system prune -f
# Store open and single lookups must stay flat as the store grows; listings
# and whole-store walks (images, ps, df, check, prune) grow with what they show.
# Results: bench/results/scale-DATE.{tsv,md,svg} and scale-latest.md.
#   BUILD=build-bench bench/scale.sh [RUNS]      env: SIZES, DRIVER (vfs), DIR
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
. bench/lib.sh
bench_build
RUNS=${1:-${RUNS:-5}}
SIZES=${SIZES:-10 100 1000 10000}
DRIVER=${DRIVER:-vfs}
OUT=${OUT:-$TOP/bench/results}
export LC_ALL=C
[ -x "$BIN" ] && [ -f "$B/libstrata.a" ] || { echo "bench/scale: build first (make BUILD=$BUILD)" >&2; exit 1; }

T=$(mktemp -d "${DIR:-/var/tmp}/strata-scale-XXXXXX")
trap 'bench_rm_dir "$T"' EXIT
FILL=$T/scale_fill
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -o "$FILL" bench/scale_fill.c "$B/libstrata.a" \
	$(pkg-config --libs libarchive json-c libcrypto mount libcurl devmapper libbtrfsutil zlib) -lpthread ||
	exit 1
R=$T/store
st() { "$BIN" --root "$R" --storage-driver "$DRIVER" "$@"; }

# med_ms CMD...: median wall time of RUNS runs of a command, in ms
med_ms() {
	local i t0 t1 v=()
	for i in $(seq 1 "$RUNS"); do
		t0=$(now)
		"$@" >/dev/null 2>&1 || { echo "bench/scale: failed: $*" >&2; echo NaN; return; }
		t1=$(now)
		v+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')")
	done
	echo "${v[@]}" | median
}

stamp=$(date -u +%Y%m%d-%H%M)
tsv=$OUT/scale-$stamp.tsv
mkdir -p "$OUT"
printf 'layers\timages\tcontainers\topen_us\timage_get_us\tlayer_get_us\timages_ms\tps_ms\tinspect_ms\tct_inspect_ms\tdf_ms\tcheck_ms\tprune_ms\n' >"$tsv"
for n in $SIZES; do
	imgs=$((n / 10 > 0 ? n / 10 : 1))
	t0=$(now)
	"$FILL" "$R" "$DRIVER" fill "$n" "$imgs" || exit 1
	# system prune at the last size removed the containers (all created, none running)
	containers=$(st ps -aq | wc -l)
	while [ "$containers" -lt "$imgs" ]; do
		st create --name "c$n-$containers" "scale/img-$containers" true >/dev/null || exit 1
		containers=$((containers + 1))
	done
	echo "bench/scale: $n layers, $imgs images, $containers containers ($(secs "$t0" "$(now)") s to grow)" >&2
	layer=$(st inspect scale/img-0 | jq -r '.[0].RootFS | (.Layers // .diff_ids)[0]')
	# a layer's chain id is its diff id when it has no parent
	read -r open_us img_us layer_us < <("$FILL" "$R" "$DRIVER" time $((RUNS * 20)) scale/img-0 "$layer")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$imgs" "$containers" \
		"$open_us" "$img_us" "$layer_us" \
		"$(med_ms st images)" "$(med_ms st ps -a)" "$(med_ms st inspect scale/img-0)" "$(med_ms st inspect "c$n-$((containers - 1))")" \
		"$(med_ms st system df)" "$(med_ms st system check)" "$(med_ms st system prune -f)" >>"$tsv"
done

md=$OUT/scale-$stamp.md
{
	echo "# bench/scale.sh, $stamp UTC, driver $DRIVER, medians of $RUNS runs (in-process: $((RUNS * 20)))"
	echo
	echo "| layers | images | containers | open µs | image get µs | layer get µs | images ms | ps -a ms | inspect ms | container inspect ms | system df ms | system check ms | system prune ms |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	tail -n +2 "$tsv" | awk -F'\t' '{printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; print ""}'
} >"$md"
cp "$md" "$OUT/scale-latest.md"
if command -v gnuplot >/dev/null; then
	gnuplot <<-EOF 2>/dev/null
	set terminal svg size 900,500
	set output "$OUT/scale-$stamp.svg"
	set logscale xy
	set xlabel "layers in the store (images and containers: a tenth)"
	set ylabel "ms (median)"
	set key left top
	plot "$tsv" using 1:(\$4/1000) skip 1 with linespoints title "store open (in process)", \
	     "" using 1:(\$5/1000) skip 1 with linespoints title "image get (in process)", \
	     "" using 1:7 skip 1 with linespoints title "strata images", \
	     "" using 1:8 skip 1 with linespoints title "strata ps -a", \
	     "" using 1:9 skip 1 with linespoints title "strata inspect", \
	     "" using 1:10 skip 1 with linespoints title "strata inspect CONTAINER", \
	     "" using 1:11 skip 1 with linespoints title "strata system df", \
	     "" using 1:12 skip 1 with linespoints title "strata system check"
	EOF
fi
cat "$md"
