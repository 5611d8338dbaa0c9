#!/bin/bash
# Docker's list filters through the strata command, on a real store with
# busybox images built here: `strata images` (REPOSITORY[:TAG], --filter
# dangling / label / before / since / reference, same key ORs and different
# keys AND, -q, --no-trunc, --digests), `strata ps --filter` (status, name,
# id, label from the image and from --label, ancestor, exited), `strata
# volume create --label` and `volume ls --filter` (name, driver, label,
# dangling); unknown keys and values fail with docker's words, exit 1; and
# the image, volume and container filters list what a dockerd of our own
# lists for the same images, volumes and containers.
. "$(dirname "$0")/lib.sh"

ROOT=$T/store
DRIVER=vfs

# the names a listing shows, one line, in its order
col() { awk -v c="$1" 'NR > 1 {print $c}' | tr '\n' ' ' | sed 's/ $//'; }
# expect_err NAME CODE MESSAGE -- COMMAND...: exit code and stderr's last line
expect_err() {
	local t=$1 code=$2 want=$3 out rc
	shift 4
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne "$code" ] || [ "$(head -n 1 <<<"$out")" != "$want" ]; then
		fail "$t" "exit $rc (want $code): $out"
	else
		pass "$t"
	fi
}

make_base base || { fail setup "cannot import the busybox base"; exit 1; }
mkdir -p "$T/web" "$T/db"
printf 'FROM base\nLABEL tier=web owner=ops\nRUN echo web > /role\n' >"$T/web/Dockerfile"
printf 'FROM base\nLABEL tier=db\nRUN echo db > /role\n' >"$T/db/Dockerfile"
# one second apart: CREATED and the before/since order are plain to see
sleep 1
st build --network none -q -t web:1 "$T/web" >/dev/null || { fail setup "build web"; exit 1; }
st tag web:1 web:latest
sleep 1
st build --network none -q -t me/db:1 "$T/db" >/dev/null || { fail setup "build db"; exit 1; }
# a dangling image: its tag moved to a newer build
sleep 1
printf 'FROM base\nLABEL tier=db\nRUN echo db2 > /role\n' >"$T/db/Dockerfile"
OLD_DB=$(st inspect me/db:1 | jq -r '.[0].Id')
st build --network none -q -t me/db:1 "$T/db" >/dev/null || { fail setup "build db again"; exit 1; }
short() { local id=${1#sha256:}; echo "${id:0:12}"; }

# ---------------------------------------------------------------- images

t=images_lists_newest_first_one_row_per_tag
out=$(st images | col 1)
[ "$out" = "me/db <none> web web base" ] && pass $t || fail $t "repositories: $out / $(st images)"

t=images_filter_dangling_true_lists_only_untagged_images
out=$(st images -f dangling=true -q)
[ "$out" = "$(short "$OLD_DB")" ] && pass $t || fail $t "got: $out (want $(short "$OLD_DB"))"

t=images_filter_dangling_false_hides_untagged_images
out=$(st images --filter dangling=false | col 1)
[ "$out" = "me/db web web base" ] && pass $t || fail $t "got: $out"

t=images_filter_label_by_key_and_by_key_value
a=$(st images -f label=tier | col 1)
b=$(st images -f label=tier=web | col 1)
[ "$a" = "me/db <none> web web" ] && [ "$b" = "web web" ] && pass $t || fail $t "label=tier: $a; label=tier=web: $b"

t=images_several_label_filters_must_all_hold
a=$(st images -f label=tier=web -f label=owner=ops | col 1)
b=$(st images -f label=tier=db -f label=owner | col 1)
[ "$a" = "web web" ] && [ -z "$b" ] && pass $t || fail $t "web+owner: $a; db+owner: $b"

t=images_before_and_since_compare_creation_times
a=$(st images -f before=web:1 | col 1)
b=$(st images -f since=web:1 | col 1)
c=$(st images -f since=base -f before=me/db:1 | col 1)
if [ "$a" != base ] || [ "$b" != "me/db <none>" ] || [ "$c" != "<none> web web" ]; then
	fail $t "before=web:1: $a; since=web:1: $b; since=base,before=me/db:1: $c"
else
	pass $t
fi

t=images_reference_is_a_glob_on_name_and_tag
a=$(st images -f reference='web:l*' | col 2)
b=$(st images -f reference='*/*' | col 1)
c=$(st images -f reference='*' | col 1)
if [ "$a" != latest ] || [ "$b" != me/db ] || [ "$c" != "web web base" ]; then
	fail $t "web:l*: $a; */*: $b; *: $c"
else
	pass $t
fi

t=images_positional_repository_is_the_reference_filter
a=$(st images web | col 2)
b=$(st images web:1 | col 2)
[ "$a" = "1 latest" ] && [ "$b" = 1 ] && pass $t || fail $t "web: $a; web:1: $b"

t=images_same_key_ors_different_keys_and
a=$(st images -f reference=web -f reference=base | col 1)
b=$(st images -f reference=web -f reference=base -f label=tier | col 1)
[ "$a" = "web web base" ] && [ "$b" = "web web" ] && pass $t || fail $t "web|base: $a; (web|base)&label: $b"

t=images_quiet_prints_an_id_per_row_as_docker_no_trunc_the_full_id
# web:1 and web:latest are one image: docker's -q prints it once per tag
WEB=$(st inspect web:1 | jq -r '.[0].Id')
a=$(st images -q web | tr '\n' ' ')
b=$(st images -q --no-trunc web | sort -u)
c=$(st images --no-trunc web | col 3 | tr ' ' '\n' | sort -u)
if [ "$a" != "$(short "$WEB") $(short "$WEB") " ] || [ "$b" != "$WEB" ] || [ "$c" != "$WEB" ]; then
	fail $t "-q: $a; -q --no-trunc: $b; --no-trunc IMAGE ID: $c"
else
	pass $t
fi

t=images_digests_adds_a_digest_column_none_without_repo_digests
out=$(st images --digests base)
[ "$(head -n 1 <<<"$out" | tr -s ' ')" = "REPOSITORY TAG DIGEST IMAGE ID CREATED SIZE" ] &&
	[ "$(col 3 <<<"$out")" = "<none>" ] && pass $t || fail $t "got: $out"

expect_err images_unknown_filter_key_is_an_error "1" "strata: error: invalid filter 'colour'" -- st images -f colour=red
expect_err images_dangling_takes_true_or_false "1" "strata: error: invalid filter 'dangling=[maybe]'" -- st images -f dangling=maybe
expect_err images_before_an_image_that_does_not_exist "1" "strata: error: no such image: nothing:latest" -- st images -f before=nothing
expect_err images_filter_without_equals_is_a_usage_error "2" "strata: error: bad format of filter \"dangling\" (expected name=value)" -- st images -f dangling

# ---------------------------------------------------------------- ps

st run --name web-1 -l team=blue web:1 true >/dev/null 2>&1
st run --name db-1 me/db:1 sh -c 'exit 3' >/dev/null 2>&1
st create --name idle base true >/dev/null
st run -d --name runner base sleep 60 >/dev/null 2>&1

t=ps_without_all_lists_running_containers_only
out=$(st ps | awk 'NR > 1 {print $NF}')
[ "$out" = runner ] && pass $t || fail $t "names: $out / $(st ps)"

t=ps_filter_status_implies_all
a=$(st ps -f status=exited --format json | jq -r '[.[].Names] | sort | join(" ")')
b=$(st ps -f status=created --format json | jq -r '[.[].Names] | join(" ")')
c=$(st ps -f status=created -f status=running --format json | jq -r '[.[].Names] | sort | join(" ")')
if [ "$a" != "db-1 web-1" ] || [ "$b" != idle ] || [ "$c" != "idle runner" ]; then
	fail $t "exited: $a; created: $b; created|running: $c"
else
	pass $t
fi

t=ps_filter_name_is_a_regular_expression
a=$(st ps -a -f name='^web' --format json | jq -r '[.[].Names] | join(" ")')
b=$(st ps -a -f name='-1$' --format json | jq -r '[.[].Names] | sort | join(" ")')
c=$(st ps -a -f name='^/idle$' --format json | jq -r '[.[].Names] | join(" ")')
[ "$a" = web-1 ] && [ "$b" = "db-1 web-1" ] && [ "$c" = idle ] && pass $t || fail $t "^web: $a; -1\$: $b; ^/idle\$: $c"

t=ps_filter_id_by_prefix
ID=$(st ps -a --format json | jq -r '.[] | select(.Names == "db-1") | .ID')
out=$(st ps -a -q -f id="${ID:0:8}")
[ "$out" = "${ID:0:12}" ] && pass $t || fail $t "got: $out (want ${ID:0:12})"

t=ps_filter_label_sees_image_labels_and_run_labels
a=$(st ps -a -f label=tier=web --format json | jq -r '[.[].Names] | join(" ")')
b=$(st ps -a -f label=team=blue -f label=owner=ops --format json | jq -r '[.[].Names] | join(" ")')
c=$(st ps -a -f label=tier --format json | jq -r '[.[].Names] | sort | join(" ")')
[ "$a" = web-1 ] && [ "$b" = web-1 ] && [ "$c" = "db-1 web-1" ] && pass $t || fail $t "tier=web: $a; team+owner: $b; tier: $c"

t=ps_filter_ancestor_takes_images_built_on_it
a=$(st ps -a -f ancestor=base --format json | jq -r '[.[].Names] | sort | join(" ")')
b=$(st ps -a -f ancestor=web:1 --format json | jq -r '[.[].Names] | join(" ")')
c=$(st ps -a -f ancestor="$(st inspect web:1 | jq -r '.[0].Id')" -q | wc -l)
d=$(st ps -a -f ancestor=nothing -q | wc -l)
if [ "$a" != "db-1 idle runner web-1" ] || [ "$b" != web-1 ] || [ "$c" != 1 ] || [ "$d" != 0 ]; then
	fail $t "base: $a; web:1: $b; by id: $c; unknown: $d"
else
	pass $t
fi

t=ps_filter_exited_by_exit_code
a=$(st ps -a -f exited=3 --format json | jq -r '[.[].Names] | join(" ")')
b=$(st ps -a -f exited=0 --format json | jq -r '[.[].Names] | join(" ")')
c=$(st ps -f exited=3 -q | wc -l)
[ "$a" = db-1 ] && [ "$b" = web-1 ] && [ "$c" = 0 ] && pass $t || fail $t "exited=3: $a; exited=0: $b; without -a: $c"

expect_err ps_unknown_filter_key_is_an_error 1 "strata: error: invalid filter 'colour'" -- st ps -f colour=red
expect_err ps_unknown_status_is_an_error 1 "strata: error: invalid filter 'status=sleeping'" -- st ps -f status=sleeping

st stop runner >/dev/null 2>&1

# ---------------------------------------------------------------- volumes

t=volume_create_labels_show_in_inspect
st volume create --label tier=web --label backup web-data >/dev/null
st volume create --label tier=db db-data >/dev/null
st volume create plain >/dev/null
a=$(st volume inspect web-data | jq -c '.[0].Labels')
b=$(st volume inspect plain | jq -c '.[0].Labels')
[ "$a" = '{"tier":"web","backup":""}' ] && [ "$b" = '{}' ] && pass $t || fail $t "web-data: $a; plain: $b"

t=volume_ls_filter_label_name_driver
a=$(st volume ls -q -f label=tier | tr '\n' ' ')
b=$(st volume ls -q -f label=tier=web -f label=backup | tr '\n' ' ')
c=$(st volume ls -q -f name=data -f name=^pl | tr '\n' ' ')
d=$(st volume ls -q -f driver=local -f name=db | tr '\n' ' ')
e=$(st volume ls -q -f driver=loc | wc -l)
if [ "$a" != "db-data web-data " ] || [ "$b" != "web-data " ] || [ "$c" != "db-data plain web-data " ] ||
	[ "$d" != "db-data " ] || [ "$e" != 0 ]; then
	fail $t "label=tier: $a; tier=web+backup: $b; names: $c; local+db: $d; driver=loc: $e"
else
	pass $t
fi

t=volume_ls_filter_dangling_sees_containers_using_a_volume
st create --name holder -v db-data:/data base true >/dev/null
a=$(st volume ls -q -f dangling=true | tr '\n' ' ')
b=$(st volume ls -q -f dangling=false | tr '\n' ' ')
[ "$a" = "plain web-data " ] && [ "$b" = "db-data " ] && pass $t || fail $t "dangling: $a; in use: $b"

expect_err volume_ls_unknown_filter_key_is_an_error 1 "strata: error: invalid filter 'scope'" -- st volume ls -f scope=local
expect_err volume_ls_dangling_takes_true_or_false 1 "strata: error: invalid filter 'dangling=[maybe]'" -- st volume ls -f dangling=maybe

for c in $(st ps -aq); do st rm -f "$c" >/dev/null 2>&1; done

# ------------------------------------------------- the same images in dockerd

# strata's images saved and loaded into a dockerd of our own (same ids, tags
# and creation times): every image filter lists the same repo:tag rows
t=image_filters_list_what_dockerd_lists
DOCKER=/usr/bin/docker
if ! command -v dockerd >/dev/null || [ ! -x "$DOCKER" ]; then
	skip $t "dockerd is not installed (docker.io)"
else
	DR=$T/docker
	mkdir -p "$DR/root" "$DR/run"
	dockerd --data-root "$DR/root" --exec-root "$DR/run/exec" --pidfile "$DR/run/docker.pid" \
		-H "unix://$DR/run/docker.sock" --storage-driver vfs --iptables=false --ip6tables=false \
		--bridge=none --ip-masq=false --userland-proxy=false >"$DR/dockerd.log" 2>&1 &
	DPID=$!
	d() { "$DOCKER" -H "unix://$DR/run/docker.sock" "$@"; }
	ours_images() { st images "$@" --format json | jq -r '.[] | .Repository + ":" + .Tag'; }
	their_images() { d images "$@" --format '{{.Repository}}:{{.Tag}}'; }
	ours_volumes() { st volume ls -q "$@"; }
	their_volumes() { d volume ls -q "$@"; }
	ours_ps() { st ps -a "$@" --format json | jq -r '.[].Names'; }
	their_ps() { d ps -a "$@" --format '{{.Names}}'; }
	# differ OURS THEIRS FILTERS...: each FILTERS (space-separated KEY=VALUE)
	# given to both listings; what they list differently
	differ() {
		local ours=$1 theirs=$2 fl f a b
		shift 2
		for fl in "$@"; do
			local args=()
			for f in $fl; do args+=(-f "$f"); done
			a=$($ours "${args[@]}" | sort)
			b=$($theirs "${args[@]}" | sort)
			[ "$a" = "$b" ] || echo -n "[$fl: strata $(echo $a), dockerd $(echo $b)] "
		done
	}
	for _ in $(seq 1 100); do d version >/dev/null 2>&1 && break; sleep 0.2; done
	if ! d version >/dev/null 2>&1; then
		skip $t "dockerd does not start here: $(tail -n 1 "$DR/dockerd.log")"
	elif ! st save -o "$T/all.tar" web:1 web:latest me/db:1 base "$OLD_DB" >/dev/null 2>&1 ||
		! d load -i "$T/all.tar" >/dev/null 2>&1; then
		fail $t "save / docker load: $(d load -i "$T/all.tar" 2>&1 | tail -n 1)"
	else
		bad=$(differ ours_images their_images "dangling=true" "dangling=false" "label=tier" "label=tier=web" \
			"label=tier=db label=owner" "before=web:1" "since=web:1" "since=base before=me/db:1" "reference=*" \
			"reference=*/*" "reference=web reference=base" "reference=web* label=owner=ops")
		[ -z "$bad" ] && pass $t || fail $t "$bad"

		t=volume_filters_list_what_dockerd_lists
		d volume create --label tier=web --label backup web-data >/dev/null
		d volume create --label tier=db db-data >/dev/null
		d volume create plain >/dev/null
		d create --name holder -v db-data:/data base true >/dev/null
		st create --name holder -v db-data:/data base true >/dev/null
		bad=$(differ ours_volumes their_volumes "dangling=true" "dangling=false" "label=tier" \
			"label=tier=web label=backup" "name=data name=^pl" "driver=local name=db" "driver=loc")
		[ -z "$bad" ] && pass $t || fail $t "$bad"

		# (not ancestor=base: dockerd knows an image's ancestors from the parent
		# links of its own builds, which a load does not bring; strata from the
		# layers, as ps_filter_ancestor_takes_images_built_on_it shows)
		t=ps_filters_list_what_dockerd_lists
		st rm -f holder >/dev/null 2>&1
		d rm -f holder >/dev/null 2>&1
		for e in st d; do
			$e run --network none --name web-1 -l team=blue web:1 true >/dev/null 2>&1
			$e run --network none --name db-1 me/db:1 sh -c 'exit 3' >/dev/null 2>&1
			$e create --network none --name idle base true >/dev/null 2>&1
		done
		if [ "$(d ps -aq | wc -l)" != 3 ]; then
			skip $t "dockerd cannot run containers here: $(d run --network none --rm base true 2>&1 | tail -n 1)"
		else
			bad=$(differ ours_ps their_ps "status=exited" "status=created" "status=created status=exited" \
				"exited=3" "exited=0" "label=tier" "label=team=blue label=owner=ops" "name=-1$" "ancestor=web:1" \
				"ancestor=me/db:1 status=exited")
			[ -z "$bad" ] && pass $t || fail $t "$bad"
		fi
		d rm -f web-1 db-1 idle >/dev/null 2>&1
	fi
	kill "$DPID" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$DPID" 2>/dev/null && kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
fi
exit $((fails > 0))
