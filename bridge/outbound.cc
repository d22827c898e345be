#include "bridge/outbound.h"

#include <utility>

namespace cellgw::bridge {

void Complete(Outbound& message, const absl::Status& status) {
  // Moved out first: the callback may submit again, or destroy what holds the message.
  if (message.on_reply) {
    auto callback = std::move(message.on_reply);
    message.on_reply = nullptr;
    callback(status);
  } else if (message.on_confirmed) {
    auto callback = std::move(message.on_confirmed);
    message.on_confirmed = nullptr;
    callback(status);
  }
}

}  // namespace cellgw::bridge
