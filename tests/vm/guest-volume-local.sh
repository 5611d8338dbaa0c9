#!/bin/bash
# Guest suite: the local volume driver's integration cases on the stock
# Debian kernel, which has the quota support the host kernel lacks: the
# -o size= project-quota cases (xfs with prjquota, ext4 with the project
# feature) run here; the rest run as on the host.
set -u
: "${STRATA_BIN:?run by tests/vm/runner.sh}"
modprobe xfs 2>/dev/null
modprobe ext4 2>/dev/null
bash "$STRATA_SRC/tests/integration/volume_local.sh" 2>&1 | sed -E 's/^(PASS|FAIL|SKIP) /\1 volume-local\//'
exit "${PIPESTATUS[0]}"
