// A one-shot signal between threads, for tests (tests/bridge): absl::Notification's job, but
// waiting with absl::Mutex::AwaitWithTimeout, which the TSan build's annotations of Debian's
// Abseil cover (tests/sanitizers), so the tests that use it also run under --config=tsan.
#ifndef CELLGW_TESTS_BRIDGE_LATCH_H_
#define CELLGW_TESTS_BRIDGE_LATCH_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cellgw::testing {

class Latch {
 public:
  void Notify() {
    absl::MutexLock lock(&mu_);
    notified_ = true;
  }
  bool notified() const {
    absl::MutexLock lock(&mu_);
    return notified_;
  }
  // Blocks until Notify() or `timeout`; returns whether it was notified.
  bool Await(absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&notified_), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_BRIDGE_LATCH_H_
