#!/bin/bash
# Guest suite: the conformance suite on the overlay driver on a second kernel,
# the stock Debian one the VM boots. The host's /tmp is a disk filesystem,
# the guest's a tmpfs without user.* xattrs before 6.6: the suite gets an
# ext4 scratch filesystem on a RAM disk instead, as on the host.
set -u
cd "$STRATA_SRC" || exit 1
. tests/vm/guestlib.sh
k=$(uname -r)
if ! tests/conformance/drivers.sh | grep -qx overlay; then
	echo "SKIP conformance/overlay@$k: drivers/overlay is not in this tree"
	exit 0
fi
vm_scratch_fs /var/tmp/scratch 4096 || { echo "FAIL conformance/overlay@$k: no scratch filesystem"; exit 1; }
STRATA_TEST_TMP=/var/tmp/scratch tests/conformance/run.sh overlay | sed -E "s#^(PASS|FAIL|SKIP) conformance/overlay#\1 conformance/overlay@$k#"
exit "${PIPESTATUS[0]}"
