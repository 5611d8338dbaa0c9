#!/bin/bash
# Volume plugins: the Docker VolumeDriver protocol against a real plugin
# process (tests/plugins/volume_plugin.py on a unix socket): discovery by
# socket and by spec file, activation with retry, the create / mount /
# unmount / path / get / list / remove round trip, and plugins that return
# errors, hang, or send malformed JSON (clear errors in bounded time,
# nothing lost). Then a C plugin loaded from a shared object.
set -u
cd "$(dirname "$0")/../.."
SRC=$PWD
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-vol-plugin-XXXXXX")
R=$T/root
fails=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }
st() { "$BIN" --root "$R" --storage-driver vfs "$@"; }
expect_err() {
	local name=$1 want=$2; shift 2
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ $rc -ne 1 ]; then fail "$name" "exit $rc, want 1 (output: $out)"; return 1; fi
	if [[ $out != *"$want"* ]]; then fail "$name" "message \"$out\" lacks \"$want\""; return 1; fi
	return 0
}
now() { date +%s.%N; }
elapsed_below() { # START LIMIT: did less than LIMIT seconds pass since START?
	[ "$(echo "$(now) - $1 < $2" | bc)" = 1 ]
}

PY=/usr/bin/python3
[ -x $PY ] || PY=$(command -v python3)
if [ -z "$PY" ]; then
	skip plugin_suite "python3 is not installed (apt-get install python3)"
	exit 0
fi

export STRATA_PLUGIN_DIRS=$T/plugins:$T/specs
mkdir -p "$T/plugins" "$T/specs" "$T/elsewhere"
start_plugin() { # SOCKET STATE
	$PY "$SRC/tests/plugins/volume_plugin.py" "$1" "$2" &
	pids+=($!)
	for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}
start_plugin "$T/plugins/tp.sock" "$T/tp" || { fail plugin_start "the test plugin did not start"; exit 1; }
TP=$T/tp
behave() { printf '%s\n' "$@" >"$TP/behave"; }

t=plugin_create_passes_name_and_opts
st volume create -d tp -o color=blue -o size=1g pv1 >/dev/null &&
	[ -d "$TP/volumes/pv1/data" ] && grep -q '"color": "blue"' "$TP/volumes/pv1/opts.json" &&
	grep -qx 'Plugin.Activate -' "$TP/calls.log" &&
	grep -q '^VolumeDriver.Create {"Name":"pv1","Opts":{"color":"blue","size":"1g"}}$' "$TP/calls.log" &&
	pass $t || fail $t "plugin did not get Activate (empty body) and Create: $(cat "$TP/calls.log" 2>/dev/null)"

t=plugin_ls_and_inspect
st volume ls | grep -qE '^tp +pv1$' &&
	ins=$(st volume inspect pv1) && [[ $ins == *'"Driver": "tp"'* ]] && [[ $ins == *'"Scope": "local"'* ]] &&
	[[ $ins == *'"mounts": "0"'* ]] && [[ $ins == *'"color": "blue"'* ]] && grep -q '^VolumeDriver.Get ' "$TP/calls.log" &&
	pass $t || fail $t "ls/inspect: ${ins:-}"

t=plugin_mount_each_id_and_unmount
p1=$(st volume mount pv1 c1) && [ "$p1" = "$TP/volumes/pv1/data" ] && echo hello >"$p1/f" &&
	p2=$(st volume mount pv1 c2) && [ "$p2" = "$p1" ] &&
	grep -q '^VolumeDriver.Mount {"Name":"pv1","ID":"c1"}$' "$TP/calls.log" &&
	grep -q '^VolumeDriver.Mount {"Name":"pv1","ID":"c2"}$' "$TP/calls.log" &&
	st volume inspect pv1 | grep -q '"mounts": "2"' &&
	expect_err $t 'in use by mount ids c1, c2' st volume rm pv1 &&
	st volume unmount pv1 c1 && st volume unmount pv1 c2 &&
	grep -q '^VolumeDriver.Unmount {"Name":"pv1","ID":"c2"}$' "$TP/calls.log" &&
	[ "$(cat "$TP/volumes/pv1/data/f")" = hello ] && pass $t || fail $t "mount round trip: $(tail -n 5 "$TP/calls.log")"

