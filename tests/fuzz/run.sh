#!/bin/sh
# Run fuzz targets one after another (`make fuzz`, `make fuzz-smoke`):
#
#   tests/fuzz/run.sh SECONDS NAME...
#
# Each build/fuzz/NAME runs SECONDS with its corpus in build/fuzz/corpus/NAME/
# (kept between runs; new inputs are added there), started from the seeds
# in build/fuzz/seeds/NAME/, and its crashes saved in build/fuzz/crashes/NAME/.
# One at a time: a fuzzer keeps a core busy, and these machines have two.
# At the end, one line per target from libFuzzer's last status line:
# executions per second, coverage (cov: edges, ft: features), corpus size.
# A crash prints the command that replays it; the exit status is then 1.
set -u
seconds=$1
shift
status=0
summary=""
for name in "$@"; do
	prog=build/fuzz/$name
	corpus=build/fuzz/corpus/$name
	crashes=build/fuzz/crashes/$name
	log=build/fuzz/logs/$name.log
	mkdir -p "$corpus" "$crashes" build/fuzz/logs
	echo "fuzz: $name for $seconds s ($log)"
	# Leak checking needs ptrace, which containers often deny (as for
	# `make host-tests`); the targets check their own leaks of buffers
	# and timers after every input.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"$prog" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/" \
		"$corpus" "build/fuzz/seeds/$name" >"$log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	field() {
		echo "$last" | sed -n "s|.* $1: *\([^ ]*\).*|\1|p"
	}
	corp=$(field corp)
	line=$(printf '%-10s %8s exec/s  cov %5s  ft %6s  corpus %-12s %s runs' "$name" \
		"$(field exec/s)" "$(field cov)" "$(field ft)" "$corp" "$execs")
	if [ $rc -ne 0 ]; then
		status=1
		unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		what=$(grep -m 1 -E 'ERROR: |runtime error|^fuzz: ' "$log")
		echo "fuzz: $name FAILED: $what"
		if [ -n "$unit" ]; then
			echo "fuzz: replay with: $prog $unit"
		else
			echo "fuzz: no input was saved; see $log"
		fi
		line="$line  FAILED"
	fi
	summary="$summary$line
"
done
echo
echo "fuzz: target       exec/s        coverage    features  corpus (files/bytes)"
printf '%s' "$summary"
exit $status
