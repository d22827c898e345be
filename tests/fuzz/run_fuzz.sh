#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with Debian's clang (bazel --config=fuzz: ASan,
# UBSan, coverage) and fuzzes each for a bounded time, starting from its seed corpus
# (tests/fuzz/corpus/<target>). Prints one line of figures per target and exits non-zero if a
# target crashed, broke an invariant, leaked, timed out or ran out of memory; the input that
# did it is saved and its path printed.
#
#   tests/fuzz/run_fuzz.sh                  # every target, 20 s each
#   tests/fuzz/run_fuzz.sh 300              # every target, 5 min each
#   tests/fuzz/run_fuzz.sh 60 reply_fuzzer  # one target
#
# The build has an output base of its own ($CELLGW_FUZZ_OUTPUT_BASE, default
# ~/.cache/bazel-fuzz-<checkout hash>): the clang toolchain must not replace the shared one. New inputs found
# go to a scratch directory, not to the repository; to keep some, minimise them into the seed
# corpus with `<binary> -merge=1 tests/fuzz/corpus/<target> <scratch dir>`.
# Needs clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

all_targets=(envelope_fuzzer reply_fuzzer transport_url_fuzzer json_text_fuzzer)
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
case "$seconds" in
  ''|*[!0-9]*) echo "usage: tests/fuzz/run_fuzz.sh [seconds per target] [target...]" >&2; exit 2 ;;
esac

if ! command -v clang >/dev/null || ! compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null; then
  echo "run_fuzz: needs clang and libFuzzer: apt-get install clang libclang-rt-14-dev" >&2
  echo "0 passed, ${#targets[@]} failed"
  exit 1
fi

# One output base per checkout: a base is tied to the workspace it was first used with.
output_base=${CELLGW_FUZZ_OUTPUT_BASE:-$HOME/.cache/bazel-fuzz-$(pwd | md5sum | cut -c1-8)}
bazel_cmd=(bazel "--output_base=$output_base")
labels=()
for t in "${targets[@]}"; do labels+=("//tests/fuzz:$t"); done

# With $CELLGW_RESULTS_FILE set (tests/run.sh), records each target as one test case for the
# run's summary (tests/count_results.py): record_result TARGET EXIT_STATUS.
record_result() {
  if [ -z "${CELLGW_RESULTS_FILE:-}" ]; then return 0; fi
  local status=PASSED outcome=passed
  if [ "$2" -ne 0 ]; then status=FAILED; outcome=failed; fi
  printf '{"kind": "target", "stage": "fuzz", "label": "//tests/fuzz:%s", "status": "%s", "cached": false}\n' \
    "$1" "$status" >>"$CELLGW_RESULTS_FILE"
  printf '{"kind": "case", "stage": "fuzz", "label": "//tests/fuzz:%s", "case": "fuzzed", "outcome": "%s"}\n' \
    "$1" "$outcome" >>"$CELLGW_RESULTS_FILE"
}

build_start=$(date +%s)
# --symlink_prefix=/ : leave the workspace's bazel-bin etc. pointing at the shared output base.
if ! "${bazel_cmd[@]}" build --config=fuzz --symlink_prefix=/ "${labels[@]}"; then
  echo "run_fuzz: build failed"
  for t in "${targets[@]}"; do record_result "$t" 1; done
  echo "0 passed, ${#targets[@]} failed, 0 skipped"
  exit 1
fi
bin=$("${bazel_cmd[@]}" info --config=fuzz bazel-bin 2>/dev/null)
# This base's Bazel server is not needed once the targets are built.
"${bazel_cmd[@]}" shutdown >/dev/null 2>&1
echo "run_fuzz: built ${#targets[@]} target(s) in $(( $(date +%s) - build_start )) s"

out=$(mktemp -d "${TMPDIR:-/tmp}/cellgw-fuzz.XXXXXX")
failed=0
targets_failed=0
printf '%-22s %10s %9s %6s %7s %6s %8s  %s\n' target execs exec/s cov features units "rss MB" result
for t in "${targets[@]}"; do
  dict=tests/fuzz/json.dict
  [ "$t" = transport_url_fuzzer ] && dict=tests/fuzz/transport_url.dict
  mkdir -p "$out/$t.new"
  # The first corpus directory receives new inputs; the repository's seeds are only read.
  # -timeout: one input taking more than 10 s is a hang. -use_value_profile: let comparisons
  # guide the search (key names, version strings).
  "$bin/tests/fuzz/$t" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -use_value_profile=1 \
    -print_final_stats=1 -dict="$dict" -artifact_prefix="$out/$t-" \
    "$out/$t.new" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1
  rc=$?
  stat() { sed -n "s/^stat::$1: *//p" "$out/$t.log" | tail -1; }
  # The last status line: "#N DONE cov: C ft: F corp: ..."
  status_line=$(grep -E '^#[0-9]+' "$out/$t.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status_line")
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc)"
    failed=1
    targets_failed=$((targets_failed + 1))
  fi
  printf '%-22s %10s %9s %6s %7s %6s %8s  %s\n' "$t" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$(stat new_units_added)" \
    "$(stat peak_rss_mb)" "$result"
  record_result "$t" "$rc"
  if [ $rc -ne 0 ]; then
    echo "----- $t: the report (full log: $out/$t.log)"
    grep -v -E '^#[0-9]+|^INFO:|^stat::' "$out/$t.log" | tail -60
    for artifact in "$out/$t"-*; do
      [ -f "$artifact" ] && echo "----- input saved as $artifact (replay: $bin/tests/fuzz/$t $artifact)"
    done
  fi
done
echo "run_fuzz: ${seconds} s per target; logs and new inputs in $out"
# Each target counts as one test case (recorded above for tests/run.sh's summary).
echo "$(( ${#targets[@]} - targets_failed )) passed, $targets_failed failed, 0 skipped"
exit $failed
