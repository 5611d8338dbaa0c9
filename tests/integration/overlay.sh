#!/bin/bash
# The overlay driver through the strata command, and the conformance suite
# in the driver's other modes: `strata info` tells whether diff/ is used
# natively and how mounts are made, a size= without project quota fails
# clearly, an image built with the CLI diffs back to what went in, a
# `strata driver rm` killed half way is finished by the next command, and
# the conformance suite passes with mount(2) data instead of lowerdir+ and
# with the naive diff (metacopy on).
set -u
cd "$(dirname "$0")/../.."
BIN=${STRATA_BIN:-$PWD/${BUILD:-build}/strata}
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }

if [ "$(id -u)" != 0 ]; then
	skip overlay "needs root (mounts)"
	exit 0
fi
. tests/conformance/env-overlay.sh
# the conformance environment: a directory that takes overlay uppers, or a
# loop-mounted ext4 where the tmp dir cannot
setup_log=$(mktemp)
conf_setup >"$setup_log" 2>&1
rc=$?
trap 'conf_teardown; rm -f "$setup_log"' EXIT
if [ $rc = 77 ]; then
	skip overlay "$(sed -n 's/^SKIP conformance\/overlay: //p' "$setup_log")"
	exit 0
elif [ $rc != 0 ]; then
	fail overlay "cannot prepare a place for overlay: $(cat "$setup_log")"
	exit 1
fi
T=$STRATA_TEST_HOME
unset STRATA_TEST_HOME STRATA_TEST_DRIVER_OPTS
R=$T/root
st() { "$BIN" --root "$R" --storage-driver overlay "$@"; }

t=info_shows_native_diff_and_mount_api
out=$(st info 2>&1)
if [[ $out == *"Native Overlay Diff: true"* && $out == *"Mount API: "* && $out == *"Max Layers: 500"* ]]; then
	pass $t
else
	fail $t "$out"
fi

t=info_shows_naive_diff_with_metacopy
out=$("$BIN" --root "$T/root2" --storage-driver overlay --storage-opt mountopt=metacopy=on info 2>&1)
if [[ $out == *"Native Overlay Diff: false"* && $out == *"metacopy"* ]]; then pass $t; else fail $t "$out"; fi

t=info_shows_legacy_mount_api_when_asked
out=$("$BIN" --root "$T/root3" --storage-driver overlay --storage-opt mount_api=legacy info 2>&1)
if [[ $out == *"Mount API: mount(2), short relative paths past one page"* ]]; then pass $t; else fail $t "$out"; fi

t=unknown_mount_option_refused
out=$("$BIN" --root "$T/root4" --storage-driver overlay --storage-opt mountopt=lowerdir=/etc info 2>&1)
rc=$?
if [ $rc = 1 ] && [[ $out == "strata: error: "*"not allowed"* ]]; then pass $t; else fail $t "exit $rc: $out"; fi

t=size_without_project_quota_fails_clearly
st driver create base >/dev/null
out=$(st driver create --rw --parent base --storage-opt size=10M q 2>&1)
rc=$?
if st info | grep -q "Project Quota: true"; then
	skip $t "$R has project quota"
	st driver rm q >/dev/null 2>&1
elif [ $rc = 1 ] && [[ $out == *"project quota"* ]] && ! st driver exists q; then
	pass $t
else
	fail $t "exit $rc: $out"
fi

t=diff_of_applied_layer_is_what_went_in
src=$T/src
mkdir -p "$src/etc" "$src/usr/bin" && echo root >"$src/etc/passwd" && echo hi >"$src/usr/bin/hi"
tar -C "$src" --numeric-owner -cf "$T/base.tar" .
st driver create l1 >/dev/null && st driver apply l1 <"$T/base.tar" >/dev/null &&
	st driver create --parent l1 --rw c1 >/dev/null && p=$(st driver mount c1) &&
	echo changed >"$p/etc/passwd" && rm "$p/usr/bin/hi" && mkdir "$p/new" && st driver unmount c1
got=$(st driver diff c1 | tar -tf - | sort | tr '\n' ' ')
# the kernel marks a directory made in a merged one opaque (it hides nothing)
want="etc/ etc/passwd new/ new/.wh..wh..opq usr/ usr/bin/ usr/bin/.wh.hi "
ch=$(st driver changes c1 | tr '\n' ' ')
if [ "$got" = "$want" ] && [ "$ch" = "C /etc C /etc/passwd A /new C /usr C /usr/bin D /usr/bin/hi " ]; then
	pass $t
else
	fail $t "diff [$got] want [$want]; changes [$ch]"
fi

t=killed_remove_is_finished_by_next_command
st driver create --parent l1 --rw big >/dev/null && p=$(st driver mount big) &&
	mkdir "$p/many" && (cd "$p/many" && seq 1 20000 | xargs touch) && st driver unmount big
st driver rm big &
pid=$!
for _ in $(seq 1 200); do
	grep -q '"removing"' "$R/overlay/.strata/layers/big" 2>/dev/null && break
	sleep 0.005
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
st driver ls >/dev/null
if ! st driver exists big && [ ! -e "$R/overlay/big" ] && ! ls -a "$R/overlay" | grep -q '^.trash-' &&
	! ls -l "$R/overlay/l" | grep -q '/big/diff' && ! grep -q " $R/overlay/big/" /proc/self/mountinfo; then
	pass $t
else
	fail $t "left: $(ls -a "$R/overlay" | tr '\n' ' ')"
fi

# The conformance suite in the driver's other modes (the default mode runs
# from tests/run.sh).
if [ "${STRATA_VM:-0}" = 1 ]; then
	skip conformance_modes "slow under emulation; they run on the host (the VM runs the default mode)"
elif [ -x "${STRATA_BUILD:-$PWD/${BUILD:-build}}/tests/conformance" ]; then
	modes="mountopt=metacopy=on"
	# where the kernel has lowerdir+, mount(2) data is the other mode (else it is the default)
	st info | grep -q "Mount API: .*lowerdir+" && modes="mount_api=legacy $modes"
	for mode in $modes; do
		t="conformance_with_${mode//[=]/_}"
		out=$(STRATA_OVERLAY_CONF_OPTS=$mode BUILD=${STRATA_BUILD:-$PWD/${BUILD:-build}} \
			tests/conformance/run.sh overlay 2>&1)
		rc=$?
		if [ $rc = 0 ] && [[ $out == *"PASS conformance/overlay"* ]]; then
			pass "$t"
		else
			fail "$t" "$(printf '%s\n' "$out" | tail -n 15)"
		fi
	done
else
	skip conformance_modes "the conformance suite is not built"
fi

exit $((fails > 0))
