#!/bin/bash
# strata pull / push / login / logout against real registries: Debian's
# docker-registry (distribution 2.8) started here on loopback ports with
# its own storage directories and configs. Proves: an image built by strata
# pushes (Docker schema 2, gzip blobs that decompress to the layers' exact
# tars), is removed, pulls back with the same image id and diff ids and
# runs; a second push uploads nothing (the registry's own access log);
# another repository of the same registry gets the layers by cross-repository
# mount; zstd layers with an OCI manifest round trip; pull by digest; the
# repository digests push and pull record (inspect's RepoDigests, images
# --digests), run and inspect by NAME@sha256:..., rmi of the last tag taking
# them, none after a load; an OCI
# index resolved to this machine's platform or --platform, and a platform it
# lacks refused; pulls follow blob redirects (the storage redirect
# middleware to a separate web server); https with verification (refused
# for a self-signed certificate, with the hint) and --tls-verify=false;
# loopback registries over https without verification and over plain http;
# docker pulls and runs what strata pushed, strata pulls and runs what
# docker pushed (same image id); basic auth (htpasswd): refused without
# login, wrong password refused clearly and nothing stored, right one
# stored 0600 in docker's format and used, logout; credential helpers
# (credHelpers, credsStore: get for pulls, store/erase for login/logout,
# a missing helper a clear error); token auth (a token
# server here signing JWTs the registry verifies): the same; a registry
# killed (SIGKILL) in the middle of a big layer: a clear error, the store
# exactly as before, then the pull completes once it is back; a registry
# restarted during the transfer: the download resumes (HTTP 206); a pull
# killed with SIGKILL leaves nothing once the store is opened again;
# progress redrawn in place on a terminal and plain lines otherwise.
. "$(dirname "$0")/lib.sh"

# stores and registries on a tmpfs: the root disk is slow on metadata
# (the big layer's 10,000 files), which would only make the suite long
W=$T/fs
mkdir -p "$W"
mount -t tmpfs -o size=4g,mode=0700 strata-registry-test "$W" 2>/dev/null || true
ROOT=$W/store
export HOME=$T/home
mkdir -p "$HOME"
unset STRATA_AUTH_FILE DOCKER_CONFIG XDG_CONFIG_HOME
PIDS=()
DOCKERD_PID=

reg_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
		kill "$DOCKERD_PID"
		for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$DOCKERD_PID" 2>/dev/null && kill -9 "$DOCKERD_PID"
	fi
	lib_cleanup
}
trap reg_cleanup EXIT

if ! command -v docker-registry >/dev/null; then
	skip registry "docker-registry is not installed (scripts/deps.sh installs it)"
	exit 0
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# stx ROOT ARGS: strata on another store
stx() { local r=$1; shift; "$BIN" --root "$r" ${DRIVER:+--storage-driver "$DRIVER"} "$@"; }

# start_registry NAME ADDR [SCHEME [EXTRA_YAML]]: a registry with its own
# storage under $W/reg-NAME (kept across restarts); waits until it answers
start_registry() {
	local name=$1 addr=$2 scheme=${3:-http} extra=${4:-} d=$W/reg-$1
	mkdir -p "$d/data"
	cat >"$d/config.yml" <<-EOF
	version: 0.1
	log:
	  level: info
	  accesslog:
	    disabled: false
	storage:
	  filesystem:
	    rootdirectory: $d/data
	  delete:
	    enabled: true
	http:
	  addr: $addr
	$extra
	EOF
	docker-registry serve "$d/config.yml" >>"$d/log" 2>&1 &
	echo $! >"$d/pid"
	PIDS+=($!)
	disown $!
	for _ in $(seq 1 100); do
		code=$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://${addr/0.0.0.0/127.0.0.1}/v2/")
		[ "$code" != 000 ] && return 0
		kill -0 "$(cat "$d/pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "registry $name did not start:" >&2
	tail -n 5 "$d/log" >&2
	return 1
}
kill_registry() {
	local pid
	pid=$(cat "$W/reg-$1/pid")
	kill -9 "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
# access log lines of a registry (combined log format)
access() { grep -E '^[0-9a-f.:]+ - ' "$W/reg-$1/log"; }

# everything a pull may change in a store
state() { stx "$1" layer ls; stx "$1" images --format json; stx "$1" driver ls; ls -A "$1/leases" 2>/dev/null; }
image_id() { stx "$1" inspect "$2" | jq -r '.[0].Id'; }
diff_ids() { stx "$1" inspect "$2" | jq -r '.[0].RootFS.diff_ids | join(" ")'; }
# GET a manifest (all media types accepted)
manifest() {
	curl -s ${3:+-u "$3"} -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' \
		"http://$1/v2/$2"
}
# upload_blob ADDR REPO FILE: monolithic upload (POST, PUT ?digest=)
upload_blob() {
	local loc dg
	dg=sha256:$(sha256sum "$3" | cut -d' ' -f1)
	loc=$(curl -s -D - -o /dev/null -X POST "http://$1/v2/$2/blobs/uploads/" | tr -d '\r' | sed -n 's/^Location: //Ip')
	case $loc in http*) ;; *) loc=http://$1$loc ;; esac
	curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$3" "$loc&digest=$dg" >/dev/null && echo "$dg"
}

# ------------------------------------------------------------------ setup

PA=$(free_port)
A=127.0.0.1:$PA
start_registry a "$A" || { fail setup "the registry does not start"; exit 1; }

make_base base || { fail setup "cannot import the busybox base"; exit 1; }
mkdir -p "$T/ctx"
printf 'hello\n' >"$T/ctx/hello.txt"
head -c 2000000 /dev/urandom >"$T/ctx/rand.bin"
cat >"$T/ctx/Dockerfile" <<'EOF'
FROM base
COPY hello.txt /hello.txt
RUN echo built-by-strata > /marker && mkdir -p /data && cp /hello.txt /data/
COPY rand.bin /rand.bin
ENV GREETING=hi
ENTRYPOINT ["/bin/sh", "-c", "cat /marker; echo $GREETING"]
EOF
WANT=$'built-by-strata\nhi'
st build --network none -q -t "$A/app:1" "$T/ctx" >/dev/null || { fail setup "strata build"; exit 1; }
APP_ID=$(image_id "$ROOT" "$A/app:1")
APP_DIFFS=$(diff_ids "$ROOT" "$A/app:1")
NLAYERS=$(wc -w <<<"$APP_DIFFS")

# ------------------------------------------------------------------ push

t=push_built_image_prints_its_digest
out=$(st push "$A/app:1" 2>&1); rc=$?
DIGEST=$(sed -n 's/^1: digest: \(sha256:[0-9a-f]\{64\}\) size: [0-9]*$/\1/p' <<<"$out")
man=$(manifest "$A" app/manifests/1)
if [ $rc -ne 0 ] || [ -z "$DIGEST" ]; then
	fail $t "exit $rc: $out"
