// oslo.messaging notifications over each cell's consumer connection: Notify (publish, as
// oslo's messagingv2 Notifier does) and Subscribe (consume, as get_notification_listener
// does), with acknowledgements the subscriber controls.
//
// Where it sits: the gateway validates a gRPC request, turns it into a NotifyRequest or
// SubscribeRequest and calls this bridge; the bridge routes to the cell, checks names,
// encodes/decodes (notification.h) and hands the AMQP side to the cell's ConsumerConnection
// (consumer_connection.h), one per cell, started on first use.
//
// Topology, exactly as oslo.messaging 14's rabbit driver (wire spec §3, §12):
//   exchange   <exchange or the cell's control_exchange>, type topic, the cell's flags; only
//              the control exchange is created when missing, any other must exist already
//              (as for casts and calls: callers cannot create exchanges)
//   Notify     declares and binds queue "<topic>.<priority>" (flags of the exchange, quorum
//              with rabbit_quorum_queue) before its first publish on a connection, so nothing
//              is lost before a listener exists; publishes to routing key "<topic>.<priority>",
//              not mandatory, confirmed.
//   Subscribe  without a pool: queue "<topic>.<priority>" for each topic and priority, bound
//              with that key, each consumed (subscribers without a pool share these queues, as
//              oslo listeners do); with a pool: one queue named after the pool, bound with
//              every "<topic>.<priority>", consumed once, so each pool gets every notification
//              and the subscribers of one pool share them.
//
// Delivery (at least once): a notification is acknowledged to the broker only when the
// subscriber settles its ack_id (Acknowledge), or by the gateway when its event_type is
// filtered out; malformed and oversized ones are dropped (rejected without requeue, as oslo's
// listener drops what it cannot decode). At most max_unacked are outstanding per subscription.
// When a subscription ends, or its connection drops, whatever it had not acknowledged goes
// back to the queue.
//
// ack_id: "<incarnation>:<delivery tag>", opaque to clients. The incarnation changes whenever
// the subscription is set up again (after a reconnect or a channel loss); an ack_id of an
// earlier incarnation, or one already settled, is ignored: that notification went back to the
// queue and comes again with a new ack_id.
//
// Threading: every method is thread-safe and returns without blocking on I/O. Callbacks
// (Notify's `done`, NotificationSubscriber's methods) run on the cell's consumer-connection
// thread, or inline when the request is refused before anything is sent; they must not block.
//
// Status codes (Notify's `done`, Subscribe's result, NotificationSubscriber::OnEnd):
//   INVALID_ARGUMENT     a field is malformed; the message starts with its name (cell, topic,
//                        topics[1], priority, priorities[0], pool, payload_json, ...)
//   NOT_FOUND            `cell` names no configured cell
//   FAILED_PRECONDITION  the named exchange does not exist, or the broker refused a declare
//                        (the cell's amqp_durable_queues / amqp_auto_delete /
//                        rabbit_quorum_queue disagree with its services)
//   UNAVAILABLE          no broker connection, the connection lost before the confirm, a nack,
//                        a subscription unable to consume for the cell's
//                        subscription_outage_timeout, or shutdown
//   RESOURCE_EXHAUSTED   the cell has max_in_flight Notify calls in flight or
//                        max_subscriptions subscriptions, or the message exceeds
//                        max_message_bytes
#ifndef CELLGW_BRIDGE_NOTIFICATION_BRIDGE_H_
#define CELLGW_BRIDGE_NOTIFICATION_BRIDGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/cell_options.h"
#include "bridge/consumer_connection.h"
#include "bridge/notification.h"
#include "bridge/notification_observer.h"