t=plugin_list_shows_volumes_made_outside
mkdir -p "$TP/volumes/outside/data" && echo '{}' >"$TP/volumes/outside/opts.json" &&
	st volume ls | grep -qE '^tp +outside$' && st volume inspect outside | grep -q '"Driver": "tp"' &&
	grep -q '^VolumeDriver.List {}$' "$TP/calls.log" && pass $t || fail $t "volume made in the plugin not listed"

t=plugin_remove
st volume rm outside >/dev/null && [ ! -e "$TP/volumes/outside" ] &&
	grep -q '^VolumeDriver.Remove {"Name":"outside"}$' "$TP/calls.log" && ! st volume ls -q | grep -qx outside &&
	pass $t || fail $t "remove did not reach the plugin"

t=plugin_error_string_shown_create
behave 'VolumeDriver.Create=error'
expect_err $t 'volume plugin tp: VolumeDriver.Create refused by the test plugin' st volume create -d tp bad1 &&
	! st volume ls -q | grep -qx bad1 && pass $t

t=plugin_http_error_body_shown_and_nothing_held
behave 'VolumeDriver.Mount=http500'
expect_err $t 'HTTP 500: plugin exploded: disk on fire' st volume mount pv1 c9 &&
	st volume inspect pv1 | tr -d ' \n' | grep -q '"MountIDs":\[\]' && pass $t

t=plugin_refuses_remove_volume_kept
behave 'VolumeDriver.Remove=error'
expect_err $t 'VolumeDriver.Remove refused by the test plugin' st volume rm pv1 &&
	st volume ls -q | grep -qx pv1 && [ "$(cat "$TP/volumes/pv1/data/f")" = hello ] &&
	p=$(st volume mount pv1 again) && st volume unmount pv1 again && pass $t

export STRATA_PLUGIN_TIMEOUT=2
t=plugin_hang_on_mount_bounded_time
behave 'VolumeDriver.Mount=hang'
t0=$(now)
expect_err $t 'volume plugin tp: /VolumeDriver.Mount: no answer within 2 s' st volume mount pv1 h1 &&
	{ elapsed_below "$t0" 6 || { fail $t "took $(echo "$(now) - $t0" | bc) s"; false; }; } &&
	st volume inspect pv1 | tr -d ' \n' | grep -q '"MountIDs":\[\]' && pass $t

t=plugin_hang_on_remove_volume_kept
behave 'VolumeDriver.Remove=hang'
t0=$(now)
expect_err $t 'no answer within 2 s' st volume rm pv1 && elapsed_below "$t0" 6 &&
	behave '' && st volume ls -q | grep -qx pv1 && [ "$(cat "$TP/volumes/pv1/data/f")" = hello ] && pass $t

t=plugin_malformed_json_clear_error
behave 'VolumeDriver.Mount=malformed' 'VolumeDriver.Create=malformed'
expect_err $t 'volume plugin tp: /VolumeDriver.Mount: malformed reply' st volume mount pv1 m1 &&
	expect_err $t '"{"Mountpoint": "/tmp", "Err": "' st volume mount pv1 m1 &&
	expect_err $t '/VolumeDriver.Create: malformed reply' st volume create -d tp mal1 &&
	! st volume ls -q | grep -qx mal1 && st volume inspect pv1 | tr -d ' \n' | grep -q '"MountIDs":\[\]' && pass $t
behave ''
unset STRATA_PLUGIN_TIMEOUT

t=plugin_found_by_spec_file
start_plugin "$T/elsewhere/sp.sock" "$T/sp" && echo "unix://$T/elsewhere/sp.sock" >"$T/specs/specp.spec" &&
	st volume create -d specp sv1 >/dev/null && [ -d "$T/sp/volumes/sv1" ] && pass $t ||
	fail $t "plugin named by a .spec file not used"

