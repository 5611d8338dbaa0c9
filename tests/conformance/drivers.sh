#!/bin/bash
# The drivers compiled into this tree, in priority order (one conformance run each).
cd "$(dirname "$0")/../.."
for d in overlay btrfs devmapper aufs vfs; do
	ls drivers/$d/*.c >/dev/null 2>&1 && echo "$d"
done
exit 0
