// Request ids: taken from the caller's `x-request-id` metadata or generated as
// "req-<uuid4>" (oslo.context's format), returned to the caller in the response metadata and
// sent to the service as the context's `request_id` unless the caller's context has one
// (gateway/rpc/request_context.h adds it).
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

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_REQUEST_ID_H_
