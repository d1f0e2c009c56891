#!/usr/bin/env bash
# `make test` RUNS times (default 5) with a CPU hog on another core, as a busy CI machine would have it;
# prints one line per run (exit status, seconds, pytest's summary) and exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
python3 -c 'while True: pass' &
hog=$!
trap 'kill $hog 2>/dev/null' EXIT
failed=0
for i in $(seq 1 "$runs"); do
  log=$(mktemp -t kaito-test-under-load.XXXXXX)
  start=$(date +%s)
  make test PYTEST_ARGS="-q -p no:cacheprovider" >"$log" 2>&1
  rc=$?
  echo "run $i/$runs: exit $rc in $(( $(date +%s) - start )) s: $(grep -E '(passed|failed)' "$log" | tail -1) (log: $log)"
  [ "$rc" -eq 0 ] || failed=1
done
exit $failed
