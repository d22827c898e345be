// Serving oslo.messaging RPC topics from outside Python: the gateway stands in for an oslo RPC
// server (oslo_messaging.get_rpc_server(transport, Target(topic, server), endpoints)) on behalf
// of a worker (a gRPC Serve stream), dispatching as oslo's RPCDispatcher and answering callers
// on their reply queues exactly as a Python server would.
//
// Where it sits: the gateway validates nothing but the proto shape; it turns a Registration
// into a ServeRegistration and calls ServeBridge::Serve. The bridge checks the fields, builds
// the topology and hands it to the cell's ConsumerConnection (consumer_connection.h, one per
// cell, started on first use, separate from the notification bridge's). Requests arrive on
// that connection's thread (ServeWorker::OnIncoming); the worker's answers come back through
// ServeSession::Answer from any thread and are published by the same connection.
//
// Topology, exactly what oslo 14's rabbit driver declares for an RPC server (wire spec §3):
//   exchange  <exchange or the cell's control_exchange>, topic, the cell's flags
//   queue     <topic>          shared: round-robin with every other server of the topic
//   queue     <topic>.<server>
//             both with the exchange's flags (quorum with rabbit_quorum_queue), bound to the
//             exchange with their own names as keys
//   exchange  <topic>_fanout   fanout, transient, auto-delete
//   queue     <topic>_fanout_<uuid hex>, transient, not auto-delete, not exclusive,
//             x-expires 30 min, bound with key <topic>; deleted when the worker goes (Close),
//             as oslo's server deletes it on a graceful stop (expiring only when the
//             connection is down then)
//
// Dispatch (rpc_dispatcher.h): a request no endpoint takes (NoSuchMethod, UnsupportedVersion,
// a version int() cannot read) is answered by the gateway with oslo's failure and acknowledged;
// the worker never sees it. A body that is not an oslo request is dropped (rejected without
// requeue), as oslo's server drops it. A redelivered request whose _unique_id the session
// holds or answered recently (the last 1,024) is not handed out again (oslo's duplicate check).
//
// Flow control and acknowledgement: the session's channel has a basic.qos window of
// max_in_flight, and a request handed to the worker is acknowledged to the broker when the
// worker answers it (or when the session ends), so the worker holds at most max_in_flight
// requests and the rest stay in the broker for other servers of the topic. Unlike oslo, which
// acknowledges before running a request, a request held by a worker when the gateway process
// dies goes back to its queue and runs again elsewhere (see the README's guarantees).
//
// Deadlines: a call's deadline is the time the gateway received it plus its AMQP expiration
// (oslo's client sets it to the call timeout in ms). The broker counts a message's TTL from
// when it was queued, so the caller's own deadline is at or before this one (clocks apart):
// an answer after it comes certainly too late. Such an answer is still published, as an oslo
// server publishes it (the caller's oslo drops a reply it no longer waits for), and Answer
// reports it as kAfterDeadline.
//
// Replies (wire spec §7.2): to the default exchange, routing key _reply_q, mandatory, the
// result or SerializeRemoteFailure's failure with ending true; while a worker holds a call
// whose _timeout is at least 2, a heartbeat every int(_timeout)/2 s (one ticker thread per
// bridge, not per session). When the worker goes (Close), each call it holds is answered at
// once with builtins.ConnectionAbortedError (kWorkerGoneClass), everything it holds is
// acknowledged, and its consumers are cancelled.
//
// Threads: every method is thread-safe and returns without waiting on I/O. ServeWorker's
// methods run on the cell's consumer-connection thread (OnEnd: there, or inline when the
// bridge is stopped), one at a time, and must not block.
#ifndef CELLGW_BRIDGE_SERVE_BRIDGE_H_
#define CELLGW_BRIDGE_SERVE_BRIDGE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/cell_options.h"
#include "bridge/consumer_connection.h"
#include "bridge/remote_failure.h"
#include "bridge/rpc_dispatcher.h"

