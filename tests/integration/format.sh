#!/bin/bash
# --format with Go templates on a real store: images, ps, volume ls, system df
# (docker's row fields, "table" titles and column alignment), inspect, volume
# inspect and info (their JSON), the errors of bad templates (exit 1, Go's
# message with the position); then the same templates side by side with a
# real dockerd (SKIP when it cannot start).
. "$(dirname "$0")/lib.sh"
ROOT=$T/store
DRIVER=vfs
DOCKER=/usr/bin/docker
dockerd_pid=

cleanup() {
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
	fi
	lib_cleanup
}
trap cleanup EXIT

# check NAME WANT COMMAND...: stdout equals WANT and the exit code is 0
check() {
	local name=$1 want=$2 got
	shift 2
	if ! got=$("$@" 2>"$T/err"); then
		fail "$name" "exit $?: $(head -c 300 "$T/err")"
	elif [ "$got" != "$want" ]; then
		fail "$name" "got [$got], want [$want]"
	else
		pass "$name"
	fi
}

# check_err NAME MESSAGE COMMAND...: exit 1, stderr "strata: error: MESSAGE", no stdout
check_err() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc != 1 ]; then
		fail "$name" "exit $rc, want 1 ($(head -c 300 "$T/err"))"
	elif [ "$(cat "$T/err")" != "strata: error: $want" ]; then
		fail "$name" "stderr [$(cat "$T/err")], want [strata: error: $want]"
	elif [ -s "$T/out" ]; then
		fail "$name" "stdout not empty: $(head -c 200 "$T/out")"
	else
		pass "$name"
	fi
}

# the column where WORD starts in line N of stdin (1-based), for alignment checks
col() { awk -v n="$1" -v w="$2" 'NR == n { print index($0, w) }'; }

make_base fmtbase:1 || { fail setup "cannot import the busybox image"; exit 1; }
st volume create fmtvol >/dev/null || fail setup "volume create"
st create --name fmtc -v fmtvol:/data fmtbase:1 sh -c 'echo hi' >/dev/null || fail setup "create"
short=$(st images -q)

# ----------------------------------------------------------------- images
check images-fields-are-dockers "fmtbase:1 $short <none> N/A" st images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}} {{.Containers}}'
check images-functions-and-pipelines "FMTBASE|fmtbase|[\"1\"]|1|fmt-base" \
	st images --format '{{upper .Repository}}|{{.Repository | lower}}|{{json (split .Tag ",")}}|{{len .Tag}}|{{join (split .Repository "b") "-b"}}'
check images-if-else "one" st images --format '{{if eq .Tag "1"}}one{{else}}other{{end}}'
st images --format 'table {{.ID}}\t{{.Repository}}\t{{.Tag}}\t{{.CreatedSince}}\t{{.Size}}' >"$T/tab"
if [[ $(head -1 "$T/tab") =~ ^IMAGE\ ID\ +REPOSITORY\ +TAG\ +CREATED\ +SIZE$ ]] &&
	[ "$(col 1 REPOSITORY <"$T/tab")" = "$(col 2 fmtbase <"$T/tab")" ] && [ "$(col 1 REPOSITORY <"$T/tab")" = 16 ] &&
	[ "$(col 1 TAG <"$T/tab")" = 29 ] && [ "$(wc -l <"$T/tab")" = 2 ]; then
	pass images-table-titles-and-aligns
else
	fail images-table-titles-and-aligns "$(cat "$T/tab")"
fi
check images-quiet-wins-over-format "$short" st images -q --format '{{.Repository}}'
st images --format json | python3 -c 'import json,sys; a=json.load(sys.stdin); assert a[0]["Repository"]=="fmtbase"' &&
	pass images-format-json-still-an-array || fail images-format-json-still-an-array "not the JSON array"
keys=$(st images --format '{{json .}}' | python3 -c 'import json,sys; print(" ".join(sorted(json.loads(sys.stdin.readline()))))')
[ "$keys" = "Containers CreatedAt CreatedSince Digest ID Repository SharedSize Size Tag UniqueSize VirtualSize" ] &&
	pass images-dot-has-dockers-fields || fail images-dot-has-dockers-fields "$keys"
check_err images-unknown-field-fails 'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"' \
	st images --format '{{.Nope}}'
check_err images-table-unknown-field-fails 'template: :1:10: executing "" at <.Nope>: map has no entry for key "Nope"' \
	st images --format 'table {{.ID}} {{.Nope}}'
check_err images-unclosed-action-fails 'template: :1: unclosed action' st images --format '{{.ID'

# --------------------------------------------------------------------- ps
check ps-fields-are-dockers "fmtc fmtbase:1 created Created fmtvol 1" \
	st ps -a --format '{{.Names}} {{.Image}} {{.State}} {{.Status}} {{.Mounts}} {{.LocalVolumes}}'
