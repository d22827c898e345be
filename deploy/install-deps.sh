#!/usr/bin/env bash
# Installs everything cellgw needs to build, test and run its demo on Debian 12 (as root).
# Only Debian packages: nothing is downloaded at build time.
#
# Package services (rabbitmq-server, prometheus) are NOT started: cellgw's tests and demo
# start private instances on loopback themselves, and a system broker would only be left
# running behind them.
set -euo pipefail

packages=(
  # build
  bazel-bootstrap g++ protobuf-compiler protobuf-compiler-grpc
  libgrpc++-dev libprotobuf-dev libabsl-dev librabbitmq-dev prometheus-cpp-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev
  # run the peers: a broker and real oslo.messaging (under /usr/bin/python3)
  rabbitmq-server python3-oslo.messaging
  # Python callers (interop test, demo) and test tooling
  python3-grpcio python3-protobuf python3-yaml prometheus procps iproute2 openssl
  # fuzzing (libFuzzer and clang's sanitizer runtimes) and the benchmark's plot
  clang lld libclang-rt-14-dev python3-matplotlib
  # the Go client (client/go), built offline from Debian's Go sources; grpc-go takes the
  # APIv2-based golang/protobuf 1.5 (it replaces the 1.3 package), the stubs need it
  golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
)
# The Node.js client (client/node) needs node >= 18 and npm, which are not installed here: the
# machines have Node.js 20 with its own npm, which Debian's npm package would conflict with.

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

# Keep package scripts from starting system services (policy-rc.d exit 101 = "not allowed").
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
# An if, not `[ … ] && rm`: as the trap's last command a false test would become the
# script's exit status after a successful install.
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
