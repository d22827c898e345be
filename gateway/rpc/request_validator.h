// Turns gRPC requests into bridge requests, refusing malformed ones with INVALID_ARGUMENT
// that names the field.
//
// Where it sits: the path of one RPC in CellGatewayService is
//   CheckBounds  (lengths and required fields only: no parsing, no matching, no logging of
//                 anything longer than the limits)
//   → authorisation (gateway/security/authorizer.h: globs over the bounded fields)
//   → ValidateCast / ValidateFanout / ValidateCall (durations, and the context: read once by
//                 BuildContext, gateway/rpc/request_context.h, which adds the request id and
//                 applies the grant's context rules)
//   → the bridge, which checks what depends on the cell (derived AMQP names such as
//     "<topic>.<server>", version syntax and caps) and, while encoding, validates args_json
//     and re-reads the context it was given (it trusts no text it did not check).
// So the gateway parses context_json once and never parses args_json; the bridge parses each
// once more while encoding.
#ifndef CELLGW_GATEWAY_RPC_REQUEST_VALIDATOR_H_
#define CELLGW_GATEWAY_RPC_REQUEST_VALIDATOR_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/rpc_bridge.h"
#include "cellgw/v1/gateway.pb.h"
#include "gateway/rpc/request_context.h"

namespace cellgw::gateway {

// The longest target.cell, target.exchange, target.topic, target.namespace,
// target.version, target.server and method accepted, in bytes (not characters): the AMQP
// short-string limit, which already bounds exchange, topic and server on the wire.
inline constexpr size_t kMaxFieldBytes = 255;

struct ValidatedCall {
  bridge::RpcRequest request;
  bridge::CallOptions options;
};

// The cheap first check of every Cast, Call and Fanout: INVALID_ARGUMENT "target.topic:
// required", "method: required", or "<field>: is <n> bytes long; the limit is 255" for the
// first field over kMaxFieldBytes, in the order target.cell, target.exchange, target.topic,
// target.namespace, target.version, target.server, method. Reads sizes only.
absl::Status CheckBounds(const v1::Target& target, absl::string_view method);

// CheckBounds, then the context (BuildContext with `edits`: INVALID_ARGUMENT naming
// context_json, PERMISSION_DENIED for a denied key). The result's context_json is what the
// service will receive.
absl::StatusOr<bridge::RpcRequest> ValidateCast(const v1::CastRequest& request,
                                                const ContextEdits& edits);
absl::StatusOr<bridge::RpcRequest> ValidateFanout(const v1::FanoutRequest& request,
                                                  const ContextEdits& edits);

// As above, plus "timeout: ..." and "call_monitor_timeout: ..." (negative, or not a valid
// google.protobuf.Duration). `grpc_deadline` is the caller's deadline (InfiniteFuture if
// none); options.timeout is CallRequest.timeout as sent (zero when unset), for
// CallTimeouts (gateway/rpc/call_timeouts.h) to bound.
absl::StatusOr<ValidatedCall> ValidateCall(const v1::CallRequest& request,
                                           absl::Time grpc_deadline, const ContextEdits& edits);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_REQUEST_VALIDATOR_H_