t=plugin_found_by_json_spec
printf '{"Name": "jsonp", "Addr": "unix://%s"}\n' "$T/elsewhere/sp.sock" >"$T/specs/jsonp.json" &&
	st volume create -d jsonp jv1 >/dev/null && [ -d "$T/sp/volumes/jv1" ] && st volume ls | grep -qE '^jsonp +jv1$' &&
	pass $t || fail $t "plugin named by a .json file not used"

t=plugin_activation_retried_until_it_starts
export STRATA_PLUGIN_ACTIVATE_TIMEOUT=10
echo "unix://$T/elsewhere/late.sock" >"$T/specs/late.spec"
(sleep 1.5; $PY "$SRC/tests/plugins/volume_plugin.py" "$T/elsewhere/late.sock" "$T/late") &
pids+=($!)
t0=$(now)
st volume create -d late lv1 >/dev/null && [ -d "$T/late/volumes/lv1" ] && ! elapsed_below "$t0" 1.4 && pass $t ||
	fail $t "activation did not wait for a plugin that starts late"

t=plugin_down_bounded_activation_error
export STRATA_PLUGIN_ACTIVATE_TIMEOUT=2
echo "unix://$T/elsewhere/never.sock" >"$T/specs/never.spec"
t0=$(now)
expect_err $t 'gave up activating after 2 s' st volume create -d never nv1 && elapsed_below "$t0" 5 &&
	! st volume ls -q 2>/dev/null | grep -qx nv1 && pass $t
unset STRATA_PLUGIN_ACTIVATE_TIMEOUT

t=plugin_not_volume_driver_refused
cat >"$T/notvol.py" <<'EOF'
import http.server, socketserver, sys, os
class H(http.server.BaseHTTPRequestHandler):
    def address_string(self): return "unix"
    def log_message(self, *a): pass
    def do_POST(self):
        b = b'{"Implements": ["NetworkDriver"]}'
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
socketserver.UnixStreamServer(sys.argv[1], H).serve_forever()
EOF
$PY "$T/notvol.py" "$T/plugins/netp.sock" & pids+=($!)
for _ in $(seq 100); do [ -S "$T/plugins/netp.sock" ] && break; sleep 0.05; done
expect_err $t 'does not implement VolumeDriver (implements: NetworkDriver)' st volume create -d netp x1 && pass $t

t=plugin_adapter_name_not_a_driver
expect_err $t '"plugin" is the adapter' st volume create -d plugin x2 && pass $t

# ------------------------------------------------------------ C plugins
t=c_plugin_loaded_from_shared_object
CC=${CC:-cc}
mkdir -p "$T/cplug"
if ! $CC -shared -fPIC -Wall -Werror -Iinclude -o "$T/cplug/cdir.so" tests/plugins/c_volume_plugin.c 2>"$T/cc.log"; then
	fail $t "cannot build the example plugin: $(cat "$T/cc.log")"
else
	chmod 0755 "$T/cplug/cdir.so"
	export STRATA_VOLUME_PLUGIN_PATH=$T/cplug
	if st volume create -d cdir -o label=hello cv1 >/dev/null && [ -d "$R/volume-drivers/cdir/cv1" ] &&
		[ "$(cat "$R/volume-drivers/cdir/cv1.label")" = hello ] && st volume ls | grep -qE '^cdir +cv1$' &&
		p=$(st volume mount cv1 c1) && [ "$p" = "$R/volume-drivers/cdir/cv1" ] &&
		expect_err $t 'invalid option "color" (valid: label)' st volume create -d cdir -o color=red cv2 &&
		st volume unmount cv1 c1 && st volume rm cv1 >/dev/null && [ ! -e "$R/volume-drivers/cdir/cv1" ]; then
		pass $t
	else
		fail $t "C plugin round trip"
	fi
	t=c_plugin_writable_by_others_refused
	chmod 0775 "$T/cplug/cdir.so"
	out=$(st volume create -d cdir cv3 2>&1)
	[[ $out == *"writable by group or others: refused"* ]] && [[ $out == *'volume driver "cdir" not found'* ]] &&
		pass $t || fail $t "group-writable plugin loaded: $out"
	unset STRATA_VOLUME_PLUGIN_PATH
fi

echo "volume_plugin: $fails failed"
[ $fails -eq 0 ]
