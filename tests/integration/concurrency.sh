#!/bin/bash
# Concurrency on every driver that works here (tests/torture/concurrency.sh):
# four builders sharing base layers and a remover/pruner for
# STRATA_CONCURRENCY_SECONDS (default 30) per driver. The stores live on a
# tmpfs (as in torture.sh: the VM disk's fsyncs would dominate).
set -u
secs=${STRATA_CONCURRENCY_SECONDS:-30}
tmpfs=$(mktemp -d /tmp/strata-concurrency-XXXXXX)
if ! mount -t tmpfs -o size=4G,mode=0700 strata-concurrency "$tmpfs" 2>/dev/null; then
	rmdir "$tmpfs"
	echo "SKIP concurrency: cannot mount a tmpfs (needs root)"
	exit 0
fi
export STRATA_TEST_TMP=$tmpfs
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/torture/concurrency.sh"
trap 'lib_cleanup; umount -l "$tmpfs"; rmdir "$tmpfs"' EXIT
for c in jq runc shuf timeout; do
	command -v $c >/dev/null || { echo "SKIP concurrency: $c missing (scripts/deps.sh installs it)"; exit 0; }
done
run_concurrency() { concurrency_driver "$1" "$2" "$secs"; }
for_each_driver run_concurrency
exit $((fails > 0))
