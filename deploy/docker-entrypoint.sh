#!/bin/sh
# Entrypoint of the cellgw container image (deploy/Dockerfile).
#
#   (no arguments)          cellgw --config "$CELLGW_CONFIG"     serve until SIGTERM
#   --check-config [FILE]   validate FILE (default: $CELLGW_CONFIG) and exit 0 or 2
#   -<anything else>        passed to cellgw (e.g. --version)
#   any other command       run instead of cellgw (e.g. `sh`, to look around)
#
# CELLGW_CONFIG defaults to /etc/cellgw/cellgw.yaml. cellgw itself applies the CELLGW_*
# environment overrides (listen addresses, log level, grace period, each cell's transport
# URL or URL file; see gateway/config/config.h), in both modes, so this script passes nothing on.
#
# exec, so that cellgw is the container's main process: the SIGTERM of `docker stop` or the
# kubelet reaches it directly and its graceful shutdown (drain in-flight calls, close the
# broker connections, exit 0) runs; a shell in between would not forward it.
set -eu

config="${CELLGW_CONFIG:-/etc/cellgw/cellgw.yaml}"

if [ "$#" -eq 0 ]; then
  exec cellgw --config "$config"
fi
case "$1" in
  --check-config)
    if [ "$#" -eq 1 ]; then
      exec cellgw --check-config "$config"
    fi
    exec cellgw "$@"
    ;;
  -*)
    exec cellgw "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
