# Disk full (sourced by tests/integration/diskfull.sh, after lib.sh).
#
# diskfull_driver DRIVER FSTYPE SIZE: a store on a small loop-mounted
# filesystem of its own (ext4 for overlay and vfs, btrfs for btrfs); an
# apply (`layer import`) and build steps (COPY, RUN) that need more room
# than there is must fail with a clear "No space left on device", leave no
# partial layer (same layers, same driver layers, the space given back) and
# a store that `system check` finds clean; metadata writes on a full disk
# fail cleanly too, and once there is room again everything works.

# Used bytes of the filesystem at dir (btrfs frees a deleted subvolume's
# space in the background: wait for it).
df_used() {
	if [ "$(stat -f -c %T "$1")" = btrfs ]; then
		btrfs subvolume sync "$1" >/dev/null 2>&1
		btrfs filesystem sync "$1" >/dev/null 2>&1
	fi
	sync -f "$1"
	df -B1 --output=used "$1" | tail -1 | tr -d ' '
}

# The store's state in one line: layers, driver layers, leftovers.
df_state() {
	echo "layers=$(st layer ls --format json | jq length) driver=$(st driver ls 2>/dev/null | awk 'NR > 1' | wc -l)" \
		"tmp=$(find "$ROOT/layers" "$ROOT/containers" "$ROOT/images" -maxdepth 1 -name '.tmp-*' 2>/dev/null | wc -l)"
}

df_fail_clean() { # TEST OUT RC STATE_BEFORE USED_BEFORE
	local t=$1 out=$2 rc=$3 before=$4 used0=$5 used1 check
	if [ "$rc" = 0 ]; then
		fail "$t-fails" "it succeeded"
		return
	fi
	[[ $out == *"No space left on device"* ]] && [[ $out == "strata: error: "* ]] && pass "$t-is-a-clear-enospc-error" ||
		fail "$t-is-a-clear-enospc-error" "exit $rc: $out"
	[ "$(df_state)" = "$before" ] && pass "$t-leaves-no-partial-layer" ||
		fail "$t-leaves-no-partial-layer" "before: $before, after: $(df_state)"
	used1=$(df_used "$DF_MNT")
	# the partial layer's space is back (1 MB of slack for metadata)
	((used1 - used0 < 1048576)) && pass "$t-gives-the-space-back" ||
		fail "$t-gives-the-space-back" "$used0 bytes used before, $used1 after"
	check=$(st system check 2>&1) && pass "$t-store-checks-clean" || fail "$t-store-checks-clean" "$check"
}

