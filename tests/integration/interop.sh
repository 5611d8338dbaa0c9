#!/bin/bash
# strata load/save against the real peers: dockerd 20.10, podman and skopeo
# (Debian's docker.io, podman, skopeo; scripts/deps.sh installs them), each
# started by this test on private sockets and data roots under one temporary
# directory. Proves: an image built by strata and saved runs in docker and in
# podman and prints what its ENTRYPOINT prints (with its Env, WorkingDir and
# User); an image built by docker (classic builder, from a locally imported
# busybox base with file capabilities) loads and runs in strata, its root
# filesystem equal file for file to `docker export` of a container of it,
# and strata saves its layers back byte for byte; strata -> docker -> strata
# keeps the image id and tags; OCI layouts written by skopeo (gzip, zstd)
# and podman load in strata; strata's OCI layout goes through skopeo into
# docker. A peer that is not installed is reported as SKIP with the reason.
set -u
cd "$(dirname "$0")/../.."
SRC=$PWD
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-interop-XXXXXX")
R=$T/strata
fails=0
DOCKERD_PID=

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }

cleanup() {
	if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
		kill "$DOCKERD_PID"
		for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$DOCKERD_PID" 2>/dev/null && kill -9 "$DOCKERD_PID"
	fi
	for m in $(awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

# the strata store: the default driver of this machine unless told otherwise
stx() { local root=$1; shift; "$BIN" --root "$root" ${STRATA_INTEROP_DRIVER:+--storage-driver "$STRATA_INTEROP_DRIVER"} "$@"; }
st() { stx "$R" "$@"; }

D() { /usr/bin/docker -H "unix://$T/docker/run/docker.sock" "$@"; }
export CONTAINERS_STORAGE_CONF=$T/podman/storage.conf CONTAINERS_CONF=$T/podman/containers.conf
P() { podman "$@"; }
SK() { skopeo "$@"; }
. "$SRC/tests/lib/podman.sh"

# ------------------------------------------------------------------ setup

# a busybox root filesystem from Debian's busybox-static; bin/capbox carries
# a file capability (security.capability, an xattr docker export keeps)
mkbase() {
	local root=$T/rootfs
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" || return 1
	cp /bin/busybox "$root/bin/busybox" || return 1
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
	cp "$root/bin/busybox" "$root/bin/capbox"
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$root/bin/capbox" || return 1
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"
	chmod 1777 "$root/tmp"
	tar --xattrs --xattrs-include='*' --numeric-owner -C "$root" -cf "$T/base.tar" .
}

start_dockerd() {
	local d=$T/docker
	mkdir -p "$d/root" "$d/run"
	dockerd --data-root "$d/root" --exec-root "$d/run/exec" --pidfile "$d/run/docker.pid" \
		-H "unix://$d/run/docker.sock" --storage-driver overlay2 \
		--iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
		>"$d/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	for _ in $(seq 1 100); do
		D version >/dev/null 2>&1 && return 0
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.2
	done
	tail -n 20 "$d/dockerd.log"
	return 1
}

# sha256 of each layer file of a docker-archive, in manifest order
archive_layer_digests() { # archive.tar
	local x=$T/x-$RANDOM
	mkdir -p "$x" && tar -C "$x" -xf "$1" || return 1
	python3 - "$x" <<-'EOF'
	import hashlib, json, os, sys
	root = sys.argv[1]
	for img in json.load(open(os.path.join(root, "manifest.json"))):
	    for layer in img["Layers"]:
	        print(hashlib.sha256(open(os.path.join(root, layer), "rb").read()).hexdigest())
	EOF
	rm -rf "$x"
}

# strata's view of an image: its id, its diff ids, its tags
inspect_field() { # root ref field
	stx "$1" inspect "$2" |
		python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
f = sys.argv[1]
print(d["Id"] if f == "id" else " ".join(d["RootFS"]["diff_ids"]) if f == "diff_ids" else " ".join(sorted(d["RepoTags"])))' "$3"
}
image_id() { inspect_field "$R" "$1" id; }

mkbase || { echo "FAIL setup: cannot make the busybox base (busybox-static, attr)"; exit 1; }
st import "$T/base.tar" localbase >/dev/null || { echo "FAIL setup: strata import of the base"; exit 1; }

# the image strata builds: config (Env, WorkingDir, User) must survive, and
# two identical layers make docker-archive's symlinked layer.tar
mkdir -p "$T/sctx"
echo note >"$T/sctx/note"
cat >"$T/sctx/Dockerfile" <<'EOF'
FROM localbase
ENV GREETING=hello-from-strata
RUN mkdir -p /work && echo payload > /work/data && chown -R 1000:1000 /work
COPY note /note
COPY note /note
WORKDIR /work
USER 1000
ENTRYPOINT ["/bin/sh", "-c", "echo $GREETING $(pwd) $(id -u) $(cat data)"]
EOF
WANT="hello-from-strata /work 1000 payload"
st build --network none -q -t strata/made:v1 "$T/sctx" >/dev/null || { echo "FAIL setup: strata build"; exit 1; }
SID=$(image_id strata/made:v1)
st save -o "$T/strata-made.tar" strata/made:v1 || { echo "FAIL setup: strata save"; exit 1; }
# what the peers are given: docker 20.10's layout, the repeated layer a symlink
t=strata_archive_has_a_symlinked_repeated_layer
tar -tvf "$T/strata-made.tar" | grep -q '^l.*/layer.tar -> \.\./[0-9a-f]\{64\}/layer.tar$' &&
	pass $t || fail $t "$(tar -tvf "$T/strata-made.tar" | grep layer.tar)"

have_docker=0 have_podman=0 have_skopeo=0
if ! command -v dockerd >/dev/null || [ ! -x /usr/bin/docker ]; then
	why_docker="dockerd is not installed (scripts/deps.sh installs docker.io)"
elif start_dockerd; then
	have_docker=1
else
	why_docker=""
	echo "FAIL dockerd_starts: see the log above"
	fails=$((fails + 1))
fi
if command -v podman >/dev/null; then setup_podman; have_podman=1; else why_podman="podman is not installed (scripts/deps.sh installs podman)"; fi
if command -v skopeo >/dev/null; then have_skopeo=1; else why_skopeo="skopeo is not installed (scripts/deps.sh installs skopeo)"; fi
need() { # case-name peer...: 0 when every peer is here, else SKIP with the reason
	local t=$1; shift
	for p in "$@"; do
		case $p in
		docker) [ $have_docker = 1 ] || { [ -n "${why_docker:-}" ] && skip "$t" "$why_docker"; return 1; } ;;
		podman) [ $have_podman = 1 ] || { skip "$t" "$why_podman"; return 1; } ;;
		skopeo) [ $have_skopeo = 1 ] || { skip "$t" "$why_skopeo"; return 1; } ;;
		esac
	done
}

