#!/usr/bin/env bash
# Builds the Go client of cellgw offline, from Debian's packages only (deploy/install-deps.sh
# installs them): no module download, no proxy.
#
#   client/go/build.sh                  builds cellgw-go; prints the binary's path
#   client/go/build.sh --go test ./...  prepares the module the same way, then runs
#                                       `go test ./...` in it (or any go subcommand)
#
# The checkout is only read (it may be Bazel's runfiles tree). Everything is made in a work
# directory, $CELLGW_GO_WORK (default ~/.cache/cellgw-go/<hash of this directory>):
#   module/            go.mod and the packages, copied from here
#   module/cellgwv1/   stubs that protoc, with Debian's protoc-gen-go and protoc-gen-go-grpc,
#                      generates from proto/cellgw/v1/gateway.proto at every build, so they
#                      never fall behind the proto. google.rpc.Status is not generated:
#                      grpc-go's status package brings genproto's, and a second copy of the
#                      same proto file would clash in the registry.
#   module/vendor/     links to Debian's Go sources in /usr/share/gocode/src, and a
#                      modules.txt naming go.mod's requirements, for `go build -mod=vendor`
#   bin/cellgw-go      the example command
# Environment: CELLGW_GO_WORK, CELLGW_PROTO_DIR (default ../../proto from here), GOCACHE
# (default ~/.cache/go-build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=${CELLGW_PROTO_DIR:-$here/../../proto}
cache=${XDG_CACHE_HOME:-$HOME/.cache}
work=${CELLGW_GO_WORK:-$cache/cellgw-go/$(printf '%s' "$here" | sha256sum | cut -c1-12)}
gocode=/usr/share/gocode/src
# The modules grpc-go and the stubs import (x/text through x/net's idna).
deps=(google.golang.org/grpc google.golang.org/protobuf google.golang.org/genproto
      github.com/golang/protobuf golang.org/x/net golang.org/x/sys golang.org/x/text)

fail() { echo "client/go/build.sh: $*" >&2; exit 1; }

missing=()
for tool in /usr/bin/go /usr/bin/protoc /usr/bin/protoc-gen-go /usr/bin/protoc-gen-go-grpc; do
  [ -x "$tool" ] || missing+=("$tool")
done
for dep in "${deps[@]}"; do
  [ -d "$gocode/$dep" ] || missing+=("$gocode/$dep")
done
[ ${#missing[@]} -eq 0 ] || fail "missing ${missing[*]}; run deploy/install-deps.sh as root"
[ -f "$proto_dir/cellgw/v1/gateway.proto" ] ||
  fail "no cellgw/v1/gateway.proto under $proto_dir (set CELLGW_PROTO_DIR)"

mkdir -p "$work"
# One build at a time per work directory; the lock goes with this process.
exec 9>"$work/lock"
flock 9

module=$work/module
rm -rf "$module"
mkdir -p "$module" "$work/bin"
cp -RL "$here/go.mod" "$here/cellgw" "$here/cmd" "$module/"
import_path=$(sed -n 's/^module //p' "$module/go.mod")
protoc -I"$proto_dir" -I/usr/include \
  --plugin=protoc-gen-go=/usr/bin/protoc-gen-go \
  --plugin=protoc-gen-go-grpc=/usr/bin/protoc-gen-go-grpc \
  --go_out="$module" --go_opt=module="$import_path" \
  --go_opt=Mcellgw/v1/gateway.proto="$import_path/cellgwv1" \
  --go-grpc_out="$module" --go-grpc_opt=module="$import_path" \
  --go-grpc_opt=Mcellgw/v1/gateway.proto="$import_path/cellgwv1" \
  cellgw/v1/gateway.proto
for dep in "${deps[@]}"; do
  mkdir -p "$module/vendor/$(dirname "$dep")"
  ln -s "$gocode/$dep" "$module/vendor/$dep"
done
# Go checks that modules.txt lists go.mod's requirements, each marked explicit; the other
# modules are found by their directory alone.
sed -n 's/^\t\([^ ]*\) \(v[^ ]*\)$/# \1 \2\n## explicit/p' "$module/go.mod" \
  > "$module/vendor/modules.txt"

export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$cache/go-build}
cd "$module"
if [ "${1:-}" = "--go" ]; then
  shift
  go "$@"
  exit
fi
go build -o "$work/bin/cellgw-go.new" ./cmd/cellgw-go
# A rename, so a cellgw-go already running from the old file is not disturbed.
mv -f "$work/bin/cellgw-go.new" "$work/bin/cellgw-go"
echo "$work/bin/cellgw-go"
