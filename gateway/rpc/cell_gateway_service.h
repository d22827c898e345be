// The cellgw.v1.CellGateway gRPC service (callback API).
//
// Where it sits: gRPC hands each request to a method here on one of its threads. The method
// validates it (request_validator), hands it to the bridge and returns at once; the bridge
// later runs the completion on a connection thread, which maps the outcome (status_mapper),
// fills the response and calls reactor->Finish(). No gRPC thread ever waits on AMQP I/O and
// no thread exists per request.
//
// Every request gets a request id (x-request-id metadata or "req-<uuid>"), returned in the
// response's initial metadata, sent to the service as the context's request_id, and logged
// with the request's outcome as one JSON line.
//
// Shutdown: after BeginShutdown() new requests fail with UNAVAILABLE; requests already
// accepted run to completion; AwaitIdle() waits for them.
//
// Order of work for Cast, Call and Fanout, cheapest and most bounding first:
//   1. shutdown check (UNAVAILABLE);
//   2. CheckBounds (gateway/rpc/request_validator.h): required fields and 255-byte limits,
//      reading sizes only, so nothing longer is ever glob-matched or parsed;
//   3. with an Authorizer (gateway/security/authorizer.h): authentication and the policy
//      (UNAUTHENTICATED, PERMISSION_DENIED) over the bounded fields;
//   4. validation proper: durations, and the context read once (request id added, the
//      grant's context_deny and context_set applied; PERMISSION_DENIED for a denied key);
//   5. for calls, the timeout bounded per cell (gateway/rpc/call_timeouts.h);
//   6. the bridge.
// A refusal at any step ends the request before the bridge sees it. A caller that cancels (or
// whose deadline passes) while the bridge holds its request withdraws it there
// (bridge/cancellation.h); it is logged and counted CANCELLED (DEADLINE_EXCEEDED when its
// deadline passed). Every request, refused
// or not, gets one log line (info when OK, warning otherwise; none below the configured
// level) whose caller-supplied values are cut to kMaxLoggedValueBytes (CapForLog), with the
// caller's identity when there is an Authorizer.
#ifndef CELLGW_GATEWAY_RPC_CELL_GATEWAY_SERVICE_H_
#define CELLGW_GATEWAY_RPC_CELL_GATEWAY_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/notification_bridge.h"
#include "bridge/rpc_bridge.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gateway/observability/metrics.h"
#include "gateway/rpc/call_timeouts.h"
#include "gateway/rpc/request_context.h"
#include "gateway/security/authorizer.h"
#include "gateway/rpc/serve_reactor.h"
#include "gateway/rpc/subscribe_reactor.h"

namespace cellgw::gateway {

class CellGatewayService final : public v1::CellGateway::CallbackService {
 public:
  // `bridge` must outlive the service; `metrics` may be null. `authorizer` may be null (no
  // authentication: every caller may do everything); otherwise it must outlive the service.
  // `call_timeouts` bounds each call's timeout per cell (default: no bound beyond the
  // bridge's own rpc_response_timeout default). `notifications` serves Notify and Subscribe;
  // null answers them with UNIMPLEMENTED, otherwise it must outlive the service.
  CellGatewayService(bridge::RpcBridge* bridge, GatewayMetrics* metrics,
                     const Authorizer* authorizer = nullptr,
                     CallTimeouts call_timeouts = CallTimeouts(),
                     bridge::NotificationBridge* notifications = nullptr);

  grpc::ServerUnaryReactor* Cast(grpc::CallbackServerContext* context,
                                 const v1::CastRequest* request,
                                 v1::CastResponse* response) override;
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context,
                                 const v1::CallRequest* request,
                                 v1::CallResponse* response) override;
  grpc::ServerUnaryReactor* Fanout(grpc::CallbackServerContext* context,
                                   const v1::FanoutRequest* request,
                                   v1::FanoutResponse* response) override;
  grpc::ServerUnaryReactor* ListCells(grpc::CallbackServerContext* context,
                                      const v1::ListCellsRequest* request,
                                      v1::ListCellsResponse* response) override;
  // Notify goes the unary way (Begin/End); each Subscribe stream is a SubscribeReactor
  // (gateway/rpc/subscribe_reactor.h), which is not counted in in_flight(): BeginShutdown
  // refuses new streams, and the notification bridge's Stop ends the running ones.
  grpc::ServerUnaryReactor* Notify(grpc::CallbackServerContext* context,
                                   const v1::NotifyRequest* request,
                                   v1::NotifyResponse* response) override;
  grpc::ServerBidiReactor<v1::SubscribeRequest, v1::Notification>* Subscribe(
      grpc::CallbackServerContext* context) override;
  // Each Serve stream is a ServeReactor (gateway/rpc/serve_reactor.h), not counted in
  // in_flight(), like Subscribe. UNIMPLEMENTED until EnableServe.
  grpc::ServerBidiReactor<v1::ServeRequest, v1::ServeEvent>* Serve(
      grpc::CallbackServerContext* context) override;
  // Serves Serve streams with `serve`; `metrics` and `health` may be null. All must outlive
  // the service. Call before the server starts.
  void EnableServe(bridge::ServeBridge* serve, ServeMetrics* metrics, ServeHealth* health) {
    serve_ = serve;
    serve_metrics_ = metrics;
    serve_health_ = health;
  }

  // Refuse new requests with UNAVAILABLE from now on. Thread-safe.
  void BeginShutdown();
  // Blocks until no accepted request is in flight, or `timeout` passes. True when idle.
  bool AwaitIdle(absl::Duration timeout);
  int64_t in_flight() const;

 private:
  struct Request;  // one request's bookkeeping: kind, cell, ids, start time
  // The reactor of a Cast, Call or Fanout: when the caller cancels or its deadline passes
  // while the bridge holds the request, the request is withdrawn from the bridge (its
  // in-flight slot freed at once, not published if it was not yet) and ends right away.
  class BridgedReactor;

  // Common start of every RPC: request id, metrics, in-flight count, then steps 1 to 3
  // above (`target` is null for ListCells, which has no target: it is only authenticated).
  // Returns nullptr after finishing the reactor itself when the request is refused.
  // `bounds`, when given, replaces CheckBounds(*target, method): the outcome of the same
  // checks for a request whose fields have other names (Notify's cell, topic, event_type).
  Request* Begin(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                 absl::string_view kind, const v1::Target* target, absl::string_view method,
                 const absl::Status* bounds = nullptr);
  // Step 4's input for `request`: its id, and its grant's context rules when authorised.
  ContextEdits EditsFor(const Request& request) const;
  // Common end: metrics, log line, Finish, in-flight count. Deletes `request`.
  void End(Request* request, const grpc::Status& status);
  std::string CellLabel(const std::string& cell) const;
  // A cast's or fanout's deadline and cancellation, for the bridge.
  static bridge::SendOptions SendOptionsOf(const grpc::CallbackServerContext* context,
                                           const BridgedReactor& reactor);

  bridge::RpcBridge* bridge_;
  GatewayMetrics* metrics_;
  const Authorizer* authorizer_;
  const CallTimeouts call_timeouts_;
  bridge::NotificationBridge* notifications_;
  bridge::ServeBridge* serve_ = nullptr;
  ServeMetrics* serve_metrics_ = nullptr;
  ServeHealth* serve_health_ = nullptr;
  std::string only_cell_;  // the single cell's name when exactly one is configured
  std::atomic<bool> shutting_down_{false};
  mutable absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar idle_;  // signalled when in_flight_ drops to zero
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_CELL_GATEWAY_SERVICE_H_
