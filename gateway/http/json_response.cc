#include "gateway/http/json_response.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "gateway/rpc/status_mapper.h"
#include "google/rpc/status.pb.h"

namespace cellgw::gateway::http {
namespace {

// gRPC request field -> body member, for messages that start with the field's name.
struct FieldName {
  absl::string_view grpc;
  absl::string_view http;
};
constexpr FieldName kFieldNames[] = {
    {"target.cell", "cell"},
    {"target.exchange", "exchange"},
    {"target.topic", "topic"},
    {"target.namespace", "namespace"},
    {"target.version", "version"},
    {"target.server", "server"},
    {"args_json", "args"},
    {"context_json", "context"},
    {"timeout", "timeout_ms"},
    {"call_monitor_timeout", "call_monitor_timeout_ms"},
};

std::string WithBodyMemberName(absl::string_view message) {
  for (const FieldName& name : kFieldNames) {
    if (absl::StartsWith(message, name.grpc) && message.size() > name.grpc.size() &&
        message[name.grpc.size()] == ':') {
      return absl::StrCat(name.http, message.substr(name.grpc.size()));
    }
  }
  return std::string(message);
}

void AppendString(absl::string_view text, std::string* out) {
  json::AppendQuotedLossy(text, out);
}

// Raw JSON from the server, or `fallback` when it sent nothing.
void AppendRaw(absl::string_view json_text, absl::string_view fallback, std::string* out) {
  absl::StrAppend(out, json_text.empty() ? fallback : json_text);
}

void AppendRemoteError(const v1::RemoteError& error, std::string* out) {
  out->append("{\"exception_class\": ");
  AppendString(error.exception_class(), out);
  out->append(", \"exception_module\": ");
  AppendString(error.exception_module(), out);
  out->append(", \"message\": ");
  AppendString(error.message(), out);
  out->append(", \"traceback\": [");
  for (int i = 0; i < error.traceback_size(); ++i) {
    if (i > 0) out->append(", ");
    AppendString(error.traceback(i), out);
  }
  out->append("], \"args\": ");
  AppendRaw(error.args_json(), "[]", out);
  out->append(", \"kwargs\": ");
  AppendRaw(error.kwargs_json(), "{}", out);
  out->append("}");
}

HttpReply Ok(std::string body) {
  body.append("\n");
  return HttpReply{200, std::move(body), {}};
}

}  // namespace

int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;  // the client closed the request (nginx's and grpc-gateway's choice)
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS, and anything new
      return 500;
  }
}

std::optional<v1::RemoteError> RemoteErrorOf(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& detail : rich.details()) {
    v1::RemoteError error;
    if (detail.Is<v1::RemoteError>() && detail.UnpackTo(&error)) return error;
  }
  return std::nullopt;
}

HttpReply ErrorReply(const grpc::Status& status) {
  const std::optional<v1::RemoteError> remote = RemoteErrorOf(status);
  std::string body = "{\"code\": ";
  AppendString(StatusCodeName(status.error_code()), &body);
  body.append(", \"message\": ");
  // A remote exception's message is the server's text; only our own errors name fields.
  AppendString(remote.has_value() ? status.error_message()
                                  : WithBodyMemberName(status.error_message()),
               &body);
  if (remote.has_value()) {
    body.append(", \"remote_error\": ");
    AppendRemoteError(*remote, &body);
  }
  body.append("}\n");
  HttpReply reply{HttpStatusOf(status.error_code()), std::move(body), {}};
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    reply.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return reply;
}

HttpReply CallReply(const v1::CallResponse& response) {
  std::string body = "{\"result\": ";
  AppendRaw(response.result_json(), "null", &body);
  body.append(", \"msg_id\": ");
  AppendString(response.msg_id(), &body);
  body.append("}");
  return Ok(std::move(body));
}

HttpReply UniqueIdReply(absl::string_view unique_id) {
  std::string body = "{\"unique_id\": ";
  AppendString(unique_id, &body);
  body.append("}");
  return Ok(std::move(body));
}

HttpReply CellsReply(const v1::ListCellsResponse& response) {
  std::string body = "{\"cells\": [";
  for (int i = 0; i < response.cells_size(); ++i) {
    const v1::CellInfo& cell = response.cells(i);
    if (i > 0) body.append(", ");
    body.append("{\"name\": ");
    AppendString(cell.name(), &body);
    body.append(", \"connected\": ");
    body.append(cell.connected() ? "true" : "false");
    body.append(", \"transport_url\": ");
    AppendString(cell.transport_url(), &body);
    body.append(", \"control_exchange\": ");
    AppendString(cell.control_exchange(), &body);
    body.append("}");
  }
  body.append("]}");
  return Ok(std::move(body));
}

}  // namespace cellgw::gateway::http
