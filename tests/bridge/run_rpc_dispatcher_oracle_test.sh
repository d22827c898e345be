#!/bin/sh
# Bazel entry point of //tests/bridge:rpc_dispatcher_oracle_test: Debian's /usr/bin/python3
# has python3-oslo.messaging (another python3 may come first on PATH).
set -eu
dir="${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-cellgw}/tests/bridge"
[ -n "${TEST_SRCDIR:-}" ] || dir=$(dirname "$0")
exec /usr/bin/python3 "$dir/rpc_dispatcher_oracle_test.py" "$@"
