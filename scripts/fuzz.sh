#!/bin/bash
# fuzz.sh BUILD SECONDS: run every libFuzzer harness built in BUILD/fuzz/
# for SECONDS each, on its corpus tests/fuzz/corpus/NAME/ (read only: new
# inputs go to BUILD/fuzz-corpus/NAME/). A crash (or a broken invariant: the
# harnesses abort) is kept in BUILD/crashes/ and fails the run; copy it to
# tests/fuzz/regress/NAME/ with the fix, and tests/unit/test_fuzz_corpus.c
# replays it in every build from then on.
set -u
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz.sh BUILD SECONDS}
secs=${2:-60}
fails=0
for bin in "$build"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	corpus=tests/fuzz/corpus/$name
	work=$build/fuzz-corpus/$name
	mkdir -p "$work" "$build/crashes" "$corpus"
	log=$build/fuzz-$name.log
	echo "== fuzz $name: ${secs} s on $corpus"
	# regressions first: each must pass as it is
	if [ -d "tests/fuzz/regress/$name" ] && ls "tests/fuzz/regress/$name"/* >/dev/null 2>&1; then
		if ! "$bin" "tests/fuzz/regress/$name"/* >"$log.regress" 2>&1; then
			echo "FAIL fuzz/$name: a regression input fails again (log: $log.regress)"
			fails=$((fails + 1))
			continue
		fi
	fi
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		"$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=3072 -max_len=1048576 \
		-print_final_stats=1 -artifact_prefix="$build/crashes/$name-" "$work" "$corpus" >"$log" 2>&1
	rc=$?
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$log" | sed 's/^/   /'
	if [ $rc -ne 0 ]; then
		echo "FAIL fuzz/$name: exit $rc; input kept as: $(ls -t "$build/crashes/$name-"* 2>/dev/null | head -1)"
		grep -m 24 -E 'ERROR|SUMMARY|fuzz: |==[0-9]+==|^ +#[1-5] .* in [a-z_]+ \S+\.c:' "$log" | sed 's/^/   /'
		fails=$((fails + 1))
	else
		echo "PASS fuzz/$name"
	fi
done
exit $((fails > 0))