check ps-range-over-split "[fmt][c]" st ps -a --format '{{range split .Names "c"}}{{if .}}[{{.}}]{{else}}[c]{{end}}{{end}}'
check ps-table-header-when-nothing-runs "CONTAINER ID   NAMES" st ps --format 'table {{.ID}}\t{{.Names}}'
ct=$(st ps -aq)
check ps-table "$(printf 'CONTAINER ID   NAMES     STATUS\n%s   fmtc      Created' "$ct")" st ps -a --format 'table {{.ID}}\t{{.Names}}\t{{.Status}}'
check_err ps-function-not-defined 'template: :1: function "nope" not defined' st ps -a --format '{{nope .ID}}'

# ---------------------------------------------------------------- volumes
check volume-ls-fields "fmtvol local local N/A" st volume ls --format '{{.Name}} {{.Driver}} {{.Scope}} {{.Size}}'
check volume-ls-tab-escape "$(printf 'fmtvol\tlocal')" st volume ls --format '{{.Name}}\t{{.Driver}}'
check volume-ls-table "$(printf 'VOLUME NAME   DRIVER\nfmtvol        local')" st volume ls --format 'table {{.Name}}\t{{.Driver}}'
check volume-inspect-format "fmtvol local $ROOT/volumes/fmtvol/_data" st volume inspect -f '{{.Name}} {{.Driver}} {{.Mountpoint}}' fmtvol
check_err volume-inspect-unknown-field 'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"' \
	st volume inspect --format '{{.Nope}}' fmtvol

# ---------------------------------------------------------------- inspect
check inspect-image-fields '["fmtbase:1"] linux' st inspect -f '{{json .RepoTags}} {{.Os}}' fmtbase:1
check inspect-container-fields 'created ["sh","-c","echo hi"] sh [-c echo hi] fmtvol:/data' \
	st inspect --format '{{.State.Status}} {{json .Config.Cmd}} {{.Path}} {{.Args}} {{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}' fmtc
ids=$(st images --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])'
	st ps -a --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])')
check inspect-one-line-per-object "$ids" st inspect -f '{{.Id}}' fmtbase:1 fmtc
check_err inspect-field-an-object-lacks 'template: :1:2: executing "" at <.RepoTags>: map has no entry for key "RepoTags"' \
	st inspect -f '{{.RepoTags}}' fmtc
check_err inspect-nested-unknown-field 'template: :1:26: executing "" at <.State.Nope>: map has no entry for key "Nope"' \
	st inspect -f '{{.State.Status}} {{.State.Nope}}' fmtc
check_err inspect-index-out-of-range 'template: :1:2: executing "" at <index .RepoTags 3>: error calling index: index out of range: 3' \
	st inspect -f '{{index .RepoTags 3}}' fmtbase:1
check_err inspect-missing-end 'template: :1: unexpected EOF' st inspect -f '{{if .Id}}x' fmtbase:1
st inspect fmtbase:1 | python3 -c 'import json,sys; assert json.load(sys.stdin)[0]["RepoTags"]==["fmtbase:1"]' &&
	pass inspect-without-format-is-json || fail inspect-without-format-is-json "not the JSON array"

