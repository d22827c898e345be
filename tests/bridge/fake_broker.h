// A scripted stand-in for a RabbitMQ broker, for unit tests of the connection core, the cell
// connection and the RPC bridge (tests/bridge). It hands out AmqpTransports through
// Connector(), keeps what they publish and declare, and lets the test inject what a broker
// would send on the current connection: confirms, mandatory returns, replies, consumer
// cancels, channel resets, a dropped connection.
//
// Not a broker: it routes nothing (returns and replies are injected by the test or by the
// on_publish hook) and models only what the transport contract promises
// (bridge/amqp_transport.h): exchanges and queues that outlive connections, exchange declares
// with RabbitMQ's rules (passive NOT_FOUND; active 406 for another type or flags or an
// internal exchange; 403 for a new `amq.` name), declares that never touch confirms, confirm
// numbers that restart when the publishing channel is reset. The real-broker contract is
// tested in amqp_connection_test.cc.
//
// Each transport's fd() is one end of a socketpair that is readable while events are queued
// for it, so a CellConnection's poll() wakes for injected events as for a real socket, and
// the stall watchdog's shutdown() of it unblocks a stalled publish (StallNextPublish()).
//
// Thread-safe: the connector runs on connection-attempt threads, transports on a loop
// thread, and the test injects and inspects from its own. Must outlive every transport.
#ifndef CELLGW_TESTS_BRIDGE_FAKE_BROKER_H_
#define CELLGW_TESTS_BRIDGE_FAKE_BROKER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/amqp_transport.h"

namespace cellgw::testing {

class FakeBroker {
 public:
  // What a transport published.
  struct Published {
    int connection = 0;  // 1 for the first connection opened, 2 for the next, ...
    std::string virtual_host;
    uint64_t seq = 0;  // its publisher-confirm sequence number
    std::string exchange;
    std::string routing_key;
    std::string body;
    bool mandatory = false;
    std::string expiration;
  };

  FakeBroker();
  ~FakeBroker();
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  // --- Connecting ---------------------------------------------------------------------------
  // Opens transports to this broker. Each call takes the next scripted outcome.
  bridge::AmqpConnector Connector();
  // The next `count` attempts fail with `status` (UNAVAILABLE, as a refused connect).
  void FailNextConnects(int count, absl::Status status = absl::UnavailableError(
                                       "cannot connect to fake: connection refused"));
  // While held, attempts block (a broker that accepts TCP and never answers) until Release.
  void HoldConnects();
  void ReleaseConnects();
  // Endpoints attempted so far, in order.
  std::vector<bridge::AmqpEndpoint> attempts() const;
  // Blocks until `count` attempts have started; false after `timeout`.
  bool AwaitAttempts(size_t count, absl::Duration timeout) const;
  // Transports opened so far.
  int connections() const;
  // What new transports report as the negotiated heartbeat.
  void set_heartbeat_seconds(int seconds);

  // --- Broker state -------------------------------------------------------------------------
  void AddExchange(const bridge::ExchangeSpec& spec, bool internal = false);
  bool HasExchange(const std::string& name) const;
  size_t exchange_count() const;
  void DeleteExchange(const std::string& name);
  bool HasQueue(const std::string& name) const;
  // Deletes a queue; a connection consuming it gets a consumer cancel.
  void DeleteQueue(const std::string& name);
  // Exchange declares seen, passive and active.
  int passive_declares() const;
  int active_declares() const;
  // Queue names consumed, in order, over all connections.
  std::vector<std::string> consumed() const;

  // --- Publishing ---------------------------------------------------------------------------
  std::vector<Published> published() const;
  // Blocks until `count` messages have been published; false after `timeout`.
  bool AwaitPublished(size_t count, absl::Duration timeout) const;
  // Acknowledges every publish at once (a confirm event per publish).
  void set_auto_confirm(bool on);
  // Runs after each publish, on the publishing thread, outside the broker's lock: may inject.
  void set_on_publish(std::function<void(const Published&)> hook);
  // The next publish blocks until its socket is shut down (by the stall watchdog), then fails
  // with UNAVAILABLE; AwaitStalled() returns once it blocks.
  void StallNextPublish();
  bool AwaitStalled(absl::Duration timeout) const;

  // --- Injecting into the current (most recently opened, still open) connection ------------
  void Confirm(uint64_t seq, bool multiple, bool ack);
  // Returns `message` (mandatory, nothing bound) as the broker does: the body comes back.
  void Return(const Published& message, uint16_t code = 312,
              const std::string& text = "NO_ROUTE");
  // A delivery on the reply consumer (bodies over the reader's limit arrive oversized).
  void Deliver(const std::string& body, const std::string& content_type = "application/json");
  // The broker cancelled the reply consumer; its queue stays.
  void CancelConsumer();
  // The broker closed the publishing channel (and it was reopened): confirms restart at 1.
  void ResetPublishChannel(const absl::Status& why);
  // The connection is lost: its next call fails with UNAVAILABLE(why).
  void DropConnection(const absl::Status& why);
  // Makes the current connection's socket readable with nothing to read (wakes its loop).
  void Poke();

 private:
  class Transport;
  struct Exchange {
    bridge::ExchangeSpec spec;
    bool internal = false;
  };
  struct Event {
    enum class Kind { kMessage, kConfirm, kReset, kCancel };
    Kind kind = Kind::kMessage;
    bridge::InboundMessage message;
    uint64_t seq = 0;
    bool multiple = false;
    bool ack = false;
    absl::Status why;
  };
  // One connection's state, shared by its Transport and the broker.
  struct Conn {
    int id = 0;
    std::string virtual_host;
    int fds[2] = {-1, -1};  // [0]: the transport's end; [1]: written to signal events
    std::deque<Event> events;
    absl::Status broken;  // not OK once the connection is lost
    bool closed = false;
    uint64_t next_seq = 1;
    std::string consuming;  // queue consumed, "" when none
    int heartbeat_seconds = 0;
    uint64_t next_delivery_tag = 1;
  };

  absl::StatusOr<std::unique_ptr<bridge::AmqpTransport>> Open(
      const bridge::AmqpEndpoint& endpoint);
  // Queues `event` for `conn` and makes its socket readable.
  void Push(Conn& conn, Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Conn* Current() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `event` for the current connection (dropped when there is none), filling in what
  // only the connection knows (a delivery's tag and queue).
  void PushToCurrent(Event event);

  mutable absl::Mutex mu_;
  std::vector<bridge::AmqpEndpoint> attempts_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> connect_failures_ ABSL_GUARDED_BY(mu_);
  bool hold_connects_ ABSL_GUARDED_BY(mu_) = false;
  int heartbeat_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Exchange> exchanges_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> queues_ ABSL_GUARDED_BY(mu_);
  int passive_declares_ ABSL_GUARDED_BY(mu_) = 0;
  int active_declares_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> consumed_ ABSL_GUARDED_BY(mu_);
  std::vector<Published> published_ ABSL_GUARDED_BY(mu_);
  bool auto_confirm_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const Published&)> on_publish_ ABSL_GUARDED_BY(mu_);
  bool stall_next_ ABSL_GUARDED_BY(mu_) = false;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_BRIDGE_FAKE_BROKER_H_
