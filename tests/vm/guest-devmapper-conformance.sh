#!/bin/bash
# Guest suite: the conformance suite on the devmapper driver (this machine's
# kernel has no device-mapper), every case on its own loopback thin pool
# (tests/conformance/env-devmapper.sh).
set -u
cd "$STRATA_SRC" || exit 1
tests/conformance/run.sh devmapper
