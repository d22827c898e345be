#!/usr/bin/env bash
# Runs every cellgw test on this machine: installs what is missing, builds, runs, and prints
# one line "N passed, N failed, N skipped" summed over four stages. Exit status 0 only if
# everything passed.
#
#   tests/run.sh [--quick] [extra bazel test args...]
#
# Stages:
#   suite  every test target (bazel test): unit tests, and integration tests against private
#          RabbitMQ nodes and real oslo.messaging processes that the tests start and stop
#          themselves (interop, ops, security, resilience, the benchmark's smoke run, the fuzz
#          corpora replayed)
#   fuzz   each libFuzzer target fuzzed for $CELLGW_FUZZ_SECONDS (default 20) from its seed
#          corpus (tests/fuzz/run_fuzz.sh); one count per target
#   asan   the whole suite again under AddressSanitizer + LeakSanitizer + UBSan
#   tsan   the whole suite again under ThreadSanitizer (tests/sanitizers.sh)
# --quick runs the first stage only (a development loop; CI runs all four). Extra arguments go
# to every `bazel test` (e.g. --test_output=streamed).
set -uo pipefail
cd "$(dirname "$0")/.."

stages=(suite fuzz asan tsan)
if [ "${1:-}" = "--quick" ]; then
  stages=(suite)
  shift
fi

deploy/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

run_suite() {
  local targets rc count_rc
  targets=$(bazel query 'tests(//...)' 2>/dev/null) || { echo "bazel query failed"; return 1; }
  bazel test --test_summary=terse "$@" -- $targets
  rc=$?
  /usr/bin/python3 tests/count_results.py $targets
  count_rc=$?
  [ $rc -eq 0 ] && rc=$count_rc
  return $rc
}

run_stage() {
  case "$1" in
    suite) shift; run_suite "$@" ;;
    fuzz) tests/fuzz/run_fuzz.sh "${CELLGW_FUZZ_SECONDS:-20}" ;;
    asan|tsan) tests/sanitizers.sh "$@" ;;
  esac
}

total_passed=0
total_failed=0
total_skipped=0
summary=()
overall=0
for stage in "${stages[@]}"; do
  echo "=== tests/run.sh: stage '$stage' ==="
  log=$(mktemp)
  start=$(date +%s)
  run_stage "$stage" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  seconds=$(( $(date +%s) - start ))
  # Each stage ends with its own "N passed, N failed[, N skipped]" line.
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  rm -f "$log"
  if [ -z "$line" ]; then
    line="0 passed, 1 failed"  # the stage broke before it could count: that is a failure
  fi
  read -r passed failed skipped < <(sed -E \
    's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?.*/\1 \2 \4/' <<<"$line")
  skipped=${skipped:-0}
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1  # e.g. a sanitizer report from a process whose test passed
  fi
  [ "$rc" -ne 0 ] && overall=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  summary+=("$(printf '%-6s %7d passed %4d failed %4d skipped %6d s' "$stage" "$passed" "$failed" \
    "$skipped" "$seconds")")
done

echo "=== tests/run.sh: summary ==="
printf '%s\n' "${summary[@]}"
[ "$total_failed" -ne 0 ] && overall=1
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
exit $overall
