#include "bridge/connect_attempt.h"

#include <utility>

namespace cellgw::bridge {

ConnectAttempt::ConnectAttempt(AmqpConnector connector, std::function<void()> on_done)
    : connector_(std::move(connector)), on_done_(std::move(on_done)) {}

ConnectAttempt::~ConnectAttempt() { Join(); }

void ConnectAttempt::Start(AmqpEndpoint endpoint) {
  thread_ = std::thread([this, endpoint = std::move(endpoint)] {
    Result result = connector_(endpoint);
    {
      absl::MutexLock lock(&mu_);
      result_ = std::move(result);
    }
    on_done_();
  });
}

std::optional<ConnectAttempt::Result> ConnectAttempt::TakeResult() {
  std::optional<Result> result;
  {
    absl::MutexLock lock(&mu_);
    if (!result_.has_value()) return std::nullopt;
    result.swap(result_);
  }
  if (thread_.joinable()) thread_.join();
  return result;
}

void ConnectAttempt::Join() {
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  result_.reset();
}

}  // namespace cellgw::bridge
