#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs every libFuzzer harness (build/fuzz/fuzz_NAME) for SECONDS seconds:
# first it replays the committed seeds and the crash regressions
# (t/fuzz/regress/NAME/), then fuzzes from the seeds plus what earlier runs
# found (build/fuzz/corpus/NAME/, not committed).  A new crash is saved as
# build/fuzz/crash/NAME/crash-* (copy it into t/fuzz/regress/NAME/ once fixed).
#   sh t/fuzz/run.sh SECONDS [NAME...]
# Ends with "N passed, N failed" (one line per harness before it).
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-60}
shift
names=$*
if [ -z "$names" ]; then
	for f in t/fuzz/fuzz_*.c; do
		n=${f#t/fuzz/fuzz_}
		names="$names ${n%.c}"
	done
fi
pass=0
fail=0
for n in $names; do
	bin=build/fuzz/fuzz_$n
	log=build/fuzz/log/$n.log
	mkdir -p build/fuzz/corpus/$n build/fuzz/crash/$n build/fuzz/log \
	    t/fuzz/corpus/$n
	dict=
	[ -f t/fuzz/$n.dict ] && dict=-dict=t/fuzz/$n.dict
	ok=1
	# Replay: every committed input must run clean.
	set -- t/fuzz/corpus/$n/*
	[ -d t/fuzz/regress/$n ] && set -- "$@" t/fuzz/regress/$n/*
	files=
	for f in "$@"; do [ -f "$f" ] && files="$files $f"; done
	# shellcheck disable=SC2086
	if [ -n "$files" ] && ! "$bin" -runs=1 $files >"$log" 2>&1; then
		ok=0
		echo "fuzz $n: replay of committed inputs failed (see $log)"
	fi
	if [ $ok = 1 ]; then
		# -rss_limit_mb: ASan + a 64 KiB frame stay far below it; a leak
		# or an unbounded allocation does not.
		# shellcheck disable=SC2086
		if ! timeout $((secs + 60)) "$bin" -max_total_time="$secs" \
		    -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
		    -print_final_stats=1 $dict \
		    -artifact_prefix=build/fuzz/crash/$n/ \
		    build/fuzz/corpus/$n t/fuzz/corpus/$n >>"$log" 2>&1; then
			ok=0
			echo "fuzz $n: FAILED, input in build/fuzz/crash/$n/ (see $log)"
			grep -m3 -E 'ERROR|SUMMARY|runtime error' "$log"
		fi
	fi
	if [ $ok = 1 ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
		echo "fuzz $n: ok, ${runs:-?} inputs in ${secs} s, $cov"
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
