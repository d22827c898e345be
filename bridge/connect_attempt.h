// One connection attempt at a time, on a thread of its own.
//
// Why a thread: a broker that accepts TCP but never answers (frozen, overloaded, a black hole)
// holds an attempt for up to the I/O timeout, and meanwhile the connection's loop must keep
// refusing requests and ending calls at their deadlines. The loop starts an attempt, goes on
// serving, and collects the result when `on_done` has woken it.
//
// Threading: Start, running, TakeResult and Join are for the loop thread (the owner) only;
// `on_done` runs on the attempt's thread once its result is ready, and must not block.
#ifndef CELLGW_BRIDGE_CONNECT_ATTEMPT_H_
#define CELLGW_BRIDGE_CONNECT_ATTEMPT_H_

#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bridge/amqp_transport.h"

namespace cellgw::bridge {

class ConnectAttempt {
 public:
  using Result = absl::StatusOr<std::unique_ptr<AmqpTransport>>;

  ConnectAttempt(AmqpConnector connector, std::function<void()> on_done);
  ~ConnectAttempt();  // Join()
  ConnectAttempt(const ConnectAttempt&) = delete;
  ConnectAttempt& operator=(const ConnectAttempt&) = delete;

  // Starts connecting to `endpoint`. Precondition: !running().
  void Start(AmqpEndpoint endpoint);

  // True from Start() until the result has been taken (or Join() discarded it).
  bool running() const { return thread_.joinable(); }

  // The finished attempt's result (once), joining its thread; nullopt while it still runs or
  // when none was started.
  std::optional<Result> TakeResult();

  // Waits for the attempt in progress (at most the connector's I/O timeout) and discards its
  // result; a connection it opened is closed unused.
  void Join();

 private:
  const AmqpConnector connector_;
  const std::function<void()> on_done_;
  std::thread thread_;
  absl::Mutex mu_;
  std::optional<Result> result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CONNECT_ATTEMPT_H_
