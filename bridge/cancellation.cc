#include "bridge/cancellation.h"

#include <utility>

namespace cellgw::bridge {

bool Cancellation::Cancel() {
  std::function<void()> on_cancel;
  {
    absl::MutexLock lock(&mu_);
    cancelled_.store(true, std::memory_order_release);
    if (!attached_ || settled_) return false;
    settled_ = true;
    on_cancel = std::move(on_cancel_);
    on_cancel_ = nullptr;
  }
  // Outside the lock: the hook takes the bridge's own locks.
  if (on_cancel) on_cancel();
  return true;
}

bool Cancellation::Attach(std::function<void()> on_cancel) {
  absl::MutexLock lock(&mu_);
  if (cancelled_.load(std::memory_order_relaxed)) return false;
  attached_ = true;
  on_cancel_ = std::move(on_cancel);
  return true;
}

bool Cancellation::Claim() {
  absl::MutexLock lock(&mu_);
  if (settled_) return false;
  settled_ = true;
  on_cancel_ = nullptr;
  return true;
}

}  // namespace cellgw::bridge
