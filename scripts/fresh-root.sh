#!/bin/bash
# Runs commands from a clean clone of this repository's HEAD inside a fresh
# Debian 12 root, as on a new machine: a minimal bookworm made by debootstrap
# from the mirror this machine's apt uses (with make, which a new machine has),
# nothing else installed. Each command runs as root in the clone, in its own
# mount namespace whose root it is (with /proc, /sys, /dev and a fresh /run),
# and must succeed the first time. This is how CI proves the README's two commands:
#   scripts/fresh-root.sh 'make demo' 'make check'
# Env: FRESH_ROOT  the root's directory (default: a new one under /var/tmp; an
#                  existing directory must be empty)
#      FRESH_KEEP=1  keep the root afterwards (default: removed)
#      FRESH_ENV   names of variables passed into the root (default: CI)
#      FRESH_REUSE=1  run in an existing FRESH_ROOT made by an earlier run (for
#                  working on this script; the root is then no longer fresh)
set -euo pipefail
top=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
[ $# -gt 0 ] || { echo "usage: scripts/fresh-root.sh COMMAND..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "fresh-root: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
for c in debootstrap unshare git; do
	command -v $c >/dev/null || { echo "fresh-root: $c is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

# the first Debian mirror of this machine's apt sources (deb822 or one-line format)
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
	done
	[ -f /etc/apt/sources.list ] && awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list
	true
}
url=$(mirror | head -n 1)
[ -n "$url" ] || { echo "fresh-root: no Debian mirror in /etc/apt/sources.list{,.d}" >&2; exit 1; }

root=${FRESH_ROOT:-$(mktemp -d /var/tmp/strata-fresh-XXXXXX)}
mkdir -p "$root"
reuse=0
if [ "${FRESH_REUSE:-0}" = 1 ] && [ -d "$root/src/.git" ]; then
	reuse=1
elif [ -n "$(ls -A "$root")" ]; then
	echo "fresh-root: $root is not empty" >&2; exit 1
fi
cleanup() {
	# whatever the commands left running inside (daemons of a failed test)
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	sleep 1
	if [ "${FRESH_KEEP:-0}" != 1 ]; then
		grep -q " $root" /proc/self/mountinfo && { echo "fresh-root: mounts left below $root, kept it" >&2; return; }
		rm -rf --one-file-system "$root"
	fi
}
trap cleanup EXIT

make_root() {
	echo "fresh-root: debootstrap bookworm from $url into $root"
	if ! debootstrap --variant=minbase --include=make bookworm "$root" "$url" >"$root.debootstrap.log" 2>&1; then
		tail -n 20 "$root.debootstrap.log" >&2
		return 1
	fi
	rm -f "$root.debootstrap.log"
	# the machine's apt sources and settings (its mirror may need them), nothing installed
	rm -f "$root"/etc/apt/sources.list
	cp -a /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/"
	[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/"
	cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	git clone -q --no-hardlinks "$top" "$root/src"
}

t0=$SECONDS
if [ $reuse = 0 ]; then make_root; fi
echo "fresh-root: root ready in $((SECONDS - t0)) s ($(git -C "$root/src" log -1 --format='%h %s' | cut -c1-72))"

pass=()
for v in ${FRESH_ENV:-CI}; do [ -n "${!v:-}" ] && pass+=("$v=${!v}"); done
for cmd in "$@"; do
	t1=$SECONDS
	echo "fresh-root: == $cmd"
	set +e
	# the root becomes the namespace's root mount (pivot_root, as a container's),
	# not a chroot: runc makes "/" a slave mount, which a chroot's is not
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		r=$1; shift
		mount --bind "$r" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs -o mode=0755 tmpfs "$r/run"
		mkdir -p "$r/.old-root"
		cd "$r"
		pivot_root . .old-root
		umount -l /.old-root
		rmdir /.old-root
		exec /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"' \
		fresh "$root" "${pass[@]}" /bin/bash -c "cd /src && $cmd"
	rc=$?
	set -e
	echo "fresh-root: '$cmd' exited $rc after $((SECONDS - t1)) s"
	[ $rc -eq 0 ] || exit $rc
done
