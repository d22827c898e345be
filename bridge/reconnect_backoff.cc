#include "bridge/reconnect_backoff.h"

#include <algorithm>

namespace cellgw::bridge {

ReconnectBackoff::ReconnectBackoff(absl::Duration initial, absl::Duration max, size_t hosts,
                                   RandomSource& random)
    : initial_(initial),
      max_(std::max(initial, max)),
      hosts_(std::max<size_t>(hosts, 1)),
      random_(random),
      step_(initial) {
  host_ = std::min(static_cast<size_t>(random_.Uniform(0, static_cast<double>(hosts_))),
                   hosts_ - 1);
}

absl::Duration ReconnectBackoff::Failed() {
  host_ = (host_ + 1) % hosts_;
  const absl::Duration wait = step_ * random_.Uniform(0.5, 1.0);
  step_ = std::min(step_ * 2, max_);
  return wait;
}

}  // namespace cellgw::bridge