elif [ "sha256:$(printf %s "$man" | sha256sum | cut -d' ' -f1)" != "$DIGEST" ]; then
	fail $t "the registry's manifest does not hash to $DIGEST"
elif [ "$(jq -r .mediaType <<<"$man")" != application/vnd.docker.distribution.manifest.v2+json ] ||
	[ "$(jq -r '[.layers[].mediaType] | unique | join(",")' <<<"$man")" != application/vnd.docker.image.rootfs.diff.tar.gzip ] ||
	[ "$(jq -r .config.digest <<<"$man")" != "$APP_ID" ] || [ "$(jq '.layers | length' <<<"$man")" != "$NLAYERS" ]; then
	fail $t "unexpected manifest: $man"
else
	pass $t
fi

t=pushed_blobs_are_the_layers_gzip_compressed
ok=1 i=0
for d in $APP_DIFFS; do
	bd=$(jq -r ".layers[$i].digest" <<<"$man")
	curl -s "http://$A/v2/app/blobs/$bd" -o "$T/blob"
	[ "sha256:$(sha256sum <"$T/blob" | cut -d' ' -f1)" = "$bd" ] || { ok=0; echo "blob $i: digest"; }
	[ "$(stat -c %s "$T/blob")" = "$(jq -r ".layers[$i].size" <<<"$man")" ] || { ok=0; echo "blob $i: size"; }
	[ "sha256:$(gzip -dc <"$T/blob" | sha256sum | cut -d' ' -f1)" = "$d" ] || { ok=0; echo "blob $i: content"; }
	i=$((i + 1))
done
[ $ok = 1 ] && pass $t || fail $t "see above"

t=push_records_the_manifest_digest_as_a_repo_digest
digests=$(st inspect "$A/app:1" | jq -r '.[0].RepoDigests | join(" ")')
row=$(st images --digests "$A/app" | awk 'NR == 2 {print $1, $2, $3}')
if [ "$digests" != "$A/app@$DIGEST" ]; then
	fail $t "RepoDigests: $digests (want $A/app@$DIGEST)"
elif [ "$row" != "$A/app 1 $DIGEST" ]; then
	fail $t "images --digests: $(st images --digests 2>&1)"
else
	pass $t
fi

t=second_push_uploads_nothing
before=$(access a | grep -cE '"(POST|PATCH|PUT) /v2/app/blobs/')
out=$(st push "$A/app:1" 2>&1); rc=$?
after=$(access a | grep -cE '"(POST|PATCH|PUT) /v2/app/blobs/')
exists=$(grep -c ': Layer already exists$' <<<"$out")
if [ $rc -ne 0 ] || [ "$before" != "$after" ] || [ "$exists" != "$NLAYERS" ] || ! grep -q "digest: $DIGEST" <<<"$out"; then
	fail $t "exit $rc, blob requests $before -> $after, $exists/$NLAYERS already there: $out"
else
	pass $t
fi

t=other_repository_mounts_the_layers
st tag "$A/app:1" "$A/other:1" >/dev/null
out=$(st push "$A/other:1" 2>&1); rc=$?
mounted=$(grep -c ': Mounted from app$' <<<"$out")
patches=$(access a | grep -c '"PATCH /v2/other/')
mount201=$(access a | grep -c '"POST /v2/other/blobs/uploads/?mount=sha256%3[aA][0-9a-f]*&from=app HTTP/1.1" 201')
if [ $rc -ne 0 ] || [ "$mounted" != "$NLAYERS" ] || [ "$patches" != 0 ] || [ "$mount201" != "$NLAYERS" ]; then
	fail $t "exit $rc, $mounted mounted, $mount201 mount requests answered 201, $patches PATCHes: $out"
else
	pass $t
fi

# ------------------------------------------------------------------ pull

t=pull_back_gives_the_same_image
st rmi "$A/app:1" "$A/other:1" base >/dev/null
st system prune -a -f >/dev/null # the build cache holds layers too
left=$(st layer ls | tail -n +2)
out=$(st pull "$A/app:1" 2>&1); rc=$?
if [ -n "$left" ]; then
	fail $t "layers left after rmi: $left"
elif [ $rc -ne 0 ]; then
	fail $t "exit $rc: $out"
elif [ "$(image_id "$ROOT" "$A/app:1")" != "$APP_ID" ] || [ "$(diff_ids "$ROOT" "$A/app:1")" != "$APP_DIFFS" ]; then
	fail $t "id $(image_id "$ROOT" "$A/app:1") (want $APP_ID), diff ids $(diff_ids "$ROOT" "$A/app:1")"
elif ! grep -q "^Digest: $DIGEST$" <<<"$out" || ! grep -q "^Status: Downloaded newer image for $A/app:1$" <<<"$out" ||
	[ "$(grep -c ': Pull complete' <<<"$out")" != "$NLAYERS" ]; then
	fail $t "output: $out"
elif [ "$(st run --rm "$A/app:1" 2>&1)" != "$WANT" ]; then
	fail $t "run printed: $(st run --rm "$A/app:1" 2>&1)"
else
	pass $t
fi

# the pull above (4 layers, none here): the first three downloads start
# together, the fourth only once the first layer is in (3 at a time)
t=downloads_run_three_at_a_time
blobs=($(jq -r '.layers[].digest[7:19]' <<<"$man"))
line_of() { grep -n "^$1: $2" <<<"$out" | head -n 1 | cut -d: -f1; }
first_done=$(line_of "${blobs[0]}" "Pull complete")
ok=1
for k in 0 1 2; do [ "$(line_of "${blobs[$k]}" Downloading)" -lt "$first_done" ] || ok=0; done
[ "$(line_of "${blobs[3]}" Downloading)" -gt "$first_done" ] || ok=0
[ $ok = 1 ] && pass $t || fail $t "order of events: $(grep -E 'Downloading|Pull complete' <<<"$out" | tr '\n' ' ')"

t=pull_again_is_up_to_date_and_fetches_no_blob
before=$(access a | grep -c '"GET /v2/app/blobs/')
out=$(st pull "$A/app:1" 2>&1); rc=$?
after=$(access a | grep -c '"GET /v2/app/blobs/')
# the config is read again (it names the layers); no layer blob is
if [ $rc -ne 0 ] || ! grep -q "^Status: Image is up to date for $A/app:1$" <<<"$out" || [ $((after - before)) -gt 1 ] ||
	[ "$(grep -c ': Already exists$' <<<"$out")" != "$NLAYERS" ]; then
	fail $t "exit $rc, blob GETs $before -> $after: $out"
