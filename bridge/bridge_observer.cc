#include "bridge/bridge_observer.h"

namespace cellgw::bridge {

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kLate:
      return "late";
    case DropReason::kDuplicate:
      return "duplicate";
    case DropReason::kUnknown:
      return "unknown";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kOversized:
      return "oversized";
  }
  return "unknown";
}

}  // namespace cellgw::bridge
