# Concurrency torture (sourced by tests/integration/concurrency.sh, after
# lib.sh).
#
# concurrency_driver DRIVER ROOT SECONDS: four processes build images that
# share base layers (the same FROM, the same first COPY, hence the same
# cached layers) while a fifth removes images and prunes, for SECONDS.
# Every command runs under `timeout` with STRATA_LOCK_TIMEOUT set: a lock
# wait ends in "store busy", never in a hang. Required:
#   - no command hangs (a timeout is a deadlock);
#   - every build that succeeds gives an image that runs with the right
#     content (unless the remover took it first: "no such image");
#   - failures are only the ones concurrency explains (store busy; an
#     image or layer removed meanwhile), listed by kind;
#   - `system check` run meanwhile finds nothing wrong in what the others
#     are doing, and afterwards nothing at all; every layer reads back byte
#     for byte.

export STRATA_LOCK_TIMEOUT=${STRATA_LOCK_TIMEOUT:-20}
CONC_CMD_TIMEOUT=120

# Run strata with a deadline; 124 means it hung.
c_st() { timeout -k 5 "$CONC_CMD_TIMEOUT" "$BIN" --root "$ROOT" --storage-driver "$DRIVER" "$@"; }

# What kind of failure a message is: an expected effect of the other
# processes, or not.
c_kind() { # MESSAGE
	case $1 in
	*"store busy"*) echo busy ;;
	*"no such image"* | *"no such container"* | *"does not exist"* | *"is being removed"* | *"is being created"*)
		echo removed-meanwhile ;;
	*"is using it"* | *"in use"*) echo in-use ;;
	*) echo unexpected ;;
	esac
}

c_builder() { # WORKER DEADLINE DIR
	local w=$1 deadline=$2 dir=$3 n=0 out rc id
	while ((SECONDS < deadline)); do
		n=$((n + 1))
		local ctx=$dir/w$w
		mkdir -p "$ctx/mine"
		echo "w$w-$n" >"$ctx/mine/id"
		cp -r "$dir/shared" "$ctx/" 2>/dev/null
		if ((n % 3 == 0)); then
			printf 'FROM base\nCOPY shared /shared\nCOPY mine /mine\nRUN cat /mine/id > /id\n' >"$ctx/Dockerfile"
		else
			printf 'FROM base\nCOPY shared /shared\nCOPY mine /mine\nRUN true\nCOPY mine/id /id\n' >"$ctx/Dockerfile"
			# RUN true: a cache hit after the first time, never run again
		fi
		out=$(c_st build -q -t "cw$w:$n" "$ctx" 2>&1); rc=$?
		if [ $rc = 124 ] || [ $rc = 137 ]; then
			echo "HANG build w$w-$n"
			continue
		fi
		if [ $rc != 0 ]; then
			echo "BUILDFAIL $(c_kind "$out") w$w-$n: ${out//$'\n'/ }"
			continue
		fi
		id=${out##*$'\n'}
		out=$(c_st run --rm "$id" cat /id /shared/marker 2>&1); rc=$?
		if [ $rc = 124 ] || [ $rc = 137 ]; then
			echo "HANG run w$w-$n"
		elif [ $rc = 0 ] && [ "$out" = "$(printf 'w%s-%s\nshared' "$w" "$n")" ]; then
			echo "BUILT w$w-$n"
		elif [ $rc != 0 ] && [ "$(c_kind "$out")" != unexpected ]; then
			echo "GONE w$w-$n ($(c_kind "$out"))"
		else
			echo "WRONG w$w-$n exit $rc: ${out//$'\n'/ }"
		fi
	done
}

c_remover() { # DEADLINE
	local deadline=$1 n=0 out rc img
	while ((SECONDS < deadline)); do
		n=$((n + 1))
		img=$(c_st images --format json 2>/dev/null | jq -r '.[] | "\(.Repository):\(.Tag)"' | grep '^cw' | shuf -n 1)
		if [ -n "$img" ]; then
			out=$(c_st rmi "$img" 2>&1); rc=$?
			[ $rc = 124 ] && echo "HANG rmi $img"
			[ $rc != 0 ] && [ $rc != 124 ] && echo "RMFAIL $(c_kind "$out"): ${out//$'\n'/ }"
			[ $rc = 0 ] && echo "REMOVED $img"
		fi
		case $((n % 4)) in
		0) out=$(c_st system prune -f 2>&1); rc=$? ;;
		2) out=$(c_st system prune -af 2>&1); rc=$? ;;
		1)
			# what running builds do is no problem to a check
			out=$(c_st system check 2>&1); rc=$?
			if [ $rc = 1 ] && [[ $out != *"store busy"* ]]; then
				echo "CHECKFAIL ${out//$'\n'/ | }"
				rc=0
			fi
			;;
		3)
			# nor does --repair touch it
			out=$(c_st system check --repair 2>&1); rc=$?
			if [[ $out == *"repaired"* ]] || { [ $rc = 1 ] && [[ $out != *"store busy"* ]]; }; then
				echo "CHECKFAIL (repair) ${out//$'\n'/ | }"
				rc=0
			fi
			;;
		esac
		[ $rc = 124 ] && echo "HANG prune"
		[ $rc != 0 ] && [ $rc != 124 ] && echo "PRUNEFAIL $(c_kind "$out"): ${out//$'\n'/ }"
		sleep 0.2
	done
}

