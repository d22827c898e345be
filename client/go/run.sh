#!/usr/bin/env bash
# Builds the Go client offline (build.sh: Debian's packages only, in ~/.cache/cellgw-go) and
# runs the example command, cellgw-go, with the given arguments: the same arguments, output
# and exit status as cellgw-cli.
#
#   client/go/run.sh call --topic compute echo '{"x": 1}'
set -euo pipefail
binary=$("$(dirname "$0")/build.sh")
exec "$binary" "$@"