namespace cellgw::bridge {

struct ServeRegistration {
  std::string cell;      // "" routes to the only cell when exactly one is configured
  std::string exchange;  // "" = the cell's control_exchange
  std::string topic;     // required
  std::string server;    // required: oslo's Target.server
  std::vector<RpcEndpoint> endpoints;  // at least one
  uint32_t max_in_flight = 16;         // 1 .. kMaxInFlightLimit
};

enum class IncomingKind { kCall, kCast, kFanout };

// A request handed to the worker.
struct IncomingRequest {
  uint64_t id = 0;  // unique within the session; what Answer takes
  IncomingKind kind = IncomingKind::kCast;
  std::string method;
  std::string args_json;     // a JSON object, as the caller's oslo wrote it
  std::string context_json;  // the request context (the _context_ keys), a JSON object
  std::optional<std::string> namespace_;  // as requested; nullopt: none
  std::optional<std::string> version;     // as requested; nullopt: none (oslo reads "1.0")
  // Calls with an AMQP expiration: when the caller stops waiting (see the header comment).
  std::optional<absl::Time> deadline;
};

// The worker's answer to one request: a result (JSON text, "" = null) or a failure.
struct WorkerAnswer {
  std::string result_json;
  std::optional<RemoteFailure> failure;
};

// The worker's side of a session. See the header comment for the threads.
class ServeWorker {
 public:
  virtual ~ServeWorker() = default;
  // The queues are declared, bound and consumed: the first time (first == true) and again
  // after each reconnect.
  virtual void OnConsuming(const std::vector<std::string>& queues, bool first) {}
  virtual void OnIncoming(IncomingRequest request) = 0;
  // Consuming stopped (the broker connection or the channel was lost); it resumes by itself
  // (OnConsuming with first == false). What the worker holds stays valid: its answers are
  // published when the connection is back, and redeliveries of it are not handed out again.
  virtual void OnInterrupted(const absl::Status& why) {}
  // The end, exactly once: OK after Close(), otherwise UNAVAILABLE (the cell unreachable for
  // its subscription_outage_timeout, or shutdown) or FAILED_PRECONDITION / NOT_FOUND (the
  // broker refused a declare).
  virtual void OnEnd(const absl::Status& status) = 0;
};

class ServeBridge;

// One worker's registration, shared by its stream and the bridge. Thread-safe.
class ServeSession {
 public:
  // The class of the failure sent to callers whose call the worker held when it went.
  static constexpr absl::string_view kWorkerGoneClass = "ConnectionAbortedError";

  // When an answer came, for a call with a deadline; casts, fanouts and calls without an
  // expiration are always kInTime.
  enum class Timing { kInTime, kAfterDeadline };

  // Answers request `id`: for a call, publishes the reply (after its deadline too); for a
  // cast or fanout, only releases it (a failure is counted in casts_failed()). The request is
  // acknowledged to the broker. NOT_FOUND when no request `id` is held (unknown, or answered
  // already); INVALID_ARGUMENT naming "result_json" when it is not JSON; FAILED_PRECONDITION
  // after Close().
  absl::StatusOr<Timing> Answer(uint64_t id, const WorkerAnswer& answer);

  // The worker is gone: fails the calls it holds (kWorkerGoneClass), acknowledges everything
  // it holds, cancels its consumers. OnEnd(OK) follows unless the session had ended.
  // Returns the number of calls answered so (0 when called again).
  size_t Close();

  const std::vector<std::string>& queues() const { return queues_; }
  size_t held() const;  // requests handed out and not answered
  uint64_t handed_out() const { return handed_out_.load(std::memory_order_relaxed); }
  uint64_t casts_failed() const { return casts_failed_.load(std::memory_order_relaxed); }

 private:
  friend class ServeBridge;
  class Sink;
  struct Held {
    DeliveryTag tag;
    IncomingKind kind;
    std::string msg_id;
    std::string reply_q;
    std::string unique_id;
    absl::Duration heartbeat_every = absl::ZeroDuration();  // zero: no call monitoring
    absl::Time next_heartbeat = absl::InfiniteFuture();
    absl::Time deadline = absl::InfiniteFuture();  // calls with an expiration only
  };

