#!/bin/bash
# examples/flask for real: a debootstrap'd Debian base, apt-get inside RUN
# (host network), app1 then app2 sharing the base and both RUN layers, and
# the Flask server answering over HTTP. Slow (downloads from deb.debian.org).
. "$(dirname "$0")/lib.sh"
ROOT=$T/store
export STRATA_CACHE=${STRATA_CACHE:-$TOP/tests/cache}

t=flask/debian_base_from_debootstrap
if ! command -v debootstrap >/dev/null; then
	skip $t "debootstrap missing (scripts/deps.sh installs it)"; exit 0
fi
if ! STRATA="$BIN --root $ROOT" "$TOP/examples/flask/debian-base.sh" debian-base >"$T/base.log" 2>&1; then
	if grep -qiE 'could not resolve|failed to download|unable to fetch|connection' "$T/base.log"; then
		skip $t "no route to deb.debian.org: $(tail -1 "$T/base.log")"; exit 0
	fi
	fail $t "$(tail -3 "$T/base.log")"; exit 1
fi
pass $t

t=flask/app1_builds_with_apt_get_inside_run
st build -t app1 "$TOP/examples/flask/app1" >"$T/app1.log" 2>&1 && pass $t || { fail $t "$(tail -5 "$T/app1.log")"; exit 1; }

t=flask/app2_reuses_base_and_both_apt_layers
st build -t app2 "$TOP/examples/flask/app2" >"$T/app2.log" 2>&1
hits=$(grep -c -- '---> Using cache' "$T/app2.log")
l1=$(st history --format json app1 | jq -r '[.[] | select(.Layer != "") | .Layer] | reverse | .[0:3] | join(" ")')
l2=$(st history --format json app2 | jq -r '[.[] | select(.Layer != "") | .Layer] | reverse | .[0:3] | join(" ")')
[ "$hits" = 2 ] && [ "$l1" = "$l2" ] && [ -n "$l1" ] && pass $t || fail $t "$hits cache hits (want 2); layers '$l1' vs '$l2'"

t=flask/apps_serve_http
port1=$((20000 + RANDOM % 20000)) port2=$((port1 + 1))
st run -d --name web1 -e FLASK_RUN_PORT=$port1 app1 >/dev/null
st run -d --name web2 -e FLASK_RUN_PORT=$port2 app2 >/dev/null
ok=0
for _ in $(seq 50); do
	a=$(curl -s "127.0.0.1:$port1/") b=$(curl -s "127.0.0.1:$port2/")
	[ "$a" = "Hello from app1" ] && [ "$b" = "Hello from app2" ] && { ok=1; break; }
	sleep 0.2
done
[ $ok = 1 ] && pass $t || fail $t "app1 said '${a:-}', app2 said '${b:-}'; logs: $(st logs web1 2>&1 | tail -2)"
st rm -f web1 web2 >/dev/null
exit $((fails > 0))
