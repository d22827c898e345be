#include "bridge/stall_watchdog.h"

#include <sys/socket.h>

#include <utility>

namespace cellgw::bridge {

void StallWatchdog::ShutdownSocket(int fd) { shutdown(fd, SHUT_RDWR); }

StallWatchdog::StallWatchdog(absl::Duration limit, Clock& clock, absl::Duration tick, Cut cut)
    : limit_(limit), clock_(clock), tick_(tick), cut_(std::move(cut)) {}

StallWatchdog::~StallWatchdog() { Stop(); }

void StallWatchdog::Start() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Watch(); });
}

void StallWatchdog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void StallWatchdog::Arm(int fd) {
  const absl::Time deadline = clock_.Now() + limit_;
  absl::MutexLock lock(&mu_);
  fd_ = fd;
  deadline_ = deadline;
}

void StallWatchdog::Disarm() {
  absl::MutexLock lock(&mu_);
  fd_ = -1;
}

bool StallWatchdog::CheckNow() {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (fd_ < 0 || now < deadline_) return false;
  // Under the mutex: Disarm() runs before the loop closes the descriptor, so this never
  // reaches a reused one.
  cut_(fd_);
  fd_ = -1;
  return true;
}

void StallWatchdog::Watch() {
  for (;;) {
    CheckNow();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stop_), tick_)) return;
  }
}

}  // namespace cellgw::bridge
