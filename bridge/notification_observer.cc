#include "bridge/notification_observer.h"

namespace cellgw::bridge {

absl::string_view NotificationDropReasonName(NotificationDropReason reason) {
  switch (reason) {
    case NotificationDropReason::kMalformed:
      return "malformed";
    case NotificationDropReason::kOversized:
      return "oversized";
  }
  return "malformed";
}

}  // namespace cellgw::bridge
