#include "bridge/cell_connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/amqp_connection.h"
#include "common/ids.h"

namespace cellgw::bridge {
namespace {

Clock& ClockOf(const ConnectionEnv& env) {
  return env.clock != nullptr ? *env.clock : Clock::Real();
}

RandomSource& RandomOf(const ConnectionEnv& env) {
  return env.random != nullptr ? *env.random : RandomSource::Real();
}

AmqpConnector ConnectorOf(ConnectionEnv& env) {
  return env.connector ? std::move(env.connector) : AmqpConnection::Connector();
}

}  // namespace

absl::Duration CellConnection::StallLimit(const CellConnectionOptions& options) {
  const absl::Duration io_timeout = AmqpEndpoint().io_timeout;
  if (options.heartbeat <= absl::ZeroDuration()) return io_timeout;
  return std::min(options.heartbeat, io_timeout);
}

CellConnection::CellConnection(CellConnectionOptions options, BridgeObserver* observer,
                               ConnectionEnv env)
    : cell_(options.cell),
      reply_queue_(absl::StrCat("reply_", NewUuidHex())),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      watchdog_(StallLimit(options), ClockOf(env), env.watchdog_tick),
      core_(std::move(options), reply_queue_, ClockOf(env), RandomOf(env), observer,
            &watchdog_),
      attempt_(ConnectorOf(env), [this] { Wake(); }) {}

CellConnection::~CellConnection() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void CellConnection::Start() {
  watchdog_.Start();
  thread_ = std::thread([this] { Run(); });
}

void CellConnection::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    // Never started: nothing runs the loop, so end what was submitted here.
    std::vector<Outbound> batch;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(queue_);
    }
    FinishShutdown(std::move(batch));
  }
  watchdog_.Stop();
}

void CellConnection::FinishShutdown(std::vector<Outbound> batch) {
  const absl::Status shutting_down =
      absl::UnavailableError(absl::StrCat("cell '", cell_, "': gateway shutting down"));
  for (Outbound& message : batch) Complete(message, shutting_down);
  core_.Shutdown(shutting_down);
  // An attempt in progress ends within the I/O timeout; its connection is closed unused.
  attempt_.Join();
}

void CellConnection::Submit(Outbound message) {
  bool was_empty;
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = stopping_;
    was_empty = queue_.empty();
    if (!stopped) queue_.push_back(std::move(message));
  }
  if (stopped) {
    // Outside the lock: the callback may submit again.
    Complete(message, absl::UnavailableError(
                          absl::StrCat("cell '", cell_, "': gateway shutting down")));
    return;
  }
  // One wake-up per batch: the loop drains the whole queue each time it wakes.
  if (was_empty) Wake();
}

void CellConnection::Withdraw(std::string msg_id) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;  // the shutdown ends every call anyway
    withdrawn_.push_back(std::move(msg_id));
  }
  Wake();
}

bool CellConnection::WaitForFirstAttempt(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&first_attempt_done_), timeout);
  return connected();
}

void CellConnection::Run() {
  for (;;) {
    std::vector<Outbound> batch;
    std::vector<std::string> withdrawn;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(queue_);
      withdrawn.swap(withdrawn_);
      stopping = stopping_;
    }
    if (stopping) return FinishShutdown(std::move(batch));
    if (std::optional<ConnectAttempt::Result> result = attempt_.TakeResult()) {
      core_.FinishAttempt(*std::move(result)).IgnoreError();  // the core reports it
      absl::MutexLock lock(&mu_);
      first_attempt_done_ = true;
    } else if (!attempt_.running()) {
      if (std::optional<AmqpEndpoint> endpoint = core_.StartAttemptIfDue()) {
        attempt_.Start(*std::move(endpoint));
      }
    }
    core_.Publish(std::move(batch));
    for (const std::string& msg_id : withdrawn) core_.Withdraw(msg_id);
    core_.Service();
    if (core_.HasBufferedInput()) continue;
    WaitForWake(core_.NextWait(), core_.fd());
  }
}

void CellConnection::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void CellConnection::WaitForWake(absl::Duration wait, int amqp_fd) {
  pollfd fds[2];
  fds[0] = {wake_fd_, POLLIN, 0};
  fds[1] = {amqp_fd, POLLIN, 0};
  const int nfds = amqp_fd >= 0 ? 2 : 1;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1)));
  const int rc = poll(fds, nfds, static_cast<int>(std::min<int64_t>(ms, 60000)));
  if (rc > 0 && (fds[0].revents & POLLIN)) {
    uint64_t value;
    (void)!read(wake_fd_, &value, sizeof(value));
  }
}

}  // namespace cellgw::bridge
