#!/bin/bash
# Guest suite: builds and containers on the devmapper driver (thin snapshots,
# runc inside the VM), the driver this machine's kernel cannot run.
set -u
cd "${STRATA_SRC:-$(dirname "$0")/../..}" || exit 1
export STRATA_TEST_DRIVERS=devmapper
rc=0
bash tests/integration/containers.sh || rc=1
bash tests/integration/build.sh || rc=1
exit $rc
