// One Serve stream (cellgw.v1.CellGateway/Serve), as a gRPC callback-API bidi reactor: a
// worker serving an oslo.messaging RPC topic.
//
// Where it sits: CellGatewayService::Serve creates one per stream. The first request it reads
// is the Registration: converted (serve_validator), authorised (kind "serve", on cell,
// exchange and topic) and handed to the ServeBridge, which consumes the topic's queues on the
// cell's consumer-connection thread and passes requests to this stream as Incoming events.
// Every later request is a Reply, which goes back to the bridge (ServeSession::Answer).
//
// Threads and flow: the AMQP side lives with the consumer-connection thread; this reactor only
// moves messages. Events wait in a queue that never holds more than max_in_flight Incomings
// (the broker's window) plus the Registered event, and one write is in flight at a time. No
// thread exists per stream and no gRPC thread ever waits on AMQP.
//
// The stream ends:
//   OK                   when the worker half-closes (WritesDone)
//   CANCELLED            when the worker cancels or goes away
//   INVALID_ARGUMENT     a malformed first or later message (the message names the field); a
//                        Reply naming no held request ("id: ...")
//   NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE   from the bridge
//   UNAUTHENTICATED, PERMISSION_DENIED   from the Authorizer
// However it ends, the calls the worker held are answered with ConnectionAbortedError and its
// consumers cancelled (ServeSession::Close). One JSON log line marks each registration's start
// and one its end.
#ifndef CELLGW_GATEWAY_RPC_SERVE_REACTOR_H_
#define CELLGW_GATEWAY_RPC_SERVE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "bridge/serve_bridge.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/serve_health.h"
#include "gateway/observability/serve_metrics.h"
#include "gateway/security/authorizer.h"

namespace cellgw::gateway {

// What every Serve stream needs from the service; all must outlive the streams.
struct ServeEnvironment {
  bridge::ServeBridge* serve = nullptr;
  GatewayMetrics* metrics = nullptr;       // may be null
  ServeMetrics* serve_metrics = nullptr;   // may be null
  ServeHealth* serve_health = nullptr;     // may be null
  const Authorizer* authorizer = nullptr;  // null: no authentication
  std::string only_cell;                   // the single cell's name when exactly one is configured
  const std::atomic<bool>* shutting_down = nullptr;  // new streams are refused once true
};

class ServeReactor final : public grpc::ServerBidiReactor<v1::ServeRequest, v1::ServeEvent> {
 public:
  // Starts reading the first message (or finishes at once with UNAVAILABLE when shutting
  // down). Deletes itself in OnDone.
  ServeReactor(grpc::CallbackServerContext* context, const ServeEnvironment& env);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  class Stream;  // the side the bridge talks to; outlives this reactor while the bridge holds it

  grpc::Status Start();

  grpc::CallbackServerContext* const context_;
  const ServeEnvironment env_;
  const std::string request_id_;
  const absl::Time start_;
  std::shared_ptr<Stream> stream_;
  v1::ServeRequest request_;  // the read buffer
  bool registered_ = false;   // the first message was accepted (gRPC read side only)
  std::string cell_;
  std::string topic_;
  std::string server_;
  std::string caller_;
  GatewayMetrics::RequestSeries* series_ = nullptr;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_SERVE_REACTOR_H_
