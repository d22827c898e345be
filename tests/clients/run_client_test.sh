#!/bin/sh
# Bazel entry point of //tests/clients:go_client_test and :node_client_test: runs
# client_commands_test.py (argument: go or node) under Debian's /usr/bin/python3, the
# interpreter that has python3-grpcio and python3-oslo.messaging (another python3 may come
# first on PATH).
set -eu
if [ -n "${TEST_SRCDIR:-}" ]; then
  dir="$TEST_SRCDIR/${TEST_WORKSPACE:-cellgw}/tests/clients"
else
  dir=$(dirname "$0")
fi
exec /usr/bin/python3 "$dir/client_commands_test.py" "$@"
