// The time source of the connection core, as an interface so that deadlines, backoff and the
// watchdog can be unit-tested with a clock the test moves (tests/bridge/fake_clock.h).
//
// Where it sits: RpcBridge computes call deadlines with it; CellConnection and its parts
// (connection_core.h, stall_watchdog.h) read it for everything they schedule. Waiting itself
// stays real (poll() on the connection's sockets), so a test that moves a fake clock wakes
// the loop through the transport it controls.
#ifndef CELLGW_BRIDGE_CLOCK_H_
#define CELLGW_BRIDGE_CLOCK_H_

#include "absl/time/time.h"

namespace cellgw::bridge {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time. Thread-safe in every implementation.
  virtual absl::Time Now() const = 0;

  // absl::Now(). A process-wide instance that lives forever.
  static Clock& Real();
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CLOCK_H_