# ------------------------------------------------------- strata -> peers

t=strata_image_docker_load_run_prints_entrypoint_output
if need $t docker; then
	out=$(D load -i "$T/strata-made.tar" 2>&1) && [[ $out == *"Loaded image: strata/made:v1"* ]] &&
		got=$(D run --rm --network none strata/made:v1 2>&1) && [ "$got" = "$WANT" ] &&
		pass $t || fail $t "docker load said \"$out\", docker run printed \"${got:-}\" (want \"$WANT\")"
fi

t=strata_image_keeps_its_id_in_docker
if need $t docker; then
	did=$(D image inspect --format '{{.Id}}' strata/made:v1 2>&1)
	[ -n "$SID" ] && [ "$did" = "$SID" ] && pass $t || fail $t "docker has $did, strata $SID"
fi

t=strata_image_podman_load_run_prints_entrypoint_output
if need $t podman; then
	out=$(P load -q -i "$T/strata-made.tar" 2>&1) &&
		got=$(P run --rm strata/made:v1 2>&1) && [ "$got" = "$WANT" ] &&
		pid=$(P image inspect --format '{{.Id}}' strata/made:v1) && [ "sha256:$pid" = "$SID" ] &&
		pass $t || fail $t "podman load said \"$out\", run printed \"${got:-}\" (want \"$WANT\"), id ${pid:-?} vs $SID"
	P rmi -f strata/made:v1 >/dev/null 2>&1
fi

t=strata_oci_archive_podman_load_run_prints_entrypoint_output
if need $t podman; then
	st save --format oci -o "$T/strata-made-oci.tar" strata/made:v1 &&
		out=$(P load -q -i "$T/strata-made-oci.tar" 2>&1) &&
		got=$(P run --rm strata/made:v1 2>&1) && [ "$got" = "$WANT" ] &&
		pass $t || fail $t "podman load said \"${out:-}\", run printed \"${got:-}\" (want \"$WANT\")"
fi

