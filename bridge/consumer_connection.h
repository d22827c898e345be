// One AMQP connection of a cell for consuming with acknowledgements, and the event-loop
// thread that owns it: the machinery under notification subscriptions (Subscribe), meant to
// carry the next streams (Serve: gRPC workers answering oslo RPC) too. It knows AMQP and
// nothing of oslo's message formats.
//
// Where it sits: NotificationBridge (notification_bridge.h) keeps one per cell, started on
// first use. A *subscription* is a set of queues to declare, bind and consume, with a window
// of unacknowledged deliveries; each runs on an AMQP channel of its own (own basic.qos window,
// own delivery tags; a broker refusal closes only its channel). Deliveries go to the
// subscription's sink on this connection's thread; the sink keeps them (to be acknowledged
// later through Ack/Reject, from any thread) or settles them at once. The connection also
// publishes, with publisher confirms, declaring what a publication needs first.
//
// Threads: every public method is thread-safe and returns at once (requests go through a
// queue and an eventfd, as in CellConnection). All AMQP I/O, and every sink and publication
// callback, happens on this object's thread; callbacks must not block. rabbitmq-c is owned by
// that thread alone. A connection attempt runs on a short-lived thread of its own, so a broker
// that black-holes the handshake does not stall the loop, and a stall watchdog cuts the
// connection when the loop is stuck writing to a broker that stopped reading.
//
// Guarantees:
// - At least once: a delivery is removed from its queue only when the sink or Ack settles it.
//   When a subscription ends (Cancel, or an error) its channel is closed, which returns
//   everything unacknowledged to the queues, for the next consumer.
// - Flow control: the broker sends a subscription at most `prefetch` unacknowledged
//   deliveries (basic.qos for the whole channel; with quorum queues, which refuse a channel-wide
//   window, each of its n consumers gets prefetch/n, at least 1). What the connection holds
//   for a subscription is bounded by that window.
// - Reconnects: a lost connection is re-established with capped exponential backoff and
//   jitter over the cell's hosts; every live subscription is then declared and consumed
//   again on a new channel, under a new incarnation number. Tags of an earlier incarnation
//   are void (those deliveries went back to their queues when the connection died); Ack and
//   Reject ignore them. A subscription that cannot consume for `outage_limit` (connection
//   down, or never established) ends with UNAVAILABLE.
// - Publications complete on the broker's confirm (OK) or fail with UNAVAILABLE (connection
//   or channel lost before the confirm, a nack, not connected) or the broker's refusal of a
//   declare (FAILED_PRECONDITION / NOT_FOUND). While the very first connection attempt runs,
//   they wait for it; afterwards, while disconnected, they fail at once.
#ifndef CELLGW_BRIDGE_CONSUMER_CONNECTION_H_
#define CELLGW_BRIDGE_CONSUMER_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/status/statusor.h"
#include "bridge/amqp_connection.h"
#include "bridge/cell_options.h"
#include "bridge/connect_attempt.h"
#include "bridge/reconnect_backoff.h"
#include "bridge/stall_watchdog.h"
#include "bridge/transport_url.h"

namespace cellgw::bridge {

// An exchange a subscription or publication needs.
struct ExchangeUse {
  ExchangeSpec spec;
  // False: declared (created when missing). True: it must exist already; it is declared
  // passively (which creates nothing) and then with `spec` (which has the broker check its
  // type and flags). A missing one is FAILED_PRECONDITION. So callers that name exchanges
  // cannot create any (the cell connections' rule for casts and calls).
  bool must_exist = false;
};

// A queue to declare, with its bindings.
struct QueueTopology {
  QueueSpec spec;
  bool quorum = false;  // x-queue-type: quorum
  // Deleted when the subscription is cancelled (Cancel, while connected), after its channel
  // closed: for a queue no one else consumes, as oslo's server deletes its fanout queue on a
  // graceful stop. Not when it ends otherwise (an outage, shutdown), nor while disconnected:
  // then the queue's own expiry (x-expires) removes it.
  bool delete_on_cancel = false;
  struct Binding {
    std::string exchange;
    std::string routing_key;
  };
  std::vector<Binding> bindings;
};

// What a subscription declares and consumes: the exchanges first, then each queue and its
// bindings, then a consumer on each queue.
struct SubscriptionTopology {
  std::vector<ExchangeUse> exchanges;
  std::vector<QueueTopology> queues;
  uint16_t prefetch = 64;  // unacknowledged deliveries at most; >= 1
};

// Identifies one delivery to Ack/Reject: the subscription's incarnation (its channel) and the
// channel's delivery tag.
struct DeliveryTag {
  uint64_t incarnation = 0;
  uint64_t tag = 0;
};

struct Delivery {
  DeliveryTag tag;
  bool redelivered = false;  // delivered before and not acknowledged then
  std::string exchange;
  std::string routing_key;
  std::string content_type;
  std::string expiration;  // the AMQP expiration property (ms, as text); "" when absent
  std::string body;
  bool oversized = false;  // over max_message_bytes: the body was discarded
  uint64_t body_size = 0;
};

// The receiving end of one subscription. Every method runs on the connection's thread, never
// concurrently, and must not block.
class SubscriptionSink {
 public:
  virtual ~SubscriptionSink() = default;

