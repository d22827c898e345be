// One AMQP connection of a cell and the event-loop thread that owns it.
//
// Where it sits: RpcBridge encodes a request into an oslo message on the caller's thread and
// hands it to a CellConnection with Submit(); from then on everything happens on this
// connection's thread: exchange declare (once per exchange and channel, as oslo does),
// publish, publisher confirm, mandatory returns, reply correlation, deadlines, heartbeats,
// reconnects. Completion callbacks run on this thread; they must not block.
//
// The loop waits in poll() on the AMQP socket and an eventfd that Submit() signals, so no
// caller ever blocks on broker I/O and no thread exists per request. Submissions are drained
// in batches: one wake-up, many publishes.
//
// Failure behaviour:
// - While disconnected, submissions fail at once with UNAVAILABLE; the loop reconnects with
//   capped exponential backoff and jitter, trying the cell's hosts round-robin.
// - On reconnect the reply queue is declared again under the same name. If it survived (it
//   is not exclusive and expires after 30 min idle, as oslo's), calls in flight keep waiting
//   for their replies; if it is gone, they fail with UNAVAILABLE at once. When no broker can be
//   reached, calls in flight fail with UNAVAILABLE instead of waiting out their deadlines.
// - Casts and fanouts complete only on the broker's publisher confirm; an unconfirmed publish
//   whose connection or channel drops fails with UNAVAILABLE (it may or may not have been
//   delivered; the caller decides whether to retry).
#ifndef CELLGW_BRIDGE_CELL_CONNECTION_H_
#define CELLGW_BRIDGE_CELL_CONNECTION_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/amqp_connection.h"
#include "bridge/bridge_observer.h"
#include "bridge/envelope.h"
#include "bridge/transport_url.h"

namespace cellgw::bridge {

// A message ready to publish, with what to do when its fate is known.
struct Outbound {
  ExchangeSpec exchange;  // declared before the first publish to it on this connection
  std::string routing_key;
  std::string body;
  bool mandatory = false;
  std::string expiration;  // calls: AMQP per-message TTL in ms
  // The message's `_unique_id`: how a message the broker returns is matched to its sender.
  std::string unique_id;
  // Casts and fanouts: runs once with OK (confirmed) or the reason it was not.
  std::function<void(absl::Status)> on_confirmed;
  // Calls: the correlation id; runs once with the final reply or an error.
  std::string msg_id;
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration monitor = absl::ZeroDuration();
  std::function<void(absl::StatusOr<Reply>)> on_reply;
  // Describes the destination in errors ("topic 'compute' on exchange 'nova'").
  std::string destination;
};

struct CellConnectionOptions {
  std::string cell;
  int index = 0;
  TransportUrl url;
  absl::Duration heartbeat = absl::Seconds(60);
  uint64_t max_message_bytes = 64ull << 20;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(15);
  AmqpTlsOptions tls;  // amqps to every host of `url`
};

class CellConnection {
 public:
  // `observer` must outlive this object; it may be null.
  CellConnection(CellConnectionOptions options, BridgeObserver* observer);
  ~CellConnection();  // Stop()
  CellConnection(const CellConnection&) = delete;
  CellConnection& operator=(const CellConnection&) = delete;

  // Starts the loop thread; it connects in the background.
  void Start();

  // Fails everything still pending with UNAVAILABLE, closes the connection cleanly and joins
  // the thread. Idempotent.
  void Stop();

  // Queues a message. Thread-safe, never blocks on I/O. Exactly one of the message's
  // callbacks runs later on this connection's thread, or inline with UNAVAILABLE once the
  // connection is stopped.
  void Submit(Outbound message);

  // The reply queue's name, fixed for this object's lifetime (reply_<uuid4 hex>).
  const std::string& reply_queue() const { return reply_queue_; }

  // True while the AMQP connection is up and the reply consumer is running.
  bool connected() const { return connected_.load(std::memory_order_acquire); }

  // Blocks until the first connection attempt has finished (either way) or `timeout` passes.
  // For start-up and tests; returns connected().
  bool WaitForFirstAttempt(absl::Duration timeout);

 private:
  class Loop;
  CellConnectionOptions options_;
  BridgeObserver* observer_;
  std::string reply_queue_;
  std::atomic<bool> connected_{false};
  int wake_fd_ = -1;

  absl::Mutex mu_;
  std::vector<Outbound> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool first_attempt_done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::unique_ptr<Loop> loop_;
  friend class Loop;

  // The watchdog: while the loop thread is inside a pass over its connection (Arm() ..
  // Disarm()), rabbitmq-c may block on the socket with no timeout of its own (a broker that
  // stopped reading: frozen, or its buffers full). After StallLimit() the watchdog shuts the
  // socket down, so the blocked call fails and the loop reconnects.
  void Arm(int fd);
  void Disarm();
  void Watch();
  absl::Duration StallLimit() const;  // the heartbeat, at most AmqpEndpoint::io_timeout
  absl::Mutex watch_mu_;
  int watched_fd_ ABSL_GUARDED_BY(watch_mu_) = -1;
  absl::Time watch_deadline_ ABSL_GUARDED_BY(watch_mu_);
  bool watch_stop_ ABSL_GUARDED_BY(watch_mu_) = false;
  std::thread watchdog_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CELL_CONNECTION_H_