else
	pass $t
fi

t=pull_by_digest
R2=$W/store2
out=$(stx "$R2" pull "$A/app@$DIGEST" 2>&1); rc=$?
if [ $rc -ne 0 ] || [ "$(stx "$R2" images -q | wc -l)" != 1 ] || [ "$(image_id "$R2" "$APP_ID")" != "$APP_ID" ] ||
	[ "$(stx "$R2" images --format json | jq -r '.[0].Tag')" != "<none>" ] || [ "$(tail -n 1 <<<"$out")" != "$A/app@$DIGEST" ]; then
	fail $t "exit $rc: $out / $(stx "$R2" images 2>&1)"
else
	pass $t
fi

t=pulled_by_digest_the_image_has_the_repo_digest_and_no_tag
got=$(stx "$R2" inspect "$A/app@$DIGEST" | jq -c '[.[0].RepoTags, .[0].RepoDigests]')
row=$(stx "$R2" images --digests | awk 'NR == 2 {print $1, $2, $3}')
if [ "$got" != "[[],[\"$A/app@$DIGEST\"]]" ]; then
	fail $t "RepoTags, RepoDigests: $got"
elif [ "$row" != "$A/app <none> $DIGEST" ]; then
	fail $t "images --digests: $(stx "$R2" images --digests 2>&1)"
else
	pass $t
fi

t=run_by_repo_digest
out=$(stx "$R2" run --rm "$A/app@$DIGEST" 2>&1)
[ "$out" = "$WANT" ] && pass $t || fail $t "printed: $out"

t=a_digest_the_store_does_not_have_is_no_such_image
bad=sha256:$(printf '%064d' 7)
out=$(stx "$R2" inspect "$A/app@$bad" 2>&1 >/dev/null); rc=$?
out2=$(stx "$R2" run --rm "$A/app@$bad" 2>&1); rc2=$?
out3=$(stx "$R2" inspect "$A/app@sha256:1234" 2>&1); rc3=$?
if [ $rc -ne 1 ] || [ "$out" != "strata: error: no such object: $A/app@$bad" ]; then
	fail $t "inspect: exit $rc: $out"
elif [ $rc2 -ne 1 ] || [[ $out2 != *"no such image: $A/app@$bad"* ]]; then
	fail $t "run: exit $rc2: $out2"
elif [ $rc3 -ne 1 ]; then
	fail $t "a malformed digest: exit $rc3: $out3"
else
	pass $t
fi

t=pull_by_tag_joins_the_digest_and_rmi_of_the_tag_takes_both
stx "$R2" pull -q "$A/app:1" >/dev/null
tags=$(stx "$R2" inspect "$A/app:1" | jq -c '[.[0].RepoTags, .[0].RepoDigests]')
out=$(stx "$R2" rmi "$A/app:1" 2>&1); rc=$?
want="Untagged: $A/app:1
Untagged: $A/app@$DIGEST
Deleted: $APP_ID"
if [ "$tags" != "[[\"$A/app:1\"],[\"$A/app@$DIGEST\"]]" ]; then
	fail $t "RepoTags, RepoDigests after the pull by tag: $tags"
elif [ $rc -ne 0 ] || [ "$out" != "$want" ]; then
	fail $t "rmi: exit $rc: $out"
elif [ -n "$(stx "$R2" images -q)" ]; then
	fail $t "images left: $(stx "$R2" images 2>&1)"
else
	pass $t
fi

t=a_loaded_image_has_no_repo_digests
st save -o "$T/app-saved.tar" "$A/app:1" >/dev/null 2>&1
stx "$W/store-loaded" load -i "$T/app-saved.tar" >/dev/null 2>&1
got=$(stx "$W/store-loaded" inspect "$A/app:1" | jq -c '.[0].RepoDigests')
[ "$got" = "[]" ] && pass $t || fail $t "RepoDigests after load: $got"

t=pull_of_an_unknown_digest_is_refused
bad=sha256:$(printf '%064d' 0)
out=$(stx "$W/store-unknown" pull "$A/app@$bad" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(tail -n 1 <<<"$out")" = "strata: error: pull $A/app@$bad: manifest $bad: not found: manifest unknown (HTTP 404)" ] &&
	pass $t || fail $t "exit $rc: $out"

t=zstd_layers_with_an_oci_manifest_round_trip
st tag "$A/app:1" "$A/app-zstd:1" >/dev/null
out=$(st push --compression zstd "$A/app-zstd:1" 2>&1); rc=$?
zman=$(manifest "$A" app-zstd/manifests/1)
R3=$W/store3
out2=$(stx "$R3" pull "$A/app-zstd:1" 2>&1); rc2=$?
if [ $rc -ne 0 ] || [ $rc2 -ne 0 ]; then
	fail $t "push exit $rc ($out), pull exit $rc2 ($out2)"
elif [ "$(jq -r .mediaType <<<"$zman")" != application/vnd.oci.image.manifest.v1+json ] ||
	[ "$(jq -r '[.layers[].mediaType] | unique | join(",")' <<<"$zman")" != application/vnd.oci.image.layer.v1.tar+zstd ] ||
	[ "$(jq -r .config.mediaType <<<"$zman")" != application/vnd.oci.image.config.v1+json ]; then
	fail $t "manifest: $zman"
elif [ "$(image_id "$R3" "$A/app-zstd:1")" != "$APP_ID" ] || [ "$(stx "$R3" run --rm "$A/app-zstd:1" 2>&1)" != "$WANT" ]; then
	fail $t "pulled image $(image_id "$R3" "$A/app-zstd:1") (want $APP_ID)"
else
	pass $t
fi
t=zstd_with_docker_format_is_a_usage_error
out=$(st push --compression zstd --format docker "$A/app-zstd:1" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $out == *"zstd"*"--format oci"* ]] && pass $t || fail $t "exit $rc: $out"

# an OCI index: this machine's image (amd64) and an arm64 one (the same
# layers under a config that says arm64)
t=index_resolves_to_the_platform
if [ "$(uname -m)" != x86_64 ]; then
	skip $t "the index is built for an amd64 host"
