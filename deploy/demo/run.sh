#!/usr/bin/env bash
# The cellgw demo, from a fresh Debian 12 machine (run as root when packages are missing):
#
#   deploy/demo/run.sh [--keep]
#
# 1. installs what is missing (deploy/install-deps.sh: Debian packages only),
# 2. builds the gateway, the CLI and the Python stubs with Bazel (offline),
# 3. runs deploy/demo/demo.py: a private RabbitMQ, three example oslo.messaging services and
#    cellgw, all on loopback; casts, calls and fanouts through the gateway, each shown with
#    the command a user would type; everything stopped again at the end.
# Exit status 0 only when every step of the demo behaved as expected.
set -euo pipefail
cd "$(dirname "$0")/../.."

# What the demo needs at run time beyond the build: checked here so that a machine that
# already has everything does not need root.
missing=""
command -v bazel >/dev/null 2>&1 || missing="$missing bazel"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$missing rabbitmq-server"
for tool in protoc grpc_cpp_plugin grpc_python_plugin; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ ! -x /usr/bin/python3 ] ||
   ! /usr/bin/python3 -c 'import grpc, google.protobuf, oslo_messaging' >/dev/null 2>&1; then
  missing="$missing python-modules(grpc,protobuf,oslo.messaging)"
fi
if [ -n "$missing" ]; then
  echo "demo: missing:$missing; installing with deploy/install-deps.sh"
  deploy/install-deps.sh
fi

echo "demo: building //gateway:cellgw //client:cellgw-cli //client:cellgw-example-worker //proto:gateway_py_gen"
bazel build //gateway:cellgw //client:cellgw-cli //client:cellgw-example-worker //proto:gateway_py_gen

exec /usr/bin/python3 deploy/demo/demo.py "$@"
