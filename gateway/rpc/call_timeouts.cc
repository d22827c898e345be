#include "gateway/rpc/call_timeouts.h"

#include <algorithm>

namespace cellgw::gateway {

absl::Duration CallTimeouts::For(absl::string_view cell, absl::Duration requested) const {
  auto it = cells_.find(cell);
  if (it == cells_.end()) return requested;
  const absl::Duration wanted =
      requested > absl::ZeroDuration() ? requested : it->second.rpc_response_timeout;
  return std::min(wanted, it->second.max_call_timeout);
}

}  // namespace cellgw::gateway
