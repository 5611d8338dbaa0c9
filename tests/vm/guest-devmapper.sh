#!/bin/bash
# Guest suite: the devmapper driver on the VM's kernel (this machine's has no
# device-mapper): the conformance suite on a loopback thin pool, then the
# driver's own integration tests (transactions, full pool, deferred
# removal, udev, xfs, given pools).
set -u
cd "$STRATA_SRC" || exit 1
rc=0
tests/conformance/run.sh devmapper || rc=1
bash tests/integration/devmapper.sh || rc=1
exit $rc
