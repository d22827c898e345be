// One Subscribe stream (cellgw.v1.CellGateway/Subscribe), as a gRPC callback-API bidi reactor.
//
// Where it sits: CellGatewayService::Subscribe creates one per stream. The first request it
// reads is the subscription: it is validated (notification_validator), authorised (kind
// "subscribe", once per topic) and handed to the NotificationBridge, which consumes on the
// cell's consumer-connection thread and passes notifications to this stream. Every later
// request carries ack_ids, which go back to the bridge.
//
// Threads and flow: the AMQP side (consumers, acknowledgements) lives with the cell's
// consumer-connection thread; this reactor only moves messages. Notifications wait in a queue
// that never holds more than max_unacked of them (the broker sends no more than that
// unacknowledged), and one write is in flight at a time; with auto_ack a notification is
// acknowledged once its write completed. No thread exists per stream and no gRPC thread ever
// waits on AMQP.
//
// Initial metadata (x-request-id, and x-cellgw-subscription: consuming) is sent once the
// subscription's queues are declared and consumed, so a client can wait for it to know that
// nothing published from then on is missed; a refused subscription's headers, sent with its
// status, lack x-cellgw-subscription. The stream ends:
//   OK                   when the client half-closes (WritesDone): the ack_ids it sent before
//                        are applied first
//   CANCELLED            when the client cancels
//   INVALID_ARGUMENT     a malformed first or later message (the message names the field)
//   NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE   from the bridge
//   UNAUTHENTICATED, PERMISSION_DENIED   from the Authorizer
// When the stream ends, everything it had not acknowledged goes back to the queue. One JSON log line marks each subscription's start and
// one its end (with its outcome and counts).
#ifndef CELLGW_GATEWAY_RPC_SUBSCRIBE_REACTOR_H_
#define CELLGW_GATEWAY_RPC_SUBSCRIBE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/notification_bridge.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gateway/observability/metrics.h"
#include "gateway/security/authorizer.h"

namespace cellgw::gateway {

// The header that marks a live subscription (see above).
inline constexpr absl::string_view kSubscriptionHeader = "x-cellgw-subscription";

// What every Subscribe stream needs from the service; all must outlive the streams.
struct SubscribeEnvironment {
  bridge::NotificationBridge* notifications = nullptr;
  GatewayMetrics* metrics = nullptr;       // may be null
  const Authorizer* authorizer = nullptr;  // null: no authentication
  std::string only_cell;                   // the single cell's name when exactly one is configured
  const std::atomic<bool>* shutting_down = nullptr;  // new streams are refused once true
};

class SubscribeReactor final
    : public grpc::ServerBidiReactor<v1::SubscribeRequest, v1::Notification> {
 public:
  // Starts reading the first message (or finishes at once with UNAVAILABLE when shutting
  // down). Deletes itself in OnDone.
  SubscribeReactor(grpc::CallbackServerContext* context, const SubscribeEnvironment& env);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnSendInitialMetadataDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  class Stream;  // the side the bridge talks to; outlives this reactor while the bridge holds it

  // The first message: validate, authorise, subscribe.
  grpc::Status Start();

  grpc::CallbackServerContext* const context_;
  const SubscribeEnvironment env_;
  const std::string request_id_;
  const absl::Time start_;
  std::shared_ptr<Stream> stream_;
  v1::SubscribeRequest request_;  // the read buffer
  bool subscribed_ = false;       // the first message was accepted (gRPC read side only)
  std::string cell_;              // metric label
  std::string caller_;
  GatewayMetrics::RequestSeries* series_ = nullptr;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_SUBSCRIBE_REACTOR_H_
