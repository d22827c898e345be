#include "gateway/rpc/cell_gateway_service.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/observability/json_log.h"
#include "gateway/rpc/notification_validator.h"
#include "gateway/rpc/request_id.h"
#include "gateway/rpc/request_validator.h"
#include "gateway/rpc/status_mapper.h"

namespace cellgw::gateway {

struct CellGatewayService::Request {
  grpc::ServerUnaryReactor* reactor;
  std::string kind;
  std::string cell;  // metric label: a configured cell or "unknown"
  std::string topic;
  std::string method;
  std::string request_id;
  absl::Time start;
  std::string caller;  // the authenticated caller, "" without an Authorizer
  GatewayMetrics::RequestSeries* series = nullptr;
};

namespace {

absl::Time GrpcDeadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

CellGatewayService::CellGatewayService(bridge::RpcBridge* bridge, GatewayMetrics* metrics,
                                       const Authorizer* authorizer,
                                       bridge::NotificationBridge* notifications)
    : bridge_(bridge), metrics_(metrics), authorizer_(authorizer), notifications_(notifications) {
  const std::vector<bridge::CellStatus> cells = bridge_->ListCells();
  if (cells.size() == 1) only_cell_ = cells.front().name;
}

std::string CellGatewayService::CellLabel(const std::string& cell) const {
  return cell.empty() && !only_cell_.empty() ? only_cell_ : cell;
}

CellGatewayService::Request* CellGatewayService::Begin(grpc::CallbackServerContext* context,
                                                       grpc::ServerUnaryReactor* reactor,
                                                       absl::string_view kind,
                                                       const v1::Target& target,
                                                       absl::string_view method) {
  auto* request = new Request{reactor,
                              std::string(kind),
                              CellLabel(target.cell()),
                              target.topic(),
                              std::string(method),
                              RequestIdOf(*context),
                              absl::Now()};
  context->AddInitialMetadata(std::string(kRequestIdHeader), request->request_id);
  {
    absl::MutexLock lock(&mu_);
    ++in_flight_;
  }
  if (metrics_ != nullptr) request->series = metrics_->RequestStarted(request->kind, request->cell);
  if (shutting_down_.load(std::memory_order_acquire)) {
    End(request, grpc::Status(grpc::StatusCode::UNAVAILABLE, "cellgw is shutting down"));
    return nullptr;
  }
  if (authorizer_ != nullptr) {
    Authorizer::Decision decision = authorizer_->Check(*context, kind, request->cell,
                                                       target.exchange(), target.topic(), method);
    request->caller = std::move(decision.caller);
    if (!decision.status.ok()) {
      End(request, decision.status);
      return nullptr;
    }
  }
  return request;
}

void CellGatewayService::End(Request* request, const grpc::Status& status) {
  const absl::Duration elapsed = absl::Now() - request->start;
  const absl::string_view code = StatusCodeName(status.error_code());
  if (request->series != nullptr) metrics_->RequestFinished(request->series, code, elapsed);
  if (LogEnabled(LogLevel::kInfo)) {
    Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, "request finished",
        {{"request_id", request->request_id},
         {"kind", request->kind},
         {"cell", request->cell},
         {"topic", request->topic},
         {"method", request->method},
         {"caller", request->caller},
         {"duration_seconds", absl::ToDoubleSeconds(elapsed)},
         {"outcome", code},
         {"error", status.ok() ? std::string() : status.error_message()}});
  }
  request->reactor->Finish(status);
  delete request;
  absl::MutexLock lock(&mu_);
  if (--in_flight_ == 0) idle_.SignalAll();
}

grpc::ServerUnaryReactor* CellGatewayService::Cast(grpc::CallbackServerContext* context,
                                                   const v1::CastRequest* request,
                                                   v1::CastResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request* r = Begin(context, reactor, "cast", request->target(), request->method());
  if (r == nullptr) return reactor;
  absl::StatusOr<bridge::RpcRequest> validated = ValidateCast(*request);
  if (!validated.ok()) {
    End(r, ToGrpcStatus(validated.status()));
    return reactor;
  }
  validated->context_json = WithRequestId(validated->context_json, r->request_id);
  bridge_->Cast(*validated, [this, r, response](absl::StatusOr<bridge::SendResult> result) {
    if (!result.ok()) return End(r, ToGrpcStatus(result.status()));
    response->set_unique_id(result->unique_id);
    End(r, grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* CellGatewayService::Fanout(grpc::CallbackServerContext* context,
                                                     const v1::FanoutRequest* request,
                                                     v1::FanoutResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request* r = Begin(context, reactor, "fanout", request->target(), request->method());
  if (r == nullptr) return reactor;
  absl::StatusOr<bridge::RpcRequest> validated = ValidateFanout(*request);
  if (!validated.ok()) {
    End(r, ToGrpcStatus(validated.status()));
    return reactor;
  }
  validated->context_json = WithRequestId(validated->context_json, r->request_id);
  bridge_->Fanout(*validated, [this, r, response](absl::StatusOr<bridge::SendResult> result) {
    if (!result.ok()) return End(r, ToGrpcStatus(result.status()));
    response->set_unique_id(result->unique_id);
    End(r, grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* CellGatewayService::Call(grpc::CallbackServerContext* context,
                                                   const v1::CallRequest* request,
                                                   v1::CallResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request* r = Begin(context, reactor, "call", request->target(), request->method());
  if (r == nullptr) return reactor;
  absl::StatusOr<ValidatedCall> validated = ValidateCall(*request, GrpcDeadline(context));
  if (!validated.ok()) {
    End(r, ToGrpcStatus(validated.status()));
    return reactor;
  }
  validated->request.context_json = WithRequestId(validated->request.context_json, r->request_id);
  bridge_->Call(validated->request, validated->options,
                [this, r, response](absl::StatusOr<bridge::CallResult> result) {
                  if (!result.ok()) return End(r, ToGrpcStatus(result.status()));
                  if (result->failure.has_value()) {
                    return End(r, RemoteFailureToGrpcStatus(*result->failure));
                  }
                  response->set_result_json(std::move(result->result_json));
                  response->set_msg_id(std::move(result->msg_id));
                  End(r, grpc::Status::OK);
                });
  return reactor;
}

grpc::ServerUnaryReactor* CellGatewayService::ListCells(grpc::CallbackServerContext* context,
                                                        const v1::ListCellsRequest* request,
                                                        v1::ListCellsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request* r = Begin(context, reactor, "list_cells", v1::Target(), "");
  if (r == nullptr) return reactor;
  for (const bridge::CellStatus& cell : bridge_->ListCells()) {
    v1::CellInfo* info = response->add_cells();
    info->set_name(cell.name);
    info->set_connected(cell.connected);
    info->set_transport_url(cell.redacted_transport_url);
    info->set_control_exchange(cell.control_exchange);
  }
  End(r, grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* CellGatewayService::Notify(grpc::CallbackServerContext* context,
                                                     const v1::NotifyRequest* request,
                                                     v1::NotifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::Target target;  // what Begin authorises and logs: cell, exchange, topic
  target.set_cell(request->cell());
  target.set_exchange(request->exchange());
  target.set_topic(EffectiveTopic(*request));
  Request* r = Begin(context, reactor, "notify", target, request->event_type());
  if (r == nullptr) return reactor;
  if (notifications_ == nullptr) {
    End(r, grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "notifications are not served here"));
    return reactor;
  }
  bridge::NotifyRequest notify = ToNotifyRequest(*request);
  notify.context_json = WithRequestId(notify.context_json, r->request_id);
  notifications_->Notify(notify,
                         [this, r, response](absl::StatusOr<bridge::NotifyResult> result) {
                           if (!result.ok()) return End(r, ToGrpcStatus(result.status()));
                           response->set_message_id(std::move(result->message_id));
                           End(r, grpc::Status::OK);
                         });
  return reactor;
}

grpc::ServerBidiReactor<v1::SubscribeRequest, v1::Notification>* CellGatewayService::Subscribe(
    grpc::CallbackServerContext* context) {
  if (notifications_ == nullptr) {
    // A reactor that only finishes.
    class Unimplemented : public grpc::ServerBidiReactor<v1::SubscribeRequest, v1::Notification> {
     public:
      Unimplemented() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "notifications are not served here"));
      }
      void OnDone() override { delete this; }
    };
    return new Unimplemented();
  }
  SubscribeEnvironment env;
  env.notifications = notifications_;
  env.metrics = metrics_;
  env.authorizer = authorizer_;
  env.only_cell = only_cell_;
  env.shutting_down = &shutting_down_;
  return new SubscribeReactor(context, env);
}

void CellGatewayService::BeginShutdown() { shutting_down_.store(true, std::memory_order_release); }

bool CellGatewayService::AwaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (in_flight_ > 0) {
    if (idle_.WaitWithDeadline(&mu_, deadline)) return in_flight_ == 0;
  }
  return true;
}

int64_t CellGatewayService::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

}  // namespace cellgw::gateway
