// Turns gRPC requests into bridge requests, refusing malformed ones with INVALID_ARGUMENT
// that names the field.
//
// Where it sits: the first step of every RPC in CellGatewayService. It checks what is about
// the gRPC request itself (required fields, durations); what depends on the cell (target
// names, version caps) and the JSON of args_json/context_json is checked by the bridge, which
// reads them anyway while encoding, so no request is parsed twice.
#ifndef CELLGW_GATEWAY_RPC_REQUEST_VALIDATOR_H_
#define CELLGW_GATEWAY_RPC_REQUEST_VALIDATOR_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/rpc_bridge.h"
#include "cellgw/v1/gateway.pb.h"

namespace cellgw::gateway {

struct ValidatedCall {
  bridge::RpcRequest request;
  bridge::CallOptions options;
};

// INVALID_ARGUMENT: "target.topic: required", "method: required".
absl::StatusOr<bridge::RpcRequest> ValidateCast(const v1::CastRequest& request);
absl::StatusOr<bridge::RpcRequest> ValidateFanout(const v1::FanoutRequest& request);

// As above, plus "timeout: ..." and "call_monitor_timeout: ..." (negative, or not a valid
// google.protobuf.Duration). `grpc_deadline` is the caller's deadline (InfiniteFuture if none).
absl::StatusOr<ValidatedCall> ValidateCall(const v1::CallRequest& request,
                                           absl::Time grpc_deadline);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_REQUEST_VALIDATOR_H_
