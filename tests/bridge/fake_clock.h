// A Clock that moves only when the test says so (tests/bridge). Thread-safe: the loop and
// watchdog threads of a CellConnection read it while the test advances it.
#ifndef CELLGW_TESTS_BRIDGE_FAKE_CLOCK_H_
#define CELLGW_TESTS_BRIDGE_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"

namespace cellgw::testing {

class FakeClock final : public bridge::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mu_);
    now_ += by;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_BRIDGE_FAKE_CLOCK_H_
