// The single-threaded heart of a cell connection: what happens on its event-loop thread, with
// no thread, no socket wait and no clock or random numbers of its own.
//
// Where it sits: CellConnection (cell_connection.h) owns the thread, the wake-up eventfd, the
// submission queue and the connection-attempt thread, and drives one ConnectionCore:
//
//   loop: StartAttemptIfDue() / FinishAttempt()   reconnect with backoff, hosts in turn
//         Publish(batch)                           check exchanges, publish, track confirms
//         Service()                                replies, confirms, returns, deadlines
//         poll(fd(), NextWait())
//
// Everything the core talks to is passed in: the broker as an AmqpTransport (opened by
// whoever runs the attempt), time as a Clock, jitter as a RandomSource, the watchdog that
// cuts a stalled pass. Unit tests drive it directly with fakes (tests/bridge).
//
// Behaviour:
// - While disconnected, messages fail at once with UNAVAILABLE, also while an attempt runs.
// - A failed attempt fails every call in flight with UNAVAILABLE (no broker can deliver their
//   replies) and schedules the next attempt: capped exponential backoff with jitter, on the
//   next host. A lost connection is retried at once.
// - After a reconnect the reply queue is declared again under the same name. Calls in flight
//   keep waiting when it survived, and fail with UNAVAILABLE when it is gone. The same happens
//   when the broker cancels the reply consumer.
// - Before the first publish to an exchange it is checked on the transport's declaring channel
//   (exchange_registry.h): a refusal fails only that message, with FAILED_PRECONDITION.
// - Casts and fanouts complete on the broker's confirm: OK on ack, UNAVAILABLE on nack, on a
//   mandatory return (nothing bound), or when the channel or connection drops first. Calls
//   complete with their reply, DEADLINE_EXCEEDED, or UNAVAILABLE (nack, return, reply queue
//   lost, broker unreachable). Completion callbacks run on the calling (loop) thread.
//
// Threading: not thread-safe, except connected(). One thread (the loop's) calls everything.
#ifndef CELLGW_BRIDGE_CONNECTION_CORE_H_
#define CELLGW_BRIDGE_CONNECTION_CORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/amqp_transport.h"
#include "bridge/bridge_observer.h"
#include "bridge/clock.h"
#include "bridge/exchange_registry.h"
#include "bridge/outbound.h"
#include "bridge/publish_tracker.h"
#include "bridge/random_source.h"
#include "bridge/reconnect_backoff.h"
#include "bridge/reply_correlator.h"
#include "bridge/stall_watchdog.h"
#include "bridge/transport_url.h"

namespace cellgw::bridge {

struct CellConnectionOptions {
  std::string cell;
  int index = 0;
  TransportUrl url;  // at least one host (ParseTransportUrl guarantees it)
  absl::Duration heartbeat = absl::Seconds(60);
  uint64_t max_message_bytes = 64ull << 20;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(15);
  AmqpTlsOptions tls;  // amqps to every host of `url`
  // Exchanges remembered as checked, per connection (exchange_registry.h).
  size_t max_known_exchanges = 1024;
};

class ConnectionCore final : private AmqpTransport::Handler {
 public:
  // References must outlive the core; `observer` and `watchdog` may be null.
  ConnectionCore(CellConnectionOptions options, std::string reply_queue, Clock& clock,
                 RandomSource& random, BridgeObserver* observer, StallWatchdog* watchdog);
  ~ConnectionCore() override;
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;

  // When a connection attempt is due (disconnected, no attempt running, the backoff has
  // passed): the endpoint to try, and the attempt counts as running until FinishAttempt().
  // nullopt otherwise.
  std::optional<AmqpEndpoint> StartAttemptIfDue();

  // Takes the outcome of the running attempt. On success subscribes to the reply queue and
  // reports the connection up; returns that subscription's outcome. On failure (of the attempt
  // or the subscription) fails calls in flight with UNAVAILABLE, schedules the next attempt
  // and returns why.
  absl::Status FinishAttempt(absl::StatusOr<std::unique_ptr<AmqpTransport>> transport);

  // Publishes `batch` in order (rules above). Every message's callback runs exactly once,
  // now or later.
  void Publish(std::vector<Outbound> batch);

  // Ends the call `msg_id` with CANCELLED because its caller withdrew it: a later reply is
  // dropped as late. Nothing happens when it is not pending.
  void Withdraw(const std::string& msg_id);

  // Reads whatever the transport has (replies, confirms, returns, cancels), subscribes again
  // when the consumer was cancelled, and ends calls whose deadline has passed.
  void Service();

  // Ends everything: fails unconfirmed messages and calls in flight with `why`, and closes the
  // connection.
  void Shutdown(const absl::Status& why);

  // What the loop waits on next: the socket (-1 when disconnected), whether input is already
  // buffered (then it must not wait), and how long it may sleep before Service() or
  // StartAttemptIfDue() have work (deadlines, heartbeats, the next attempt; at most 1 s).
  int fd() const;
  bool HasBufferedInput() const;
  absl::Duration NextWait() const;

  // True while the AMQP connection is up and the reply consumer is running. Thread-safe.
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // Why the connection is down (the last error), for messages.
  const absl::Status& last_error() const { return last_error_; }

  // For tests and diagnostics.
  size_t pending_calls() const { return correlator_.pending(); }
  size_t unconfirmed() const { return unconfirmed_.size(); }
  size_t known_exchanges() const { return exchanges_.size(); }

 private:
  // AmqpTransport::Handler
  void OnMessage(InboundMessage message) override;
  void OnConfirm(uint64_t seq, bool multiple, bool ack) override;
  void OnPublishChannelReset(const absl::Status& why) override;
  void OnConsumerCancelled() override { resubscribe_ = true; }

  AmqpEndpoint Endpoint(size_t host) const;
  absl::Status Adopt(std::unique_ptr<AmqpTransport> transport);
  absl::Status Subscribe(bool pending_may_survive);
  void PublishOne(Outbound& message);
  bool ExchangeReady(Outbound& message);
  void HandleReturn(const InboundMessage& returned);
  void HandleReply(const InboundMessage& message);
  // Fails one message: a call through the correlator once it is registered there.
  void Fail(Outbound& message, const absl::Status& status);
  void FailUnconfirmed(const absl::Status& why);
  void Disconnect(const absl::Status& why);
  void Drop(DropReason reason);
  void Arm();
  void Disarm();

  const CellConnectionOptions options_;
  const std::string reply_queue_;
  Clock& clock_;
  BridgeObserver* const observer_;
  StallWatchdog* const watchdog_;

  std::unique_ptr<AmqpTransport> transport_;
  ReplyCorrelator correlator_;
  PublishTracker unconfirmed_;
  ExchangeRegistry exchanges_;
  ReconnectBackoff backoff_;
  absl::Time next_attempt_ = absl::InfinitePast();
  bool attempting_ = false;
  bool ever_connected_ = false;
  bool resubscribe_ = false;
  absl::Status last_error_ = absl::UnavailableError("not connected yet");
  std::atomic<bool> connected_{false};
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CONNECTION_CORE_H_