else
	cfg=$(curl -s "http://$A/v2/app/blobs/$APP_ID")
	jq -c '.architecture = "arm64"' <<<"$cfg" | tr -d '\n' >"$T/cfg-arm64.json"
	ARM_ID=$(upload_blob "$A" app "$T/cfg-arm64.json")
	jq -c --arg d "$ARM_ID" --argjson s "$(stat -c %s "$T/cfg-arm64.json")" '.config.digest = $d | .config.size = $s' <<<"$man" | tr -d '\n' >"$T/man-arm64.json"
	ARM_MAN=sha256:$(sha256sum "$T/man-arm64.json" | cut -d' ' -f1)
	curl -sf -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' --data-binary "@$T/man-arm64.json" \
		"http://$A/v2/app/manifests/$ARM_MAN" >/dev/null
	jq -nc --arg a "$DIGEST" --argjson asz "$(printf %s "$man" | wc -c)" --arg b "$ARM_MAN" --argjson bsz "$(stat -c %s "$T/man-arm64.json")" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
		{mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $b, size: $bsz, platform: {os: "linux", architecture: "arm64", variant: "v8"}},
		{mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $a, size: $asz, platform: {os: "linux", architecture: "amd64"}}]}' |
		tr -d '\n' >"$T/index.json"
	curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' --data-binary "@$T/index.json" \
		"http://$A/v2/app/manifests/multi" >/dev/null
	INDEX_DIGEST=sha256:$(sha256sum "$T/index.json" | cut -d' ' -f1)
	R4=$W/store4
	out=$(stx "$R4" pull "$A/app:multi" 2>&1); rc=$?
	out2=$(stx "$R4" pull --platform linux/arm64 "$A/app:multi" 2>&1); rc2=$?
	out3=$(stx "$R4" pull --platform linux/s390x "$A/app:multi" 2>&1); rc3=$?
	if [ $rc -ne 0 ] || [ "$(image_id "$R4" "$APP_ID")" != "$APP_ID" ] || ! grep -q "^Digest: $INDEX_DIGEST$" <<<"$out"; then
		fail $t "host platform: exit $rc: $out"
	elif [ $rc2 -ne 0 ] || [ "$(image_id "$R4" "$A/app:multi")" != "$ARM_ID" ] || [ "$(grep -c ': Already exists$' <<<"$out2")" != "$NLAYERS" ]; then
		fail $t "--platform linux/arm64: exit $rc2: $out2"
	elif [ $rc3 -ne 1 ] || [[ $out3 != *"no image for linux/s390x in the index $INDEX_DIGEST"* ]]; then
		fail $t "--platform linux/s390x: exit $rc3: $out3"
	else
		pass $t
	fi
fi

t=pull_errors_are_clear
o1=$(stx "$W/store-err" pull "$A/nope:1" 2>&1); r1=$?
o2=$(stx "$W/store-err" pull "127.0.0.1:$(free_port)/app:1" 2>&1); r2=$?
o3=$(stx "$W/store-err" pull "Bad/Name:1" 2>&1); r3=$?
o4=$(st push "$A/not-here:1" 2>&1); r4=$?
if [ $r1 -ne 1 ] || [ "$(tail -n 1 <<<"$o1")" != "strata: error: pull $A/nope:1: manifest 1: not found: manifest unknown (HTTP 404)" ]; then
	fail $t "missing repository: exit $r1: $o1"
elif [ $r2 -ne 1 ] || [[ $o2 != *"cannot reach the registry 127.0.0.1:"*"over http: "*"Couldn't connect to server" ]]; then
	fail $t "nothing listening: exit $r2: $o2"
elif [ $r3 -ne 1 ] || [[ $o3 != *"invalid reference"* ]]; then
	fail $t "bad name: exit $r3: $o3"
elif [ $r4 -ne 1 ] || [[ $o4 != *"the image to push must be tagged $A/not-here:1"* ]]; then
	fail $t "push of a missing image: exit $r4: $o4"
else
	pass $t
fi

# ------------------------------------------------- a lying registry

