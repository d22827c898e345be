#!/bin/bash
# The side-by-side benchmark of cellgw (issue 6), in one command, from a fresh checkout:
#
#   tests/bench/run_bench.sh [--smoke] [--levels 1,8,64,256] [--payload-bytes 256]
#                            [--duration-s 5] [--warmup-s 1] [--out bench-out]
#
# Builds the gateway and the benchmark tools optimised (bazel build -c opt, without touching
# the bazel-bin symlinks other builds use), then runs tests/bench/run_bench.py: a private
# RabbitMQ node, the real cellgw binary, the native echo server, the raw rabbitmq-c probe, a
# real oslo.messaging server and client, all on this machine. Prints the markdown report and
# writes results.jsonl, report.md and bench.png to --out. Every process it starts is stopped
# by PID when it ends, also on Ctrl-C. Installs what is missing first (deploy/install-deps.sh:
# rabbitmq-server, python3-oslo.messaging, python3-matplotlib for the plot, the build tools).
#
# Under `bazel test` (//tests/bench:bench_smoke_test) the binaries come from the runfiles and
# are passed with --cellgw= --bench= --echo-server= --raw-probe= --bridge-probe=; nothing is
# built then.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for arg in "$@"; do
  case "${arg}" in
    --cellgw=*) exec /usr/bin/python3 "${here}/run_bench.py" "$@" ;;
  esac
done

repo="$(cd "${here}/../.." && pwd)"
cd "${repo}"
deploy/install-deps.sh >&2
targets=(//gateway:cellgw //tests/bench:cellgw-bench //tests/bench:echo_server
         //tests/bench:raw_probe //tests/bench:bridge_probe)
echo "run_bench.sh: building ${targets[*]} (-c opt)" >&2
bazel build -c opt --symlink_prefix=/ "${targets[@]}" >&2
bin="$(bazel info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)"
exec /usr/bin/python3 "${here}/run_bench.py" \
  --cellgw="${bin}/gateway/cellgw" \
  --bench="${bin}/tests/bench/cellgw-bench" \
  --echo-server="${bin}/tests/bench/echo_server" \
  --raw-probe="${bin}/tests/bench/raw_probe" \
  --bridge-probe="${bin}/tests/bench/bridge_probe" \
  "$@"
