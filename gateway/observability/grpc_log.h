// gRPC's own log lines (handshake failures, transport errors) as cellgw JSON log lines
// (gateway/observability/json_log.h), so that stderr stays one JSON object per line.
//
// Without it, gRPC core writes lines like "E1204 16:19:28 ... Handshake failed ..." to
// stderr, e.g. whenever a plaintext client or probe reaches the TLS port, and log
// collectors that expect JSON break on them.
#ifndef CELLGW_GATEWAY_OBSERVABILITY_GRPC_LOG_H_
#define CELLGW_GATEWAY_OBSERVABILITY_GRPC_LOG_H_

namespace cellgw::gateway {

// From now on, every line gRPC logs (at the verbosity GRPC_VERBOSITY allows, ERROR by
// default) becomes a JSON line with message "grpc", `level` from gRPC's severity, the
// text as `detail` (cut by CapForLog to 1024 bytes) and `source` ("file:line").
// Process-wide; main() calls it once, before anything starts.
void RouteGrpcLogsToJsonLog();

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_OBSERVABILITY_GRPC_LOG_H_
