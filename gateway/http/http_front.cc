#include "gateway/http/http_front.h"

#include <civetweb.h>

#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/observability/json_log.h"
#include "gateway/rpc/request_id.h"

namespace cellgw::gateway::http {
namespace {

// civetweb's messages are about single connections (a client that sent garbage or went
// away); they are for debugging, not for operators. Returning 1 keeps civetweb from printing
// them itself, which would break the one-JSON-object-per-line log.
int LogCivetwebMessage(const mg_connection*, const char* message) {
  Log(LogLevel::kDebug, "http server", {{"error", message}});
  return 1;
}

// The request body: RESOURCE_EXHAUSTED over `limit` (checked against Content-Length before
// anything is read, and while reading a chunked body), INVALID_ARGUMENT when it ends before
// its Content-Length.
absl::StatusOr<std::string> ReadBody(mg_connection* connection, long long content_length,
                                     size_t limit) {
  const std::string too_large = absl::StrCat("body: larger than the limit of ", limit,
                                             " bytes (the largest max_message_bytes)");
  if (content_length > static_cast<long long>(limit)) {
    return absl::ResourceExhaustedError(too_large);
  }
  std::string body;
  if (content_length > 0) body.reserve(static_cast<size_t>(content_length));
  char buffer[16 << 10];
  for (;;) {
    const int n = mg_read(connection, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) return absl::InvalidArgumentError("body: the connection failed while reading it");
    if (body.size() + static_cast<size_t>(n) > limit) {
      return absl::ResourceExhaustedError(too_large);
    }
    body.append(buffer, static_cast<size_t>(n));
  }
  if (content_length >= 0 && body.size() < static_cast<size_t>(content_length)) {
    return absl::InvalidArgumentError(absl::StrCat("body: ended after ", body.size(), " of ",
                                                   content_length, " bytes"));
  }
  return body;
}

void WriteReply(mg_connection* connection, const HttpReply& reply,
                const std::string& request_id, bool close) {
  mg_response_header_start(connection, reply.status);
  mg_response_header_add(connection, "Content-Type", "application/json", -1);
  mg_response_header_add(connection, "Content-Length",
                         absl::StrCat(reply.body.size()).c_str(), -1);
  mg_response_header_add(connection, "X-Request-Id", request_id.c_str(), -1);
  for (const auto& [name, value] : reply.headers) {
    mg_response_header_add(connection, name.c_str(), value.c_str(), -1);
  }
  // After a refused body the rest of it is still on the socket: the connection cannot be
  // reused for another request.
  if (close) mg_disable_connection_keep_alive(connection);
  mg_response_header_send(connection);
  mg_write(connection, reply.body.data(), reply.body.size());
}

}  // namespace

HttpFront::HttpFront(const Options& options, std::shared_ptr<grpc::Channel> channel,
                     GatewayMetrics* metrics)
    : max_body_bytes_(options.max_body_bytes),
      transcoder_(std::move(channel), options.default_deadline),
      metrics_(metrics) {}

absl::StatusOr<std::unique_ptr<HttpFront>> HttpFront::Start(
    const Options& options, std::shared_ptr<grpc::Channel> channel, GatewayMetrics* metrics) {
  std::unique_ptr<HttpFront> front(new HttpFront(options, std::move(channel), metrics));
  const std::string threads = absl::StrCat(kWorkerThreads);
  // No document_root: civetweb serves no files, and every path reaches HandleRequest.
  const char* civetweb_options[] = {"listening_ports", options.listen.c_str(),
                                    "num_threads", threads.c_str(),
                                    // Time to receive a request (slow clients), not to
                                    // answer it: the handler's wait does no socket I/O.
                                    "request_timeout_ms", "30000",
                                    "enable_keep_alive", "yes",
                                    nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = &LogCivetwebMessage;
  mg_init_data init{&callbacks, front.get(), civetweb_options};
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof(error_text)};
  // mg_start2 initialises the library on first use, as it does for prometheus-cpp's
  // exposer in the same process; mg_exit_library is never called, since that exposer's
  // context may still be running.
  front->context_ = mg_start2(&init, &error);
  if (front->context_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("http_listen: cannot serve HTTP on '",
                                                   options.listen, "': ", error_text));
  }
  mg_set_request_handler(front->context_, "/", &HttpFront::HandleRequest, front.get());
  mg_server_port ports[1];
  if (mg_get_server_ports(front->context_, 1, ports) == 1) front->port_ = ports[0].port;
  return front;
}

HttpFront::~HttpFront() { Stop(); }

void HttpFront::Stop() {
  if (context_ == nullptr) return;
  mg_stop(context_);  // joins the workers, so no handler runs after this
  context_ = nullptr;
  port_ = 0;
}

int HttpFront::HandleRequest(mg_connection* connection, void* data) {
  return static_cast<HttpFront*>(data)->Serve(connection);
}

int HttpFront::Serve(mg_connection* connection) {
  const absl::Time start = absl::Now();
  const mg_request_info* info = mg_get_request_info(connection);
  Transcoder::Request request;
  request.method = info->request_method != nullptr ? info->request_method : "";
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  const Route route = RouteOf(request.path);
  GatewayMetrics::HttpSeries* series =
      metrics_ != nullptr ? metrics_->HttpRequestStarted(RouteLabel(route)) : nullptr;
  const char* caller_id = mg_get_header(connection, "X-Request-Id");
  request.request_id = ChooseRequestId(caller_id != nullptr ? caller_id : "");

  Transcoder::Outcome outcome;
  bool close = false;
  absl::StatusOr<std::string> body = ReadBody(connection, info->content_length, max_body_bytes_);
  if (body.ok()) {
    request.body = *body;
    for (int i = 0; i < info->num_headers; ++i) {
      if (absl::EqualsIgnoreCase(info->http_headers[i].name, "Authorization")) {
        request.authorization.emplace_back(info->http_headers[i].value);
      }
    }
    outcome = transcoder_.Handle(request);
  } else {
    close = true;
    const bool too_large = body.status().code() == absl::StatusCode::kResourceExhausted;
    outcome.route = route;
    outcome.reply = ErrorReply(grpc::Status(
        static_cast<grpc::StatusCode>(body.status().code()), std::string(body.status().message())));
    if (too_large) outcome.reply.status = 413;
    outcome.refusal = std::string(body.status().message());
  }
  if (outcome.refusal.has_value()) {
    Log(LogLevel::kWarning, "http request refused",
        {{"request_id", request.request_id},
         {"route", RouteLabel(route)},
         {"http_method", request.method},
         {"status", outcome.reply.status},
         {"error", *outcome.refusal}});
  }
  if (series != nullptr) {
    metrics_->HttpRequestFinished(series, outcome.reply.status, absl::Now() - start);
  }
  // Counted and logged first, so that whoever has the answer also finds it in the metrics.
  WriteReply(connection, outcome.reply, request.request_id, close);
  return outcome.reply.status;
}

}  // namespace cellgw::gateway::http
