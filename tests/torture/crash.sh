# Crash torture (sourced by tests/integration/torture.sh, after lib.sh).
#
# torture_driver DRIVER ROOT KILLS SECONDS: on a fresh store, repeat until
# KILLS processes were killed (or SECONDS passed): prepare an operation
# (an apply = `layer import`, a build step, a commit, a container rm, a
# volume rm), start it, kill -9 it at a random point of its usual run time,
# then require:
#   - `strata system check` reports a clean store, or `--repair` makes it
#     clean (counted: what had to be repaired is printed);
#   - every layer the store had before reads back byte for byte (its
#     `layer export` hashes to its diff id), and none is gone;
#   - what the killed operation left can be cleaned up (rm, rmi, volume rm).
# Prints "PASS torture/<driver>/..." lines and counts into torture_kills.

torture_kills=0

# Milliseconds since the epoch.
t_ms() { date +%s%3N; }

# A directory of n small random files (the content an apply or a COPY works
# on), with a symlink and a hardlink.
t_files() { # DIR N
	python3 - "$1" "$2" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(d, "sub", "deeper"), exist_ok=True)
for i in range(n):
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(os.urandom(1 + int.from_bytes(os.urandom(2), "little") % 3000))
os.symlink("../f1", os.path.join(d, "sub", "link"))
with open(os.path.join(d, "sub", "h1"), "w") as f:
    f.write("hard\n")
os.link(os.path.join(d, "sub", "h1"), os.path.join(d, "sub", "deeper", "h2"))
PY
}

# "chain diff" of every layer, sorted.
t_layers() { st layer ls --format json | jq -r '.[] | "\(.ChainID) \(.DiffID)"' | sort; }

# Every layer of the snapshot file still there and byte for byte itself
# (two exports at a time).
t_verify_layers() { # SNAPSHOT -> prints what is wrong
	local snap=$1 now
	now=$(t_layers | awk '{print $1}')
	awk '{print $1}' "$snap" | while read -r chain; do
		grep -qx "$chain" <<<"$now" || echo "layer $chain is gone"
	done
	export BIN ROOT DRIVER
	awk 'NF == 2' "$snap" | xargs -r -P 2 -L 1 bash -c '
		got=sha256:$("$BIN" --root "$ROOT" --storage-driver "$DRIVER" layer export "$0" 2>/dev/null | sha256sum | cut -d" " -f1)
		[ "$got" = "$1" ] || echo "layer $0 reads back as $got, its diff id is $1"'
}

# Check, repair when needed; prints what went wrong, returns 1 then.
# Sets t_repaired=1 when a repair was needed; what was found goes to
# $T/torture-repairs.log, tagged with the operation ($t_op) that was killed.
t_check() {
	local out rc
	t_repaired=0
	out=$(st system check 2>&1) && return 0
	t_repaired=1
	sed "s|^|[${t_op:-setup}] found: |" <<<"$out" >>"$T/torture-repairs.log"
	out=$(st system check --repair 2>&1); rc=$?
	sed "s|^|[${t_op:-setup}] |" <<<"$out" >>"$T/torture-repairs.log"
	if [ $rc -ne 0 ]; then
		echo "system check --repair failed (exit $rc): $out"
		return 1
	fi
	out=$(st system check 2>&1) || { echo "still not clean after --repair: $out"; return 1; }
	return 0
}

# A container of the base image with changes: files added, one deleted.
t_container() { # NAME
	local p
	st create --name "$1" base true >/dev/null && p=$(st mount "$1") || return 1
	cp -r "$TW/ctx/files" "$p/copy" && echo "$1" >"$p/etc/it" && rm -f "$p/bin/vi"
	st umount "$1" >/dev/null
}

# Prepare operation OP for iteration I; sets t_cmd (the argv to kill) and
# t_clean (what removes its result afterwards).
t_prepare() { # OP I
	local op=$1 i=$2 w=$TW
	case $op in
	apply)
		# a full import each time: the same tar's layer goes first
		local tar=$w/tar$((1 + i % 2)).tar chain
		chain=$(st layer import "$tar" 2>/dev/null) && st layer rm "$chain" >/dev/null 2>&1
		t_cmd=(layer import "$tar")
		t_clean="st layer rm \$(sha256sum <'$tar' | sed 's/^/sha256:/; s/ .*//') >/dev/null 2>&1; true"
		;;
	build)
		head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$w/ctx/nonce"
		if ((i % 2)); then
			printf 'FROM base\nCOPY nonce /nonce\nCOPY files /files\nRUN cat /nonce > /n2 && ls /files > /list\n' >"$w/ctx/Dockerfile"
		else
			printf 'FROM base\nCOPY nonce /nonce\nCOPY files /files\nENV N=%s\n' "$i" >"$w/ctx/Dockerfile"
		fi
		t_cmd=(build -q -t "torture/b:$i" "$w/ctx")
		t_clean="st rmi -f torture/b:$i >/dev/null 2>&1; st system prune -f >/dev/null 2>&1; true"
		;;
	commit)
		# changes written through `strata mount` (no runtime needed)
		t_container "tc$i" && t_cmd=(commit "tc$i" "torture/c:$i")
		t_clean="st rm -f tc$i >/dev/null 2>&1; st rmi -f torture/c:$i >/dev/null 2>&1; true"
		;;
	rm)
		t_container "tr$i" && t_cmd=(rm "tr$i")
		t_clean="st rm -f tr$i >/dev/null 2>&1; true"
		;;
	volume)
		local p
		st volume create "tw$i" >/dev/null && p=$(st volume inspect "tw$i" | jq -r '.[0].Mountpoint') &&
			cp -r "$w/ctx/files/." "$p/"
		t_cmd=(volume rm "tw$i")
		t_clean="st volume rm -f tw$i >/dev/null 2>&1; true"
		;;
	esac
}

