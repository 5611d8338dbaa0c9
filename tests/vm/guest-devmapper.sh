#!/bin/bash
# Guest suite: the devmapper driver's own integration tests on the VM's
# kernel (transactions and recovery, full pool and thin_check, deferred
# removal and deletion, udev synchronisation, xfs, given pools); the
# conformance suite is guest-devmapper-conformance.sh.
set -u
cd "$STRATA_SRC" || exit 1
bash tests/integration/devmapper.sh
