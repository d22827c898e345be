#include "gateway/rpc/status_mapper.h"

#include <grpcpp/support/error_details.h>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"

namespace cellgw::gateway {
namespace {

constexpr absl::string_view kDispatcherModule = "oslo_messaging.rpc.dispatcher";

bool IsBuiltin(absl::string_view module) {
  // oslo treats "exceptions" (Python 2) and "builtins" alike.
  return module == "builtins" || module == "exceptions" || module.empty();
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::StatusCode RemoteFailureCode(const bridge::RemoteFailure& failure) {
  if (failure.exception_module == kDispatcherModule) {
    if (failure.exception_class == "NoSuchMethod") return grpc::StatusCode::UNIMPLEMENTED;
    if (failure.exception_class == "UnsupportedVersion") {
      return grpc::StatusCode::FAILED_PRECONDITION;
    }
  }
  return grpc::StatusCode::UNKNOWN;
}

v1::RemoteError ToRemoteErrorProto(const bridge::RemoteFailure& failure) {
  v1::RemoteError error;
  error.set_exception_class(failure.exception_class);
  error.set_exception_module(failure.exception_module);
  error.set_message(failure.message);
  for (const std::string& line : failure.traceback) error.add_traceback(line);
  error.set_args_json(failure.args_json);
  error.set_kwargs_json(failure.kwargs_json);
  return error;
}

grpc::Status RemoteFailureToGrpcStatus(const bridge::RemoteFailure& failure) {
  const grpc::StatusCode code = RemoteFailureCode(failure);
  const std::string name =
      IsBuiltin(failure.exception_module)
          ? failure.exception_class
          : absl::StrCat(failure.exception_module, ".", failure.exception_class);
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(absl::StrCat(name, ": ", failure.message));
  rich.add_details()->PackFrom(ToRemoteErrorProto(failure));
  grpc::Status status;
  grpc::SetErrorDetails(rich, &status);
  return status;
}

absl::string_view StatusCodeName(grpc::StatusCode code) {
  static constexpr absl::string_view kNames[] = {
      "OK",       "CANCELLED",        "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",   "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  if (index < 0 || index >= static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) {
    return "UNKNOWN";
  }
  return kNames[index];
}

}  // namespace cellgw::gateway