t=strata_oci_layout_skopeo_into_docker_runs
if need $t docker skopeo; then
	rm -rf "$T/strata-oci-dir"
	st save --format oci -o "$T/strata-oci-dir/" strata/made:v1 &&
		out=$(SK copy -q --dest-daemon-host "unix://$T/docker/run/docker.sock" \
			"oci:$T/strata-oci-dir:strata/made:v1" docker-daemon:strata/viaskopeo:v1 2>&1) &&
		got=$(D run --rm --network none strata/viaskopeo:v1 2>&1) && [ "$got" = "$WANT" ] &&
		pass $t || fail $t "skopeo said \"${out:-}\", docker run printed \"${got:-}\" (want \"$WANT\")"
fi

# ------------------------------------------------------- docker -> strata

docker_built=0
if [ $have_docker = 1 ]; then
	mkdir -p "$T/dctx"
	cat >"$T/dctx/Dockerfile" <<-'EOF'
	FROM localbase
	RUN mkdir -p /app/sub /app/opq && echo data > /app/file && chown 1000:2000 /app/file && chmod 4755 /app/file \
	 && ln /app/file /app/hard && ln -s file /app/sym && mkfifo /app/fifo && mknod /app/cdev c 1 3 \
	 && echo x > /app/opq/old && chmod 1777 /app/sub && echo gone > /app/gone && echo ok > /bin/note
	RUN rm /app/gone /bin/vi && rm -rf /app/opq && mkdir /app/opq && echo new > /app/opq/new && chmod 750 /bin/capbox
	ENV ANSWER=42
	ENTRYPOINT ["/bin/sh", "-c", "echo $ANSWER $(cat /app/file /app/opq/new) $(ls /app/opq) $(ls /bin/vi 2>&1 | wc -l)"]
	EOF
	D import "$T/base.tar" localbase:latest >/dev/null &&
		DOCKER_BUILDKIT=0 D build -q --network=none -t docker/made:v1 "$T/dctx" >/dev/null &&
		D save -o "$T/docker-made.tar" docker/made:v1 && dwant=$(D run --rm --network none docker/made:v1 2>&1) &&
		docker_built=1 ||
		{ echo "FAIL docker_build: docker import/build/save of the test image"; fails=$((fails + 1)); }
fi

t=docker_image_strata_load_run_prints_entrypoint_output
if need $t docker && [ $docker_built = 1 ]; then
	out=$(st load -i "$T/docker-made.tar" 2>&1) && [[ $out == *"Loaded image: docker/made:v1"* ]] &&
		got=$(st run --rm docker/made:v1 2>&1) && [ -n "$dwant" ] && [ "$got" = "$dwant" ] &&
		pass $t || fail $t "strata load said \"$out\", run printed \"${got:-}\", docker printed \"$dwant\""
fi

t=docker_image_keeps_its_id_in_strata
if need $t docker && [ $docker_built = 1 ]; then
	did=$(D image inspect --format '{{.Id}}' docker/made:v1)
	[ "$(image_id docker/made:v1)" = "$did" ] && pass $t || fail $t "strata has $(image_id docker/made:v1), docker $did"
fi

t=docker_image_rootfs_equals_docker_export_file_for_file
if need $t docker && [ $docker_built = 1 ]; then
	ex=(--exclude .dockerenv --exclude proc --exclude sys --exclude dev --exclude etc/hosts
		--exclude etc/hostname --exclude etc/resolv.conf --exclude etc/mtab)
	mkdir -p "$T/export"
	cid=$(D create --network none docker/made:v1) &&
		D export "$cid" | tar --xattrs --xattrs-include='*' --numeric-owner -p --same-owner -C "$T/export" -x &&
		sc=$(st create docker/made:v1) && mp=$(st mount "$sc") &&
		out=$(python3 "$SRC/tests/lib/treecmp.py" "${ex[@]}" "$T/export" "$mp" 2>&1) &&
		getfattr -n security.capability "$mp/bin/capbox" >/dev/null 2>&1 && [ -p "$mp/app/fifo" ] &&
		pass $t || fail $t "$(echo "${out:-no comparison}" | tail -n 15)"
	[ -n "${sc:-}" ] && { st umount "$sc"; st rm "$sc" >/dev/null; }
	# the comparison itself must see what differs
	t=treecmp_sees_mode_owner_xattr_content_and_link_differences
	cp -a "$T/export" "$T/export2" && chmod 700 "$T/export2/app/sub" && chown 1:1 "$T/export2/app/sym" -h &&
		setfattr -x security.capability "$T/export2/bin/capbox" && echo X >>"$T/export2/etc/passwd" &&
		rm "$T/export2/app/hard" && cp "$T/export2/app/file" "$T/export2/app/hard"
	out=$(python3 "$SRC/tests/lib/treecmp.py" "${ex[@]}" "$T/export" "$T/export2" 2>&1)
	[ $? = 1 ] && [[ $out == *"app/sub: mode"* ]] && [[ $out == *"app/sym: owner"* ]] &&
		[[ $out == *"bin/capbox: xattrs"* ]] && [[ $out == *"etc/passwd"* ]] && [[ $out == *"hardlinks differ"* ]] &&
		pass $t || fail $t "treecmp output: $out"
