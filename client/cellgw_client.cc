#include "client/cellgw_client.h"

#include <grpcpp/support/error_details.h>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"

namespace cellgw::client {
namespace {

void Prepare(grpc::ClientContext* context, absl::Time deadline, const std::string& request_id) {
  if (deadline != absl::InfiniteFuture()) context->set_deadline(absl::ToChronoTime(deadline));
  if (!request_id.empty()) context->AddMetadata("x-request-id", request_id);
}

absl::string_view CodeName(grpc::StatusCode code) {
  static constexpr absl::string_view kNames[] = {
      "OK",       "CANCELLED",        "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",   "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  if (index < 0 || index >= 17) return "UNKNOWN";
  return kNames[index];
}

}  // namespace

CellgwClient::CellgwClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1::CellGateway::NewStub(channel_)) {}

CellgwClient CellgwClient::Connect(const std::string& address) {
  return CellgwClient(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

grpc::Status CellgwClient::Cast(const v1::CastRequest& request, v1::CastResponse* response,
                                absl::Time deadline, const std::string& request_id) {
  grpc::ClientContext context;
  Prepare(&context, deadline, request_id);
  return stub_->Cast(&context, request, response);
}

grpc::Status CellgwClient::Call(const v1::CallRequest& request, v1::CallResponse* response,
                                absl::Time deadline, const std::string& request_id) {
  grpc::ClientContext context;
  Prepare(&context, deadline, request_id);
  return stub_->Call(&context, request, response);
}

grpc::Status CellgwClient::Fanout(const v1::FanoutRequest& request, v1::FanoutResponse* response,
                                  absl::Time deadline, const std::string& request_id) {
  grpc::ClientContext context;
  Prepare(&context, deadline, request_id);
  return stub_->Fanout(&context, request, response);
}

grpc::Status CellgwClient::ListCells(v1::ListCellsResponse* response, absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(&context, deadline, "");
  return stub_->ListCells(&context, v1::ListCellsRequest(), response);
}

grpc::Status CellgwClient::Notify(const v1::NotifyRequest& request, v1::NotifyResponse* response,
                                  absl::Time deadline, const std::string& request_id) {
  grpc::ClientContext context;
  Prepare(&context, deadline, request_id);
  return stub_->Notify(&context, request, response);
}

std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::Notification>>
CellgwClient::Subscribe(grpc::ClientContext* context, const v1::SubscribeRequest& subscription,
                        const std::string& request_id) {
  if (!request_id.empty()) context->AddMetadata("x-request-id", request_id);
  auto stream = stub_->Subscribe(context);
  // A failed write means the stream is already over; Read() then fails and Finish() says why.
  stream->Write(subscription);
  return stream;
}

std::optional<v1::RemoteError> RemoteErrorOf(const grpc::Status& status) {
  if (status.ok() || status.error_details().empty()) return std::nullopt;
  google::rpc::Status rich;
  if (!grpc::ExtractErrorDetails(status, &rich).ok()) return std::nullopt;
  for (const auto& detail : rich.details()) {
    v1::RemoteError error;
    if (detail.UnpackTo(&error)) return error;
  }
  return std::nullopt;
}

std::string DescribeError(const grpc::Status& status) {
  std::string text =
      absl::StrCat(CodeName(status.error_code()), ": ", status.error_message(), "\n");
  std::optional<v1::RemoteError> remote = RemoteErrorOf(status);
  if (!remote.has_value()) return text;
  absl::StrAppend(&text, "remote exception: ", remote->exception_module(), ".",
                  remote->exception_class(), "\n", "message: ", remote->message(), "\n",
                  "args: ", remote->args_json(), "\n", "kwargs: ", remote->kwargs_json(), "\n");
  if (remote->traceback_size() > 0) {
    absl::StrAppend(&text, "traceback:\n");
    for (const std::string& line : remote->traceback()) absl::StrAppend(&text, line);
    if (!text.empty() && text.back() != '\n') text.push_back('\n');
  }
  return text;
}

}  // namespace cellgw::client
