#!/bin/bash
# `strata bench` as a tool (not a benchmark: a tiny workload, nothing timed is
# asserted): every driver is reported, as measured or skipped with a reason;
# the JSON holds min <= median <= max over the runs for every operation of
# every shape; btrfs runs on a loop image when the scratch directory is not
# btrfs; nothing (directories, mounts, loop devices) is left behind; the
# plot is an SVG naming the drivers; bad options are usage errors (exit 2).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
S=${STRATA_BIN:-$PWD/$BUILD/strata}
if [ ! -x "$S" ]; then
	echo "FAIL bench: $S is not built"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP bench: needs root (driver mounts, loop devices)"
	exit 0
fi
tmp=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-bench-it-XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
mkdir -p "$tmp/scratch"
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }

TINY=(--files 30 --file-size 1k --large-files 2 --large-size 256k --layers 4 --runs 3 --dir "$tmp/scratch")
NOPS=11

"$S" bench "${TINY[@]}" --format json >"$tmp/out.json" 2>"$tmp/err"
rc=$?
if [ $rc != 0 ]; then
	fail bench_json_runs "exit $rc: $(head -c 400 "$tmp/err")"
elif ! jq -e . "$tmp/out.json" >/dev/null 2>&1; then
	fail bench_json_runs "not JSON: $(head -c 300 "$tmp/out.json")"
else
	pass bench_json_runs
	# every compiled-in driver appears once, ok or skipped (never failed)
	want=$("$S" --root "$tmp/infostore" --storage-driver vfs info --format json | jq -r '.Drivers | keys[]' | sort)
	got=$(jq -r '.drivers[].driver' "$tmp/out.json" | sort)
	if [ "$want" = "$got" ]; then
		pass bench_reports_every_driver
	else
		fail bench_reports_every_driver "drivers $(echo $got), expected $(echo $want)"
	fi
	bad=$(jq -r '.drivers[] | select(.status == "skipped" and (.reason // "") == "") | .driver' "$tmp/out.json")
	notok=$(jq -r '.drivers[] | select(.status != "ok" and .status != "skipped") | "\(.driver): \(.reason)"' "$tmp/out.json")
	if [ -n "$bad$notok" ]; then
		fail bench_skips_say_why "no reason: $bad; failed: $notok"
	else
		pass bench_skips_say_why
	fi
	# skipped exactly where strata info says the driver does not work here
	mism=
	for d in $(jq -r '.drivers[].driver' "$tmp/out.json"); do
		[ "$d" = btrfs ] && continue # made to work on a loop image
		sup=$("$S" --root "$tmp/infostore" --storage-driver vfs info --format json | jq -r ".Drivers.$d.Supported")
		st=$(jq -r ".drivers[] | select(.driver == \"$d\") | .status" "$tmp/out.json")
		if [ "$sup" = true ] && [ "$st" != ok ]; then mism+=" $d($st, info: supported)"; fi
		if [ "$sup" = false ] && [ "$st" != skipped ]; then mism+=" $d($st, info: unsupported)"; fi
	done
	rm -rf "$tmp/infostore"
	[ -z "$mism" ] && pass bench_skips_match_info || fail bench_skips_match_info "$mism"
	# per ok driver: 3 shapes x 11 operations, 3 samples, min <= median <= max, all > 0
	bad=$(jq -r --argjson nops $NOPS '.drivers[] | select(.status == "ok") | .driver as $d |
		if (.shapes | length) != 3 then "\($d): \(.shapes | length) shapes" else
		.shapes | to_entries[] | .key as $s |
		if (.value.seconds | length) != $nops then "\($d)/\($s): \(.value.seconds | length) operations" else
		.value.seconds | to_entries[] | .value as $v |
		select(($v.samples | length) != 3 or ($v.samples | min) <= 0 or $v.min > $v.median or
		       $v.median > $v.max or $v.min != ($v.samples | min) or $v.max != ($v.samples | max)) |
		"\($d)/\($s)/\(.key)" end end' "$tmp/out.json")
	if [ -z "$bad" ]; then
		pass bench_stats_consistent
	else
		fail bench_stats_consistent "$(echo $bad | head -c 300)"
	fi
	chain=$(jq -r '[.drivers[] | select(.status == "ok") | .shapes["deep-chain"].workload.layers] | unique | join(",")' "$tmp/out.json")
	[ "$chain" = 4 ] && pass bench_chain_has_layers || fail bench_chain_has_layers "deep-chain layers: $chain, expected 4"
	b=$(jq -r '.drivers[] | select(.driver == "btrfs") | "\(.status) \(.backing // .reason)"' "$tmp/out.json")
	case $b in
	"ok loop btrfs on "*) pass bench_btrfs_on_loop_image ;;
	skipped*) skip bench_btrfs_on_loop_image "${b#skipped }" ;;
	*) fail bench_btrfs_on_loop_image "btrfs: $b" ;;
	esac
fi

left=$(ls -A "$tmp/scratch")
mnts=$(awk -v t="$tmp/" 'index($5, t) == 1' /proc/self/mountinfo)
loops=$(losetup -n -l -O BACK-FILE 2>/dev/null | grep -F "$tmp/")
if [ -z "$left$mnts$loops" ]; then
	pass bench_leaves_nothing_behind
else
	fail bench_leaves_nothing_behind "left: $left; mounts: $mnts; loops: $loops"
fi

"$S" bench "${TINY[@]}" --runs 1 --drivers vfs,aufs --shapes small >"$tmp/out.txt" 2>"$tmp/err"
rc=$?
if [ $rc = 0 ] && grep -q '^vfs .* small-files *copy-up ' "$tmp/out.txt" && ! grep -q 'large-files' "$tmp/out.txt" &&
	{ grep -q '^aufs: skipped: .' "$tmp/out.txt" || grep -q '^aufs .* small-files ' "$tmp/out.txt"; }; then
	pass bench_table_rows_and_skips
else
	fail bench_table_rows_and_skips "exit $rc: $(head -c 400 "$tmp/out.txt") $(head -c 200 "$tmp/err")"
fi

if command -v gnuplot >/dev/null; then
	"$S" bench "${TINY[@]}" --runs 1 --drivers vfs --plot "$tmp/p.svg" >/dev/null 2>"$tmp/err"
	if grep -q '<svg' "$tmp/p.svg" 2>/dev/null && grep -q 'vfs' "$tmp/p.svg" && grep -q 'deep-chain' "$tmp/p.svg"; then
		pass bench_plot_svg
	else
		fail bench_plot_svg "$(head -c 300 "$tmp/err")"
	fi
else
	skip bench_plot_svg "gnuplot not installed (gnuplot-nox; scripts/deps.sh)"
fi

usage() {
	local name=$1
	shift
	"$S" bench "$@" >/dev/null 2>"$tmp/err"
	local rc=$?
	if [ $rc = 2 ] && grep -q '^strata: error: ' "$tmp/err"; then pass "$name"; else fail "$name" "exit $rc: $(cat "$tmp/err")"; fi
}
usage bench_usage_zero_runs --runs 0
usage bench_usage_unknown_driver --drivers vfs,nosuch
usage bench_usage_unknown_shape --shapes tiny
usage bench_usage_plot_extension --plot out.pdf
usage bench_usage_bad_size --file-size lots
usage bench_usage_bad_format --format xml
usage bench_usage_arguments extra

exit $((fails > 0))
