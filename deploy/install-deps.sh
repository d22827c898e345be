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
  # the HTTP/JSON test runs the README's curl example
  curl
  # fuzzing (libFuzzer and clang's sanitizer runtimes) and the benchmark's plot
  clang lld libclang-rt-14-dev python3-matplotlib
  # the Go client (client/go), built offline from Debian's Go sources; grpc-go takes the
  # APIv2-based golang/protobuf 1.5 (it replaces the 1.3 package), the stubs need it
  golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
)
# The Node.js client (client/node) needs node >= 18 and npm. A machine that already has both
# (e.g. Node.js 20 from NodeSource, with its own npm) keeps them: Debian's npm package would
# conflict with that install. A fresh Debian 12 gets Debian's (Node.js 18).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

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
# A policy-rc.d that was already there is left as it is. CELLGW_POLICY_RC_D: another path,
# for tests/ops/install_deps_test.py only.
policy_rc_d=${CELLGW_POLICY_RC_D:-/usr/sbin/policy-rc.d}
created_policy=0
# An if, not `[ … ] && rm`: as the trap's last command a false test would become the
# script's exit status after a successful install. Set before the file is made, so that
# a failure in between still removes it.
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f "$policy_rc_d"; fi
}
trap cleanup EXIT
if [ ! -e "$policy_rc_d" ]; then
  created_policy=1
  printf '#!/bin/sh\nexit 101\n' > "$policy_rc_d"
  chmod +x "$policy_rc_d"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
