// The JSON body of POST /v1/call, /v1/cast and /v1/fanout, turned into the CellGateway
// request the gRPC API takes. The first step of the HTTP/JSON front (gateway/http): the
// transcoder parses the body here, then calls the gateway's own gRPC service in-process, so
// everything after this point is the gRPC path unchanged.
//
// The body is one JSON object with these members, all optional as far as this module is
// concerned (the service says what is required, e.g. "topic: required"):
//
//   cell, exchange, topic, namespace, version, server, method   strings: the Target fields
//                                                               and the method, as in gRPC
//   args, context             JSON objects; their text is passed on exactly as sent (never
//                             converted: 2**64-1 and 2**70 arrive exactly) as args_json /
//                             context_json
//   timeout_ms                integer, milliseconds, 0 to 2147483647. For a call: the
//                             CallRequest.timeout. For a cast or fanout: how long to wait for
//                             the broker's confirm (the gRPC deadline). 0 means unset.
//   call_monitor_timeout_ms   integer, milliseconds, 0 to 2147483647; calls only
//                             (CallRequest.call_monitor_timeout). 0 means unset.
//
// A member whose value is null counts as absent. Every refusal is INVALID_ARGUMENT whose
// message starts with the name of what is wrong: "body: ..." when the body is not a JSON
// object, "<member>: ..." for a member of the wrong type, an unknown member, a member given
// twice, or call_monitor_timeout_ms outside /v1/call.
//
// Pure functions, thread-compatible. Numbers and JSON values are never converted.
#ifndef CELLGW_GATEWAY_HTTP_JSON_REQUEST_H_
#define CELLGW_GATEWAY_HTTP_JSON_REQUEST_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cellgw/v1/gateway.pb.h"

namespace cellgw::gateway::http {

// What a body may send.
enum class SendKind { kCall, kCast, kFanout };

// A parsed body. Strings are "" and durations nullopt where the body left them out (or
// sent null, or 0 for a duration).
struct JsonRequest {
  v1::Target target;
  std::string method;
  std::string args_json;     // the raw text of "args" as sent; "" when absent
  std::string context_json;  // the raw text of "context" as sent; "" when absent
  std::optional<absl::Duration> timeout;               // timeout_ms
  std::optional<absl::Duration> call_monitor_timeout;  // call_monitor_timeout_ms (calls)
};

// Parses `body` for a request of `kind`. INVALID_ARGUMENT as described above.
absl::StatusOr<JsonRequest> ParseJsonRequest(absl::string_view body, SendKind kind);

// The gRPC requests. For a call, `timeout` and `call_monitor_timeout` become the request's
// Durations; cast and fanout carry no timeout (the transcoder makes it their deadline).
v1::CallRequest ToCallRequest(const JsonRequest& request);
v1::CastRequest ToCastRequest(const JsonRequest& request);
v1::FanoutRequest ToFanoutRequest(const JsonRequest& request);

}  // namespace cellgw::gateway::http

#endif  // CELLGW_GATEWAY_HTTP_JSON_REQUEST_H_
