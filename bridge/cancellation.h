// How a caller withdraws a request it no longer waits for (its gRPC call was cancelled, or its
// deadline passed), and how the bridge learns of it.
//
// Where it sits: the gateway makes one per request and passes it in SendOptions/CallOptions;
// the bridge attaches the request to it once the request holds one of the cell's in-flight
// slots, and the connection thread looks at it before publishing.
//
// The contract is a race with exactly one winner between the caller's Cancel() and the
// bridge's completion (Claim()):
// - Cancel() wins: it runs the bridge's hook (the slot is freed at once, on the cancelling
//   thread) and returns true; the request's `done` callback never runs, so the caller ends the
//   request itself. A message not yet published is then not published.
// - Claim() wins: `done` runs as usual and a later Cancel() returns false and does nothing.
// A Cancel() before Attach() (before the bridge took the request) is remembered and returns
// false: Attach() then refuses, and the bridge ends the request through `done` with CANCELLED.
//
// Thread-safe. Shared (std::shared_ptr) by the caller and the bridge's callbacks, so either
// side may outlive the other.
#ifndef CELLGW_BRIDGE_CANCELLATION_H_
#define CELLGW_BRIDGE_CANCELLATION_H_

#include <atomic>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace cellgw::bridge {

class Cancellation {
 public:
  // The caller withdraws the request. True when this withdrew it (see above): the hook ran
  // and `done` will not run.
  bool Cancel();
  // Whether Cancel() was called, whoever won. Cheap: the connection thread asks before
  // publishing.
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // The bridge takes the request; `on_cancel` runs if Cancel() wins later. False when the
  // caller had already cancelled: nothing is attached.
  bool Attach(std::function<void()> on_cancel);
  // The bridge is about to run `done`. False when Cancel() won: `done` must not run.
  bool Claim();

 private:
  absl::Mutex mu_;
  bool attached_ ABSL_GUARDED_BY(mu_) = false;
  bool settled_ ABSL_GUARDED_BY(mu_) = false;  // Cancel() or Claim() won
  std::function<void()> on_cancel_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> cancelled_{false};
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_CANCELLATION_H_
