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
