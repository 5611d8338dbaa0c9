#!/bin/bash
# The builder on every driver that works here: the layer reuse of two
# Dockerfiles sharing their first steps, cache hits and misses, RUN through
# runc (exit codes, env, workdir, user, failures leave nothing), multi-stage,
# .dockerignore, ARG, ADD of archives, metadata steps, rmi.
. "$(dirname "$0")/lib.sh"

ctx() { # ctx NAME: a fresh build context directory
	rm -rf "$T/ctx/$1"
	mkdir -p "$T/ctx/$1"
	echo "$T/ctx/$1"
}

# the layers of an image, bottom first (short chain ids)
layers_of() { st history --format json "$1" | jq -r '[.[] | select(.Layer != "") | .Layer] | reverse | .[]'; }

store_state() { # what must not change after a failed build
	{ st layer ls -q; st driver ls | awk 'NR > 1 {print $1}'; st images -q; } | sort
}

suite() {
	local d=$1 c out
	make_base base || { fail "build/$d/base" "import of the busybox base failed"; return; }

	# -- two images sharing their first steps
	local a1 a2
	a1=$(ctx app1) a2=$(ctx app2)
	cat > "$a1/Dockerfile" <<-'EOF'
		FROM base
		RUN mkdir -p /usr/lib/app && head -c 100000 /dev/urandom > /usr/lib/app/runtime.bin
		RUN echo installed > /usr/lib/app/second
		COPY . /opt/source-code
		ENTRYPOINT FLASK_APP=/opt/source-code/app.py sh -c 'echo serving $FLASK_APP'
	EOF
	echo app1 > "$a1/app.py"
	sed 's|COPY . /opt/source-code|COPY app2.py /opt/source-code/|; s|app.py sh|app2.py sh|' "$a1/Dockerfile" > "$a2/Dockerfile"
	echo app2 > "$a2/app2.py"
	local t=build/$d/second_image_reuses_base_and_both_run_layers
	if st build -t app1 "$a1" >"$T/b1.log" 2>&1 && st build -t app2 "$a2" >"$T/b2.log" 2>&1; then
		local l1 l2
		l1=$(layers_of app1 | head -3 | tr '\n' ' ') l2=$(layers_of app2 | head -3 | tr '\n' ' ')
		if [ "$(grep -c -- '---> Using cache' "$T/b2.log")" = 2 ] && [ "$l1" = "$l2" ] &&
			[ "$(layers_of app1 | sed -n 4p)" != "$(layers_of app2 | sed -n 4p)" ] &&
			[ "$(st layer ls -q | wc -l)" = 5 ]; then
			pass $t
		else
			fail $t "cache hits $(grep -c -- '---> Using cache' "$T/b2.log") (want 2), layers '$l1' vs '$l2', $(st layer ls -q | wc -l) layers in the store (want 5)"
		fi
	else
		fail $t "build failed: $(tail -3 "$T/b1.log" "$T/b2.log")"
	fi

	t=build/$d/run_layer_holds_only_what_the_step_changed
	# not the directories its mount points (/etc/hosts, /proc, ...) touched
	rm -rf "$T/saved" && mkdir -p "$T/saved" && st save app1 | tar -C "$T/saved" -xf - &&
		out=$(tar -tf "$T/saved/$(jq -r '.[0].Layers[2]' "$T/saved/manifest.json")" | sed 's|^\./||' | sort | tr '\n' ' ') &&
		[ "$out" = "usr/ usr/lib/ usr/lib/app/ usr/lib/app/second " ] && pass $t || fail $t "layer holds: $out"

	t=build/$d/run_of_built_images_prints_entrypoint
	out=$(st run --rm app1 2>&1) && [ "$out" = "serving /opt/source-code/app.py" ] &&
		out=$(st run --rm app2 2>&1) && [ "$out" = "serving /opt/source-code/app2.py" ] &&
		pass $t || fail $t "got: $out"

	t=build/$d/metadata_steps_are_0B_history_rows
	out=$(st history --format json app1)
	[ "$(echo "$out" | jq length)" = 5 ] && [ "$(echo "$out" | jq '.[0].Size')" = 0 ] &&
		[ "$(echo "$out" | jq '.[0].EmptyLayer')" = true ] && [ "$(echo "$out" | jq '.[1].Size')" -gt 0 ] &&
		st history app1 | grep -q 'ENTRYPOINT' && pass $t || fail $t "$out"

	t=build/$d/rebuild_is_fully_cached_same_image_id
	local id1
	id1=$(st inspect app1 | jq -r '.[0].Id')
	st build -t app1 "$a1" >"$T/b3.log" 2>&1 && [ "$(grep -c -- '---> Using cache' "$T/b3.log")" = 4 ] &&
		[ "$(st inspect app1 | jq -r '.[0].Id')" = "$id1" ] && pass $t ||
		fail $t "$(grep -c -- '---> Using cache' "$T/b3.log") cache hits, want 4"

	t=build/$d/changed_copied_file_rebuilds_only_that_step_and_after
	echo "app1 v2" > "$a1/app.py"
	st build -t app1 "$a1" >"$T/b4.log" 2>&1 && [ "$(grep -c -- '---> Using cache' "$T/b4.log")" = 2 ] &&
		[ "$(st run --rm --entrypoint cat app1 /opt/source-code/app.py)" = "app1 v2" ] && pass $t ||
		fail $t "$(grep -c -- '---> Using cache' "$T/b4.log") cache hits, want 2"

	t=build/$d/no_cache_uses_no_cache
	st build --no-cache -t app2 "$a2" >"$T/b5.log" 2>&1 && ! grep -q 'Using cache' "$T/b5.log" && pass $t ||
		fail $t "$(tail -2 "$T/b5.log")"

	# -- RUN semantics
	c=$(ctx run)
	cat > "$c/Dockerfile" <<-'EOF'
		FROM base
		ENV GREETING="hello world" OTHER=x
		WORKDIR /srv/app
		RUN echo "$GREETING" > greeting && pwd > where
		RUN echo 'alice:x:1234:1234::/home/alice:/bin/sh' >> /etc/passwd
		USER alice
		RUN id -u > /tmp/uid && touch /tmp/by-alice
		USER root
		CMD ["cat", "/srv/app/greeting"]
	EOF
	t=build/$d/run_sees_env_workdir_user
	if st build -t runtest "$c" >"$T/r.log" 2>&1; then
		[ "$(st run --rm runtest)" = "hello world" ] &&
			[ "$(st run --rm runtest cat /srv/app/where)" = /srv/app ] &&
			[ "$(st run --rm runtest cat /tmp/uid)" = 1234 ] &&
			[ "$(st run --rm runtest stat -c %u /tmp/by-alice)" = 1234 ] && pass $t || fail $t "wrong env/workdir/user results"
	else
		fail $t "$(tail -3 "$T/r.log")"
	fi

	t=build/$d/failing_run_stops_with_its_code_and_leaves_nothing
	c=$(ctx fail)
	printf 'FROM base\nRUN echo partial > /partial && echo oops >&2 && exit 7\nRUN echo never\n' > "$c/Dockerfile"
	local before after
	before=$(store_state)
	out=$(st build -t failing "$c" 2>&1); rc=$?
	after=$(store_state)
	if [ $rc = 1 ] && [[ $out == *"returned a non-zero code: 7"* ]] && [[ $out == *oops* ]] &&
		[[ $out != *never* ]] && [ "$before" = "$after" ] && ! st images | grep -q failing; then
		pass $t
	else
		fail $t "exit $rc, store changed: $([ "$before" = "$after" ] && echo no || echo yes), output: $(echo "$out" | tail -3)"
	fi

	t=build/$d/network_none_has_only_loopback
	c=$(ctx net)
	printf 'FROM base\nRUN ls /sys/class/net | sort | tr "\\n" " " > /nets\n' > "$c/Dockerfile"
	st build --network none -t nonet "$c" >/dev/null 2>&1 &&
		[ "$(st run --rm nonet cat /nets)" = "lo " ] && pass $t || fail $t "$(st run --rm nonet cat /nets 2>&1)"

	# -- multi-stage, ARG, .dockerignore, ADD
	c=$(ctx multi)
	cat > "$c/Dockerfile" <<-'EOF'
		ARG VARIANT=plain
		FROM base AS builder
		ARG VARIANT
		RUN mkdir /out && echo "built $VARIANT" > /out/artifact && echo junk > /out/junk
		FROM base
		COPY --from=builder /out/artifact /app/artifact
		COPY . /ctx/
		ADD bundle.tar.gz /unpacked/
		ARG FLAVOR=vanilla
		RUN echo "$FLAVOR" > /app/flavor
	EOF
	mkdir -p "$c/inc" "$c/secret"
	echo keep > "$c/inc/keep.txt"
	echo key > "$c/secret/key"
	echo drop > "$c/drop.log"
	printf 'secret\n*.log\n' > "$c/.dockerignore"
	mkdir -p "$T/bundle/sub" && echo inside > "$T/bundle/sub/file" && tar -C "$T/bundle" -czf "$c/bundle.tar.gz" .
	t=build/$d/multi_stage_arg_dockerignore_add
	if st build --build-arg VARIANT=fancy --build-arg FLAVOR=mint -t multi "$c" >"$T/m.log" 2>&1; then
		out=$(st run --rm multi sh -c 'cat /app/artifact /app/flavor /unpacked/sub/file; ls /ctx | tr "\n" " "; ls /app | tr "\n" " "')
		want=$(printf 'built fancy\nmint\ninside\nDockerfile bundle.tar.gz inc artifact flavor ')
		[ "$out" = "$want" ] && pass $t || fail $t "got: $out"
	else
		fail $t "$(tail -3 "$T/m.log")"
	fi

	t=build/$d/target_stops_at_stage
	st build --target builder -t onlybuilder "$c" >/dev/null 2>&1 &&
		[ "$(st run --rm onlybuilder cat /out/artifact)" = "built plain" ] && pass $t || fail $t "target build"

	t=build/$d/metadata_instructions_set_the_config
	c=$(ctx meta)
	cat > "$c/Dockerfile" <<-'EOF'
		FROM base
		LABEL org.example.team="storage" version=2
		EXPOSE 80 8000-8001/udp
		VOLUME ["/data"]
		STOPSIGNAL SIGINT
		HEALTHCHECK --interval=30s --retries=3 CMD wget -q -O- localhost || exit 1
		SHELL ["/bin/sh", "-ec"]
		ONBUILD RUN echo triggered > /tmp/onbuild
		USER daemon
		CMD ["true"]
	EOF
	if st build -t meta "$c" >"$T/meta.log" 2>&1; then
		out=$(st inspect meta | jq -c '.[0].Config | [.Labels["org.example.team"], .Labels.version, (.ExposedPorts | keys), (.Volumes | keys), .StopSignal, .Healthcheck.Interval, .Healthcheck.Retries, .Healthcheck.Test[0], .Shell, .OnBuild, .User, .Cmd]')
		want='["storage","2",["80/tcp","8000/udp","8001/udp"],["/data"],"SIGINT",30000000000,3,"CMD-SHELL",["/bin/sh","-ec"],["RUN echo triggered > /tmp/onbuild"],"daemon",["true"]]'
		[ "$out" = "$want" ] && pass $t || fail $t "config is $out"
	else
		fail $t "$(tail -3 "$T/meta.log")"
	fi

	t=build/$d/onbuild_triggers_run_in_the_child_build
	c=$(ctx child)
	printf 'FROM meta\nUSER root\nRUN cat /tmp/onbuild\n' > "$c/Dockerfile"
	if st build -t child "$c" >"$T/child.log" 2>&1; then
		[ "$(st run --rm child cat /tmp/onbuild)" = triggered ] && grep -q 'Executing 1 build trigger' "$T/child.log" &&
			[ "$(st inspect child | jq -c '.[0].Config.OnBuild')" = null ] && pass $t || fail $t "$(tail -3 "$T/child.log")"
	else
		fail $t "$(tail -3 "$T/child.log")"
	fi

	t=build/$d/syntax_error_names_file_and_line
	c=$(ctx bad)
	printf 'FROM base\nRUN true\nCOPY onlyone\n' > "$c/Dockerfile"
	out=$(st build "$c" 2>&1); rc=$?
	[ $rc = 1 ] && [[ $out == *Dockerfile:3* ]] && [[ $out == *COPY* ]] && pass $t || fail $t "exit $rc: $out"

	# -- images and rmi
	t=build/$d/rmi_refused_while_a_container_uses_it_then_frees_layers
	st create --name holder app2 >/dev/null
	out=$(st rmi app2 2>&1); rc=$?
	if [ $rc = 1 ] && [[ $out == *holder* ]]; then
		st rm holder >/dev/null
		local nl
		nl=$(st layer ls -q | wc -l)
		st rmi app2 >/dev/null && [ "$(st layer ls -q | wc -l)" -le "$nl" ] && ! st images | grep -q '^app2 ' &&
			pass $t || fail $t "rmi after rm"
	else
		fail $t "rmi with a container: exit $rc: $out"
	fi

	t=build/$d/tag_and_inspect
	st tag app1 app1:v1 && st images | grep -qE '^app1 +v1 ' &&
		[ "$(st inspect app1:v1 | jq -r '.[0].Id')" = "$(st inspect app1 | jq -r '.[0].Id')" ] &&
		[ "$(st inspect app1 | jq -r '.[0].RootFS.diff_ids | length')" = 4 ] && pass $t || fail $t "tag/inspect"
}

command -v jq >/dev/null || { echo "SKIP build: jq missing (scripts/deps.sh installs it)"; exit 0; }
for_each_driver suite
exit $((fails > 0))