namespace cellgw::bridge {

struct NotifyRequest {
  std::string cell;          // "" routes to the only cell when exactly one is configured
  std::string exchange;      // "" = the cell's control_exchange
  std::string topic;         // "" = "notifications"
  std::string publisher_id;  // required
  std::string event_type;    // required
  std::string priority;      // any case; "" = info
  std::string payload_json;  // any JSON value; "" = {}
  std::string context_json;  // a JSON object; "" = {}
};

struct NotifyResult {
  std::string message_id;  // the published message_id (uuid4, dashed)
};

struct SubscribeRequest {
  std::string cell;
  std::string exchange;                 // "" = the cell's control_exchange
  std::vector<std::string> topics;      // empty = {"notifications"}
  std::vector<std::string> priorities;  // any case; empty = all seven
  std::string pool;                     // oslo's listener pool; "" = none
  // Notifications whose event_type this refuses are acknowledged and not delivered; null
  // accepts all. Runs on the consumer-connection thread.
  std::function<bool(absl::string_view event_type)> accept_event_type;
  uint32_t max_unacked = 64;  // 1 .. kMaxUnackedLimit
};

// A notification handed to a subscriber.
struct DeliveredNotification {
  ReceivedNotification message;
  std::string topic;   // the topic it was published to ("<topic>" of "<topic>.<priority>")
  std::string ack_id;  // what the subscriber passes to Acknowledge
  bool redelivered = false;
};

// The receiving end of a subscription (the gateway's stream). Methods run on the cell's
// consumer-connection thread, one at a time; they must not block.
class NotificationSubscriber {
 public:
  virtual ~NotificationSubscriber() = default;
  virtual void OnNotification(DeliveredNotification notification) = 0;
  // The subscription's queues are declared and bound and its consumers started (again, after
  // an interruption): from now on nothing published is missed.
  virtual void OnConsuming() {}
  // Consuming stopped (connection or channel lost): every notification delivered and not yet
  // acknowledged is void (its ack_id is stale) and will be delivered again once consuming
  // resumes, which it does by itself.
  virtual void OnInterrupted(const absl::Status& why) {}
  // The end, exactly once: OK after Cancel(), otherwise the reason (see the codes above).
  virtual void OnEnd(const absl::Status& status) = 0;
};

// A running subscription, owned by whoever subscribed. Thread-safe. Destroying it does not
// cancel it: call Cancel().
class NotificationSubscription {
 public:
  NotificationSubscription(ConsumerConnection* connection, ConsumerConnection::SubscriptionId id)
      : connection_(connection), id_(id) {}

  // Acknowledges the notifications with these ack_ids (stale and unknown ones are ignored).
  // INVALID_ARGUMENT "ack_ids[<i>]: ..." when one is not an ack_id at all; nothing is
  // acknowledged then.
  absl::Status Acknowledge(const std::vector<absl::string_view>& ack_ids);
  // Ends the subscription; its subscriber then gets OnEnd(OK) unless it ended already.
  void Cancel();

 private:
  ConsumerConnection* const connection_;
  const ConsumerConnection::SubscriptionId id_;
};

class NotificationBridge {
 public:
  static constexpr uint32_t kDefaultMaxUnacked = 64;
  static constexpr uint32_t kMaxUnackedLimit = 10000;
  static constexpr absl::string_view kDefaultTopic = "notifications";

  // Checks every cell's transport URL; connects to nothing (each cell's consumer connection
  // starts on its first Notify or Subscribe). INVALID_ARGUMENT naming the cell and field.
  // `observer` may be null and must outlive the bridge.
  static absl::StatusOr<std::unique_ptr<NotificationBridge>> Create(
      const std::vector<CellOptions>& cells, NotificationObserver* observer);
  ~NotificationBridge();  // Stop()

  // Ends every subscription with UNAVAILABLE, fails every Notify in flight, closes the
  // connections. Idempotent; later calls fail at once with UNAVAILABLE.
  void Stop();

  // Publishes one notification; `done` runs once with its message_id when the broker has
  // confirmed it, or with the error.
  void Notify(const NotifyRequest& request,
              std::function<void(absl::StatusOr<NotifyResult>)> done);

  // Starts a subscription. On OK, `subscriber` is called until OnEnd (which may come before
  // this returns, when the bridge is stopping); an error here means the request was refused:
  // nothing was started and the subscriber is never called. `subscriber` is kept alive until
  // OnEnd.
  absl::StatusOr<std::unique_ptr<NotificationSubscription>> Subscribe(
      const SubscribeRequest& request, std::shared_ptr<NotificationSubscriber> subscriber);

  // The cell a request with this `cell` field routes to: its name, or NOT_FOUND /
  // INVALID_ARGUMENT naming "cell".
  absl::StatusOr<std::string> RouteCell(absl::string_view cell) const;

 private:
  struct Cell;
  class Sink;
  NotificationBridge(std::vector<std::unique_ptr<Cell>> cells, NotificationObserver* observer);
  absl::StatusOr<Cell*> Route(absl::string_view cell) const;

  std::vector<std::unique_ptr<Cell>> cells_;
  NotificationObserver* observer_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_NOTIFICATION_BRIDGE_H_
