#!/usr/bin/env bash
# Runs every cellgw test on this machine: installs what is missing, builds, runs the whole
# suite (unit tests, and integration tests against private RabbitMQ nodes and real
# oslo.messaging processes that the tests start and stop themselves), and prints one line
# "N passed, N failed" counted from the test results. Exit status 0 only if all passed.
#
#   tests/run.sh [extra bazel test args...]
set -uo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh || exit 1

targets=$(bazel query 'tests(//...)' 2>/dev/null) || { echo "bazel query failed"; echo "0 passed, 1 failed"; exit 1; }
bazel test --test_summary=terse "$@" -- $targets
rc=$?

/usr/bin/python3 tests/count_results.py $targets
count_rc=$?
if [ $rc -eq 0 ] && [ $count_rc -ne 0 ]; then rc=$count_rc; fi
exit $rc
