// One AMQP connection of a cell and the event-loop thread that owns it.
//
// Where it sits: RpcBridge encodes a request into an oslo message on the caller's thread and
// hands it to a CellConnection with Submit(); from then on everything happens on this
// connection's thread, in its ConnectionCore (connection_core.h, which holds the rules:
// exchange checks, publish, confirms, mandatory returns, reply correlation, deadlines,
// reconnects with backoff). Completion callbacks run on this thread; they must not block.
//
// This class is the thread around the core: the loop waits in poll() on the AMQP socket and
// an eventfd that Submit() signals, so no caller ever blocks on broker I/O and no thread exists
// per request. Submissions are drained in batches: one wake-up, many publishes. Connection
// attempts run on a thread of their own (connect_attempt.h), and a watchdog thread
// (stall_watchdog.h) cuts a pass that blocks on a socket the broker stopped reading.
//
// Failure behaviour (details in connection_core.h):
// - While disconnected, submissions fail at once with UNAVAILABLE; the loop reconnects with
//   capped exponential backoff and jitter, trying the cell's hosts in turn.
// - On reconnect the reply queue is declared again under the same name. If it survived (it
//   is not exclusive and expires after 30 min idle, as oslo's), calls in flight keep waiting
//   for their replies; if it is gone, they fail with UNAVAILABLE at once. When no broker can be
//   reached, calls in flight fail with UNAVAILABLE instead of waiting out their deadlines.
// - Casts and fanouts complete only on the broker's publisher confirm; an unconfirmed publish
//   whose connection or channel drops fails with UNAVAILABLE (it may or may not have been
//   delivered; the caller decides whether to retry).
// - A message whose exchange the broker refuses fails alone with FAILED_PRECONDITION.
#ifndef CELLGW_BRIDGE_CELL_CONNECTION_H_
#define CELLGW_BRIDGE_CELL_CONNECTION_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/bridge_observer.h"
#include "bridge/connect_attempt.h"
#include "bridge/connection_core.h"
#include "bridge/connection_env.h"
#include "bridge/outbound.h"
#include "bridge/stall_watchdog.h"

namespace cellgw::bridge {

class CellConnection {
 public:
  // `observer` must outlive this object; it may be null. `env`'s clock and random source
  // (when set) must outlive it too.
  CellConnection(CellConnectionOptions options, BridgeObserver* observer,
                 ConnectionEnv env = {});
  ~CellConnection();  // Stop()
  CellConnection(const CellConnection&) = delete;
  CellConnection& operator=(const CellConnection&) = delete;

  // Starts the loop and watchdog threads; the loop connects in the background.
  void Start();

  // Fails everything still pending with UNAVAILABLE, closes the connection cleanly and joins
  // the threads. Idempotent.
  void Stop();

  // Queues a message. Thread-safe, never blocks on I/O. Exactly one of the message's
  // callbacks runs later on this connection's thread, or inline with UNAVAILABLE once the
  // connection is stopped.
  void Submit(Outbound message);

  // Forgets the call `msg_id` whose caller withdrew it (cancellation.h): its reply, should one
  // come, is dropped as late, and it holds no memory until its deadline. Thread-safe; the
  // loop does it on its next pass. A call not registered (yet) is left alone: a withdrawn
  // message is not published.
  void Withdraw(std::string msg_id);

  // The reply queue's name, fixed for this object's lifetime (reply_<uuid4 hex>).
  const std::string& reply_queue() const { return reply_queue_; }

  // True while the AMQP connection is up and the reply consumer is running. Thread-safe.
  bool connected() const { return core_.connected(); }

  // Blocks until the first connection attempt has finished (either way) or `timeout` passes.
  // For start-up and tests; returns connected().
  bool WaitForFirstAttempt(absl::Duration timeout);

 private:
  void Run();
  // Fails `batch` and everything in flight with UNAVAILABLE and closes the connection.
  void FinishShutdown(std::vector<Outbound> batch);
  // Sleeps in poll() until the eventfd is signalled, the AMQP socket is readable or `wait`
  // passes.
  void WaitForWake(absl::Duration wait, int amqp_fd);
  void Wake();
  // The longest a pass may block: the heartbeat, at most AmqpEndpoint::io_timeout.
  static absl::Duration StallLimit(const CellConnectionOptions& options);

  const std::string cell_;
  const std::string reply_queue_;
  const int wake_fd_;
  StallWatchdog watchdog_;
  ConnectionCore core_;        // the loop thread's, except connected()
  ConnectAttempt attempt_;     // the loop thread's

  absl::Mutex mu_;
  std::vector<Outbound> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> withdrawn_ ABSL_GUARDED_BY(mu_);  // msg_ids for Withdraw()
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool first_attempt_done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CELL_CONNECTION_H_
