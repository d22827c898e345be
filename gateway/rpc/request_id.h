// Request ids: taken from the caller's `x-request-id` metadata or generated as
// "req-<uuid4>" (oslo.context's format), returned to the caller in the response metadata and
// sent to the service as the context's `request_id` unless the caller's context has one.
#ifndef CELLGW_GATEWAY_RPC_REQUEST_ID_H_
#define CELLGW_GATEWAY_RPC_REQUEST_ID_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/strings/string_view.h"

namespace cellgw::gateway {

inline constexpr absl::string_view kRequestIdHeader = "x-request-id";

// `from_caller` when it is a usable id (1..128 printable ASCII characters), else a new
// "req-<uuid4>". Ids are echoed in logs and metadata, so anything else is not trusted.
std::string ChooseRequestId(absl::string_view from_caller);

// The request id of the RPC on `context`: ChooseRequestId of its x-request-id metadata.
std::string RequestIdOf(const grpc::ServerContextBase& context);

// `context_json` with "request_id": `request_id` appended when the object has no
// "request_id" member; unchanged when it has one or is not a JSON object (the bridge then
// rejects it with INVALID_ARGUMENT naming context_json). "" counts as {}.
std::string WithRequestId(const std::string& context_json, absl::string_view request_id);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_REQUEST_ID_H_