concurrency_driver() { # DRIVER ROOT SECONDS
	local d=$1 secs=$3 dir=$T/conc-$d t
	mkdir -p "$dir/shared"
	for i in $(seq 1 200); do echo "$i" >"$dir/shared/f$i"; done
	echo shared >"$dir/shared/marker"
	make_base base || { fail "concurrency/$d/setup" "import of the busybox base failed"; return; }
	# the base stays: a running container uses it (prune -a keeps it)
	st run -d --name keeper base sleep 100000 >/dev/null || { fail "concurrency/$d/setup" "keeper container"; return; }
	local deadline=$((SECONDS + secs)) pids=()
	for w in 1 2 3 4; do
		c_builder $w $deadline "$dir" >"$dir/w$w.log" 2>&1 &
		pids+=($!)
	done
	c_remover $deadline >"$dir/remover.log" 2>&1 &
	pids+=($!)
	wait "${pids[@]}"
	cat "$dir"/w*.log "$dir/remover.log" >"$dir/all.log"
	local built gone wrong hangs unexpected
	built=$(grep -c '^BUILT' "$dir/all.log")
	gone=$(grep -c '^GONE' "$dir/all.log")
	wrong=$(grep -c '^WRONG' "$dir/all.log")
	hangs=$(grep -c '^HANG' "$dir/all.log")
	unexpected=$(grep -c 'FAIL unexpected' "$dir/all.log")
	echo "concurrency/$d: $built builds ran right, $gone removed before their run, $(grep -c '^REMOVED' "$dir/all.log") rmi," \
		"failures by kind: $(grep -o 'FAIL [a-z-]*' "$dir/all.log" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"

	t=concurrency/$d/no-command-hangs
	[ "$hangs" = 0 ] && pass $t || fail $t "$(grep '^HANG' "$dir/all.log" | head -5)"
	t=concurrency/$d/every-successful-build-runs-right
	if [ "$wrong" = 0 ] && [ "$built" -gt 0 ]; then pass $t; else fail $t "$built right; $(grep '^WRONG' "$dir/all.log" | head -5)"; fi
	t=concurrency/$d/failures-are-only-what-concurrency-explains
	[ "$unexpected" = 0 ] && pass $t || fail $t "$(grep 'FAIL unexpected' "$dir/all.log" | head -5)"
	t=concurrency/$d/check-finds-nothing-wrong-while-builds-run
	if [ "$(grep -c '^CHECKFAIL' "$dir/all.log")" = 0 ]; then
		pass $t
	else
		fail $t "$(grep '^CHECKFAIL' "$dir/all.log" | head -3)"
		echo "what else went on (the workers' failures):"
		grep -v '^BUILT\|^REMOVED\|^CHECKFAIL' "$dir/all.log" | head -20 | sed 's/^/    /'
	fi
	t=concurrency/$d/store-checks-clean-afterwards
	local out
	out=$(st system check 2>&1) && pass $t || fail $t "$out"
	t=concurrency/$d/every-layer-reads-back
	local bad=0 chain diff
	while read -r chain diff; do
		[ "sha256:$(st layer export "$chain" | sha256sum | cut -d' ' -f1)" = "$diff" ] || bad=$((bad + 1))
	done < <(st layer ls --format json | jq -r '.[] | "\(.ChainID) \(.DiffID)"')
	[ $bad = 0 ] && pass $t || fail $t "$bad layers do not match their diff ids"
	st rm -f keeper >/dev/null 2>&1
}
