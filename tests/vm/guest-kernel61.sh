#!/bin/bash
# Guest suite: the overlay and btrfs drivers on a second kernel (the stock
# Debian one the VM boots), their conformance suites and integration tests.
set -u
cd "$STRATA_SRC" || exit 1
rc=0
drivers=$(tests/conformance/drivers.sh)
for d in overlay btrfs; do
	if ! grep -qx "$d" <<<"$drivers"; then
		echo "SKIP conformance/$d@$(uname -r): drivers/$d is not in this tree"
		continue
	fi
	tests/conformance/run.sh "$d" || rc=1
	if [ -f "tests/integration/$d.sh" ]; then
		bash "tests/integration/$d.sh" || rc=1
	fi
done
exit $rc
