#!/usr/bin/env bash
# Installs the Node.js client's pinned dependencies when needed (install.sh: `npm ci` from
# package-lock.json, in ~/.cache/cellgw-node) and runs the example command, cellgw-node, with
# the given arguments: the same arguments, output and exit status as cellgw-cli.
#
#   client/node/run.sh call --topic compute echo '{"x": 1}'
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
package=$("$here/install.sh")
CELLGW_PROTO_DIR=${CELLGW_PROTO_DIR:-$here/../../proto} exec node "$package/bin/cellgw-node.js" "$@"
