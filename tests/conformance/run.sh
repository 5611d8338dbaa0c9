#!/bin/bash
# Run the driver conformance suite against one driver:
#   tests/conformance/run.sh DRIVER
# When tests/conformance/env-DRIVER.sh exists it is sourced; it defines
# conf_setup (makes the backing filesystem, exports STRATA_TEST_HOME and,
# optionally, STRATA_TEST_DRIVER_OPTS; or prints "SKIP conformance/DRIVER:
# reason" and returns 77) and conf_teardown (undoes all of it). Without one,
# the suite runs in a fresh directory under /tmp.
# Env: BUILD (build directory, default build).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
driver=${1:?usage: tests/conformance/run.sh DRIVER}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD/tests/conformance ;; *) bin=$root/$BUILD/tests/conformance ;; esac
if [ ! -x "$bin" ]; then
	echo "FAIL conformance/$driver: $bin is not built (make BUILD=$BUILD tests)"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP conformance/$driver: needs root (owners, device nodes, mounts)"
	exit 0
fi

export STRATA_TEST_DRIVER=$driver
unset STRATA_TEST_HOME STRATA_TEST_DRIVER_OPTS
env_file=$here/env-$driver.sh
made_home=
cleanup() {
	if [ -n "$made_home" ]; then
		rm -rf --one-file-system "$made_home"
	elif declare -F conf_teardown >/dev/null; then
		set +u # an env file's teardown after a SKIP may meet unset variables
		conf_teardown
	fi
}
trap cleanup EXIT

if [ -f "$env_file" ]; then
	# shellcheck source=/dev/null
	. "$env_file"
	conf_setup
	rc=$?
	if [ $rc = 77 ]; then
		exit 0 # conf_setup printed the SKIP line
	elif [ $rc != 0 ]; then
		echo "FAIL conformance/$driver: conf_setup failed (exit $rc)"
		exit 1
	fi
	: "${STRATA_TEST_HOME:?conf_setup must export STRATA_TEST_HOME}"
	export STRATA_TEST_HOME
	export STRATA_TEST_DRIVER_OPTS=${STRATA_TEST_DRIVER_OPTS:-}
else
	made_home=$(mktemp -d "${STRATA_TEST_TMP:-/tmp}/strata-conf-$driver-XXXXXX")
	export STRATA_TEST_HOME=$made_home
fi

"$bin"
rc=$?
[ $rc = 0 ] && echo "PASS conformance/$driver" || echo "FAIL conformance/$driver (exit $rc)"
exit $rc