fi

t=docker_layers_saved_back_byte_for_byte
if need $t docker && [ $docker_built = 1 ]; then
	st save -o "$T/docker-made-again.tar" docker/made:v1 &&
		a=$(archive_layer_digests "$T/docker-made.tar") && b=$(archive_layer_digests "$T/docker-made-again.tar") &&
		[ -n "$a" ] && [ "$a" = "$b" ] && pass $t || fail $t "docker's layer files: ${a:-?}; strata's: ${b:-?}"
fi

t=strata_docker_strata_round_trip_keeps_id_and_tags
if need $t docker; then
	R2=$T/strata2
	D tag strata/made:v1 strata/made:second &&
		D save -o "$T/back.tar" strata/made:v1 strata/made:second &&
		out=$(stx "$R2" load -i "$T/back.tar" 2>&1) &&
		id2=$(inspect_field "$R2" strata/made:second id) && [ "$id2" = "$SID" ] &&
		tags=$(inspect_field "$R2" "$SID" tags) && [ "$tags" = "strata/made:second strata/made:v1" ] &&
		got=$(stx "$R2" run --rm strata/made:second 2>&1) && [ "$got" = "$WANT" ] &&
		pass $t || fail $t "load said \"${out:-}\"; id ${id2:-?} (want $SID), tags \"${tags:-}\"; run: ${got:-}"
fi

# ------------------------------------------------ OCI layouts from peers

# diff ids docker has for the image, for the OCI loads below
dids=
[ $docker_built = 1 ] && dids=$(D image inspect --format '{{join .RootFS.Layers " "}}' docker/made:v1)
strata_diff_ids() { inspect_field "$1" "$2" diff_ids; }

for comp in gzip zstd; do
	t=skopeo_oci_layout_${comp}_loads_in_strata_with_dockers_diff_ids
	if need $t docker skopeo && [ $docker_built = 1 ]; then
		R3=$T/strata-$comp
		rm -rf "$T/sk-$comp"
		SK copy -q --src-daemon-host "unix://$T/docker/run/docker.sock" --dest-compress-format $comp --dest-compress \
			docker-daemon:docker/made:v1 "oci:$T/sk-$comp:docker/made:v1" &&
			file -L "$T/sk-$comp"/blobs/sha256/* | grep -qi "$comp" &&
			out=$(stx "$R3" load -i "$T/sk-$comp" 2>&1) &&
			got=$(strata_diff_ids "$R3" docker/made:v1) && [ -n "$dids" ] && [ "$got" = "$dids" ] &&
			run=$(stx "$R3" run --rm docker/made:v1 2>&1) && [ -n "$dwant" ] && [ "$run" = "$dwant" ] &&
			pass $t || fail $t "load said \"${out:-}\"; diff ids \"${got:-}\" vs docker's \"$dids\"; run \"${run:-}\""
	fi
done

t=podman_oci_dir_and_docker_archive_load_in_strata
if need $t podman docker && [ $docker_built = 1 ]; then
	R4=$T/strata-podman
	rm -rf "$T/pod-oci"
	P load -q -i "$T/docker-made.tar" >/dev/null &&
		P save -q --format oci-dir -o "$T/pod-oci" docker/made:v1 &&
		P save -q -o "$T/pod-archive.tar" docker/made:v1 &&
		out=$(stx "$R4" load -i "$T/pod-oci" 2>&1) &&
		got=$(strata_diff_ids "$R4" localhost/docker/made:v1) && [ -n "$dids" ] && [ "$got" = "$dids" ] &&
		out2=$(stx "$R4" load -i "$T/pod-archive.tar" 2>&1) &&
		id4=$(inspect_field "$R4" "$(D image inspect --format '{{.Id}}' docker/made:v1)" id) &&
		run=$(stx "$R4" run --rm localhost/docker/made:v1 2>&1) && [ -n "$dwant" ] && [ "$run" = "$dwant" ] &&
		pass $t || fail $t "oci-dir load \"${out:-}\" diff ids \"${got:-}\"; archive load \"${out2:-}\" (docker's id ${id4:-not found}); run \"${run:-}\""
fi

echo "interop: $fails failure(s)"
[ $fails -eq 0 ]
