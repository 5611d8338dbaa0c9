#!/bin/bash
# debian-base.sh [NAME]: a Debian 12 (bookworm) minbase root filesystem made with
# debootstrap, imported as a one-layer strata image (default name debian-base).
# Env: STRATA (the strata command, default "strata"), DEBIAN_MIRROR,
#      STRATA_CACHE (keeps the rootfs tar between runs; default /var/cache/strata).
set -euo pipefail
name=${1:-debian-base}
strata=${STRATA:-strata}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${STRATA_CACHE:-/var/cache/strata}
tarball=$cache/debian-bookworm-minbase.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	work=$(mktemp -d /tmp/strata-debootstrap-XXXXXX)
	trap 'rm -rf --one-file-system "$work"' EXIT
	echo "debootstrap bookworm (minbase) from $mirror ..."
	debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/log" 2>&1 ||
		{ tail -20 "$work/log" >&2; exit 1; }
	# the image gets the host's resolver at run time, not this one
	: > "$work/rootfs/etc/resolv.conf"
	tar -C "$work/rootfs" --numeric-owner --xattrs -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
fi
$strata import "$tarball" "$name"
