#include "gateway/rpc/serve_validator.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/json_text.h"

namespace cellgw::gateway {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// `text` ("" = `empty_means`) must be JSON of `kind`; the failure's fields are re-emitted as
// the worker wrote them.
absl::StatusOr<std::string> JsonOfKind(absl::string_view field, const std::string& text,
                                       json::Kind kind, absl::string_view empty_means) {
  if (text.empty()) return std::string(empty_means);
  absl::StatusOr<json::Kind> got = json::ValidateAndKind(text);
  if (!got.ok()) return FieldError(field, got.status().message());
  if (*got != kind) {
    return FieldError(field, kind == json::Kind::kArray ? "must be a JSON array"
                                                        : "must be a JSON object");
  }
  return text;
}

}  // namespace

absl::StatusOr<bridge::ServeRegistration> ToServeRegistration(const v1::ServeRequest& first) {
  if (!first.has_register_()) {
    return FieldError("register", "the first message of a Serve stream is the Registration");
  }
  const v1::Registration& r = first.register_();
  bridge::ServeRegistration out;
  out.cell = r.cell();
  out.exchange = r.exchange();
  out.topic = r.topic();
  out.server = r.server();
  out.max_in_flight =
      r.max_in_flight() == 0 ? bridge::ServeBridge::kDefaultMaxInFlight : r.max_in_flight();
  for (const v1::Endpoint& endpoint : r.endpoints()) {
    bridge::RpcEndpoint e;
    if (!endpoint.namespace_().empty()) e.namespace_ = endpoint.namespace_();
    e.version = endpoint.version();
    e.methods.assign(endpoint.methods().begin(), endpoint.methods().end());
    out.endpoints.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<ServeAnswer> ToServeAnswer(const v1::ServeRequest& request) {
  if (request.has_register_()) {
    return FieldError("register", "only the stream's first message registers");
  }
  if (!request.has_reply()) return FieldError("reply", "required");
  const v1::Reply& reply = request.reply();
  ServeAnswer out;
  out.id = reply.id();
  if (reply.has_error()) {
    const v1::RemoteError& error = reply.error();
    if (error.exception_class().empty()) {
      return FieldError("reply.error.exception_class", "required");
    }
    bridge::RemoteFailure failure;
    failure.exception_class = error.exception_class();
    failure.exception_module = error.exception_module();
    failure.message = error.message();
    failure.traceback.assign(error.traceback().begin(), error.traceback().end());
    absl::StatusOr<std::string> args =
        JsonOfKind("reply.error.args_json", error.args_json(), json::Kind::kArray, "[]");
    if (!args.ok()) return args.status();
    absl::StatusOr<std::string> kwargs =
        JsonOfKind("reply.error.kwargs_json", error.kwargs_json(), json::Kind::kObject, "{}");
    if (!kwargs.ok()) return kwargs.status();
    failure.args_json = *std::move(args);
    failure.kwargs_json = *std::move(kwargs);
    out.answer.failure = std::move(failure);
  } else {
    out.answer.result_json = reply.result_json();
  }
  return out;
}

v1::Incoming ToIncomingProto(bridge::IncomingRequest request) {
  v1::Incoming out;
  out.set_id(request.id);
  switch (request.kind) {
    case bridge::IncomingKind::kCall:
      out.set_kind(v1::Incoming::CALL);
      break;
    case bridge::IncomingKind::kCast:
      out.set_kind(v1::Incoming::CAST);
      break;
    case bridge::IncomingKind::kFanout:
      out.set_kind(v1::Incoming::FANOUT);
      break;
  }
  out.set_method(std::move(request.method));
  out.set_args_json(std::move(request.args_json));
  out.set_context_json(std::move(request.context_json));
  if (request.namespace_.has_value()) out.set_namespace_(*std::move(request.namespace_));
  if (request.version.has_value()) out.set_version(*std::move(request.version));
  if (request.deadline.has_value()) {
    // Floor division: a Timestamp's nanos are never negative.
    const absl::Duration since_epoch = *request.deadline - absl::UnixEpoch();
    const int64_t seconds = absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
    out.mutable_deadline()->set_seconds(seconds);
    out.mutable_deadline()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
  }
  return out;
}

}  // namespace cellgw::gateway
