// What the notification bridge reports about its work, for metrics. The bridge knows nothing of
// Prometheus; the gateway implements this interface (gateway/observability/metrics.h) and
// passes it to NotificationBridge::Create.
//
// Methods are called from the cells' consumer-connection threads (and, for Notify, from
// whichever thread completes it), concurrently for different cells: implementations must be
// thread-safe and must not block. Every method has an empty default.
#ifndef CELLGW_BRIDGE_NOTIFICATION_OBSERVER_H_
#define CELLGW_BRIDGE_NOTIFICATION_OBSERVER_H_

#include "absl/strings/string_view.h"

namespace cellgw::bridge {

// Why a consumed notification was dropped (rejected without requeue) instead of delivered.
enum class NotificationDropReason {
  kMalformed,  // not application/json, not JSON, or not a notification oslo would dispatch
  kOversized,  // larger than the cell's max_message_bytes
};

absl::string_view NotificationDropReasonName(NotificationDropReason reason);  // "malformed", ...

class NotificationObserver {
 public:
  virtual ~NotificationObserver() = default;
  // Notify: the broker confirmed a notification.
  virtual void OnNotificationPublished(absl::string_view cell) {}
  // Subscribe: a notification was handed to a subscriber's stream; `redelivered` when the
  // broker had delivered it before without an acknowledgement (to this or another subscriber).
  virtual void OnNotificationDelivered(absl::string_view cell, bool redelivered) {}
  // A subscriber's acknowledgement (ack_ids, or auto_ack) reached the broker.
  virtual void OnNotificationAcknowledged(absl::string_view cell) {}
  // Acknowledged by the gateway without delivery: its event_type matched none of the
  // subscription's patterns.
  virtual void OnNotificationFiltered(absl::string_view cell) {}
  virtual void OnNotificationDropped(absl::string_view cell, NotificationDropReason reason) {}
  // A subscription started (+1) or ended (-1).
  virtual void OnSubscribersChanged(absl::string_view cell, int delta) {}
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_NOTIFICATION_OBSERVER_H_
