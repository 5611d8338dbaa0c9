#!/bin/bash
# strata system check / df / prune through the command, on every driver that
# works here: a clean store checks clean; damage of each kind (a dangling
# holder, an orphaned driver layer, a mount count nobody holds, a mount no
# layer counts) is reported with exit 1 and repaired by --repair; what a
# running container uses is left alone; df's numbers; prune's Docker
# semantics (stopped containers, dangling images, -a, --volumes, the
# prompt); a volume of a stopped container is in use.
. "$(dirname "$0")/lib.sh"

for c in jq runc; do
	command -v $c >/dev/null || { echo "SKIP system: $c missing (scripts/deps.sh installs it)"; exit 0; }
done

# a layer's meta.json edited with jq (the damage a bug or a kill could leave)
edit_meta() { # CHAIN JQ-FILTER
	local f=$ROOT/layers/${1#sha256:}/meta.json
	jq -c "$2" "$f" >"$f.new" && mv "$f.new" "$f"
}

cache_of() { st layer ls --format json | jq -r --arg c "$1" '.[] | select(.ChainID == $c) | .CacheID'; }

suite() {
	local d=$1 t out rc
	make_base base || { fail "system/$d/base" "import of the busybox base failed"; return; }
	mkdir -p "$T/ctx-$d"
	echo data >"$T/ctx-$d/f"
	printf 'FROM base\nCOPY f /f\nRUN echo built > /b\n' >"$T/ctx-$d/Dockerfile"
	st build -q -t app:1 "$T/ctx-$d" >/dev/null || { fail "system/$d/build" "build failed"; return; }
	st run -d --name runner -v keepvol:/data app:1 sh -c 'echo x > /data/x; exec sleep 1000' >/dev/null
	st volume create stopvol >/dev/null
	st create --name stopped -v stopvol:/data app:1 true >/dev/null
	local base_chain
	base_chain=$(st layer ls --format json | jq -r '.[] | select(.Parent == "") | .ChainID')

	t=system/$d/check-clean-store-exit-0
	out=$(st system check 2>&1) && [[ $out == "The store is clean"* ]] && pass $t || fail $t "$out"

	t=system/$d/check-reports-and-repairs-a-dangling-image-holder
	edit_meta "$base_chain" '.holders += ["image:sha256:0000000000000000000000000000000000000000000000000000000000000000"]'
	out=$(st system check 2>&1); rc=$?
	if [ $rc = 1 ] && [[ $out == *"names an image that does not exist"* ]] && [[ $out == *"--repair"* ]]; then
		out=$(st system check --repair 2>&1) && [[ $out == *"repaired: released it"* ]] && st system check -q >/dev/null &&
			! st layer ls --format json | grep -q 'image:sha256:0000' && pass $t || fail $t "repair: $out"
	else
		fail $t "exit $rc: $out"
	fi

	t=system/$d/check-removes-an-orphaned-driver-layer
	st driver create orphan-1 >/dev/null
	out=$(st system check 2>&1); rc=$?
	[ $rc = 1 ] && [[ $out == *"driver layer orphan-1: belongs to no layer"* ]] && st system check --repair >/dev/null &&
		! st driver exists orphan-1 && pass $t || fail $t "exit $rc: $out"

	t=system/$d/check-drops-a-mount-count-nobody-holds
	local cache path
	cache=$(cache_of "$base_chain")
	path=$(st driver mount "$cache")
	out=$(st system check 2>&1); rc=$?
	if [ $rc = 1 ] && [[ $out == *"no strata operation is running"* ]] && st system check --repair >/dev/null; then
		out=$(mounts_under "$path")
		[ -z "$out" ] && st system check -q >/dev/null && pass $t || fail $t "still mounted: $out"
	else
		fail $t "exit $rc: $out"
	fi

	t=system/$d/check-unmounts-a-mount-no-layer-counts
	path=$(st driver mount "$cache") && st driver unmount "$cache" >/dev/null
	mkdir -p "$path" && mount -t tmpfs leaked "$path"
	out=$(st system check 2>&1); rc=$?
	[ $rc = 1 ] && [[ $out == *"is not counted by any layer"* ]] && st system check --repair >/dev/null &&
		[ -z "$(mounts_under "$path")" ] && st system check -q >/dev/null && pass $t || fail $t "exit $rc: $out"
	umount "$path" 2>/dev/null

	t=system/$d/repair-leaves-a-running-container-alone
	out=$(st system check --repair 2>&1) && [ "$(st ps -q | wc -l)" = 1 ] &&
		[ "$(st run --rm -v keepvol:/data base cat /data/x)" = x ] && pass $t || fail $t "$out; ps: $(st ps)"

	t=system/$d/volume-of-a-stopped-container-is-in-use
	out=$(st volume rm stopvol 2>&1); rc=$?
	[ $rc = 1 ] && [[ $out == *"in use by container stopped"* ]] && st volume ls -q | grep -qx stopvol &&
		pass $t || fail $t "exit $rc: $out"

	t=system/$d/df-table-and-json
	out=$(st system df 2>&1)
	local json
	json=$(st system df --format json)
	if [[ $out == "TYPE"*"RECLAIMABLE"* ]] && [[ $out == *"Build Cache"* ]] && [ "$(wc -l <<<"$json")" = 5 ] &&
		[ "$(jq -s '.[0].Type + " " + (.[0].TotalCount | tostring)' <<<"$json")" = '"Images 2"' ] &&
		[ "$(jq -s '.[1].Active' <<<"$json")" = 1 ] && [ "$(jq -s '.[2].TotalCount' <<<"$json")" = 2 ] &&
		[ "$(jq -s '.[4].TotalCount > 0' <<<"$json")" = true ]; then
		pass $t
	else
		fail $t "$out / $json"
	fi

	t=system/$d/df-layer-size-is-the-sum-of-the-layers
	[ "$(jq -s '.[3].Size' <<<"$json")" = "$(st layer ls --format json | jq '[.[].Size] | add')" ] && pass $t ||
		fail $t "df says $(jq -s '.[3].Size' <<<"$json")"

	t=system/$d/prune-asks-first
	out=$(echo n | st system prune 2>&1)
	[[ $out == *"Are you sure"* ]] && st ps -aq | grep -q . && [ "$(st ps -aq | wc -l)" = 2 ] && pass $t || fail $t "$out"

	t=system/$d/prune-removes-stopped-containers-and-dangling-images
	local dangling
	dangling=$(st import "$T/base.tar")
	out=$(st system prune -f 2>&1); rc=$?
	[ $rc = 0 ] && [[ $out == *"Deleted Containers:"* ]] && [[ $out == *"deleted: $dangling"* ]] &&
		[ "$(st ps -aq | wc -l)" = 1 ] && st images -q | grep -q . && [[ $out == *"Total reclaimed space:"* ]] &&
		st volume ls -q | grep -qx stopvol && pass $t || fail $t "exit $rc: $out"

	t=system/$d/prune-all-volumes-keeps-what-a-running-container-uses
	out=$(st system prune -af --volumes 2>&1); rc=$?
	[ $rc = 0 ] && [[ $out == *"Deleted Volumes:"* ]] && ! st volume ls -q | grep -qx stopvol &&
		st volume ls -q | grep -qx keepvol && st images -q | grep -q . && [ "$(st ps -q | wc -l)" = 1 ] &&
		st system check -q >/dev/null && pass $t || fail $t "exit $rc: $out"

	t=system/$d/after-everything-goes-the-store-is-empty
	st rm -f runner >/dev/null
	out=$(st system prune -af --volumes 2>&1) && [ "$(st layer ls --format json | jq length)" = 0 ] &&
		[ -z "$(st driver ls | awk 'NR > 1')" ] && [ -z "$(mounts_under "$ROOT")" ] &&
		st system check -q >/dev/null && pass $t || fail $t "$out; layers: $(st layer ls)"
}

t=system/usage
out=$(st system 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *check* ]] && [[ $out == *df* ]] && [[ $out == *prune* ]] &&
	[ "$(ROOT=$T/x; st system check extra >/dev/null 2>&1; echo $?)" = 2 ] && pass $t || fail $t "exit $rc: $out"

for_each_driver suite
exit $((fails > 0))
