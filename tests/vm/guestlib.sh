# Helpers for guest suites (sourced; see runner.sh).

# vm_scratch_fs DIR SIZE_MB: an ext4 filesystem on a RAM disk (brd) mounted
# on DIR, for suites that need what the guest's tmpfs lacks before 6.6
# (user.* xattrs) the way the host's disk-backed /tmp has it. A RAM disk
# rather than a loop device on a tmpfs file: half the copies under TCG.
vm_scratch_fs() {
	local dir=$1 mb=$2
	[ -b /dev/ram0 ] || modprobe brd rd_nr=1 rd_size=$((mb * 1024)) max_part=0 || return 1
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 /dev/ram0 || return 1
	mkdir -p "$dir" && mount -o noinit_itable /dev/ram0 "$dir"
}

# The kernel NFS server on the guest's own loopback (the host kernel has
# neither NFS client nor server). Pitfalls (tests/vm and the reference
# recipe): without /var/lib/nfs/v4recovery nfsd ends its v4 grace period at
# once instead of stalling the first open 90 s; there is no udev and no
# network but loopback. The export is the NFSv4 root (fsid=0): v3 mounts it
# by its path, v4 as "/".
# nfs_server_prepare EXP: modules, loopback up, a tmpfs at EXP to export.
nfs_server_prepare() {
	modprobe nfsd 2>/dev/null
	modprobe nfsv3 2>/dev/null
	modprobe nfsv4 2>/dev/null
	ip link set lo up || echo "nfs: bringing up lo failed (ip is in iproute2, scripts/deps.sh)"
	mountpoint -q "$1" || { mkdir -p "$1" && mount -t tmpfs tmpfs "$1"; }
}
# nfs_server_start EXP / nfs_server_stop
nfs_server_start() {
	rm -rf /var/lib/nfs/v4recovery
	mkdir -p /var/lib/nfs/rpc_pipefs /run/rpcbind "$1"
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
	mountpoint -q /var/lib/nfs/rpc_pipefs || mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs
	pgrep -x rpcbind >/dev/null || rpcbind -w
	echo "$1 127.0.0.1(rw,no_root_squash,no_subtree_check,fsid=0,insecure)" >/etc/exports
	: >/var/lib/nfs/etab
	exportfs -ra
	pgrep -x rpc.mountd >/dev/null || rpc.mountd --no-udp
	rpc.nfsd 4
}
nfs_server_stop() {
	rpc.nfsd 0
	exportfs -ua
	pkill -x rpc.mountd 2>/dev/null # only the guest's own, started above
	sleep 0.5
}
