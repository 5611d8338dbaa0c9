#!/bin/bash
# Guest suite: the conformance suite on the btrfs driver on a second kernel,
# the stock Debian one the VM boots (tests/conformance/env-btrfs.sh makes
# its loop-mounted btrfs in the guest's /tmp).
set -u
cd "$STRATA_SRC" || exit 1
k=$(uname -r)
if ! tests/conformance/drivers.sh | grep -qx btrfs; then
	echo "SKIP conformance/btrfs@$k: drivers/btrfs is not in this tree"
	exit 0
fi
tests/conformance/run.sh btrfs | sed -E "s#^(PASS|FAIL|SKIP) conformance/btrfs#\1 conformance/btrfs@$k#"
exit "${PIPESTATUS[0]}"
