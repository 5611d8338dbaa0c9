#!/bin/bash
# Containers on every driver that works here: copy-on-write isolation, diff,
# commit, exit codes, detached runs, stop, logs, rm leaving nothing behind,
# state that outlives the processes, volumes and binds.
. "$(dirname "$0")/lib.sh"

suite() {
	local d=$1 root=$2 out rc t
	make_base base || { fail "containers/$d/base" "import of the busybox base failed"; return; }
	local layers_before
	layers_before=$(st driver ls | awk 'NR > 1 {print $1}' | sort)

	t=containers/$d/diff_shows_writes_deletes_renames_of_lower_files
	st run --name c1 base sh -c 'echo new > /root/new.txt; rm /bin/vi; mv /etc/group /etc/group.old; mkdir -p /srv/d; echo x >> /etc/passwd' >/dev/null
	out=$(st diff c1)
	want=$(printf 'C /bin\nD /bin/vi\nC /etc\nD /etc/group\nA /etc/group.old\nC /etc/passwd\nC /root\nA /root/new.txt\nA /srv\nA /srv/d')
	[ "$out" = "$want" ] && pass $t || fail $t "diff is:
$out"

	t=containers/$d/image_layers_never_change
	[ "$(st run --rm base sh -c 'test -e /bin/vi && test -e /etc/group && ! test -e /root/new.txt && echo clean')" = clean ] &&
		pass $t || fail $t "the image shows a container's changes"

	t=containers/$d/commit_then_run_sees_the_changes
	st commit -m "from c1" c1 snap:1 >/dev/null &&
		out=$(st run --rm snap:1 sh -c 'cat /root/new.txt; test ! -e /bin/vi && echo no-vi; ls /etc/group*; tail -1 /etc/passwd') &&
		[ "$out" = "$(printf 'new\nno-vi\n/etc/group.old\nx')" ] &&
		st history snap:1 | grep -q 'from c1' && pass $t || fail $t "got: $out"

	t=containers/$d/two_containers_of_one_image_are_isolated
	st create --name ca base sh -c 'echo A > /shared; sleep 1; cat /shared' >/dev/null
	st create --name cb base sh -c 'echo B > /shared; sleep 1; cat /shared' >/dev/null
	st start ca >/dev/null && st start cb >/dev/null
	sleep 2.5
	[ "$(st logs ca)" = A ] && [ "$(st logs cb)" = B ] && pass $t || fail $t "a: $(st logs ca) b: $(st logs cb)"

	t=containers/$d/exit_code_comes_back
	st run --rm base sh -c 'exit 42'; rc=$?
	[ $rc = 42 ] && pass $t || fail $t "exit $rc, want 42"

	t=containers/$d/missing_command_is_a_clear_error
	out=$(st run --rm base /no/such/program 2>&1); rc=$?
	[ $rc -ne 0 ] && [[ $out == */no/such/program* ]] && pass $t || fail $t "exit $rc: $out"

	t=containers/$d/detached_stop_logs_ps
	local id
	id=$(st run -d --name sleeper base sh -c 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done')
	sleep 0.5
	if st ps | grep -q sleeper && [ "$(st ps -q)" = "${id:0:12}" ]; then
		st stop -t 5 sleeper >/dev/null
		out=$(st ps -a --format json | jq -r '.[] | select(.Names == "sleeper") | .Status')
		[[ $out == "Exited (0)"* ]] && [ "$(st logs sleeper)" = "$(printf 'started\nbye')" ] && pass $t ||
			fail $t "status $out, logs $(st logs sleeper)"
	else
		fail $t "ps does not show the running container: $(st ps -a)"
	fi

	t=containers/$d/rm_refuses_running_then_force_leaves_no_mount_or_layer
	st run -d --name busy base sleep 60 >/dev/null
	out=$(st rm busy 2>&1); rc=$?
	if [ $rc = 1 ] && [[ $out == *running* ]]; then
		for c in $(st ps -aq); do st rm -f "$c" >/dev/null; done
		local left
		left=$(st driver ls | awk 'NR > 1 {print $1}' | sort | comm -13 <(echo "$layers_before") - |
			grep -v -x -f <(st layer ls --format json | jq -r '.[].CacheID'))
		[ -z "$left" ] && [ -z "$(mounts_under "$root" | grep -v "/volumes/")" ] && [ -z "$(st ps -aq)" ] &&
			[ "$(ls "$root/containers" | grep -vc '^\.')" = 0 ] && pass $t ||
			fail $t "left: layers [$left], mounts [$(mounts_under "$root")]"
	else
		fail $t "rm of a running container: exit $rc: $out"
	fi

	t=containers/$d/process_dead_while_strata_away_shows_exited
	id=$(st run -d --name orphan base sleep 60)
	sleep 0.5
	# kill everything of it, monitor included, as a crash or reboot would
	# (by pid: other suites may run containers at the same time)
	local pid mon kids
	pid=$(st inspect orphan | jq -r '.[0].State.Pid')
	mon=$(ps -o ppid= -p "$pid" | tr -d ' ')
	kids=$(pgrep -P "$pid")
	kill -9 "$mon" "$pid" $kids $(for k in $kids; do pgrep -P "$k"; done) 2>/dev/null
	sleep 0.5
	out=$(st ps -a --format json | jq -r '.[] | select(.Names == "orphan") | .State')
	[ "$out" = exited ] && st rm orphan >/dev/null && pass $t || fail $t "state $out"

	t=containers/$d/named_volume_keeps_data_and_starts_with_image_content
	st run --rm -v vol1:/etc base sh -c 'test -f /etc/passwd && echo kept > /etc/mine' >/dev/null
	out=$(st run --rm -v vol1:/etc base cat /etc/mine 2>&1)
	[ "$out" = kept ] && st volume ls -q | grep -qx vol1 && pass $t || fail $t "got: $out"

	t=containers/$d/bind_mount_of_a_host_dir
	mkdir -p "$T/host-$d" && echo from-host > "$T/host-$d/f"
	out=$(st run --rm -v "$T/host-$d:/mnt/h:ro" base sh -c 'cat /mnt/h/f; (echo x > /mnt/h/g) 2>/dev/null || echo readonly')
	[ "$out" = "$(printf 'from-host\nreadonly')" ] && pass $t || fail $t "got: $out"

	t=containers/$d/export_is_the_merged_root
	id=$(st create base true)
	st export "$id" | tar -t > "$T/export-$d.txt" 2>/dev/null
	grep -qx 'bin/busybox' "$T/export-$d.txt" && grep -qx 'etc/passwd' "$T/export-$d.txt" && pass $t ||
		fail $t "export lacks files"
	st rm "$id" >/dev/null

	t=containers/$d/mount_prints_the_root
	id=$(st create base true)
	out=$(st mount "$id") && [ -x "$out/bin/busybox" ] && st umount "$id" && pass $t || fail $t "mount: $out"
	st rm "$id" >/dev/null

	# as Docker: no user named runs as 0:0 with HOME=/ even without /etc/passwd (FROM scratch);
	# numeric users need no passwd; a name the image does not have is a clear error (exit 125)
	t=containers/$d/image_without_passwd_runs_as_uid_0_numeric_users_work_names_are_clear_errors
	mkdir -p "$T/nopw-$d/bin" && cp "$T/rootfs/bin/busybox" "$T/nopw-$d/bin/" &&
		tar -C "$T/nopw-$d" -cf "$T/nopw-$d.tar" . && st import "$T/nopw-$d.tar" nopw >/dev/null
	out=$(st run --rm nopw /bin/busybox sh -c 'echo $(/bin/busybox id -u):$(/bin/busybox id -g):$HOME' 2>&1)
	local out2 out3 out4
	out2=$(st run --rm -u 1000:1000 nopw /bin/busybox id -u 2>&1)
	out3=$(st run --rm -u nobody nopw /bin/busybox true 2>&1); rc=$?
	out4=$(st run --rm -u 0:wheel nopw /bin/busybox true 2>&1)
	[ "$out" = "0:0:/" ] && [ "$out2" = 1000 ] && [ $rc = 125 ] &&
		[[ $out3 == *"unable to find user nobody: no matching entries in passwd file"* ]] &&
		[[ $out4 == *"unable to find group wheel: no matching entries in group file"* ]] && pass $t ||
		fail $t "default: $out; 1000:1000: $out2; nobody (rc $rc): $out3; 0:wheel: $out4"

	t=containers/$d/build_runs_in_an_image_without_passwd
	mkdir -p "$T/nopwctx-$d" && printf 'FROM nopw\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox id -u > /uid"]\n' >"$T/nopwctx-$d/Dockerfile"
	st build -t nopw2 "$T/nopwctx-$d" >"$T/nopwbuild-$d.log" 2>&1 &&
		out=$(st run --rm nopw2 /bin/busybox cat /uid) && [ "$out" = 0 ] && pass $t ||
		fail $t "$(tail -3 "$T/nopwbuild-$d.log") $out"
	st rmi nopw2 nopw >/dev/null 2>&1

	t=containers/$d/bad_input_gets_clear_errors
	out=$(st run --name 'bad name' base true 2>&1); rc=$?
	[ $rc = 1 ] && [[ $out == *"invalid container name"* ]] &&
		out=$(st run -v relative:dest base true 2>&1) && false || [[ $out == *"invalid volume specification"* ]] &&
		out=$(st rm nosuch 2>&1); [ $? = 1 ] && [[ $out == *"no such container"* ]] && pass $t || fail $t "$out"

	# as docker: a name is taken only by a name, not by an id that starts with it;
	# the name then wins over the id prefix when resolving
	t=containers/$d/a_name_that_is_an_id_prefix_is_free_and_resolves_to_its_container
	id=$(st create base true) && pfx=${id:0:4} &&
		out=$(st create --name "$pfx" base echo by-name) &&
		[ "$(st inspect "$pfx" | jq -r '.[0].Id')" = "$out" ] &&
		out2=$(st create --name "$pfx" base true 2>&1); rc=$?
	[ $rc = 1 ] && [[ $out2 == *"is already in use"* ]] && pass $t || fail $t "exit $rc: $out2"
	st rm "$id" "$pfx" >/dev/null 2>&1

	# containers/.names links names to ids; a store made before it (no .names)
	# is scanned, and indexed the first time a container is named
	t=containers/$d/names_of_a_store_without_the_name_index_stay_taken
	a=$(st create --name old-one base true) && rm -rf "$root/containers/.names" &&
		out=$(st create --name old-one base true 2>&1); rc=$?
	b=$(st create --name new-one base true) && [ "$(st inspect old-one | jq -r '.[0].Id')" = "$a" ] &&
		[ "$(readlink "$root/containers/.names/old-one")" = "$a" ] && [ -e "$root/containers/.names/.complete" ] &&
		st rm old-one new-one >/dev/null && [ ! -e "$root/containers/.names/old-one" ] &&
		[ $rc = 1 ] && [[ $out == *"is already in use"* ]] && pass $t || fail $t "exit $rc: $out"
}

command -v jq >/dev/null || { echo "SKIP containers: jq missing (scripts/deps.sh installs it)"; exit 0; }
command -v runc >/dev/null || { echo "SKIP containers: runc missing (scripts/deps.sh installs it)"; exit 0; }
for_each_driver suite
exit $((fails > 0))
