#!/bin/bash
# strata load / strata save without peers: round trips (docker-archive and
# OCI layout, tar and directory, files and pipes, compressed archives and
# compressed layers), byte-identical re-saves, layers already present not
# read again, all-or-nothing loads, and damaged input: flipped bytes,
# truncation at many points, tampered configs and blobs, wrong layer order,
# missing members, garbage. Every refused load must say why and leave the
# store exactly as it was (layers with their holders, images, tags, driver
# layers, no lease left); a load killed with SIGKILL halfway leaves nothing
# once the store is opened again.
set -u
cd "$(dirname "$0")/../.."
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-loadsave-XXXXXX")
R=$T/root
fails=0
cleanup() {
	for m in $(awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

stx() { local root=$1; shift; "$BIN" --root "$root" ${STRATA_LOADSAVE_DRIVER:+--storage-driver "$STRATA_LOADSAVE_DRIVER"} "$@"; }
st() { stx "$R" "$@"; }
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
# everything a load may change: layers (holder counts), images and tags,
# the driver's layers, leases
state() { stx "$1" layer ls; stx "$1" images --format json; stx "$1" driver ls; ls -A "$1/leases"; }
image_id() { stx "$1" images --format json | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    if i["Repository"] + ":" + i["Tag"] == sys.argv[1]:
        print(i["ID"])' "$2"; }

# refused NAME "message part" FILE|DIR: a load into the store RC (which has
# the base layer, so that the load both reuses and adds layers) fails with
# exit 1 and the message, and leaves RC unchanged
RC=$T/rc
refused() {
	local t=$1 want=$2 in=$3 before after out rc
	before=$(state "$RC")
	out=$(stx "$RC" load -i "$in" 2>&1); rc=$?
	after=$(state "$RC")
	if [ $rc -ne 1 ]; then fail "$t" "exit $rc, want 1 ($out)"; return 1; fi
	if [[ $out != "strata: error: load"*"$want"* ]]; then fail "$t" "message \"$out\" lacks \"$want\""; return 1; fi
	if [ "$before" != "$after" ]; then fail "$t" "the store changed: $(diff <(echo "$before") <(echo "$after") | head -n 10)"; return 1; fi
	return 0
}

# ------------------------------------------------------------------ setup

mkdir -p "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/tmp"
cp /bin/busybox "$T/rootfs/bin/busybox" && ln -s busybox "$T/rootfs/bin/sh" && ln -s busybox "$T/rootfs/bin/cat"
echo 'root:x:0:0:root:/:/bin/sh' >"$T/rootfs/etc/passwd"
tar --numeric-owner -C "$T/rootfs" -cf "$T/base.tar" . && st import "$T/base.tar" base >/dev/null ||
	{ echo "FAIL setup: import of the base"; exit 1; }
mkdir -p "$T/ctx"
printf 'payload-marker-%s\n' $(seq 1 200) >"$T/ctx/blob"
cat >"$T/ctx/Dockerfile" <<'EOF'
FROM base
COPY blob /blob
RUN ["/bin/sh", "-c", "echo second > /second"]
COPY blob /blob
RUN ["/bin/sh", "-c", "true"]
ENTRYPOINT ["/bin/cat", "/second"]
EOF
st build --network none -q -t app:v1 "$T/ctx" >/dev/null && st tag app:v1 app:v2 ||
	{ echo "FAIL setup: build"; exit 1; }
ID=$(image_id "$R" app:v1)
stx "$RC" import "$T/base.tar" base >/dev/null || { echo "FAIL setup: import of the base into a second store"; exit 1; }
st save -o "$T/app.tar" app:v1 || { echo "FAIL setup: save"; exit 1; }

# unpack / repack a docker-archive for surgery (tar here is only a test tool)
unpack() { rm -rf "$2" && mkdir -p "$2" && tar -C "$2" -xf "$1"; }
repack() { tar --numeric-owner -C "$1" -cf "$2" .; }
manifest_layer() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][int(sys.argv[2])])' "$1/manifest.json" "$2"; }

# ------------------------------------------------------------ round trips

t=docker_archive_round_trip_resaves_byte_identical
R2=$T/r2
out=$(stx "$R2" load -i "$T/app.tar" 2>&1) && [[ $out == *"Loaded image: app:v1"* ]] &&
	[ "$(image_id "$R2" app:v1)" = "$ID" ] && stx "$R2" save -o "$T/app2.tar" app:v1 && cmp -s "$T/app.tar" "$T/app2.tar" &&
	[ "$(stx "$R2" run --rm app:v1 2>&1)" = second ] &&
	pass $t || fail $t "load said \"$out\"; id $(image_id "$R2" app:v1) want $ID; $(cmp "$T/app.tar" "$T/app2.tar" 2>&1)"

t=repeated_empty_layer_is_a_symlink_in_the_archive
tar -tvf "$T/app.tar" | grep -q '^l.*layer.tar -> \.\./[0-9a-f]\{64\}/layer.tar' &&
	pass $t || fail $t "$(tar -tvf "$T/app.tar" | grep layer.tar)"

t=oci_layout_tar_and_directory_round_trip
R3=$T/r3
st save --format oci -o "$T/app-oci.tar" app:v1 && st save --format oci -o "$T/app-oci/" app:v1 &&
	tar -xOf "$T/app-oci.tar" index.json | grep -q '"org.opencontainers.image.ref.name":"app:v1"' &&
	[ -f "$T/app-oci/oci-layout" ] && [ -f "$T/app-oci/blobs/sha256/${ID#sha256:}" ] &&
	stx "$R3" load -q -i "$T/app-oci.tar" >/dev/null && [ "$(image_id "$R3" app:v1)" = "$ID" ] &&
	out=$(stx "$R3" load -i "$T/app-oci" 2>&1) && [[ $out == *"0 layers loaded, 5 already present"* ]] &&
	stx "$R3" save --format oci -o "$T/app-oci2.tar" app:v1 && cmp -s "$T/app-oci.tar" "$T/app-oci2.tar" &&
	pass $t || fail $t "oci round trip: ${out:-}; id $(image_id "$R3" app:v1)"

t=repository_name_saves_every_tag
st save -o "$T/all.tar" app && m=$(tar -xOf "$T/all.tar" manifest.json) &&
	[[ $m == *'"RepoTags":["app:v1","app:v2"]'* || $m == *'"RepoTags":["app:v2","app:v1"]'* ]] &&
	pass $t || fail $t "manifest: ${m:-}"

t=pipes_and_compressed_archives_load
R4=$T/r4
st save app:v1 | gzip -c | stx "$R4" load -q >/dev/null && [ "$(image_id "$R4" app:v1)" = "$ID" ] &&
	stx "$R4" rmi app:v1 >/dev/null && zstd -q -c "$T/app.tar" >"$T/app.tar.zst" &&
	stx "$R4" load -q -i "$T/app.tar.zst" >/dev/null && [ "$(image_id "$R4" app:v1)" = "$ID" ] &&
	pass $t || fail $t "gzip pipe / zstd file loads"

t=compressed_layers_load_and_save_back_uncompressed
# gzip one layer and zstd another inside the archive: same diff ids, so the
# same image id; strata keeps the uncompressed tar, and saves that
R5=$T/r5
unpack "$T/app.tar" "$T/cz" && l0=$(manifest_layer "$T/cz" 0) && l1=$(manifest_layer "$T/cz" 1) &&
	gzip -n -c "$T/cz/$l0" >"$T/tmp.gz" && mv "$T/tmp.gz" "$T/cz/$l0" &&
	zstd -q -c "$T/cz/$l1" >"$T/tmp.zst" && mv "$T/tmp.zst" "$T/cz/$l1" && repack "$T/cz" "$T/cz.tar" &&
	stx "$R5" load -q -i "$T/cz.tar" >/dev/null && [ "$(image_id "$R5" app:v1)" = "$ID" ] &&
	stx "$R5" save -o "$T/cz-again.tar" app:v1 && cmp -s "$T/app.tar" "$T/cz-again.tar" &&
	pass $t || fail $t "id $(image_id "$R5" app:v1) want $ID; $(cmp "$T/app.tar" "$T/cz-again.tar" 2>&1)"

t=extracted_archive_directory_loads
R6=$T/r6
stx "$R6" load -q -i "$T/cz" >/dev/null && [ "$(image_id "$R6" app:v1)" = "$ID" ] &&
	pass $t || fail $t "load of the extracted directory"

t=second_load_reads_no_layer
out=$(stx "$R6" load -i "$T/app.tar" 2>&1) && [[ $out == *"0 layers loaded, 5 already present"* ]] &&
	pass $t || fail $t "$out"

# ---------------------------------------------------------- damaged input

t=flipped_byte_in_layer_refused
off=$(grep -obUa 'payload-marker-77' "$T/app.tar" | head -n 1 | cut -d: -f1)
cp "$T/app.tar" "$T/flip.tar" && printf 'X' | dd of="$T/flip.tar" bs=1 seek="$off" conv=notrunc status=none &&
	refused $t "the config says" "$T/flip.tar" && pass $t

t=truncated_archive_refused_at_every_cut
size=$(stat -c %s "$T/app.tar")
ok=1
# (the last cut leaves the end-of-archive blocks incomplete; a cut in the
# second of them loses nothing and loads, as with docker)
for cut in 100 512 1000 4096 $((size / 4)) $((size / 2)) $((size * 3 / 4)) $((size - 3000)) $((size - 600)); do
	head -c "$cut" "$T/app.tar" >"$T/cut.tar"
	refused "$t (at $cut of $size)" "" "$T/cut.tar" || ok=0
done
[ $ok = 1 ] && pass $t

t=last_layer_wrong_refused_after_others_registered
# layers 1-3 are registered (new to the store) before layer 4 proves wrong:
# they must go again
unpack "$T/app.tar" "$T/last" && l=$(manifest_layer "$T/last" 4) && rm "$T/last/$l" && cp "$T/base.tar" "$T/last/$l" &&
	repack "$T/last" "$T/last.tar" && refused $t "layer 5 " "$T/last.tar" && pass $t

t=truncated_layer_inside_archive_refused
unpack "$T/app.tar" "$T/tl" && l=$(manifest_layer "$T/tl" 4) && rm "$T/tl/$l" &&
	head -c 1500 "$T/base.tar" >"$T/tl/$l" && repack "$T/tl" "$T/tl.tar" &&
	refused $t "layer 5 " "$T/tl.tar" && pass $t

t=truncated_compressed_stream_refused
gzip -c "$T/app.tar" | head -c $(($(gzip -c "$T/app.tar" | wc -c) / 2)) >"$T/cut.tar.gz"
before=$(state "$RC")
out=$(stx "$RC" load <"$T/cut.tar.gz" 2>&1)
rc=$?
[ $rc = 1 ] && [[ $out == *"truncated"* ]] && [ "$(state "$RC")" = "$before" ] && pass $t || fail $t "exit $rc: $out"

t=tampered_config_refused
unpack "$T/app.tar" "$T/cfg" && c=$T/cfg/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Config"])' "$T/cfg/manifest.json") && sed -i 's/"os":"linux"/"os":"linux" /' "$c" &&
	repack "$T/cfg" "$T/cfg.tar" && refused $t "its name says" "$T/cfg.tar" && pass $t

t=swapped_layers_refused
unpack "$T/app.tar" "$T/swap" && python3 - "$T/swap/manifest.json" <<'EOF' && repack "$T/swap" "$T/swap.tar" &&
import json, sys
m = json.load(open(sys.argv[1]))
m[0]["Layers"][1], m[0]["Layers"][2] = m[0]["Layers"][2], m[0]["Layers"][1]
json.dump(m, open(sys.argv[1], "w"))
EOF
	refused $t "the config says" "$T/swap.tar" && pass $t

t=missing_layer_refused
unpack "$T/app.tar" "$T/miss" && rm "$T/miss/$(manifest_layer "$T/miss" 1)" && repack "$T/miss" "$T/miss.tar" &&
	refused $t "has no" "$T/miss.tar" && pass $t

t=garbage_manifest_refused
unpack "$T/app.tar" "$T/garb" && echo '[{"Config": ' >"$T/garb/manifest.json" && repack "$T/garb" "$T/garb.tar" &&
	refused $t "invalid JSON" "$T/garb.tar" && pass $t

t=not_an_archive_refused
head -c 5000 /dev/urandom >"$T/random.bin"
refused $t "" "$T/random.bin" && pass $t

t=layer_count_mismatch_refused
unpack "$T/app.tar" "$T/cnt" && python3 - "$T/cnt/manifest.json" <<'EOF' && repack "$T/cnt" "$T/cnt.tar" &&
import json, sys
m = json.load(open(sys.argv[1]))
m[0]["Layers"].pop()
json.dump(m, open(sys.argv[1], "w"))
EOF
	refused $t "the config names 5 layers, the manifest 4" "$T/cnt.tar" && pass $t

t=oci_tampered_blob_refused
rm -rf "$T/ocib" && cp -a "$T/app-oci" "$T/ocib" &&
	blob=$(grep -l 'payload-marker-77' "$T/ocib"/blobs/sha256/*) &&
	sed -i 's/payload-marker-77/payload-marker-78/' "$blob" &&
	refused $t "the manifest says" "$T/ocib" && pass $t

t=oci_missing_blob_refused
rm -rf "$T/ocim" && cp -a "$T/app-oci" "$T/ocim" && rm "$(grep -l 'payload-marker-77' "$T/ocim"/blobs/sha256/*)" &&
	refused $t "has no blobs/sha256/" "$T/ocim" && pass $t

t=oci_blob_size_mismatch_refused
rm -rf "$T/ocis" && cp -a "$T/app-oci" "$T/ocis" && blob=$(grep -l 'payload-marker-77' "$T/ocis"/blobs/sha256/*) &&
	echo extra >>"$blob" && refused $t "the manifest says" "$T/ocis" && pass $t

t=multi_image_archive_is_all_or_nothing
# the second image is damaged: the first, intact, must not be loaded either
R7=$T/r7
st save -o "$T/two.tar" base:latest app:v1 && unpack "$T/two.tar" "$T/two" &&
	grep -q payload-marker-77 -r "$T/two" && f=$(grep -l payload-marker-77 -r "$T/two" | head -n 1) &&
	python3 -c 'import sys; p=sys.argv[1]; b=open(p,"rb").read().replace(b"payload-marker-77", b"payload-marker-78"); open(p,"wb").write(b)' "$f" &&
	repack "$T/two" "$T/two-bad.tar" && out=$(stx "$R7" load -i "$T/two-bad.tar" 2>&1)
rc=$?
[ $rc = 1 ] && [ -z "$(stx "$R7" images -q)" ] && [ -z "$(stx "$R7" layer ls -q)" ] && [ -z "$(stx "$R7" driver ls -q 2>/dev/null | grep .)" ] &&
	stx "$R7" load -q -i "$T/two.tar" >/dev/null && [ "$(stx "$R7" images -q | wc -l)" = 2 ] &&
	pass $t || fail $t "exit $rc ($out); images: $(stx "$R7" images -q | tr '\n' ' ') layers: $(stx "$R7" layer ls -q | tr '\n' ' ')"

t=killed_load_leaves_nothing_after_reopen
# the last layer replaced by 128 MiB of zeros, so that the load can be caught
# while it applies it: the four layers before are published by then, held
# only by the load's lease
R8=$T/r8
unpack "$T/app.tar" "$T/kill" && l=$(manifest_layer "$T/kill" 4) && rm "$T/kill/$l" &&
	mkdir -p "$T/zeros" && head -c $((128 << 20)) /dev/zero >"$T/zeros/zeros" &&
	tar -C "$T/zeros" -cf "$T/kill/$l" . && rm -rf "$T/zeros" &&
	python3 - "$T/kill" "$l" <<'EOF' && repack "$T/kill" "$T/kill.tar" && rm -rf "$T/kill"
import hashlib, json, os, sys
root, layer = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(root, "manifest.json")))
cfg = json.load(open(os.path.join(root, m[0]["Config"])))
h = hashlib.sha256()
with open(os.path.join(root, layer), "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
cfg["rootfs"]["diff_ids"][4] = "sha256:" + h.hexdigest()
data = json.dumps(cfg).encode()
os.remove(os.path.join(root, m[0]["Config"]))
m[0]["Config"] = hashlib.sha256(data).hexdigest() + ".json"
open(os.path.join(root, m[0]["Config"]), "wb").write(data)
json.dump(m, open(os.path.join(root, "manifest.json"), "w"))
EOF
before=$(state "$R8")
# started directly (not through a function): $! is strata itself
"$BIN" --root "$R8" ${STRATA_LOADSAVE_DRIVER:+--storage-driver "$STRATA_LOADSAVE_DRIVER"} load -q -i "$T/kill.tar" >/dev/null 2>&1 &
pid=$!
caught=0
for _ in $(seq 1 2000); do
	n=$(ls "$R8/layers" 2>/dev/null | grep -c '^[0-9a-f]\{64\}$')
	if [ "$n" -ge 4 ] && kill -0 $pid 2>/dev/null; then kill -9 $pid; caught=1; break; fi
	kill -0 $pid 2>/dev/null || break
	sleep 0.01
done
wait $pid 2>/dev/null
held=$(ls "$R8/leases" 2>/dev/null | wc -l)
after=$(state "$R8")
if [ $caught = 1 ] && [ "$held" -gt 0 ] && [ "$before" = "$after" ]; then pass $t
elif [ $caught = 0 ]; then fail $t "the load was not caught while it ran"
else fail $t "leases at kill: $held; store before/after differ: $(diff <(echo "$before") <(echo "$after") | head -n 10)"; fi
rm -f "$T/kill.tar"

# ------------------------------------------------------------------ save

t=save_of_unknown_image_writes_nothing
out=$(st save -o "$T/none.tar" app:v1 nosuch:tag 2>&1)
rc=$?
[ $rc = 1 ] && [[ $out == *"no such image"* ]] && [ ! -e "$T/none.tar" ] && [ -z "$(ls -A "$T" | grep '^\.none')" ] &&
	pass $t || fail $t "exit $rc: $out"

t=save_into_non_empty_directory_refused
mkdir -p "$T/full" && touch "$T/full/x"
out=$(st save --format oci -o "$T/full" app:v1 2>&1)
[ $? = 1 ] && [[ $out == *"is not empty"* ]] && pass $t || fail $t "$out"

t=save_to_a_terminal_refused_and_bad_format_is_usage
out=$(script -qec "$BIN --root $R save app:v1" /dev/null 2>&1)
[[ $out == *"cowardly refusing"* ]] && st save --format tarball app:v1 >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass $t || fail $t "terminal: $out; bad format exit $rc"

echo "loadsave: $fails failure(s)"
[ $fails -eq 0 ]
