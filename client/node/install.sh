#!/usr/bin/env bash
# Prepares the Node.js client of cellgw to run: copies the package to a work directory and
# installs the dependencies pinned in package-lock.json with `npm ci` (the npm registry is the
# only thing contacted, and only when the lockfile changed since the last install). Prints
# the prepared package's directory.
#
# The checkout is only read (it may be Bazel's runfiles tree). Work directory:
# $CELLGW_NODE_WORK (default ~/.cache/cellgw-node/<hash of this directory>), holding
#   package/                  package.json, package-lock.json, tsconfig.json, bin/, lib/, test/
#   package/node_modules/     what `npm ci` installed (devDependencies too: `npm test` and
#                             `npm run typecheck` run there)
# The package reads the .proto files from $CELLGW_PROTO_DIR; run.sh points it at this
# checkout's proto/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${CELLGW_NODE_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/cellgw-node/$(printf '%s' "$here" | sha256sum | cut -c1-12)}
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "client/node/install.sh: node and npm are needed (Node.js 18 or later)" >&2; exit 1; }

mkdir -p "$work"
# One install at a time per work directory; the lock goes with this process.
exec 9>"$work/lock"
flock 9

package=$work/package
mkdir -p "$package"
rm -rf "$package/bin" "$package/lib" "$package/test"
cp -RL "$here/package.json" "$here/package-lock.json" "$here/tsconfig.json" \
  "$here/bin" "$here/lib" "$here/test" "$package/"
lock_hash=$(sha256sum < "$here/package-lock.json" | cut -d' ' -f1)
stamp=$package/node_modules/.cellgw-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  # --ignore-scripts: no dependency needs an install script to work here. npm's chatter goes
  # to stderr, so stdout stays this script's answer.
  (cd "$package" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" > "$stamp"
fi
echo "$package"
