# Helpers the benchmark scripts share (sourced from the repository top).
now() { date +%s%N; }
# ms T0 T1 / secs T0 T1: the time between two `now`s
ms() { echo $((($2 - $1) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b - a) / 1e9}'; }
# median / median_int: of the numbers on stdin (space or newline separated);
# an even count gives the mean of the middle two (median_int: truncated,
# for shell arithmetic)
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
median_int() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
# bench_stop_pid PID: TERM, then wait up to 20 s for it to go
bench_stop_pid() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
}
# bench_rm_dir DIR: unmount whatever is mounted below DIR, then remove it
bench_rm_dir() {
	for m in $(awk -v t="$1" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf "$1"
}

# bench_build: B, the build directory (BUILD, default build; relative to the
# top of the tree), and BIN, its strata (STRATA_BIN overrides)
bench_build() {
	BUILD=${BUILD:-build}
	case $BUILD in /*) B=$BUILD ;; *) B=$(pwd)/$BUILD ;; esac
	BIN=${STRATA_BIN:-$B/strata}
}
