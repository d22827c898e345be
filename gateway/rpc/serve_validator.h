// Turns the gRPC messages of a Serve stream into bridge values and back, refusing malformed
// ones with INVALID_ARGUMENT that names the field.
//
// Where it sits: each message a Serve stream reads (ServeReactor) passes here first. It checks
// what is about the gRPC messages themselves: the stream's message roles and the Reply's
// outcome. What depends on the cell and on oslo's rules (names, lengths, versions, methods,
// max_in_flight's range, the result's JSON) is checked by the bridge
// (bridge/serve_bridge.h), which reads those fields anyway.
#ifndef CELLGW_GATEWAY_RPC_SERVE_VALIDATOR_H_
#define CELLGW_GATEWAY_RPC_SERVE_VALIDATOR_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "bridge/serve_bridge.h"
#include "cellgw/v1/gateway.pb.h"

namespace cellgw::gateway {

// The stream's first message. INVALID_ARGUMENT "register: the first message of a Serve stream
// is the Registration" when it is not one. max_in_flight 0 becomes 16; an empty namespace is
// oslo's None; an empty version stays "" (the bridge reads it as "1.0").
absl::StatusOr<bridge::ServeRegistration> ToServeRegistration(const v1::ServeRequest& first);

// A later message: a Reply. INVALID_ARGUMENT "register: only the stream's first message
// registers" for a second Registration, "reply: required" for an empty message,
// "reply.error.exception_class: required" for an error without a class, and
// "reply.error.args_json" / "reply.error.kwargs_json" when they are not a JSON array / object.
struct ServeAnswer {
  uint64_t id = 0;
  bridge::WorkerAnswer answer;
};
absl::StatusOr<ServeAnswer> ToServeAnswer(const v1::ServeRequest& request);

// An Incoming for the stream; `deadline` (calls with an AMQP expiration) as a Timestamp.
v1::Incoming ToIncomingProto(bridge::IncomingRequest request);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_SERVE_VALIDATOR_H_
