#include "gateway/grpc_server_options.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <limits>

#include "absl/time/time.h"

namespace cellgw::gateway {
namespace {

// The config bounds every duration to int milliseconds; clamp anyway rather than overflow.
int Milliseconds(absl::Duration duration) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(duration),
                                            std::numeric_limits<int>::max()));
}

}  // namespace

GrpcServerOptions ServerOptionsFor(const GatewayConfig& config) {
  uint64_t largest = 0;
  for (const bridge::CellOptions& cell : config.cells) {
    largest = std::max(largest, cell.max_message_bytes);
  }
  GrpcServerOptions options;
  options.max_receive_message_bytes = static_cast<int>(
      std::min<uint64_t>(largest + kRequestEnvelopeBytes, std::numeric_limits<int>::max()));
  const KeepaliveConfig& keepalive = config.keepalive;
  options.int_arguments = {
      {GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams},
      {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
       Milliseconds(keepalive.min_ping_interval)},
      {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, keepalive.permit_without_calls ? 1 : 0},
      {GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(keepalive.time)},
      {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(keepalive.timeout)},
      {GRPC_ARG_HTTP2_MAX_PING_STRIKES, kMaxPingStrikes},
  };
  return options;
}

void ApplyServerOptions(const GrpcServerOptions& options, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  for (const auto& [name, value] : options.int_arguments) {
    builder.AddChannelArgument(name, value);
  }
}

}  // namespace cellgw::gateway
