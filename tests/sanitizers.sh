#!/usr/bin/env bash
# Runs the whole cellgw test suite under a sanitizer and prints "N passed, N failed, N skipped":
#
#   tests/sanitizers.sh asan   # AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer
#   tests/sanitizers.sh tsan   # ThreadSanitizer
#   tests/sanitizers.sh asan --test_tag_filters=-integration   # extra `bazel test` args
#   tests/sanitizers.sh asan --targets //tests/common/...   # only the tests in a query
#
# The build uses the .bazelrc config of the same name in an output base of its own
# ($CELLGW_SANITIZER_OUTPUT_BASE, default ~/.cache/bazel-<config>-<checkout hash>), so it neither thrashes nor
# waits for the shared one, and it leaves the workspace's bazel-* symlinks alone. Every process
# of the run that carries a sanitizer runtime (test binaries, and the cellgw/echo_server
# binaries the tests start) writes its reports to one directory; they are printed at the end
# and any report fails the run, even one from a child process of a test that passed.
# The count is tests/count_results.py's: what the Build Event Protocol of this invocation
# reports (a target that does not build is a failure; nothing of an earlier run is counted),
# plus one failure when there are sanitizer reports.
# Exit status 0 only if every test passed and there was no report.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)

config=${1:-}
case "$config" in
  asan|tsan) shift ;;
  *)
    echo "usage: tests/sanitizers.sh asan|tsan [--targets QUERY] [extra bazel test args...]" >&2
    exit 2
    ;;
esac
# Every test lives under tests/. (Not `//...`: to a server with another output base, the
# workspace's bazel-* symlinks into the shared output base look like packages.)
query='//tests/...'
case "${1:-}" in
  --targets) query=${2:?--targets needs a query}; shift 2 ;;
  --targets=*) query=${1#--targets=}; shift ;;
esac

deploy/install-deps.sh || exit 1

# One output base per checkout: a base is tied to the workspace it was first used with.
output_base=${CELLGW_SANITIZER_OUTPUT_BASE:-$HOME/.cache/bazel-$config-$(pwd | md5sum | cut -c1-8)}
bazel_cmd=(bazel "--output_base=$output_base")
start=$(date +%s)

# //... (tests/run.sh's default) means the same here: every test is under tests/.
if [ "$query" = '//...' ]; then query='//tests/...'; fi
# Tests tagged no-sanitizer test code in other languages against an unchanged gateway path
# (the Go and Node.js callers; cellgw-cli covers the same path here): the suite stage runs them.
targets=$("${bazel_cmd[@]}" query \
  "tests($query) except attr(tags, 'no-sanitizer', tests($query))" 2>/dev/null) || {
  echo "bazel query '$query' failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
}

# A fixed directory, so that the test action keys (and Bazel's test cache) stay stable.
reports="$output_base/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
log_options="log_path=$reports/report:log_exe_name=1"
if [ "$config" = asan ]; then
  env_args=(
    "--test_env=ASAN_OPTIONS=$log_options${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    "--test_env=UBSAN_OPTIONS=$log_options${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    "--test_env=LSAN_OPTIONS=$log_options${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  )
else
  env_args=("--test_env=TSAN_OPTIONS=$log_options${TSAN_OPTIONS:+:$TSAN_OPTIONS}")
fi

# --symlink_prefix=/ : do not repoint the workspace's bazel-bin/bazel-testlogs at this base.
# --keep_going: a target that does not build is counted as failed; the others still run.
bep=$(mktemp)
"${bazel_cmd[@]}" test --config="$config" --symlink_prefix=/ --test_summary=terse --keep_going \
  --build_event_json_file="$bep" "${env_args[@]}" "$@" -- $targets
rc=$?

shopt -s nullglob
report_files=("$reports"/report.*)
extra=()
if [ ${#report_files[@]} -gt 0 ]; then
  echo
  echo "=== ${#report_files[@]} sanitizer report file(s) in $reports ==="
  for f in "${report_files[@]}"; do
    echo "--- $(basename "$f")"
    cat "$f"
  done
  echo "=== summary of the reports ==="
  grep -h "^SUMMARY:" "${report_files[@]}" | sort | uniq -c | sort -rn
  extra=(--extra-failure "${#report_files[@]} $config report file(s) in $reports")
fi
echo "$config: $(( $(date +%s) - start )) s, ${#report_files[@]} sanitizer report file(s)"
# This base's Bazel server is not needed once the run is over.
"${bazel_cmd[@]}" shutdown >/dev/null 2>&1
# The count comes last, as tests/run.sh prints it.
/usr/bin/python3 "$repo/tests/count_results.py" stage --stage "$config" --bep "$bep" \
  "${extra[@]}" $targets
count_rc=$?
rm -f "$bep"
if [ $rc -eq 0 ]; then rc=$count_rc; fi
exit $rc