torture_driver() { # DRIVER ROOT KILLS SECONDS
	local d=$1 kills_wanted=$3 budget=$4 t0 i=0 kills=0 finished=0 repaired=0 op why
	TW=$T/torture-$d
	mkdir -p "$TW/ctx"
	t_files "$TW/ctx/files" 600
	local k
	# the seed's layers are small (every one is read back after every kill);
	# what the killed operations work on is bigger (a wider window)
	t_files "$TW/seedctx/files" 40
	for k in 0 1 2; do
		t_files "$TW/tardir$k" $((k ? 600 + k * 300 : 60))
		tar -C "$TW/tardir$k" -cf "$TW/tar$k.tar" .
	done
	make_base base || { fail "torture/$d/setup" "import of the busybox base failed"; return; }
	# what must survive every kill: a user's layer, a built image, a
	# container with changes, a volume with data
	st layer import "$TW/tar0.tar" >/dev/null &&
		printf 'FROM base\nCOPY files /files\nRUN echo seed > /seed\n' >"$TW/seed.Dockerfile" &&
		st build -q -f "$TW/seed.Dockerfile" -t torture/seed "$TW/seedctx" >/dev/null &&
		st volume create seedv >/dev/null && echo vol >"$(st volume inspect seedv | jq -r '.[0].Mountpoint')/x" &&
		st run -d --name seedc -v seedv:/data torture/seed sh -c 'cat /seed /data/x; exec sleep 100000' >/dev/null ||
		{ fail "torture/$d/setup" "seeding the store failed"; return; }
	local ops=(apply build commit rm volume)
	declare -A est
	# how long each operation runs when left alone: the kill falls in there
	local c=900
	for op in "${ops[@]}"; do
		c=$((c + 1))
		t_prepare "$op" "$c"
		local s=$(t_ms)
		st "${t_cmd[@]}" >/dev/null 2>&1 || { fail "torture/$d/calibrate-$op" "st ${t_cmd[*]} failed"; return; }
		est[$op]=$(($(t_ms) - s))
		eval "$t_clean"
	done
	echo "torture/$d: operations take (ms): $(for op in "${ops[@]}"; do printf '%s=%s ' "$op" "${est[$op]}"; done)"
	t_check >/dev/null || { fail "torture/$d/setup" "the seeded store is not clean"; return; }
	t0=$SECONDS
	local failures=0 pid rc
	while ((kills < kills_wanted && SECONDS - t0 < budget && failures == 0)); do
		i=$((i + 1))
		op=${ops[$((RANDOM % ${#ops[@]}))]}
		t_op=$op
		t_prepare "$op" "$i"
		t_layers >"$TW/snap" # what must survive this kill
		# a random point of its run, 0 .. its estimated duration; the
		# estimate shrinks when the operation finishes first
		local delay_ms=$(((RANDOM * 32768 + RANDOM) % (est[$op] + 1)))
		"$BIN" --root "$ROOT" --storage-driver "$d" "${t_cmd[@]}" >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		rc=$?
		if [ $rc = 137 ]; then
			kills=$((kills + 1))
		else
			finished=$((finished + 1))
			est[$op]=$((est[$op] * 3 / 4 + 1))
		fi
		if ! t_check >"$TW/why"; then
			fail "torture/$d/$op-killed-after-${delay_ms}ms-is-repairable" "$(cat "$TW/why")"
			failures=1
			continue
		fi
		repaired=$((repaired + t_repaired))
		if [ $rc = 137 ]; then
			why=$(t_verify_layers "$TW/snap")
			if [ -n "$why" ]; then
				fail "torture/$d/$op-killed-after-${delay_ms}ms-keeps-every-layer" "$why"
				failures=1
				continue
			fi
		fi
		# what the killed operation left goes away cleanly
		eval "$t_clean"
		t_op="$op-cleanup"
		if ! t_check >"$TW/why"; then
			fail "torture/$d/$op-killed-after-${delay_ms}ms-cleans-up" "$(cat "$TW/why")"
			failures=1
		fi
	done
	torture_kills=$((torture_kills + kills))
	echo "torture/$d: $i runs, $kills killed mid-way, $finished finished first, $repaired needed --repair, $((SECONDS - t0)) s"
	((failures)) && return
	if ((kills < kills_wanted)); then
		# the time budget ran out first: not a failure of the store, but say so
		echo "torture/$d: only $kills of $kills_wanted kills within ${budget} s"
	fi
	pass "torture/$d/$kills-kills-leave-a-store-that-checks-clean-and-keeps-every-layer"
	local out
	out=$(st ps -q) && [ -n "$out" ] && [ "$(st logs seedc 2>&1)" = "$(printf 'seed\nvol')" ] &&
		pass "torture/$d/running-container-survives" || fail "torture/$d/running-container-survives" "ps: $out, logs: $(st logs seedc 2>&1)"
}
