// What the bridge reports about its work, for metrics and logs. The bridge knows nothing of
// Prometheus; the gateway implements this interface (gateway/observability/metrics.h) and passes it in.
//
// Methods are called from the bridge's connection threads, concurrently for different
// connections: implementations must be thread-safe and must not block. Every method has an
// empty default so that tests and tools can observe only what they need.
#ifndef CELLGW_BRIDGE_BRIDGE_OBSERVER_H_
#define CELLGW_BRIDGE_BRIDGE_OBSERVER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {

// Why an inbound reply was dropped instead of completing a call.
enum class DropReason {
  kLate,       // its call had already timed out or failed
  kDuplicate,  // its call had already been answered
  kUnknown,    // no call with that _msg_id
  kMalformed,  // not a valid oslo reply (bad JSON, wrong types, wrong content type, ...)
  kOversized,  // larger than the message size limit
};

absl::string_view DropReasonName(DropReason reason);  // "late", "duplicate", ...

class BridgeObserver {
 public:
  virtual ~BridgeObserver() = default;
  // A connection of `cell` came up (true) or went down (false).
  virtual void OnConnectionState(absl::string_view cell, int connection_index, bool up) {}
  // A connection attempt of `cell` failed (`why` never holds a password).
  virtual void OnConnectFailed(absl::string_view cell, const absl::Status& why) {}
  // A connection of `cell` was re-established after having been up before.
  virtual void OnReconnect(absl::string_view cell) {}
  virtual void OnPublished(absl::string_view cell) {}
  // The broker confirmed (ack) or refused (nack) a publish.
  virtual void OnConfirmed(absl::string_view cell, bool ack) {}
  // The broker returned a mandatory publish that matched no queue.
  virtual void OnReturned(absl::string_view cell) {}
  virtual void OnReplyDropped(absl::string_view cell, DropReason reason) {}
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_BRIDGE_OBSERVER_H_