diskfull_driver() { # DRIVER FSTYPE SIZE
	local d=$1 fs=$2 size=$3 dir=$T/diskfull-$1 out rc before used0 t
	mkdir -p "$dir/mnt" "$dir/ctx"
	truncate -s "$size" "$dir/img"
	if [ "$fs" = ext4 ]; then
		mkfs.ext4 -q -F -m 0 "$dir/img" || { fail "diskfull/$d/mkfs" "mkfs.ext4 failed"; return; }
	else
		mkfs.btrfs -q -f "$dir/img" >/dev/null || { fail "diskfull/$d/mkfs" "mkfs.btrfs failed"; return; }
	fi
	mount -o loop "$dir/img" "$dir/mnt" || { fail "diskfull/$d/mount" "cannot loop-mount the $fs image"; return; }
	DF_MNT=$dir/mnt ROOT=$dir/mnt/store DRIVER=$d
	if ! out=$(st info 2>&1 >/dev/null); then
		skip "diskfull/$d" "${out#strata: error: }"
		return
	fi
	make_base base || { fail "diskfull/$d/base" "import of the busybox base failed"; return; }
	# more than the filesystem holds, incompressible
	local need=$(($(df -B1 --output=avail "$DF_MNT" | tail -1) + 32 * 1048576))
	mkdir -p "$dir/big"
	head -c "$need" /dev/urandom >"$dir/big/blob"
	tar -C "$dir/big" -cf "$dir/big.tar" .

	t=diskfull/$d/apply
	before=$(df_state) used0=$(df_used "$DF_MNT")
	out=$(st layer import "$dir/big.tar" 2>&1); rc=$?
	df_fail_clean $t "$out" $rc "$before" "$used0"

	t=diskfull/$d/build-copy
	cp "$dir/big/blob" "$dir/ctx/blob"
	printf 'FROM base\nCOPY blob /blob\n' >"$dir/ctx/Dockerfile"
	before=$(df_state) used0=$(df_used "$DF_MNT")
	out=$(st build -q -t full:copy "$dir/ctx" 2>&1); rc=$?
	df_fail_clean $t "$out" $rc "$before" "$used0"
	rm -f "$dir/ctx/blob"

	t=diskfull/$d/build-run
	printf 'FROM base\nRUN dd if=/dev/zero of=/fill bs=1M count=%d\n' $((need / 1048576)) >"$dir/ctx/Dockerfile"
	before=$(df_state) used0=$(df_used "$DF_MNT")
	if command -v runc >/dev/null; then
		out=$(st build -t full:run "$dir/ctx" 2>&1); rc=$? # the step's own output names the error
		if [ $rc != 0 ] && [[ $out == *"No space left on device"* ]] && [[ $out == *"returned a non-zero code"* ]]; then
			pass "$t-fails-with-the-step's-enospc"
		else
			fail "$t-fails-with-the-step's-enospc" "exit $rc: $out"
		fi
		[ "$(df_state)" = "$before" ] && pass "$t-leaves-no-partial-layer" || fail "$t-leaves-no-partial-layer" "$(df_state)"
		(($(df_used "$DF_MNT") - used0 < 1048576)) && pass "$t-gives-the-space-back" ||
			fail "$t-gives-the-space-back" "$used0 -> $(df_used "$DF_MNT")"
		out=$(st system check 2>&1) && pass "$t-store-checks-clean" || fail "$t-store-checks-clean" "$out"
	else
		skip "$t" "runc missing"
	fi

	# a full disk for metadata: every write fails cleanly, nothing half made
	t=diskfull/$d/full-disk-metadata
	local avail
	avail=$(df -B1 --output=avail "$DF_MNT" | tail -1)
	fallocate -l $((avail - 4096)) "$DF_MNT/filler" 2>/dev/null || head -c $((avail - 4096)) /dev/zero >"$DF_MNT/filler" 2>/dev/null
	# whatever is left (a few blocks) goes too
	for i in $(seq 1 64); do head -c 4096 /dev/zero >"$DF_MNT/filler.$i" 2>/dev/null || break; done
	mkdir -p "$dir/small"
	echo small >"$dir/small/file"
	tar -C "$dir/small" -cf "$dir/small.tar" .
	local clear=1 msgs=""
	for cmd in "layer import $dir/small.tar" "tag base full:tag" "volume create fullvol" "create --name fullc base true"; do
		out=$(st $cmd 2>&1); rc=$?
		if [ $rc != 0 ] && ! [[ $out == "strata: error: "*"No space left on device"* ]]; then
			clear=0
			msgs+="[$cmd: exit $rc: $out] "
		fi
	done
	[ $clear = 1 ] && pass "$t-errors-are-clear" || fail "$t-errors-are-clear" "$msgs"
	out=$(st system check 2>&1) && pass "$t-store-checks-clean" || {
		# with no room even --repair cannot write; after freeing some it must
		rm -f "$DF_MNT"/filler.*
		out2=$(st system check --repair 2>&1) && pass "$t-store-repairable-once-there-is-room" ||
			fail "$t-store-checks-clean" "$out / after freeing: $out2"
	}
	rm -f "$DF_MNT"/filler*

	t=diskfull/$d/works-again-with-room
	out=$(st layer import "$dir/small.tar" 2>&1) && out=$(st tag base full:again 2>&1) &&
		out=$(st system check 2>&1) && pass $t || fail $t "$out"
	if command -v runc >/dev/null; then
		out=$(st run --rm base echo ok 2>&1)
		[ "$out" = ok ] && pass "$t-runs" || fail "$t-runs" "$out"
	fi
	for c in $(st ps -aq 2>/dev/null); do st rm -f "$c" >/dev/null 2>&1; done
	umount -l "$dir/mnt"
}