# ------------------------------------------------------------ info and df
check info-format "vfs $ROOT" st info --format '{{.Driver}} {{.Root}}'
check info-format-short-option "vfs" st info -f '{{.Driver}}'
check df-rows "$(printf 'Images=1\nContainers=1\nLocal Volumes=1\nLayers=1\nBuild Cache=0')" st system df --format '{{.Type}}={{.TotalCount}}'
head=$(st system df --format 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' | head -1)
[ "$head" = "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE" ] && pass df-table-titles || fail df-table-titles "$head"

# ------------------------------------------------------ side by side: docker
if ! command -v dockerd >/dev/null || ! [ -x "$DOCKER" ]; then
	skip format-docker-side-by-side "dockerd or $DOCKER not installed"
	exit $((fails > 0))
fi
dr=$T/docker
mkdir -p "$dr/root" "$dr/run"
dockerd --data-root "$dr/root" --exec-root "$dr/run/exec" --pidfile "$dr/run/docker.pid" -H "unix://$dr/run/docker.sock" \
	--storage-driver vfs --iptables=false --ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
	>"$dr/dockerd.log" 2>&1 &
dockerd_pid=$!
dk() { "$DOCKER" -H "unix://$dr/run/docker.sock" "$@"; }
up=
for _ in $(seq 100); do
	dk version >/dev/null 2>&1 && { up=1; break; }
	kill -0 "$dockerd_pid" 2>/dev/null || break
	sleep 0.2
done
if [ -z "$up" ]; then
	skip format-docker-side-by-side "dockerd did not start: $(tail -1 "$dr/dockerd.log")"
	exit $((fails > 0))
fi
dk import "$T/base.tar" fmtbase:1 >/dev/null && dk volume create fmtvol >/dev/null &&
	dk create --name fmtc -v fmtvol:/data fmtbase:1 sh -c 'echo hi' >/dev/null || fail docker-setup "import, volume create, create"

# same NAME COMMAND TEMPLATE [OBJECT...]: strata and docker print the same
same() {
	local name=$1 cmd=$2 tmpl=$3 a b
	shift 3
	a=$(st $cmd "$tmpl" "$@" 2>&1)
	b=$(dk $cmd "$tmpl" "$@" 2>&1)
	[ "$a" = "$b" ] && pass "docker-same-$name" || fail "docker-same-$name" "strata [$a], docker [$b]"
}
# same_head: only the header row's titles (the widths follow values that differ: times, ids)
same_head() {
	local name=$1 cmd=$2 tmpl=$3 a b
	a=$(st $cmd "$tmpl" | head -1 | tr -s ' ')
	b=$(dk $cmd "$tmpl" | head -1 | tr -s ' ')
	[ "$a" = "$b" ] && pass "docker-same-$name" || fail "docker-same-$name" "strata [$a], docker [$b]"
}
same images-table "images --format" 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.Containers}}\t{{.SharedSize}}'
same_head images-titles "images --format" 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedAt}}\t{{.Size}}\t{{.VirtualSize}}\t{{.UniqueSize}}'
same images-functions "images --format" '{{upper .Repository}} {{lower "AB"}} {{title "ab cd"}} {{join (split "a:b:c" ":") ","}} {{len .Tag}} {{printf "%s-%5s|%q" .Tag .Repository .Tag}} {{.Repository | json}}'
same images-control "images --format" '{{range $i, $e := split .Repository "b"}}{{$i}}={{$e}},{{end}} {{if eq .Tag "1"}}one{{else}}other{{end}} {{- .Tag -}} x {{with .Digest}}{{.}}{{end}}'
same ps-table "ps -a --format" 'table {{.Names}}\t{{.Image}}\t{{.State}}\t{{.Status}}\t{{.Mounts}}\t{{.LocalVolumes}}\t{{.Labels}}\t{{.Ports}}'
same_head ps-titles "ps -a --format" 'table {{.ID}}\t{{.Command}}\t{{.CreatedAt}}\t{{.RunningFor}}\t{{.Networks}}\t{{.Names}}'
same volume-ls-table "volume ls --format" 'table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Labels}}\t{{.Links}}\t{{.Size}}'
same volume-inspect "volume inspect -f" '{{.Name}} {{.Driver}} {{.Scope}}' fmtvol
same_head df-titles "system df --format" 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}'
same inspect-container "inspect -f" '{{.State.Status}} {{json .Config.Cmd}} {{.Path}} {{.Args}} {{.State.Running}} {{.State.ExitCode}} {{range .Mounts}}{{.Name}} {{.Destination}} {{.RW}}{{end}}' fmtc
same inspect-image "inspect -f" '{{.Os}} {{.Architecture}} {{json .RepoTags}} {{index .RepoTags 0}} {{len .RepoTags}}' fmtbase:1
for k in "images --format" "ps -a --format" "volume ls --format"; do
	missing=$(python3 - "$(st $k '{{json .}}')" "$(dk $k '{{json .}}')" <<'PY'
import json, sys
ours, theirs = (json.loads(s.splitlines()[0]) for s in sys.argv[1:3])
print(" ".join(sorted(set(theirs) - set(ours) - {"Size"} if "Names" in theirs else set(theirs) - set(ours))))
PY
)
	[ -z "$missing" ] && pass "docker-same-fields-${k%% *}" || fail "docker-same-fields-${k%% *}" "docker has $missing"
done
# errors: Go's message, docker's wrapped in its "template parsing error: " prefix
for t in '{{.Nope}}' '{{.Id}} {{.Config.Nope}}' '{{.Id' '{{nope .Id}}' '{{if}}x{{end}}' '{{index .RepoTags 5}}'; do
	a=$(st inspect -f "$t" fmtbase:1 2>&1 >/dev/null | sed 's/^strata: error: //')
	b=$(dk inspect -f "$t" fmtbase:1 2>&1 >/dev/null | sed 's/^template parsing error: //')
	[ -n "$a" ] && [ "$a" = "$b" ] && pass "docker-same-error-$t" || fail "docker-same-error-$t" "strata [$a], docker [$b]"
done
exit $((fails > 0))