  ServeSession(ConsumerConnection* connection, std::string describe, RpcDispatcher dispatcher,
               std::string fanout_exchange, std::vector<std::string> queues,
               std::shared_ptr<ServeWorker> worker);
  // On the connection thread: decode, dispatch, hold or answer. `received` is when the
  // delivery arrived (the base of a call's deadline).
  SubscriptionSink::Disposition OnDelivery(Delivery delivery, absl::Time received);
  // On the ticker thread: heartbeats due by `now`.
  void Tick(absl::Time now);
  // Encodes and publishes a reply; INVALID_ARGUMENT naming "result_json" when it is not JSON
  // (nothing is published then).
  absl::Status PublishReply(const std::string& reply_q, const std::string& msg_id,
                            absl::string_view result_json, const RemoteFailure* failure,
                            bool ending);
  void Remember(const std::string& unique_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ConsumerConnection* const connection_;
  const std::string describe_;  // "cell 'c' topic 't' server 's'", for messages
  const RpcDispatcher dispatcher_;
  const std::string fanout_exchange_;
  const std::vector<std::string> queues_;
  std::shared_ptr<ServeWorker> worker_;  // released by the sink's OnEnded
  std::atomic<ConsumerConnection::SubscriptionId> subscription_{0};  // set once by Serve
  std::atomic<uint64_t> handed_out_{0};
  std::atomic<uint64_t> casts_failed_{0};
  std::atomic<bool> consumed_once_{false};

  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Held> held_ ABSL_GUARDED_BY(mu_);
  // The _unique_id of each held request (those that have one) -> its id.
  absl::flat_hash_map<std::string, uint64_t> held_by_unique_id_ ABSL_GUARDED_BY(mu_);
  // Recently answered _unique_ids: a set to look up, a ring to forget the oldest.
  absl::flat_hash_set<std::string> answered_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> answered_ring_ ABSL_GUARDED_BY(mu_);
  size_t answered_next_ ABSL_GUARDED_BY(mu_) = 0;
};

class ServeBridge {
 public:
  static constexpr uint32_t kDefaultMaxInFlight = 16;
  static constexpr uint32_t kMaxInFlightLimit = 10000;

  // Checks every cell's transport URL; connects to nothing. INVALID_ARGUMENT naming the cell.
  static absl::StatusOr<std::unique_ptr<ServeBridge>> Create(const std::vector<CellOptions>& cells);
  ~ServeBridge();  // Stop()

  // Ends every session with UNAVAILABLE and closes the connections. Idempotent.
  void Stop();

  // Registers a worker. INVALID_ARGUMENT naming the field (cell, exchange, topic, server,
  // endpoints, endpoints[i].version, endpoints[i].namespace, endpoints[i].methods[j],
  // max_in_flight); NOT_FOUND for an unknown cell. On OK the worker is called until OnEnd,
  // and kept alive until then.
  absl::StatusOr<std::shared_ptr<ServeSession>> Serve(const ServeRegistration& registration,
                                                      std::shared_ptr<ServeWorker> worker);

  // The cell a registration routes to (for labels and authorisation).
  absl::StatusOr<std::string> RouteCell(absl::string_view cell) const;
  // The exchange a registration names ("" = the cell's control_exchange).
  absl::StatusOr<std::string> RouteExchange(absl::string_view cell,
                                            absl::string_view exchange) const;

 private:
  struct Cell;
  explicit ServeBridge(std::vector<std::unique_ptr<Cell>> cells);
  absl::StatusOr<Cell*> Route(absl::string_view cell) const;
  void RunTicker();

  const std::vector<std::unique_ptr<Cell>> cells_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<ServeSession>> sessions_ ABSL_GUARDED_BY(mu_);
  std::thread ticker_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_SERVE_BRIDGE_H_
