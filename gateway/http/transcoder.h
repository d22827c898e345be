// The HTTP/JSON transcoder: one HTTP request in, one HTTP reply out, through the gateway's
// own gRPC service. Where it sits: http_front (civetweb) reads the request and hands it here
// on one of its worker threads; this class parses the body (json_request), calls
// cellgw.v1.CellGateway over an in-process channel (grpc::Server::InProcessChannel) with the
// generated stub, and maps the outcome (json_response). Authentication, the policy,
// validation, limits, metrics and the request's log line are therefore the gRPC path's, with
// nothing duplicated here.
//
// Routes:
//   POST /v1/call    -> Call        POST /v1/cast  -> Cast     POST /v1/fanout -> Fanout
//   GET  /v1/cells   -> ListCells
// Another method on these paths is 405 (with Allow); any other path is 404.
//
// Forwarded as gRPC metadata: every Authorization header as `authorization` (the service's
// Authorizer judges them; a value that is not printable ASCII, which gRPC metadata cannot
// carry, is refused here with 400) and the request id as `x-request-id`.
//
// Deadlines: a call with timeout_ms sends it as CallRequest.timeout and waits that long plus
// kDeadlineMargin, so the service's own timeout (and its log line) ends the call first; a
// cast or fanout with timeout_ms waits that long for the broker's confirm. Without
// timeout_ms every request waits at most `default_deadline` (GatewayServer passes the
// largest cell rpc_response_timeout plus the margin); calls then end by the cell's timeout.
#ifndef CELLGW_GATEWAY_HTTP_TRANSCODER_H_
#define CELLGW_GATEWAY_HTTP_TRANSCODER_H_

#include <grpcpp/channel.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gateway/http/json_response.h"

namespace cellgw::gateway::http {

enum class Route { kCall, kCast, kFanout, kCells, kOther };

// The route of a request path (the query string already removed); kOther when none.
Route RouteOf(absl::string_view path);
// The metric label of a route: "/v1/call", "/v1/cast", "/v1/fanout", "/v1/cells", "other".
absl::string_view RouteLabel(Route route);

inline constexpr absl::Duration kDeadlineMargin = absl::Seconds(5);

class Transcoder {
 public:
  // `channel` reaches the gateway's CellGateway service (in production an in-process
  // channel); it must stay usable as long as Handle may be called.
  Transcoder(std::shared_ptr<grpc::Channel> channel, absl::Duration default_deadline);

  struct Request {
    absl::string_view method;  // HTTP method, e.g. "POST"
    absl::string_view path;    // decoded path without the query string
    absl::string_view body;
    std::vector<std::string> authorization;  // every Authorization header's value
    std::string request_id;  // the request's id (gateway/rpc/request_id.h), forwarded
  };

  struct Outcome {
    Route route = Route::kOther;
    HttpReply reply;
    // Set when the request was refused here, before the gRPC service saw it (it then has
    // no log line of the service's): why.
    std::optional<std::string> refusal;
  };

  // Serves one request. Blocks the calling thread until the gRPC call ends (at most its
  // deadline); gRPC's own threads never wait for it. Thread-safe.
  Outcome Handle(const Request& request) const;

 private:
  std::unique_ptr<v1::CellGateway::Stub> stub_;
  absl::Duration default_deadline_;
};

}  // namespace cellgw::gateway::http

#endif  // CELLGW_GATEWAY_HTTP_TRANSCODER_H_
