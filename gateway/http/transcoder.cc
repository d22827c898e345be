#include "gateway/http/transcoder.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/http/json_request.h"
#include "gateway/rpc/request_id.h"

namespace cellgw::gateway::http {
namespace {

constexpr absl::string_view kPost = "POST";
constexpr absl::string_view kGet = "GET";

Transcoder::Outcome Refuse(Route route, grpc::StatusCode code, std::string message,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  Transcoder::Outcome outcome;
  outcome.route = route;
  outcome.reply = ErrorReply(grpc::Status(code, message));
  for (auto& header : headers) outcome.reply.headers.push_back(std::move(header));
  outcome.refusal = std::move(message);
  return outcome;
}

Transcoder::Outcome RefuseStatus(Route route, int http_status, grpc::StatusCode code,
                                 std::string message,
                                 std::vector<std::pair<std::string, std::string>> headers) {
  Transcoder::Outcome outcome = Refuse(route, code, std::move(message), std::move(headers));
  outcome.reply.status = http_status;
  return outcome;
}

// gRPC metadata values are printable ASCII; anything else would fail the call inside gRPC.
bool IsMetadataValue(absl::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

Route RouteOf(absl::string_view path) {
  if (path == "/v1/call") return Route::kCall;
  if (path == "/v1/cast") return Route::kCast;
  if (path == "/v1/fanout") return Route::kFanout;
  if (path == "/v1/cells") return Route::kCells;
  return Route::kOther;
}

absl::string_view RouteLabel(Route route) {
  switch (route) {
    case Route::kCall:
      return "/v1/call";
    case Route::kCast:
      return "/v1/cast";
    case Route::kFanout:
      return "/v1/fanout";
    case Route::kCells:
      return "/v1/cells";
    case Route::kOther:
      break;
  }
  return "other";
}

Transcoder::Transcoder(std::shared_ptr<grpc::Channel> channel, absl::Duration default_deadline)
    : stub_(v1::CellGateway::NewStub(std::move(channel))), default_deadline_(default_deadline) {}

Transcoder::Outcome Transcoder::Handle(const Request& request) const {
  const Route route = RouteOf(request.path);
  if (route == Route::kOther) {
    return Refuse(route, grpc::StatusCode::NOT_FOUND,
                  absl::StrCat("no such route; cellgw serves POST /v1/call, /v1/cast, "
                               "/v1/fanout and GET /v1/cells"));
  }
  const absl::string_view allowed = route == Route::kCells ? kGet : kPost;
  if (request.method != allowed) {
    return RefuseStatus(route, 405, grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat(RouteLabel(route), " takes ", allowed, ", not ",
                                     request.method.substr(0, 16)),
                        {{"Allow", std::string(allowed)}});
  }
  for (const std::string& value : request.authorization) {
    if (!IsMetadataValue(value)) {
      return Refuse(route, grpc::StatusCode::INVALID_ARGUMENT,
                    "Authorization: the header value must be printable ASCII");
    }
  }

  absl::StatusOr<JsonRequest> parsed;
  if (route != Route::kCells) {
    parsed = ParseJsonRequest(request.body, route == Route::kCall     ? SendKind::kCall
                                            : route == Route::kCast ? SendKind::kCast
                                                                    : SendKind::kFanout);
    if (!parsed.ok()) {
      return Refuse(route, grpc::StatusCode::INVALID_ARGUMENT,
                    std::string(parsed.status().message()));
    }
  }

  grpc::ClientContext context;
  for (const std::string& value : request.authorization) {
    context.AddMetadata("authorization", value);
  }
  context.AddMetadata(std::string(kRequestIdHeader), request.request_id);
  absl::Duration wait = default_deadline_;
  if (parsed.ok() && parsed->timeout.has_value()) {
    wait = route == Route::kCall ? *parsed->timeout + kDeadlineMargin : *parsed->timeout;
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + wait));

  Outcome outcome;
  outcome.route = route;
  grpc::Status status;
  switch (route) {
    case Route::kCall: {
      v1::CallResponse response;
      status = stub_->Call(&context, ToCallRequest(*parsed), &response);
      if (status.ok()) outcome.reply = CallReply(response);
      break;
    }
    case Route::kCast: {
      v1::CastResponse response;
      status = stub_->Cast(&context, ToCastRequest(*parsed), &response);
      if (status.ok()) outcome.reply = UniqueIdReply(response.unique_id());
      break;
    }
    case Route::kFanout: {
      v1::FanoutResponse response;
      status = stub_->Fanout(&context, ToFanoutRequest(*parsed), &response);
      if (status.ok()) outcome.reply = UniqueIdReply(response.unique_id());
      break;
    }
    case Route::kCells: {
      v1::ListCellsResponse response;
      status = stub_->ListCells(&context, v1::ListCellsRequest(), &response);
      if (status.ok()) outcome.reply = CellsReply(response);
      break;
    }
    case Route::kOther:
      break;  // answered above
  }
  if (!status.ok()) outcome.reply = ErrorReply(status);
  return outcome;
}

}  // namespace cellgw::gateway::http