# a registry that serves whatever files it is given (manifests/REF,
# blobs/DIGEST): the app image with uncompressed layers (blob digest = diff
# id), then the same with one byte of a layer changed, with a config that
# names another diff id, and with a manifest other than the digest asked for
cat >"$T/fake.py" <<'PYEOF'
import http.server, json, os, sys
root = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def serve(self, body):
        parts = self.path.split("/")
        f = None
        data, ctype = b"{}", "application/json"
        if len(parts) == 5 and parts[3] in ("manifests", "blobs"):
            f = os.path.join(root, parts[3], parts[4])
        elif self.path != "/v2/":
            f = "/nonexistent"
        if f is not None:
            if not os.path.isfile(f):
                data = json.dumps({"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}).encode()
                self.send_response(404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body: self.wfile.write(data)
                return
            data = open(f, "rb").read()
            ctype = "application/octet-stream"
            if parts[3] == "manifests":
                ctype = json.loads(data).get("mediaType", "application/json")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body: self.wfile.write(data)
    def do_GET(self): self.serve(True)
    def do_HEAD(self): self.serve(False)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
PF=$(free_port)
F=127.0.0.1:$PF
fake=$T/fake
mkdir -p "$fake/manifests" "$fake/blobs"
python3 "$T/fake.py" "$PF" "$fake" >"$T/fake.log" 2>&1 &
PIDS+=($!)
disown $!
curl -s "http://$A/v2/app/blobs/$APP_ID" -o "$fake/blobs/$APP_ID"
layers_json=
i=0
for d in $APP_DIFFS; do
	curl -s "http://$A/v2/app/blobs/$(jq -r ".layers[$i].digest" <<<"$man")" | gzip -dc >"$fake/blobs/$d"
	layers_json="$layers_json${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$d\",\"size\":$(stat -c %s "$fake/blobs/$d")}"
	i=$((i + 1))
done
last=$(awk '{print $NF}' <<<"$APP_DIFFS")
# fake_manifest TAG CONFIG_FILE: an OCI manifest of the layers above
fake_manifest() {
	local cd
	cd=sha256:$(sha256sum "$2" | cut -d' ' -f1)
	cp "$2" "$fake/blobs/$cd"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
		"$cd" "$(stat -c %s "$2")" "$layers_json" >"$fake/manifests/$1"
}
cp "$fake/blobs/$APP_ID" "$T/cfg.json"
fake_manifest good "$T/cfg.json"
RF=$W/store-fake
stx "$RF" import "$T/base.tar" base >/dev/null
for _ in $(seq 1 50); do curl -s -o /dev/null "http://$F/v2/" && break; sleep 0.1; done

t=uncompressed_layers_from_another_registry_pull
out=$(stx "$RF" pull "$F/app:good" 2>&1); rc=$?
if [ $rc -ne 0 ] || [ "$(image_id "$RF" "$F/app:good")" != "$APP_ID" ] || [ "$(grep -c ': Already exists$' <<<"$out")" != 1 ]; then
	fail $t "exit $rc: $out"
else
	pass $t
fi
stx "$RF" rmi "$F/app:good" >/dev/null

# refused_fake NAME REF "message part": exit 1, the message, the store as it was
refused_fake() {
	local before after out rc
	before=$(state "$RF")
	out=$(stx "$RF" pull "$2" 2>&1); rc=$?
	after=$(state "$RF")
	if [ $rc -ne 1 ] || [[ $(tail -n 1 <<<"$out") != "strata: error: pull $2: "*"$3"* ]]; then
		fail $1 "exit $rc: $(tail -n 1 <<<"$out")"
	elif [ "$before" != "$after" ]; then
		fail $1 "the store changed: $(diff <(echo "$before") <(echo "$after") | head -n 10)"
	else
		pass $1
	fi
}

cp "$fake/blobs/$last" "$T/last.good"
printf 'X' | dd of="$fake/blobs/$last" bs=1 seek=100000 conv=notrunc status=none
fake_manifest tampered "$T/cfg.json"
refused_fake layer_bytes_that_do_not_match_the_digest_are_refused "$F/app:tampered" \
	"the blob's bytes have digest sha256:$(sha256sum "$fake/blobs/$last" | cut -d' ' -f1), the manifest says $last"
cp "$T/last.good" "$fake/blobs/$last"

other=sha256:$(printf other | sha256sum | cut -d' ' -f1)
jq -c --arg o "$other" '.rootfs.diff_ids[-1] = $o' "$T/cfg.json" | tr -d '\n' >"$T/cfg-wrong.json"
fake_manifest wrongdiff "$T/cfg-wrong.json"
refused_fake layer_content_that_does_not_match_the_config_is_refused "$F/app:wrongdiff" \
	"the layer's content has diff id $last, the config says $other"

good_man=sha256:$(sha256sum "$fake/manifests/good" | cut -d' ' -f1)
cp "$fake/manifests/wrongdiff" "$fake/manifests/$good_man"
refused_fake a_manifest_that_is_not_the_digest_asked_for_is_refused "$F/app@$good_man" \
	"the registry sent a manifest with digest sha256:$(sha256sum "$fake/manifests/wrongdiff" | cut -d' ' -f1), not the $good_man asked for"

t=progress_redrawn_on_a_terminal_plain_otherwise
if ! command -v script >/dev/null; then
	skip $t "script(1) is not installed"
else
	tty_out=$(script -qec "$BIN --root $W/store-tty pull $A/app:1" /dev/null 2>&1)
	plain_out=$(stx "$W/store-plain" pull "$A/app:1" 2>&1)
	# the rate shows only once a download has run 50 ms, which a pull
	# from a local registry may never reach: not asked for here
	if [[ $tty_out != *$'\033['*A* ]] || [[ $tty_out != *"[="* ]]; then
		fail $t "no in-place redraw with a bar on a terminal: $(cat -v <<<"$tty_out" | tail -n 3)"
	elif [[ $plain_out == *$'\033'* ]] || [ "$(grep -c ': Downloading' <<<"$plain_out")" != "$NLAYERS" ]; then
		fail $t "plain output: $plain_out"
	else
		pass $t
	fi
fi

# ------------------------------------------------------------ redirects

t=blob_downloads_follow_redirects
PW=$(free_port)
PD=$(free_port)
D=127.0.0.1:$PD
mkdir -p "$W/reg-d/data"
python3 -m http.server "$PW" --bind 127.0.0.1 --directory "$W/reg-d/data" >"$T/web.log" 2>&1 &
PIDS+=($!)
disown $!
extra="middleware:
  storage:
    - name: redirect
      options:
        baseurl: http://127.0.0.1:$PW/"
if start_registry d "$D" http "$extra"; then
	st tag "$A/app:1" "$D/app:1" >/dev/null
	st push "$D/app:1" >/dev/null 2>&1
	out=$(stx "$W/store5" pull "$D/app:1" 2>&1); rc=$?
	served=$(grep -c '"GET /docker/registry/v2/blobs/sha256/[0-9a-f]*/[0-9a-f]*/data HTTP/1.1" 200' "$T/web.log")
	redirected=$(access d | grep -c '"GET /v2/app/blobs/sha256:[0-9a-f]* HTTP/1.1" 307')
	if [ $rc -ne 0 ] || [ "$(image_id "$W/store5" "$D/app:1")" != "$APP_ID" ]; then
		fail $t "exit $rc: $out"
	elif [ "$served" -lt "$NLAYERS" ] || [ "$redirected" -lt "$NLAYERS" ]; then
		fail $t "$redirected redirects, $served blobs served by the web server"
	else
		pass $t
	fi
	# HEAD answered with a redirect: the registry has the blob
	t=push_takes_a_redirected_head_as_present
	out=$(st push "$D/app:1" 2>&1); rc=$?
	heads=$(access d | grep -c '"HEAD /v2/app/blobs/sha256:[0-9a-f]* HTTP/1.1" 307')
	if [ $rc -ne 0 ] || [ "$(grep -c ': Layer already exists$' <<<"$out")" != "$NLAYERS" ] || [ "$heads" -lt "$NLAYERS" ]; then
		fail $t "exit $rc, $heads HEADs redirected: $out"
	else
		pass $t
	fi
else
	fail $t "the registry with the redirect middleware does not start"
fi

# ------------------------------------------------------------------ TLS

t=https_verifies_certificates_and_tls_verify_false_skips
PE=$(free_port)
IP=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n 1)
mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" -days 2 -subj /CN=strata-test \
	-addext "subjectAltName=IP:127.0.0.1${IP:+,IP:$IP}" >/dev/null 2>&1
extra="  tls:
    certificate: $T/tls/cert.pem
    key: $T/tls/key.pem"
if ! start_registry e "0.0.0.0:$PE" https "$extra"; then
	fail $t "the TLS registry does not start"
else
	E=127.0.0.1:$PE
	st tag "$A/app:1" "$E/app:1" >/dev/null
	out=$(st push "$E/app:1" 2>&1); rc=$?
	# loopback: https without verification (docker's insecure default);
	# the TLS-only server would answer plain http with 400
	if [ $rc -ne 0 ] || [ "$(access e | grep -c '"PUT /v2/app/manifests/1 HTTP/[0-9.]*" 201')" != 1 ]; then
		fail $t "loopback push over https: exit $rc: $out"
	elif [ -z "$IP" ]; then
		skip $t "no non-loopback address here to test verification (loopback https works)"
	else
		o1=$(stx "$W/store6" pull "$IP:$PE/app:1" 2>&1); r1=$?
		o2=$(stx "$W/store6" pull --tls-verify=false "$IP:$PE/app:1" 2>&1); r2=$?
		if [ $r1 -ne 1 ] || [[ $o1 != *"certificate"*"--tls-verify=false"* ]]; then
			fail $t "self-signed certificate accepted or unclear: exit $r1: $o1"
		elif [ $r2 -ne 0 ] || [ "$(image_id "$W/store6" "$IP:$PE/app:1")" != "$APP_ID" ]; then
			fail $t "--tls-verify=false: exit $r2: $o2"
		else
			pass $t
		fi
	fi
fi

# ------------------------------------------------------------ basic auth

t=basic_auth_login_push_pull_logout
PB=$(free_port)
B=127.0.0.1:$PB
mkdir -p "$T/auth"
htpasswd -Bbn alice s3cret >"$T/auth/htpasswd" 2>/dev/null
AUTHFILE=$HOME/.config/strata/auth.json
extra="auth:
  htpasswd:
    realm: strata-test
    path: $T/auth/htpasswd"
if ! start_registry b "$B" http "$extra"; then
	fail $t "the registry with htpasswd does not start"
else
	st tag "$A/app:1" "$B/app:1" >/dev/null
	o0=$(st push "$B/app:1" 2>&1); r0=$?
	o1=$(st login -u alice -p wrong "$B" 2>&1); r1=$?
	f1=$(test -e "$AUTHFILE" && echo exists)
	o2=$(echo s3cret | st login -u alice --password-stdin "$B" 2>&1); r2=$?
	mode=$(stat -c %a "$AUTHFILE" 2>/dev/null)
	saved=$(jq -r --arg h "$B" '.auths[$h].auth' "$AUTHFILE" 2>/dev/null | base64 -d 2>/dev/null)
	o3=$(st push "$B/app:1" 2>&1); r3=$?
	o4=$(stx "$W/store7" pull "$B/app:1" 2>&1); r4=$?
	o5=$(st logout "$B" 2>&1); r5=$?
	o6=$(stx "$W/store8" pull "$B/app:1" 2>&1); r6=$?
	if [ $r0 -ne 1 ] || [[ $o0 != *"$B requires authentication: strata login $B"* ]]; then
		fail $t "push without login: exit $r0: $o0"
	elif [ $r1 -ne 1 ] || [[ $o1 != *"incorrect username or password"* ]] || [ -n "$f1" ]; then
		fail $t "wrong password: exit $r1: $o1 (credentials file: ${f1:-none})"
	elif [ $r2 -ne 0 ] || [[ $o2 != *"Login Succeeded"* ]] || [ "$mode" != 600 ] || [ "$saved" != alice:s3cret ]; then
		fail $t "login: exit $r2: $o2 (mode $mode, stored \"$saved\")"
	elif [ $r3 -ne 0 ] || [ $r4 -ne 0 ] || [ "$(image_id "$W/store7" "$B/app:1")" != "$APP_ID" ]; then
		fail $t "push exit $r3 ($o3), pull exit $r4 ($o4)"
	elif [ $r5 -ne 0 ] || [ "$(jq -r --arg h "$B" '.auths[$h]' "$AUTHFILE")" != null ] || [ $r6 -ne 1 ] ||
		[[ $o6 != *"requires authentication"* ]]; then
		fail $t "logout: exit $r5 ($o5), then pull exit $r6: $o6"
	else
		pass $t
	fi
fi

# ------------------------------------------------------- credential helpers

# a docker-credential-* helper (the docker-credential-helpers protocol): one
# JSON record per server URL in a directory, every call logged
t=credential_helpers_credhelpers_credsstore_login_logout
mkdir -p "$T/credbin" "$T/credstore" "$T/dockercfg"
cat >"$T/credbin/docker-credential-strtest" <<'EOF'
#!/bin/bash
d=$(dirname "$0")/../credstore
in=$(cat)
echo "$1 $in" >>"$d/calls.log"
key() { printf %s "$1" | sha256sum | cut -c1-16; }
case $1 in
get) [ -f "$d/$(key "$in")" ] && cat "$d/$(key "$in")" && exit 0
	echo "credentials not found in native keychain"; exit 1 ;;
store) printf %s "$in" >"$d/$(key "$(printf %s "$in" | jq -r .ServerURL)")" ;;
erase) [ -f "$d/$(key "$in")" ] || { echo "credentials not found in native keychain"; exit 1; }
	rm "$d/$(key "$in")" ;;
