#include "gateway/rpc/request_validator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cellgw::gateway {
namespace {

// google.protobuf.Duration's own rules: |seconds| <= 315576000000, |nanos| < 1e9, same sign.
absl::StatusOr<absl::Duration> ToDuration(const google::protobuf::Duration& d,
                                          absl::string_view field) {
  constexpr int64_t kMaxSeconds = 315576000000;
  if (d.seconds() > kMaxSeconds || d.seconds() < -kMaxSeconds || d.nanos() >= 1000000000 ||
      d.nanos() <= -1000000000 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a valid google.protobuf.Duration"));
  }
  const absl::Duration duration = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be negative (got ", absl::FormatDuration(duration), ")"));
  }
  return duration;
}

absl::Status CheckLength(absl::string_view value, absl::string_view field) {
  if (value.size() <= kMaxFieldBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": is ", value.size(),
                                                 " bytes long; the limit is ", kMaxFieldBytes));
}

template <typename Request>
absl::StatusOr<bridge::RpcRequest> ValidateCommon(const Request& request,
                                                  const ContextEdits& edits) {
  const v1::Target& target = request.target();
  CELLGW_RETURN_IF_ERROR(CheckBounds(target, request.method()));
  bridge::RpcRequest out;
  CELLGW_ASSIGN_OR_RETURN(out.context_json, BuildContext(request.context_json(), edits));
  out.cell = target.cell();
  out.target.exchange = target.exchange();
  out.target.topic = target.topic();
  out.target.namespace_ = target.namespace_();
  out.target.version = target.version();
  out.target.server = target.server();
  out.method = request.method();
  out.args_json = request.args_json();
  return out;
}

}  // namespace

absl::Status CheckBounds(const v1::Target& target, absl::string_view method) {
  CELLGW_RETURN_IF_ERROR(CheckLength(target.cell(), "target.cell"));
  CELLGW_RETURN_IF_ERROR(CheckLength(target.exchange(), "target.exchange"));
  if (target.topic().empty()) return absl::InvalidArgumentError("target.topic: required");
  CELLGW_RETURN_IF_ERROR(CheckLength(target.topic(), "target.topic"));
  CELLGW_RETURN_IF_ERROR(CheckLength(target.namespace_(), "target.namespace"));
  CELLGW_RETURN_IF_ERROR(CheckLength(target.version(), "target.version"));
  CELLGW_RETURN_IF_ERROR(CheckLength(target.server(), "target.server"));
  if (method.empty()) return absl::InvalidArgumentError("method: required");
  return CheckLength(method, "method");
}

absl::StatusOr<bridge::RpcRequest> ValidateCast(const v1::CastRequest& request,
                                                const ContextEdits& edits) {
  return ValidateCommon(request, edits);
}

absl::StatusOr<bridge::RpcRequest> ValidateFanout(const v1::FanoutRequest& request,
                                                  const ContextEdits& edits) {
  return ValidateCommon(request, edits);
}

absl::StatusOr<ValidatedCall> ValidateCall(const v1::CallRequest& request,
                                           absl::Time grpc_deadline, const ContextEdits& edits) {
  ValidatedCall call;
  // Durations first: they are cheap, and the context is the one part that is parsed.
  call.options.deadline = grpc_deadline;
  if (request.has_timeout()) {
    CELLGW_ASSIGN_OR_RETURN(call.options.timeout, ToDuration(request.timeout(), "timeout"));
  }
  if (request.has_call_monitor_timeout()) {
    CELLGW_ASSIGN_OR_RETURN(
        call.options.call_monitor_timeout,
        ToDuration(request.call_monitor_timeout(), "call_monitor_timeout"));
  }
  CELLGW_ASSIGN_OR_RETURN(call.request, ValidateCommon(request, edits));
  return call;
}

}  // namespace cellgw::gateway
