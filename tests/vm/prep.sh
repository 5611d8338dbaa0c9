#!/bin/bash
# tests/vm/prep.sh: make the VM cache (tests/vm/cache/, ignored by git) once:
# the stock Debian kernel behind linux-image-amd64 (unpacked, modules indexed),
# an uncompressed vmlinux for a direct boot, and the initramfs built from
# tests/vm/init. A stamp (kernel package + hash of this script and init)
# makes a second run a no-op; delete the cache or set VM_REPREP=1 to redo it.
# Runs under an exclusive lock, so two checkouts' runs can share one cache.
set -euo pipefail
VM=$(cd "$(dirname "$0")" && pwd)
CACHE=${VM_CACHE:-$VM/cache}
mkdir -p "$CACHE"
exec 9>"$CACHE/.prep.lock"
flock 9

want_stamp() { # the kernel package name must be given (resolved from apt)
	echo "$1 $(cat "$VM/prep.sh" "$VM/init" | sha256sum | cut -c1-16)"
}

# A prepared cache is reused without asking apt anything (CI may be offline).
if [ "${VM_REPREP:-0}" != 1 ] && [ -f "$CACHE/stamp" ] && [ -f "$CACHE/vmlinux" ] &&
	[ -f "$CACHE/initrd.img" ] && [ "$(want_stamp "$(cut -d' ' -f1 "$CACHE/stamp")")" = "$(cat "$CACHE/stamp")" ]; then
	exit 0
fi

# the packages (qemu, busybox-static, cpio, dmsetup, thin-provisioning-tools, ...)
"$VM/../../scripts/deps.sh"

# The ABI number in the kernel package name changes with Debian point
# releases: always resolve it through the linux-image-amd64 metapackage.
resolve_kernel() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
PKG=$(resolve_kernel)
if [ -z "$PKG" ]; then
	apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
	PKG=$(resolve_kernel)
fi
[ -n "$PKG" ] || { echo "prep: cannot resolve the package behind linux-image-amd64" >&2; exit 1; }
KVER=${PKG#linux-image-}
echo "prep: kernel package $PKG"

cd "$CACHE"
rm -rf kernel initrd ./*.deb vmlinux initrd.img stamp kver
apt-get -o APT::Sandbox::User=root download -q "$PKG" >/dev/null
dpkg-deb -x "${PKG}"_*.deb kernel
depmod -b kernel "$KVER"

# The boot image is a bzImage whose payload is xz: unpack the ELF vmlinux
# once here so that qboot can start it directly (no decompression under TCG).
python3 - "kernel/boot/vmlinuz-$KVER" vmlinux <<'EOF'
import lzma, sys
blob = open(sys.argv[1], 'rb').read()
start = blob.find(b'\xfd7zXZ\x00')
if start < 0:
    sys.exit('prep: no xz payload in ' + sys.argv[1])
dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
open(sys.argv[2], 'wb').write(dec.decompress(blob[start:]))
EOF

# initramfs: static busybox, the modules needed to reach the 9p root, /init
mkdir -p initrd/bin initrd/mod initrd/proc initrd/sys initrd/dev initrd/newroot
cp /bin/busybox initrd/bin/busybox
ln -s busybox initrd/bin/sh
: >initrd/mod/order
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -d kernel -S "$KVER" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r ko; do
	cp "$ko" initrd/mod/
	basename "$ko" >>initrd/mod/order
done
install -m 0755 "$VM/init" initrd/init
(cd initrd && find . | cpio -o -H newc --quiet | gzip -1) >initrd.img
echo "$KVER" >kver
rm -f "${PKG}"_*.deb
want_stamp "$PKG" >stamp
echo "prep: ready: kernel $KVER, initramfs modules: $(tr '\n' ' ' <initrd/mod/order)"
