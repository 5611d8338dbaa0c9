# Shared helpers for the integration suites (sourced).
#   pass NAME / fail NAME WHY / skip NAME WHY   one line per case; fails counts failures
#   for_each_driver FN    runs FN DRIVER ROOT once per driver that works here, each on a
#                         fresh store on the driver's filesystem (tests/conformance/env-*.sh);
#                         drivers that cannot run print SKIP with the reason;
#                         STRATA_TEST_DRIVERS="d1 d2" limits the drivers
#   make_base ROOT NAME   a busybox image from Debian's busybox-static
#   st ARGS...            strata on the current $ROOT
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TOP=$PWD
BIN=${STRATA_BIN:-$TOP/${BUILD:-build}/strata}
T=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-it-XXXXXX")
fails=0
ROOT=
DRIVER=

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }
skip() { echo "SKIP $1: $2"; }
st() { "$BIN" --root "$ROOT" ${DRIVER:+--storage-driver "$DRIVER"} "$@"; }

lib_cleanup() {
	for m in $(awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf --one-file-system "$T"
}
trap lib_cleanup EXIT

make_base() { # ROOT-independent: imports into the current store
	local name=$1
	if [ ! -f "$T/base.tar" ]; then
		"$TOP/scripts/busybox-rootfs.sh" "$T/rootfs" >/dev/null && tar -C "$T/rootfs" -cf "$T/base.tar" . || return 1
	fi
	st import "$T/base.tar" "$name" >/dev/null
}

# Mounts left under the store (none may remain after rm).
mounts_under() { awk -v r="$1" 'index($2, r) == 1 {print $2}' /proc/mounts; }

for_each_driver() {
	local fn=$1 d
	for d in $("$TOP/tests/conformance/drivers.sh"); do
		# STRATA_TEST_DRIVERS="a b" restricts the run (the VM runs devmapper only)
		if [ -n "${STRATA_TEST_DRIVERS:-}" ] && [[ " $STRATA_TEST_DRIVERS " != *" $d "* ]]; then
			continue
		fi
		(
			unset STRATA_TEST_HOME
			env_file=$TOP/tests/conformance/env-$d.sh
			home=
			if [ -f "$env_file" ]; then
				# shellcheck source=/dev/null
				. "$env_file"
				conf_setup >"$T/setup-$d.log" 2>&1
				rc=$?
				if [ $rc = 77 ]; then
					echo "SKIP $(basename "$0" .sh)/$d: $(sed -n 's/^SKIP [^:]*: //p' "$T/setup-$d.log" | head -1)"
					exit 0
				elif [ $rc != 0 ]; then
					echo "FAIL $(basename "$0" .sh)/$d: conf_setup: $(tail -1 "$T/setup-$d.log")"
					exit 1
				fi
				home=$STRATA_TEST_HOME
				trap 'conf_teardown >/dev/null 2>&1' EXIT
			else
				home=$T/$d
				mkdir -p "$home"
			fi
			ROOT=$home/store-$$
			DRIVER=$d
			fails=0
			if ! why=$(st info 2>&1 >/dev/null); then
				echo "SKIP $(basename "$0" .sh)/$d: ${why#strata: error: }"
				exit 0
			fi
			"$fn" "$d" "$ROOT"
			for c in $(st ps -aq 2>/dev/null); do st rm -f "$c" >/dev/null 2>&1; done
			exit $((fails > 0))
		) || fails=$((fails + 1))
	done
}
