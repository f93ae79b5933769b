#!/usr/bin/env bash
# ctest fuzz.<name>: runs one libFuzzer target for a while on its corpus in the build tree.
#   run_fuzzer.sh FUZZER SEED_DIR DICT WORK_DIR SECONDS [libFuzzer flags...]
# WORK_DIR/corpus starts as a copy of SEED_DIR (the committed seeds; never written) and keeps
# what this and earlier runs found; crashes go to WORK_DIR/artifacts/. Prints the number of
# executions; exits non-zero on any crash, sanitizer report, leak or timeout.
set -euo pipefail
fuzzer="$1" seeds="$2" dict="$3" work="$4" seconds="$5"
shift 5
name="$(basename "$fuzzer")"
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$seeds"/* "$work/corpus"/
log="$work/last-run.log"
status=0
"$fuzzer" "$work/corpus" -dict="$dict" -max_total_time="$seconds" -timeout=25 \
  -rss_limit_mb=3072 -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
  "$@" >"$log" 2>&1 || status=$?
execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
summary="$name: ${execs:-?} executions in ${seconds} s, corpus of $(ls "$work/corpus" | wc -l) files"
echo "$summary"
echo "$(date -u +%FT%TZ) $summary (exit $status)" >>"$work/runs.txt"
if [ "$status" -ne 0 ]; then
  echo "---- $name failed (exit $status); the last lines of $log:"
  tail -n 80 "$log"
  echo "---- the input is saved in $work/artifacts/:"
  ls -t "$work/artifacts" | head -n 5
fi
exit "$status"
