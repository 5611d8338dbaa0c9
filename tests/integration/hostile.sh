#!/bin/bash
# Hostile input through the strata command, on every driver that works here:
# the layer-tar corpus (tests/hostile/make-layers.py: path traversal,
# absolute names, symlink-parent and hardlink escapes, device nodes, long
# names, huge headers, duplicate entries, a whiteout of ..), malformed and
# escaping Dockerfiles (tests/hostile/dockerfiles/), invalid names and ids
# for images, containers, volumes and layers, and hostile volume-plugin
# replies. Each must get a clear error (or, where the input is legal, be
# handled inside the store), and nothing outside the store may change: a
# canary directory every escape aims at, the build context, the corpus and
# the store's sibling directories are snapshotted before and compared after.
# tests/unit/test_apply_hostile.c covers the same tars at the apply level;
# tests/integration/volume_plugin.sh the plugin's errors, hangs and
# malformed JSON.
. "$(dirname "$0")/lib.sh"

CANARY=/tmp/strata-hostile-canary
# the hostile inputs aim at this one fixed path: a second run at the same
# time (CI runs the suites under the sanitizers alongside) waits its turn
exec 8>"$CANARY.lock"
flock -w 600 8 || echo "hostile: $CANARY.lock still held after 600 s: going on"
for c in jq python3; do
	command -v $c >/dev/null || { echo "SKIP hostile: $c missing (scripts/deps.sh installs it)"; exit 0; }
done
if [ -e "$CANARY" ] && [ ! -f "$CANARY/.strata-test" ]; then
	echo "SKIP hostile: $CANARY exists and is not ours"
	exit 0
fi
rm -rf "$CANARY"
mkdir -p "$CANARY/dir"
touch "$CANARY/.strata-test"
echo secret >"$CANARY/secret"
echo inner >"$CANARY/dir/inner"
trap 'lib_cleanup; rm -rf "$CANARY"' EXIT

python3 "$TOP/tests/hostile/make-layers.py" "$T/layers" >/dev/null || { fail hostile/corpus "make-layers.py failed"; exit 1; }
CTX=$T/ctx
mkdir -p "$CTX/dir"
echo f >"$CTX/f"
ln -s "$CANARY" "$CTX/esc"
ln -s ../../../../../../../../..$CANARY "$CTX/esc-rel"
cp "$T/layers/traversal-dotdot.tar" "$CTX/traversal.tar"
cp "$T/layers/symlink-absolute-parent.tar" "$CTX/symlink-escape.tar"

# Everything but the store: the canary, the context, the corpus, and what
# lies next to the store.
outside() {
	local home
	home=$(dirname "$ROOT")
	{
		find "$CANARY" "$CTX" "$T/layers" -printf '%p %y %m %U:%G %s %T@ %l\n'
		find "$home" -mindepth 1 -maxdepth 1 ! -path "$ROOT" -printf '%p %y %m %U:%G %s %T@ %l\n'
		find "$CANARY" -type f -exec sha256sum {} +
	} 2>/dev/null | sort
}

outside_unchanged() { # TEST BEFORE
	local now
	now=$(outside)
	[ "$now" = "$2" ] && pass "$1" || fail "$1" "$(diff <(echo "$2") <(echo "$now") | head -5)"
}

check_clean() { # TEST
	local out
	out=$(st system check 2>&1) && pass "$1" || fail "$1" "$out"
}

# ---------------------------------------------------------------- tars

