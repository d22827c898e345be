#!/bin/sh
# Bazel entry point of //tests/python:python_client_test: runs python_client_test.py under
# Debian's /usr/bin/python3, the interpreter that has python3-grpcio, python3-protobuf and
# python3-oslo.messaging (another python3 may come first on PATH).
set -eu
if [ -n "${TEST_SRCDIR:-}" ]; then
  dir="$TEST_SRCDIR/${TEST_WORKSPACE:-cellgw}/tests/python"
else
  dir=$(dirname "$0")
fi
exec /usr/bin/python3 "$dir/python_client_test.py" "$@"
