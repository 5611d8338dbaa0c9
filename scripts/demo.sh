#!/bin/bash
# make demo: a busybox base image from Debian's busybox-static, then two
# images from two Dockerfiles that share their first steps; their histories
# side by side show the layers they share, and each runs its ENTRYPOINT.
# Env: BUILD (build dir), STRATA_DEMO_ROOT (store; default $BUILD/demo-root),
#      STRATA_STORAGE_DRIVER (default: the first driver that works here).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
root=${STRATA_DEMO_ROOT:-$PWD/$BUILD/demo-root}
strata() { "$PWD/$BUILD/strata" --root "$root" "$@"; }
t0=$(date +%s.%N)

if [ -d "$root" ]; then
	# a fresh store each time: containers first, then images
	for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null; done
	for i in $(strata images -q 2>/dev/null | sort -u); do strata rmi -f "$i" >/dev/null 2>&1 || true; done
	rm -rf --one-file-system "$root"
fi
work=$(mktemp -d /tmp/strata-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== strata info"
strata info | sed -n '1,4p'

echo; echo "== base image from Debian's busybox-static"
scripts/busybox-rootfs.sh "$work/rootfs"
tar -C "$work/rootfs" -cf "$work/base.tar" .
strata import "$work/base.tar" base

echo; echo "== build app1"
strata build -t app1 examples/demo/app1
echo; echo "== build app2 (shares the base and both RUN layers with app1)"
strata build -t app2 examples/demo/app2

echo; echo "== history side by side (newest first)"
hist() {
	strata history --format json "$1" | jq -r '
		def human: if . < 1000 then "\(.)B" elif . < 1000000 then "\((. / 100 | floor) / 10)kB"
			   else "\((. / 100000 | floor) / 10)MB" end;
		.[] | [(.Layer | if . == "" then "-" else .[7:19] end), (.Size | human), .CreatedBy[0:46]] | @tsv'
}
paste <(hist app1) <(hist app2) | awk -F'\t' '
	BEGIN { printf "%-14s %-8s %-48s | %-14s %-8s %-48s %s\n", "APP1 LAYER", "SIZE", "CREATED BY", "APP2 LAYER", "SIZE", "CREATED BY", "" }
	{ shared = ($1 != "-" && $1 == $4) ? "<- shared" : "";
	  printf "%-14s %-8s %-48s | %-14s %-8s %-48s %s\n", $1, $2, $3, $4, $5, $6, shared }'

echo; echo "== layers in the store (each stored once, held by both images)"
strata layer ls

echo; echo "== run them"
strata run --rm app1
strata run --rm app2
printf '\ndemo finished in %.1f s (store: %s)\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$root"
