#!/usr/bin/env bash
# Runs every cellgw test on this machine: installs what is missing, builds, runs, and prints
# one line "N passed, N failed, N skipped". Exit status 0 only if everything passed.
#
#   tests/run.sh [--quick] [--targets QUERY] [extra bazel test args...]
#
# Stages:
#   suite  every test target (bazel test): unit tests, and integration tests against private
#          RabbitMQ nodes and real oslo.messaging processes that the tests start and stop
#          themselves (interop, ops, security, resilience, the benchmark's smoke run, the fuzz
#          corpora replayed, the layering check, the JSON emitter's Python oracle)
#   fuzz   each libFuzzer target fuzzed for $CELLGW_FUZZ_SECONDS (default 20) from its seed
#          corpus (tests/fuzz/run_fuzz.sh); one test case per target
#   asan   the whole suite again under AddressSanitizer + LeakSanitizer + UBSan
#   tsan   the whole suite again under ThreadSanitizer (tests/sanitizers.sh)
# --quick runs the first stage only (a development loop; CI runs all four). --targets QUERY
# runs only the tests in a `bazel query` expression (default //...; the sanitizer stages use
# it too), e.g. --targets '//tests/common/... + //tests/layering:all'.
# Extra arguments go to every `bazel test` (e.g. --test_output=streamed).
#
# Counting (tests/count_results.py): each bazel-test stage counts what the Build Event
# Protocol of its own invocation reports, run with --keep_going: a test target that does not
# build is a failure, and no result of an earlier run is counted. Each stage prints its own
# "N passed, N failed, N skipped" (test cases under that configuration); the summary gives
# per stage the distinct test targets and test cases it ran, and the closing line counts each
# distinct test case once over all stages (failed if it failed under any configuration).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

stages=(suite fuzz asan tsan)
query='//...'
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) stages=(suite); shift ;;
    --targets) query=${2:?--targets needs a query}; shift 2 ;;
    --targets=*) query=${1#--targets=}; shift ;;
    *) break ;;
  esac
done

deploy/install-deps.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

run_suite() {
  local targets bep rc count_rc
  targets=$(bazel query "tests($query)" 2>/dev/null) || {
    echo "bazel query '$query' failed"
    return 1
  }
  if [ -z "$targets" ]; then
    echo "no test target matches '$query'"
    return 1
  fi
  bep=$(mktemp)
  # --keep_going: a target that does not build fails by itself; the others still run.
  bazel test --keep_going --test_summary=terse --build_event_json_file="$bep" "$@" -- $targets
  rc=$?
  /usr/bin/python3 tests/count_results.py stage --stage suite --bep "$bep" $targets
  count_rc=$?
  rm -f "$bep"
  if [ $rc -eq 0 ]; then rc=$count_rc; fi
  return $rc
}

run_stage() {
  case "$1" in
    suite) shift; run_suite "$@" ;;
    fuzz) tests/fuzz/run_fuzz.sh "${CELLGW_FUZZ_SECONDS:-20}" ;;
    asan|tsan) tests/sanitizers.sh "$1" --targets "$query" "${@:2}" ;;
  esac
}

# Each stage appends its targets and test cases to a records file of its own
# ($CELLGW_RESULTS_FILE, read by count_results.py summary), and here its exit status and time.
records=$(mktemp -d "${TMPDIR:-/tmp}/cellgw-results.XXXXXX")
for stage in "${stages[@]}"; do
  echo "=== tests/run.sh: stage '$stage' ==="
  start=$(date +%s)
  CELLGW_RESULTS_FILE="$records/$stage.jsonl" run_stage "$stage" "$@"
  rc=$?
  printf '{"kind": "stage", "stage": "%s", "rc": %d, "seconds": %d}\n' \
    "$stage" "$rc" "$(( $(date +%s) - start ))" >>"$records/$stage.jsonl"
done

echo "=== tests/run.sh: summary ==="
files=()
for stage in "${stages[@]}"; do files+=("$records/$stage.jsonl"); done
/usr/bin/python3 tests/count_results.py summary "${files[@]}"
overall=$?
rm -rf "$records"
exit $overall
