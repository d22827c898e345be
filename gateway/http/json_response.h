// What the HTTP/JSON front answers: the HTTP status of a gRPC outcome and the JSON bodies.
// The last step of the HTTP front (gateway/http): the transcoder hands it what the gateway's
// own gRPC service returned. The gRPC code decides the HTTP status, as coded once in
// HttpStatusOf:
//
//   OK 200                    INVALID_ARGUMENT 400      FAILED_PRECONDITION 400
//   OUT_OF_RANGE 400          UNAUTHENTICATED 401       PERMISSION_DENIED 403
//   NOT_FOUND 404             ALREADY_EXISTS 409        ABORTED 409
//   RESOURCE_EXHAUSTED 429    CANCELLED 499             UNKNOWN 500
//   INTERNAL 500              DATA_LOSS 500             UNIMPLEMENTED 501
//   UNAVAILABLE 503           DEADLINE_EXCEEDED 504
//
// Bodies (one JSON object and a newline; non-ASCII text as \uXXXX escapes):
//   call      {"result": <result_json as the server sent it>, "msg_id": "..."}
//   cast      {"unique_id": "..."}        (fanout the same)
//   cells     {"cells": [{"name", "connected", "transport_url", "control_exchange"}, ...]}
//   error     {"code": "UNKNOWN", "message": "...", "remote_error": {"exception_class",
//              "exception_module", "message", "traceback": [...], "args": [...],
//              "kwargs": {...}}}
//             remote_error only when the status carries a cellgw.v1.RemoteError in its
//             google.rpc.Status details (gateway/rpc/status_mapper.h puts it there).
//
// Error messages that start with a gRPC field name ("target.topic: required") name the body
// member instead ("topic: required"), so an HTTP caller reads the names it sent.
//
// JSON text that came from the server (result_json, RemoteError args_json/kwargs_json) is
// embedded verbatim: the bridge validated it when it read the reply. Pure functions,
// thread-compatible.
#ifndef CELLGW_GATEWAY_HTTP_JSON_RESPONSE_H_
#define CELLGW_GATEWAY_HTTP_JSON_RESPONSE_H_

#include <grpcpp/support/status.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "cellgw/v1/gateway.pb.h"

namespace cellgw::gateway::http {

// One HTTP answer, before it is written.
struct HttpReply {
  int status = 200;
  std::string body;  // JSON, ending in a newline
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
};

// The HTTP status for a gRPC code (table above; codes outside it: 500).
int HttpStatusOf(grpc::StatusCode code);

// The RemoteError in `status`'s google.rpc.Status details, nullopt when there is none (or
// the details do not parse).
std::optional<v1::RemoteError> RemoteErrorOf(const grpc::Status& status);

// A non-OK gRPC outcome as an HTTP reply: HttpStatusOf's status and the error body, plus
// `WWW-Authenticate: Bearer` for UNAUTHENTICATED (RFC 6750).
HttpReply ErrorReply(const grpc::Status& status);

// Successful outcomes.
HttpReply CallReply(const v1::CallResponse& response);
HttpReply UniqueIdReply(absl::string_view unique_id);  // cast and fanout
HttpReply CellsReply(const v1::ListCellsResponse& response);

}  // namespace cellgw::gateway::http

#endif  // CELLGW_GATEWAY_HTTP_JSON_RESPONSE_H_