*) echo "unknown action $1"; exit 1 ;;
esac
EOF
chmod +x "$T/credbin/docker-credential-strtest"
credkey() { printf %s "$1" | sha256sum | cut -c1-16; }
if [ ! -s "$W/reg-b/pid" ] || ! kill -0 "$(cat "$W/reg-b/pid")" 2>/dev/null; then
	fail $t "the registry with htpasswd is not running"
else
	PATH=$T/credbin:$PATH
	rm -f "$AUTHFILE"
	printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "$B" >"$T/credstore/$(credkey "$B")"
	# docker's config.json: credHelpers for this host, then credsStore; its plain auths are not used then
	printf '{"auths":{"%s":{"auth":"%s"}},"credHelpers":{"%s":"strtest"}}' "$B" "$(printf alice:wrong | base64)" "$B" \
		>"$T/dockercfg/config.json"
	o1=$(DOCKER_CONFIG=$T/dockercfg stx "$W/store9" pull "$B/app:1" 2>&1); r1=$?
	printf '{"credsStore":"strtest"}' >"$T/dockercfg/config.json"
	o2=$(DOCKER_CONFIG=$T/dockercfg stx "$W/store10" pull "$B/app:1" 2>&1); r2=$?
	printf '{"credsStore":"nosuch"}' >"$T/dockercfg/config.json"
	o3=$(DOCKER_CONFIG=$T/dockercfg stx "$W/store11" pull "$B/app:1" 2>&1); r3=$?
	# strata's own file names the helper: login stores there, logout erases
	rm -f "$T/credstore/$(credkey "$B")"
	mkdir -p "$(dirname "$AUTHFILE")" && printf '{"credsStore":"strtest"}' >"$AUTHFILE"
	o4=$(st login -u alice -p s3cret "$B" 2>&1); r4=$?
	stored=$(cat "$T/credstore/$(credkey "$B")" 2>/dev/null)
	o5=$(stx "$W/store12" pull "$B/app:1" 2>&1); r5=$?
	o6=$(st logout "$B" 2>&1); r6=$?
	o7=$(stx "$W/store13" pull "$B/app:1" 2>&1); r7=$?
	o8=$(st logout "$B" 2>&1); r8=$?
	calls=$(awk '{print $1}' "$T/credstore/calls.log" | tr '\n' ' ')
	if [ $r1 -ne 0 ] || [ "$(image_id "$W/store9" "$B/app:1")" != "$APP_ID" ]; then
		fail $t "credHelpers: exit $r1: $o1"
	elif [ $r2 -ne 0 ]; then
		fail $t "credsStore: exit $r2: $o2"
	elif [ $r3 -ne 1 ] || [[ $o3 != *'docker-credential-nosuch: not found in $PATH'* ]]; then
		fail $t "a missing helper: exit $r3: $o3"
	elif [ $r4 -ne 0 ] || [ "$(jq -r '.Username + ":" + .Secret' <<<"$stored" 2>/dev/null)" != alice:s3cret ] ||
		[ "$(jq -r '.auths // {} | length' "$AUTHFILE")" != 0 ]; then
		fail $t "login through the helper: exit $r4: $o4 (stored: $stored; file: $(cat "$AUTHFILE"))"
	elif [ $r5 -ne 0 ] || [ $r6 -ne 0 ] || [ $r7 -ne 1 ] || [[ $o7 != *"requires authentication"* ]] || [ $r8 -ne 1 ]; then
		fail $t "pull $r5 ($o5), logout $r6 ($o6), pull after logout $r7 ($o7), second logout $r8 ($o8)"
	elif [ "$calls" != "get get get store get erase get erase " ]; then
		fail $t "the helper was called as: $calls"
	else
		pass $t
	fi
	rm -f "$AUTHFILE"