  // What the sink does with a delivery.
  enum class Disposition {
    kKeep,     // kept: it is settled later with Ack or Reject
    kAck,      // settled now: acknowledged (removed from the queue)
    kDiscard,  // settled now: rejected without requeue (dropped, as oslo drops bad messages)
  };
  virtual Disposition OnDelivery(Delivery delivery) = 0;

  // Consuming (again) under `incarnation`: after the first consume, and after each reconnect
  // or channel loss.
  virtual void OnConsuming(uint64_t incarnation) {}
  // Consuming stopped (connection or channel lost): every kept delivery is void and will come
  // again; consuming resumes by itself unless the outage outlasts the limit.
  virtual void OnInterrupted(const absl::Status& why) {}
  // A later Ack of a kept delivery reached the broker (stale and unknown tags do not).
  virtual void OnAcknowledged(const DeliveryTag& tag) {}
  // The end, exactly once; nothing is called after it. OK after Cancel(); otherwise
  // UNAVAILABLE (outage over the limit, or shutdown), FAILED_PRECONDITION / NOT_FOUND (the
  // broker refused a declare or consume: the message says which) or RESOURCE_EXHAUSTED (no
  // free channel).
  virtual void OnEnded(const absl::Status& status) = 0;
};

// A message to publish, with what has to exist first.
struct Publication {
  // Declared before the first publish that needs them, once per connection (as oslo's
  // notifier does: its declares are cached until the next reconnect).
  std::vector<ExchangeUse> exchanges;
  std::optional<QueueTopology> queue;
  std::string exchange;
  std::string routing_key;
  std::string body;
  // basic.publish's mandatory flag (oslo's RPC replies set it). A message the broker returns
  // (no queue matched) is confirmed all the same and is not reported: it is lost.
  bool mandatory = false;
  // Runs once: OK on the broker's confirm, or why not (see the header comment).
  std::function<void(absl::Status)> on_confirmed;
};

struct ConsumerConnectionOptions {
  std::string cell;  // for messages and the connection's name
  TransportUrl url;
  AmqpTlsOptions tls;
  absl::Duration heartbeat = absl::Seconds(60);
  uint64_t max_message_bytes = 4ull << 20;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(15);
  // How long a subscription may go without consuming before it ends with UNAVAILABLE.
  absl::Duration outage_limit = absl::Seconds(60);
};

// The consumer connection options of a configured cell: its URL, TLS, heartbeat, size limit
// and subscription_outage_timeout. INVALID_ARGUMENT "cells[<name>].transport_url: ..." when
// the URL does not parse.
absl::StatusOr<ConsumerConnectionOptions> ConsumerConnectionOptionsFor(const CellOptions& cell);

class ConsumerConnection {
 public:
  explicit ConsumerConnection(ConsumerConnectionOptions options);
  ~ConsumerConnection();  // Stop()
  ConsumerConnection(const ConsumerConnection&) = delete;
  ConsumerConnection& operator=(const ConsumerConnection&) = delete;

  // Starts the loop thread, which connects in the background. Idempotent.
  void Start();
  // Ends every subscription with UNAVAILABLE ("shutting down"), fails every publication not
  // yet confirmed, closes the connection and joins the thread. Idempotent.
  void Stop();

  using SubscriptionId = uint64_t;

  // Starts a subscription; `sink` is called on this connection's thread until OnEnded, and
  // kept alive until then. After Stop(), OnEnded(UNAVAILABLE) runs inline.
  SubscriptionId Subscribe(SubscriptionTopology topology, std::shared_ptr<SubscriptionSink> sink);
  // Ends a subscription: its channel is closed (kept deliveries go back to their queues), its
  // delete_on_cancel queues are deleted, and the sink gets OnEnded(OK). A no-op for one that
  // already ended.
  void Cancel(SubscriptionId id);
  // Settles kept deliveries of subscription `id`. Tags of another incarnation, or already
  // settled, are ignored.
  void Ack(SubscriptionId id, const std::vector<DeliveryTag>& tags);
  void Reject(SubscriptionId id, const std::vector<DeliveryTag>& tags, bool requeue);

  // Publishes; `publication.on_confirmed` runs later on this connection's thread, or inline
  // with UNAVAILABLE after Stop().
  void Publish(Publication publication);

  // True while the AMQP connection is up.
  bool connected() const { return connected_.load(std::memory_order_acquire); }

 private:
  class Loop;
  struct Settle {
    SubscriptionId id;
    std::vector<DeliveryTag> tags;
    enum class Kind { kAck, kRequeue, kDiscard } kind;
  };
  struct NewSubscription {
    SubscriptionId id;
    SubscriptionTopology topology;
    std::shared_ptr<SubscriptionSink> sink;
  };
  // Queues a request (under mu_) and wakes the loop; false after Stop().
  bool Enqueue(const std::function<void()>& add) ABSL_LOCKS_EXCLUDED(mu_);
  void Wake();

  const ConsumerConnectionOptions options_;
  std::atomic<bool> connected_{false};
  const int wake_fd_;
  // Cuts the connection when the loop thread is stuck in socket I/O (a broker that stopped
  // reading), as a cell connection's does.
  StallWatchdog watchdog_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SubscriptionId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<NewSubscription> subscribes_ ABSL_GUARDED_BY(mu_);
  std::vector<SubscriptionId> cancels_ ABSL_GUARDED_BY(mu_);
  std::vector<Settle> settles_ ABSL_GUARDED_BY(mu_);
  std::vector<Publication> publications_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CONSUMER_CONNECTION_H_
