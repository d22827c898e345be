// A BridgeObserver that counts what the bridge reports, for tests (tests/bridge).
// Thread-safe, as the interface requires.
#ifndef CELLGW_TESTS_BRIDGE_RECORDING_OBSERVER_H_
#define CELLGW_TESTS_BRIDGE_RECORDING_OBSERVER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bridge/bridge_observer.h"

namespace cellgw::testing {

class RecordingObserver final : public bridge::BridgeObserver {
 public:
  void OnConnectionState(absl::string_view, int, bool up) override {
    absl::MutexLock lock(&mu_);
    states_.push_back(up);
  }
  void OnConnectFailed(absl::string_view, const absl::Status&) override { Count("connect_failed"); }
  void OnReconnect(absl::string_view) override { Count("reconnect"); }
  void OnPublished(absl::string_view) override { Count("published"); }
  void OnConfirmed(absl::string_view, bool ack) override { Count(ack ? "ack" : "nack"); }
  void OnReturned(absl::string_view) override { Count("returned"); }
  void OnReplyDropped(absl::string_view, bridge::DropReason reason) override {
    Count(std::string("dropped_") + std::string(bridge::DropReasonName(reason)));
  }

  // How often `event` was reported: connect_failed, reconnect, published, ack, nack,
  // returned, dropped_<reason>.
  int count(const std::string& event) const {
    absl::MutexLock lock(&mu_);
    auto it = counts_.find(event);
    return it == counts_.end() ? 0 : it->second;
  }
  // Every connection state reported, in order (true: up).
  std::vector<bool> states() const {
    absl::MutexLock lock(&mu_);
    return states_;
  }

 private:
  void Count(const std::string& event) {
    absl::MutexLock lock(&mu_);
    ++counts_[event];
  }

  mutable absl::Mutex mu_;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> states_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_BRIDGE_RECORDING_OBSERVER_H_