fi

# ------------------------------------------------------------ token auth

# a token server: Basic credentials in, a JWT out (RS256, the certificate
# in x5c) granting what the scopes ask for; anonymous requests get a token
# that grants nothing
t=token_auth_login_push_pull
PT=$(free_port)
PC=$(free_port)
C=127.0.0.1:$PC
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/auth/tkey.pem" -out "$T/auth/tcert.pem" -days 2 \
	-subj /CN=strata-token-issuer >/dev/null 2>&1
cat >"$T/auth/token.py" <<'EOF'
import base64, http.server, json, subprocess, sys, time, urllib.parse
port, key, cert, user, pw = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], capture_output=True, check=True).stdout
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        who = None
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode() != f"{user}:{pw}":
                self.send_response(401); self.end_headers(); return
            who = user
        access = []
        for s in q.get("scope", []):
            typ, name, actions = s.split(":")
            if who:
                access.append({"type": typ, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        hdr = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {"iss": "strata-test-issuer", "sub": who or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(now), "access": access}
        signing = (b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing, capture_output=True, check=True).stdout
        body = json.dumps({"token": signing.decode() + "." + b64(sig), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(port)), H).serve_forever()
EOF
python3 "$T/auth/token.py" "$PT" "$T/auth/tkey.pem" "$T/auth/tcert.pem" bob t0ken-pw >"$T/token.log" 2>&1 &
PIDS+=($!)
disown $!
extra="auth:
  token:
    realm: http://127.0.0.1:$PT/token
    service: strata-test
    issuer: strata-test-issuer
    rootcertbundle: $T/auth/tcert.pem"
if ! start_registry c "$C" http "$extra"; then
	fail $t "the registry with token auth does not start"
else
	for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PT/token" && break; sleep 0.1; done
	st tag "$A/app:1" "$C/app:1" >/dev/null
	o0=$(st push "$C/app:1" 2>&1); r0=$?
	o1=$(st login -u bob -p nope "$C" 2>&1); r1=$?
	o2=$(st login -u bob -p t0ken-pw "$C" 2>&1); r2=$?
	o3=$(st push "$C/app:1" 2>&1); r3=$?
	o4=$(stx "$W/store9" pull "$C/app:1" 2>&1); r4=$?
	tokens=$(grep -c '"GET /token?' "$T/token.log")
	if [ $r0 -ne 1 ] || [[ $o0 != *"unauthorized"* ]]; then
		fail $t "anonymous push: exit $r0: $o0"
	elif [ $r1 -ne 1 ] || [[ $o1 != *"incorrect username or password"* ]]; then
		fail $t "wrong password: exit $r1: $o1"
	elif [ $r2 -ne 0 ] || [ $r3 -ne 0 ] || [ $r4 -ne 0 ] || [ "$(image_id "$W/store9" "$C/app:1")" != "$APP_ID" ]; then
		fail $t "login $r2 ($o2), push $r3 ($o3), pull $r4 ($o4)"
	elif [ "$tokens" -lt 3 ]; then
		fail $t "the token server saw $tokens requests"
	else
		pass $t
	fi
fi

# ---------------------------------------------------------------- docker

if ! command -v dockerd >/dev/null || [ ! -x /usr/bin/docker ]; then
	skip docker_pulls_and_runs_what_strata_pushed "dockerd is not installed (scripts/deps.sh installs docker.io)"
	skip strata_pulls_and_runs_what_docker_pushed "dockerd is not installed (scripts/deps.sh installs docker.io)"
else
	Dk() { /usr/bin/docker -H "unix://$T/docker/run/docker.sock" "$@"; }
	mkdir -p "$T/docker/root" "$T/docker/run"
	dockerd --data-root "$T/docker/root" --exec-root "$T/docker/run/exec" --pidfile "$T/docker/run/docker.pid" \
		-H "unix://$T/docker/run/docker.sock" --storage-driver overlay2 --insecure-registry "$A" \
		--iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
		>"$T/docker/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	disown $!
	up=0
	for _ in $(seq 1 100); do
		Dk version >/dev/null 2>&1 && { up=1; break; }
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.2
	done
	if [ $up = 0 ]; then
		fail dockerd_starts "$(tail -n 5 "$T/docker/dockerd.log")"
	else
		t=docker_pulls_and_runs_what_strata_pushed
		st tag "$A/app:1" "$A/app-oci:1" >/dev/null
		st push --format oci "$A/app-oci:1" >/dev/null 2>&1
		o1=$(Dk pull "$A/app:1" 2>&1); r1=$?
		o2=$(Dk pull "$A/app-oci:1" 2>&1); r2=$?
		run1=$(Dk run --rm --network none "$A/app:1" 2>&1)
		run2=$(Dk run --rm --network none "$A/app-oci:1" 2>&1)
		if [ $r1 -ne 0 ] || [ $r2 -ne 0 ]; then
			fail $t "docker pull: $o1 / $o2"
		elif [ "$run1" != "$WANT" ] || [ "$run2" != "$WANT" ]; then
			fail $t "docker run printed \"$run1\" / \"$run2\""
		elif [ "$(Dk image inspect -f '{{.Id}}' "$A/app:1")" != "$APP_ID" ] || ! grep -q "$DIGEST" <<<"$o1"; then
			fail $t "docker's image $(Dk image inspect -f '{{.Id}}' "$A/app:1") (want $APP_ID): $o1"
		else
			pass $t
		fi

		t=strata_pulls_and_runs_what_docker_pushed
		Dk import "$T/base.tar" dbase >/dev/null
		mkdir -p "$T/dctx"
		printf 'FROM dbase\nRUN echo made-by-docker > /m && mkdir -p /d && echo x > /d/f\nCMD ["cat", "/m"]\n' >"$T/dctx/Dockerfile"
		DOCKER_BUILDKIT=0 Dk build --network none -q -t "$A/dmade:1" "$T/dctx" >/dev/null 2>&1
		o1=$(Dk push "$A/dmade:1" 2>&1); r1=$?
		did=$(Dk image inspect -f '{{.Id}}' "$A/dmade:1")
		o2=$(stx "$W/store10" pull "$A/dmade:1" 2>&1); r2=$?
		run=$(stx "$W/store10" run --rm "$A/dmade:1" 2>&1)
		if [ $r1 -ne 0 ]; then
			fail $t "docker push: $o1"
		elif [ $r2 -ne 0 ]; then
			fail $t "strata pull: $o2"
		elif [ "$(image_id "$W/store10" "$A/dmade:1")" != "$did" ] || [ "$run" != made-by-docker ]; then
			fail $t "image $(image_id "$W/store10" "$A/dmade:1") (docker's $did), run printed \"$run\""
		else
			pass $t
		fi
	fi
fi

# ------------------------------------------------- interrupted transfers

# a big layer (80 MB of incompressible data in 10,000 files): its blob is
# much larger than the pull's pipe, and unpacking it is slower than the
# loopback network, so the download lasts while the layer is applied
mkdir -p "$T/bigctx"
python3 - "$T/bigctx/big" <<'EOF'
import os, sys
for d in range(40):
    os.makedirs(f"{sys.argv[1]}/d{d}")
    for f in range(250):
        with open(f"{sys.argv[1]}/d{d}/f{f}", "wb") as fh:
            fh.write(os.urandom(8192))
EOF
printf 'FROM base\nCOPY big /big\nCMD ["cat", "/big/d7/f7"]\n' >"$T/bigctx/Dockerfile"
make_base base
st build --network none -q -t "$A/big:1" "$T/bigctx" >/dev/null && st push "$A/big:1" >/dev/null 2>&1 ||
	fail setup "build and push of the big image"
BIG_ID=$(image_id "$ROOT" "$A/big:1")
BIG_BLOB=$(manifest "$A" big/manifests/1 | jq -r '.layers[-1].digest')
BIG_SHORT=${BIG_BLOB:7:12}
RK=$W/store-kill
stx "$RK" pull "$A/app:1" >/dev/null 2>&1 # the base layer is there: the pull both reuses and adds

# start_pull LOG: pull the big image into $RK in the background ($PULL_PID),
# return once its big layer is being downloaded
start_pull() {
	"$BIN" --root "$RK" ${DRIVER:+--storage-driver "$DRIVER"} pull "$A/big:1" >"$1" 2>&1 &
	PULL_PID=$!
	for _ in $(seq 1 200); do
		grep -q "^$BIG_SHORT: Downloading" "$1" && { sleep 0.3; return 0; }
		kill -0 $PULL_PID 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
mid_transfer() { ! grep -q "^$BIG_SHORT: Download complete" "$1"; }

t=registry_killed_mid_pull_leaves_the_store_unchanged
before=$(state "$RK")
if ! start_pull "$T/kill1.log"; then
	fail $t "the pull did not start downloading: $(cat "$T/kill1.log")"
else
	kill_registry a
	wait $PULL_PID
	rc=$?
	out=$(cat "$T/kill1.log")
	after=$(state "$RK")
	if ! mid_transfer "$T/kill1.log"; then
		fail $t "the download finished before the registry was killed (the test needs a slower apply)"
	elif [ $rc -ne 1 ]; then
		fail $t "exit $rc: $out"
	elif ! grep -q "^strata: error: pull $A/big:1: layer 2/2 ($BIG_BLOB): blob $BIG_BLOB: .*retries failed, the last: .*Couldn't connect to server" <<<"$out"; then
		fail $t "unclear error: $(tail -n 1 <<<"$out")"
	elif [ "$before" != "$after" ]; then
		fail $t "the store changed: $(diff <(echo "$before") <(echo "$after") | head -n 10)"
	else
		pass $t
	fi
fi

t=pull_completes_once_the_registry_is_back
start_registry a "$A" || fail $t "the registry does not restart"
out=$(stx "$RK" pull "$A/big:1" 2>&1); rc=$?
if [ $rc -ne 0 ] || [ "$(image_id "$RK" "$A/big:1")" != "$BIG_ID" ] || [ "$(grep -c ': Already exists$' <<<"$out")" != 1 ]; then
	fail $t "exit $rc: $out"
elif [ "$(stx "$RK" run --rm "$A/big:1" | sha256sum)" != "$(sha256sum <"$T/bigctx/big/d7/f7")" ]; then
	fail $t "the pulled layer's content differs"
else
	pass $t
fi

t=registry_restarted_mid_pull_the_download_resumes
stx "$RK" rmi "$A/big:1" >/dev/null
if ! start_pull "$T/kill2.log"; then
	fail $t "the pull did not start downloading: $(cat "$T/kill2.log")"
else
	kill_registry a
	start_registry a "$A"
	wait $PULL_PID
	rc=$?
	partial=$(access a | grep -c "\"GET /v2/big/blobs/$BIG_BLOB HTTP/1.1\" 206")
	if ! mid_transfer "$T/kill2.log" && [ "$partial" = 0 ]; then
		skip $t "the download finished before the registry was killed"
	elif [ $rc -ne 0 ] || [ "$(image_id "$RK" "$A/big:1")" != "$BIG_ID" ]; then
		fail $t "exit $rc: $(tail -n 3 "$T/kill2.log")"
	elif [ "$partial" = 0 ]; then
		fail $t "no ranged request (206) after the restart: $(access a | grep big/blobs | tail -n 3)"
	else
		pass $t
	fi
fi

t=pull_killed_with_sigkill_leaves_nothing
stx "$RK" rmi "$A/big:1" >/dev/null
before=$(state "$RK")
if ! start_pull "$T/kill3.log"; then
	fail $t "the pull did not start downloading: $(cat "$T/kill3.log")"
else
	kill -9 $PULL_PID
	{ wait $PULL_PID; } 2>/dev/null
	after=$(state "$RK") # the first open sweeps the dead pull's lease
	if [ "$before" != "$after" ]; then
		fail $t "the store changed: $(diff <(echo "$before") <(echo "$after") | head -n 10)"
	elif [ -n "$(ls -A "$RK/leases")" ]; then
		fail $t "leases left: $(ls -A "$RK/leases")"
	else
		out=$(stx "$RK" pull "$A/big:1" 2>&1)
		[ "$(image_id "$RK" "$A/big:1")" = "$BIG_ID" ] && pass $t || fail $t "the next pull: $out"
	fi
fi

exit $((fails > 0))
