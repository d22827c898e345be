// Cuts a cell connection whose loop thread is stuck in socket I/O.
//
// Why: rabbitmq-c may block on the socket with no timeout of its own (a publish to a broker
// that stopped reading: frozen, or its buffers full). While the loop thread is inside a pass
// over its connection (Arm(fd) .. Disarm()), the watchdog's own thread looks every `tick`;
// once the pass has lasted `limit`, it shuts the socket down, so the blocked call fails and the
// loop reconnects.
//
// Where it sits: each CellConnection owns one; its connection core arms it around every pass
// that talks to the broker.
//
// Threading: Arm, Disarm and CheckNow are thread-safe. The loop must Disarm() before it closes
// the socket: the watchdog only touches a descriptor under its mutex while armed, so it never
// reaches a descriptor that was closed and reused.
#ifndef CELLGW_BRIDGE_STALL_WATCHDOG_H_
#define CELLGW_BRIDGE_STALL_WATCHDOG_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"

namespace cellgw::bridge {

class StallWatchdog {
 public:
  // What cutting a socket means. The default shuts it down (shutdown(2), not close(2): the
  // descriptor stays the loop's, and a call blocked on it fails at once).
  using Cut = std::function<void(int fd)>;
  static void ShutdownSocket(int fd);

  // `clock` must outlive this object. A coarse `tick` is enough: the limit is seconds, and
  // arming must stay cheap for the loop.
  StallWatchdog(absl::Duration limit, Clock& clock,
                absl::Duration tick = absl::Milliseconds(250), Cut cut = &ShutdownSocket);
  ~StallWatchdog();  // Stop()
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  // Starts the thread that calls CheckNow() every tick. Without it (unit tests of the
  // connection core) nothing is ever cut unless CheckNow() is called.
  void Start();
  // Stops and joins the thread. Idempotent.
  void Stop();

  // The loop is about to talk to the broker over `fd`: cut it if that takes `limit`.
  void Arm(int fd);
  // The pass is over (or the socket is about to be closed).
  void Disarm();

  // Cuts the armed socket when its pass has lasted `limit` by the clock, and disarms.
  // Returns whether it cut.
  bool CheckNow();

  absl::Duration limit() const { return limit_; }

 private:
  void Watch();

  const absl::Duration limit_;
  Clock& clock_;
  const absl::Duration tick_;
  const Cut cut_;
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_STALL_WATCHDOG_H_
