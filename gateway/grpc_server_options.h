// The gRPC server's limits, from the gateway config: the largest request it reads, how many
// RPCs one connection may have open, and its HTTP/2 keepalive policy. Part of the process
// wiring (//gateway): GatewayServer applies them to the ServerBuilder of the gRPC port (the
// health listener is a separate server and takes none of them).
//
// Why here and not left to gRPC's defaults: gRPC would read any request up to 4 MiB whatever
// a cell accepts, lets one connection open ~2^31 streams, and its keepalive enforcement is
// not visible in the config. Each limit is a config key (gateway/config/config.h).
#ifndef CELLGW_GATEWAY_GRPC_SERVER_OPTIONS_H_
#define CELLGW_GATEWAY_GRPC_SERVER_OPTIONS_H_

#include <grpcpp/server_builder.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/config.h"

namespace cellgw::gateway {

// What a gRPC request may carry besides the JSON that becomes the message body: the target's
// fields (at most 255 bytes each), the method and protobuf framing. A request whose encoded
// message would be over max_message_bytes is refused by the bridge anyway; this margin only
// keeps gRPC from refusing one that would fit.
inline constexpr int64_t kRequestEnvelopeBytes = 64 << 10;

// How many pings that break the keepalive policy a connection may send before it is closed
// with GOAWAY ("too_many_pings"): gRPC's own default, written down.
inline constexpr int kMaxPingStrikes = 2;

struct GrpcServerOptions {
  // The largest cell's max_message_bytes plus kRequestEnvelopeBytes: a larger request is
  // refused by gRPC with RESOURCE_EXHAUSTED before it is read into memory.
  int max_receive_message_bytes = 0;
  // Integer channel arguments, by name (GRPC_ARG_*).
  std::vector<std::pair<std::string, int>> int_arguments;
};

// The options for `config`: max_concurrent_streams, keepalive.min_ping_interval,
// permit_without_calls, time and timeout, and kMaxPingStrikes.
GrpcServerOptions ServerOptionsFor(const GatewayConfig& config);

// Applies `options` to `builder`.
void ApplyServerOptions(const GrpcServerOptions& options, grpc::ServerBuilder& builder);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_GRPC_SERVER_OPTIONS_H_