hostile_layers() {
	local d=$1 n expect words out rc bad=0 before count0 chain
	before=$(outside)
	count0=$(st layer ls --format json | jq length)
	while IFS=$'\t' read -r n expect words; do
		[[ $n == \#* ]] && continue
		out=$(timeout 120 "$BIN" --root "$ROOT" --storage-driver "$d" layer import "$T/layers/$n.tar" 2>&1); rc=$?
		if [ "$expect" = reject ]; then
			if [ $rc = 1 ] && [[ $out == "strata: error: "* ]] && [[ $out == *"$words"* ]]; then
				pass "hostile/$d/layer-$n-rejected"
			else
				fail "hostile/$d/layer-$n-rejected" "exit $rc, want 1 with \"$words\": ${out:0:300}"
				bad=1
			fi
		elif [ $rc = 0 ]; then
			chain=$out
			local diff got
			diff=$(st layer ls --format json | jq -r --arg c "$chain" '.[] | select(.ChainID == $c) | .DiffID')
			got=sha256:$(st layer export "$chain" | sha256sum | cut -d' ' -f1)
			[ "$got" = "$diff" ] && pass "hostile/$d/layer-$n-accepted-and-reads-back" ||
				fail "hostile/$d/layer-$n-accepted-and-reads-back" "export $got, diff id $diff"
			st layer rm "$chain" >/dev/null
		else
			fail "hostile/$d/layer-$n-accepted" "exit $rc: ${out:0:300}"
		fi
	done <"$T/layers/EXPECT"
	[ "$(st layer ls --format json | jq length)" = "$count0" ] && pass "hostile/$d/layers-leave-no-layer-behind" ||
		fail "hostile/$d/layers-leave-no-layer-behind" "$(st layer ls)"
	check_clean "hostile/$d/layers-store-checks-clean"
	outside_unchanged "hostile/$d/layers-change-nothing-outside-the-store" "$before"
}

# --------------------------------------------------------- Dockerfiles

hostile_dockerfiles() {
	local d=$1 f n expect words out rc before
	before=$(outside)
	for f in "$TOP"/tests/hostile/dockerfiles/*.Dockerfile; do
		n=$(basename "$f" .Dockerfile)
		read -r expect words < <(sed -n '1s/^# expect: //p' "$f")
		if [[ $words == *"needs runc"* ]] && ! command -v runc >/dev/null; then
			skip "hostile/$d/dockerfile-$n" "runc missing"
			continue
		fi
		out=$(timeout 300 "$BIN" --root "$ROOT" --storage-driver "$d" build -q -f "$f" -t "hostile:$n" "$CTX" 2>&1); rc=$?
		if [ "$expect" = reject ]; then
			if [ $rc = 1 ] && [[ $out == "strata: error: "* ]] && [[ $out == *"$words"* ]] &&
				! st images --format json | jq -e --arg t "$n" 'any(.[]; .Repository == "hostile" and .Tag == $t)' >/dev/null; then
				pass "hostile/$d/dockerfile-$n-rejected"
			else
				fail "hostile/$d/dockerfile-$n-rejected" "exit $rc, want 1 with \"$words\": ${out:0:300}"
			fi
		else
			[ $rc = 0 ] && pass "hostile/$d/dockerfile-$n-built-inside-the-image" ||
				fail "hostile/$d/dockerfile-$n-built-inside-the-image" "exit $rc: ${out:0:300}"
		fi
	done
	# input the repository cannot hold as files
	printf 'FROM base\nRUN true\0\nCOPY f /f\n' >"$T/nul.Dockerfile"
	out=$(st build -q -f "$T/nul.Dockerfile" "$CTX" 2>&1); rc=$?
	[ $rc != 0 ] && [[ $out == "strata: error: "* ]] && pass "hostile/$d/dockerfile-with-nul-bytes-rejected" ||
		fail "hostile/$d/dockerfile-with-nul-bytes-rejected" "exit $rc: $out"
	{ printf 'FROM base\nLABEL x="'; head -c 4000000 /dev/zero | tr '\0' a; printf '"\n'; } >"$T/long.Dockerfile"
	out=$(timeout 120 "$BIN" --root "$ROOT" --storage-driver "$d" build -q -f "$T/long.Dockerfile" "$CTX" 2>&1); rc=$?
	[ $rc = 0 ] || [[ $out == "strata: error: "* ]] && [ $rc != 124 ] && pass "hostile/$d/dockerfile-4mb-line-handled" ||
		fail "hostile/$d/dockerfile-4mb-line-handled" "exit $rc: ${out:0:200}"
	check_clean "hostile/$d/dockerfiles-store-checks-clean"
	outside_unchanged "hostile/$d/dockerfiles-change-nothing-outside-the-store" "$before"
	for img in $(st images --format json | jq -r '.[] | select(.Repository == "hostile") | "\(.Repository):\(.Tag)"'); do
		st rmi "$img" >/dev/null
	done
}

suite() {
	local d=$1
	make_base base || { fail "hostile/$d/base" "import of the busybox base failed"; return; }
	hostile_layers "$d"
	hostile_dockerfiles "$d"
}

for_each_driver suite

# ------------------------------------------------ names and ids (once)

ROOT=$T/names/store DRIVER=vfs
mkdir -p "$T/names"
make_base base || fail hostile/names/base "import failed"
st volume create goodvol >/dev/null
long300=$(printf 'x%.0s' $(seq 300))
before=$(outside)
bad_names=(
	"tag base UPPER:x" "tag base a/../b" "tag base a:b:c" "tag base $long300" "tag base :" "tag base -x"
	"rmi ../../../etc/passwd" "inspect sha256:../../x" "history ../x"
	"build -t Bad/../Name $CTX"
	"create --name ../x base true" "create --name a/b base true" "create --name . base true"
	"create --name $long300 base true" "create -v ../vol:/data base true" "create -v vol:relative base true"
	"rm ../../etc" "logs ../x" "start /etc"
	"volume create ../x" "volume create .hidden" "volume create a/b" "volume create $long300"
	"volume rm ../../etc" "volume inspect .." "volume mount goodvol ../id" "volume mount goodvol $long300"
	"layer export ../../etc/passwd" "layer export sha256:zz" "layer rm ../x" "layer export sha256:$(printf 'z%.0s' $(seq 64))"
	"driver create ../x" "driver mount /etc" "driver rm .." "driver diff a/../../b" "driver exists ../x"
)
for cmd in "${bad_names[@]}"; do
	# shellcheck disable=SC2086
	out=$(st $cmd 2>&1); rc=$?
	if { [ $rc = 1 ] || [ $rc = 2 ]; } && [[ $out == *"strata: error: "* ]]; then
		pass "hostile/names/${cmd%% *}-${cmd:0:40}-refused"
	else
		fail "hostile/names/${cmd%% *}-refused" "strata ${cmd:0:80}: exit $rc: ${out:0:200}"
	fi
done
check_clean hostile/names/store-checks-clean
outside_unchanged hostile/names/change-nothing-outside-the-store "$before"
[ "$(st ps -aq | wc -l)" = 0 ] && [ "$(st volume ls -q)" = goodvol ] && pass hostile/names/made-nothing ||
	fail hostile/names/made-nothing "containers: $(st ps -aq) volumes: $(st volume ls -q)"

# ------------------------------------------------- volume plugin (once)

plugin_dir=$T/plugins
mkdir -p "$plugin_dir" "$T/hp/raw"
export STRATA_PLUGIN_DIRS=$plugin_dir
python3 "$TOP/tests/plugins/volume_plugin.py" "$plugin_dir/hp.sock" "$T/hp" 2>"$T/hp.log" &
plugin_pid=$!
trap 'kill $plugin_pid 2>/dev/null; lib_cleanup; rm -rf "$CANARY"' EXIT
for _ in $(seq 100); do [ -S "$plugin_dir/hp.sock" ] && break; sleep 0.05; done
raw() { # METHOD BODY: the plugin's next answers to METHOD
	printf '%s' "$2" >"$T/hp/raw/$1"
	printf '%s=raw\n' "$1" >>"$T/hp/behave"
}
reset_plugin() { : >"$T/hp/behave"; }
ROOT=$T/plugin/store DRIVER=vfs
mkdir -p "$T/plugin"
st volume create -d hp pv >/dev/null || fail hostile/plugin/setup "cannot create a volume on the test plugin"
before=$(outside)
plugin_case() { # NAME WANT METHOD BODY CMD...
	local name=$1 want=$2 method=$3 body=$4 out rc
	shift 4
	reset_plugin
	raw "$method" "$body"
	out=$(timeout 60 "$BIN" --root "$ROOT" --storage-driver vfs "$@" 2>&1); rc=$?
	reset_plugin
	if [ $rc = 1 ] && [[ $out == *"strata: error: "*"$want"* ]]; then
		pass "hostile/plugin/$name"
	else
		fail "hostile/plugin/$name" "exit $rc, want 1 with \"$want\": ${out:0:300}"
	fi
}
plugin_case mountpoint-relative "bad Mountpoint" VolumeDriver.Mount '{"Mountpoint":"../../etc","Err":""}' volume mount pv m1
plugin_case mountpoint-with-nul "bad Mountpoint" VolumeDriver.Mount '{"Mountpoint":"/tmp/strata-hostile-canary\u0000/x","Err":""}' volume mount pv m2
plugin_case mountpoint-too-long "bad Mountpoint" VolumeDriver.Mount "{\"Mountpoint\":\"/$(printf 'm%.0s' $(seq 5000))\",\"Err\":\"\"}" volume mount pv m3
plugin_case mountpoint-not-a-string "no Mountpoint" VolumeDriver.Mount '{"Mountpoint":42,"Err":""}' volume mount pv m4
plugin_case err-not-a-string '"Err" is not a string' VolumeDriver.Create '{"Err":{"nested":["x"]}}' volume create -d hp pv2
plugin_case reply-too-large "reply larger than" VolumeDriver.Mount "{\"Mountpoint\":\"/x\",\"Pad\":\"$(head -c 9000000 /dev/zero | tr '\0' a)\"}" volume mount pv m6
plugin_case reply-truncated-json "malformed reply" VolumeDriver.Mount '{"Mountpoint":"/tmp' volume mount pv m5
# a driver whose list fails is a warning; the store's own records still list
reset_plugin
raw VolumeDriver.List '{"Volumes":{"Name":"x"},"Err":""}'
out=$(st volume ls -q 2>&1); rc=$?
reset_plugin
[ $rc = 0 ] && [[ $out == *"strata: warning: volume driver hp: "*'"Volumes" is not a list'* ]] && [[ $out == *pv ]] &&
	pass hostile/plugin/volumes-not-a-list-is-a-warning || fail hostile/plugin/volumes-not-a-list-is-a-warning "exit $rc: $out"
# names the store cannot hold are left out of the list, never adopted
reset_plugin
raw VolumeDriver.List '{"Volumes":[{"Name":"../../etc"},{"Name":"a/b"},{"Name":""},{"Name":".x"},{"Name":"pv"}],"Err":""}'
out=$(st volume ls -q 2>&1); rc=$?
reset_plugin
[ $rc = 0 ] && [ "$out" = pv ] && pass hostile/plugin/invalid-names-in-list-ignored ||
	fail hostile/plugin/invalid-names-in-list-ignored "exit $rc: $out"
out=$(st volume inspect pv | jq -r '.[0].MountIDs | length')
[ "$out" = 0 ] && pass hostile/plugin/no-mount-recorded-after-bad-replies || fail hostile/plugin/no-mount-recorded-after-bad-replies "$out mount ids"
check_clean hostile/plugin/store-checks-clean
outside_unchanged hostile/plugin/change-nothing-outside-the-store "$before"
exit $((fails > 0))
