#include "bridge/cell_connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "bridge/reply_correlator.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

// oslo declares its reply queues with x-expires = rabbit_transient_queues_ttl (1800 s): the
// queue outlives a dropped connection, so replies sent meanwhile wait for the reconnect.
constexpr int32_t kReplyQueueExpiresMs = 1800000;
// Upper bound for one poll(), so heartbeats are serviced even on an idle connection.
constexpr absl::Duration kMaxPollWait = absl::Seconds(1);
// How often the watchdog looks at the loop thread.
constexpr absl::Duration kWatchTick = absl::Milliseconds(250);

void Complete(Outbound& message, const absl::Status& status) {
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

}  // namespace

// Everything that only the loop thread touches.
class CellConnection::Loop : public AmqpConnection::Handler {
 public:
  explicit Loop(CellConnection* owner) : owner_(owner) {
    absl::BitGen gen;
    host_index_ = owner_->options_.url.hosts.empty()
                      ? 0
                      : absl::Uniform<size_t>(gen, 0, owner_->options_.url.hosts.size());
  }

  void Run() {
    const CellConnectionOptions& options = owner_->options_;
    absl::Duration backoff = options.initial_backoff;
    absl::Time next_attempt = absl::Now();
    for (;;) {
      std::vector<Outbound> batch;
      bool stopping;
      {
        absl::MutexLock lock(&owner_->mu_);
        batch.swap(owner_->queue_);
        stopping = owner_->stopping_;
      }
      if (stopping) {
        Shutdown(batch);
        return;
      }
      const absl::Time now = absl::Now();
      if (conn_ == nullptr) {
        const absl::Status not_connected = absl::UnavailableError(
            absl::StrCat("cell '", options.cell, "': not connected to its broker (",
                         last_error_.message(), ")"));
        for (Outbound& message : batch) Complete(message, not_connected);
        // Calls still pending wait for the reconnect to show whether their reply queue
        // survived, but never past their deadlines.
        correlator_.ExpireDue(now);
        const absl::Duration until_deadline =
            std::max(correlator_.NextDeadline() - now, absl::ZeroDuration());
        if (attempt_ != nullptr) {
          std::optional<absl::StatusOr<std::unique_ptr<AmqpConnection>>> result =
              FinishedAttempt();
          if (!result.has_value()) {
            WaitForWake(std::min(kMaxPollWait, until_deadline), /*amqp_fd=*/-1);
            continue;
          }
          absl::Status status = Adopt(*std::move(result));
          {
            absl::MutexLock lock(&owner_->mu_);
            owner_->first_attempt_done_ = true;
          }
          if (status.ok()) {
            backoff = options.initial_backoff;
            continue;
          }
          last_error_ = status;
          if (owner_->observer_ != nullptr) {
            owner_->observer_->OnConnectFailed(options.cell, status);
          }
          // No broker to deliver replies: calls in flight would only wait out their deadlines.
          correlator_.FailAll(absl::UnavailableError(
              absl::StrCat("cell '", options.cell, "': connection to the broker lost and not "
                           "re-established: ", status.message())));
          ++host_index_;
          absl::BitGen gen;
          next_attempt = absl::Now() + backoff * absl::Uniform<double>(gen, 0.5, 1.0);
          backoff = std::min(backoff * 2, options.max_backoff);
          continue;
        }
        if (now < next_attempt) {
          WaitForWake(std::min(next_attempt - now, until_deadline), /*amqp_fd=*/-1);
          continue;
        }
        StartAttempt();
        continue;
      }

      // From here until the loop waits again, rabbitmq-c may block on the socket (it writes
      // with no timeout): the watchdog cuts the connection if that lasts too long.
      owner_->Arm(conn_->fd());
      for (Outbound& message : batch) {
        if (conn_ == nullptr) {
          Complete(message, absl::UnavailableError(absl::StrCat(
                                "cell '", options.cell, "': connection lost: ",
                                last_error_.message())));
          continue;
        }
        PublishOne(message);
      }
      if (conn_ != nullptr) {
        absl::Status status = conn_->ReadAvailable(*this, options.max_message_bytes);
        if (status.ok() && resubscribe_) status = Subscribe(/*pending_may_survive=*/true);
        if (!status.ok()) Disconnect(status);
      }
      correlator_.ExpireDue(absl::Now());
      if (conn_ == nullptr) {
        next_attempt = absl::Now();  // first reconnect attempt right away
        continue;
      }
      if (conn_->HasBufferedInput()) continue;
      owner_->Disarm();
      absl::Duration wait = std::min(kMaxPollWait, correlator_.NextDeadline() - absl::Now());
      const int heartbeat = conn_->negotiated_heartbeat_seconds();
      if (heartbeat > 0) wait = std::min(wait, absl::Seconds(heartbeat) / 2);
      WaitForWake(std::max(wait, absl::ZeroDuration()), conn_->fd());
    }
  }

  // AmqpConnection::Handler
  void OnMessage(InboundMessage message) override {
    BridgeObserver* observer = owner_->observer_;
    const std::string& cell = owner_->options_.cell;
    if (message.kind == InboundMessage::Kind::kReturn) {
      HandleReturn(message);
      return;
    }
    if (message.oversized) {
      if (observer != nullptr) observer->OnReplyDropped(cell, DropReason::kOversized);
      return;
    }
    // oslo's client refuses anything that is not exactly application/json (wire spec 5).
    if (message.content_type != "application/json") {
      if (observer != nullptr) observer->OnReplyDropped(cell, DropReason::kMalformed);
      return;
    }
    absl::StatusOr<Reply> reply = DecodeReply(message.body);
    if (!reply.ok()) {
      if (observer != nullptr) observer->OnReplyDropped(cell, DropReason::kMalformed);
      return;
    }
    switch (correlator_.Deliver(*std::move(reply), absl::Now())) {
      case ReplyCorrelator::Outcome::kCompleted:
      case ReplyCorrelator::Outcome::kProgress:
        break;
      case ReplyCorrelator::Outcome::kDuplicate:
        if (observer != nullptr) observer->OnReplyDropped(cell, DropReason::kDuplicate);
        break;
      case ReplyCorrelator::Outcome::kLate:
        if (observer != nullptr) observer->OnReplyDropped(cell, DropReason::kLate);
        break;
      case ReplyCorrelator::Outcome::kUnknown:
        if (observer != nullptr) observer->OnReplyDropped(cell, DropReason::kUnknown);
        break;
    }
  }

  void OnConfirm(uint64_t seq, bool multiple, bool ack) override {
    auto end = multiple ? unconfirmed_.upper_bound(seq) : unconfirmed_.find(seq);
    auto begin = multiple ? unconfirmed_.begin() : end;
    if (!multiple) {
      if (end == unconfirmed_.end()) return;
      ++end;
    }
    std::vector<Outbound> done;
    for (auto it = begin; it != end; ++it) {
      by_unique_id_.erase(it->second.unique_id);
      done.push_back(std::move(it->second));
    }
    unconfirmed_.erase(begin, end);
    for (Outbound& message : done) {
      if (owner_->observer_ != nullptr) owner_->observer_->OnConfirmed(owner_->options_.cell, ack);
      if (ack) {
        if (message.on_confirmed) Complete(message, absl::OkStatus());
        continue;
      }
      const absl::Status refused = absl::UnavailableError(
          absl::StrCat("the broker refused the message to ", message.destination, " (nack)"));
      if (!message.msg_id.empty()) {
        correlator_.Fail(message.msg_id, refused);
      } else {
        Complete(message, refused);
      }
    }
  }

  void OnPublishChannelReset(const absl::Status& why) override {
    declared_.clear();
    FailUnconfirmed(why);
  }

  void OnConsumerCancelled() override { resubscribe_ = true; }

 private:
  void PublishOne(Outbound& message) {
    const CellConnectionOptions& options = owner_->options_;
    if (!message.exchange.name.empty() && !declared_.contains(message.exchange.name)) {
      absl::Status status = conn_->DeclareExchange(message.exchange);
      if (!status.ok()) {
        if (absl::IsUnavailable(status)) {
          Complete(message, status);
          Disconnect(status);
          return;
        }
        // The broker refused the declare (e.g. 406: the cell's oslo services declared the
        // exchange with other flags) and reopened the channel: earlier unconfirmed publishes
        // on it will never be confirmed.
        declared_.clear();
        FailUnconfirmed(absl::UnavailableError(
            absl::StrCat("publish channel reset: ", status.message())));
        Complete(message, absl::FailedPreconditionError(absl::StrCat(
                              "cell '", options.cell, "': ", status.message(),
                              " (check the cell's amqp_durable_queues, amqp_auto_delete and "
                              "rabbit_quorum_queue settings)")));
        return;
      }
      declared_.insert(message.exchange.name);
    }
    const bool is_call = !message.msg_id.empty();
    if (is_call) {
      auto on_reply = std::move(message.on_reply);
      message.on_reply = nullptr;
      if (!correlator_.Add(message.msg_id, absl::Now(), message.deadline, message.monitor,
                           std::move(on_reply))) {
        return;  // duplicate msg_id: impossible with fresh uuids; the first call stands
      }
    }
    PublishSpec spec;
    spec.exchange = message.exchange.name;
    spec.routing_key = message.routing_key;
    spec.body = message.body;
    spec.mandatory = message.mandatory;
    spec.expiration = message.expiration;
    absl::StatusOr<uint64_t> seq = conn_->Publish(spec);
    if (!seq.ok()) {
      if (is_call) {
        correlator_.Fail(message.msg_id, seq.status());
      } else {
        Complete(message, seq.status());
      }
      Disconnect(seq.status());
      return;
    }
    if (owner_->observer_ != nullptr) owner_->observer_->OnPublished(options.cell);
    // The body is no longer needed: a returned message carries its own copy.
    message.body = std::string();
    by_unique_id_[message.unique_id] = *seq;
    unconfirmed_.emplace(*seq, std::move(message));
  }

  void HandleReturn(const InboundMessage& returned) {
    if (owner_->observer_ != nullptr) owner_->observer_->OnReturned(owner_->options_.cell);
    absl::StatusOr<DecodedRequest> request = DecodeRequest(returned.body);
    if (!request.ok()) return;
    auto index = by_unique_id_.find(request->unique_id);
    if (index == by_unique_id_.end()) return;
    auto it = unconfirmed_.find(index->second);
    if (it == unconfirmed_.end()) return;
    Outbound& message = it->second;
    const absl::Status no_route = absl::UnavailableError(absl::StrCat(
        "no server listening on ", message.destination, " (the broker returned the message: ",
        returned.reply_code, " ", returned.reply_text, ")"));
    // The broker still confirms a returned message; the entry stays until that ack, with its
    // callback already spent.
    if (!message.msg_id.empty()) {
      correlator_.Fail(message.msg_id, no_route);
    } else {
      Complete(message, no_route);
    }
  }

  void FailUnconfirmed(const absl::Status& why) {
    std::map<uint64_t, Outbound> unconfirmed;
    unconfirmed.swap(unconfirmed_);
    by_unique_id_.clear();
    for (auto& [seq, message] : unconfirmed) {
      if (!message.msg_id.empty()) {
        correlator_.Fail(message.msg_id, why);
      } else {
        Complete(message, why);
      }
    }
  }

  // Starts a connection attempt to the current host on its own thread: a broker that accepts
  // TCP but never answers (frozen, overloaded, a black hole) holds an attempt for up to the
  // I/O timeout, and meanwhile the loop must keep refusing requests and ending calls at their
  // deadlines.
  void StartAttempt() {
    const CellConnectionOptions& options = owner_->options_;
    attempt_ = std::make_unique<Attempt>();
    if (options.url.hosts.empty()) {
      absl::MutexLock lock(&attempt_->mu);
      attempt_->result = absl::FailedPreconditionError("no broker hosts");
      attempt_->done = true;
      return;
    }
    const BrokerHost& host = options.url.hosts[host_index_ % options.url.hosts.size()];
    AmqpEndpoint endpoint;
    endpoint.host = host.host;
    endpoint.port = host.port;
    endpoint.username = host.username;
    endpoint.password = host.password;
    endpoint.virtual_host = options.url.virtual_host;
    endpoint.heartbeat = options.heartbeat;
    endpoint.connection_name =
        absl::StrCat("cellgw:", getpid(), ":", options.cell, "/", options.index);
    endpoint.tls = options.tls;
    Attempt* attempt = attempt_.get();
    const int wake_fd = owner_->wake_fd_;
    attempt_thread_ = std::thread([attempt, endpoint = std::move(endpoint), wake_fd] {
      absl::StatusOr<std::unique_ptr<AmqpConnection>> conn = AmqpConnection::Open(endpoint);
      {
        absl::MutexLock lock(&attempt->mu);
        attempt->result = std::move(conn);
        attempt->done = true;
      }
      const uint64_t one = 1;
      (void)!write(wake_fd, &one, sizeof(one));
    });
  }

  // The outcome of the attempt in progress, or nullopt while it runs.
  std::optional<absl::StatusOr<std::unique_ptr<AmqpConnection>>> FinishedAttempt() {
    absl::StatusOr<std::unique_ptr<AmqpConnection>> result;
    {
      absl::MutexLock lock(&attempt_->mu);
      if (!attempt_->done) return std::nullopt;
      result = std::move(attempt_->result);
    }
    if (attempt_thread_.joinable()) attempt_thread_.join();
    attempt_.reset();
    return result;
  }

  // Takes over a freshly opened connection: subscribes to the reply queue and reports it up.
  absl::Status Adopt(absl::StatusOr<std::unique_ptr<AmqpConnection>> conn) {
    const CellConnectionOptions& options = owner_->options_;
    if (!conn.ok()) return conn.status();
    conn_ = *std::move(conn);
    owner_->Arm(conn_->fd());
    absl::Status status = Subscribe(/*pending_may_survive=*/ever_connected_);
    owner_->Disarm();
    if (!status.ok()) {
      conn_.reset();
      return status;
    }
    owner_->connected_.store(true, std::memory_order_release);
    if (owner_->observer_ != nullptr) {
      owner_->observer_->OnConnectionState(options.cell, options.index, true);
      if (ever_connected_) owner_->observer_->OnReconnect(options.cell);
    }
    ever_connected_ = true;
    return absl::OkStatus();
  }

  // Declares the reply queue (same name every time) and consumes it. Calls in flight keep
  // waiting when the queue survived; when it was gone their replies are lost with it.
  absl::Status Subscribe(bool pending_may_survive) {
    resubscribe_ = false;
    QueueSpec spec;
    spec.name = owner_->reply_queue_;
    spec.expires_ms = kReplyQueueExpiresMs;
    if (pending_may_survive && correlator_.pending() > 0) {
      absl::Status exists = conn_->DeclareQueue(spec, /*passive=*/true);
      if (absl::IsNotFound(exists)) {
        correlator_.FailAll(absl::UnavailableError(absl::StrCat(
            "cell '", owner_->options_.cell,
            "': the reply queue was lost with the broker connection; the reply cannot arrive")));
      } else if (!exists.ok()) {
        return exists;
      }
    }
    CELLGW_RETURN_IF_ERROR(conn_->DeclareQueue(spec, /*passive=*/false));
    return conn_->Consume(spec.name);
  }

  void Disconnect(const absl::Status& why) {
    if (conn_ == nullptr) return;
    // Before the socket is closed, so the watchdog never touches a reused descriptor.
    owner_->Disarm();
    conn_.reset();
    last_error_ = why;
    declared_.clear();
    owner_->connected_.store(false, std::memory_order_release);
    if (owner_->observer_ != nullptr) {
      owner_->observer_->OnConnectionState(owner_->options_.cell, owner_->options_.index, false);
    }
    // Unconfirmed casts may or may not have reached the broker: say so rather than guess.
    // Calls stay pending until the reconnect shows whether their reply queue survived.
    std::map<uint64_t, Outbound> unconfirmed;
    unconfirmed.swap(unconfirmed_);
    by_unique_id_.clear();
    const absl::Status lost = absl::UnavailableError(absl::StrCat(
        "cell '", owner_->options_.cell,
        "': connection lost before the broker confirmed the message: ", why.message()));
    for (auto& [seq, message] : unconfirmed) {
      if (message.msg_id.empty()) Complete(message, lost);
    }
  }

  void Shutdown(std::vector<Outbound>& batch) {
    const absl::Status stopping = absl::UnavailableError(
        absl::StrCat("cell '", owner_->options_.cell, "': gateway shutting down"));
    for (Outbound& message : batch) Complete(message, stopping);
    FailUnconfirmed(stopping);
    correlator_.FailAll(stopping);
    // Closing cleanly talks to the broker: bounded by the watchdog like any other I/O.
    if (conn_ != nullptr) owner_->Arm(conn_->fd());
    conn_.reset();
    owner_->Disarm();
    // An attempt in progress ends within the I/O timeout; its connection is closed unused.
    if (attempt_thread_.joinable()) attempt_thread_.join();
    attempt_.reset();
    owner_->connected_.store(false, std::memory_order_release);
  }

  // Sleeps in poll() until the eventfd is signalled, the AMQP socket is readable or `wait`
  // passes.
  void WaitForWake(absl::Duration wait, int amqp_fd) {
    pollfd fds[2];
    fds[0] = {owner_->wake_fd_, POLLIN, 0};
    fds[1] = {amqp_fd, POLLIN, 0};
    const int nfds = amqp_fd >= 0 ? 2 : 1;
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1)));
    const int rc = poll(fds, nfds, static_cast<int>(std::min<int64_t>(ms, 60000)));
    if (rc > 0 && (fds[0].revents & POLLIN)) {
      uint64_t value;
      (void)!read(owner_->wake_fd_, &value, sizeof(value));
    }
  }

  // A connection attempt running on attempt_thread_ (see StartAttempt).
  struct Attempt {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    absl::StatusOr<std::unique_ptr<AmqpConnection>> result ABSL_GUARDED_BY(mu);
  };

  CellConnection* owner_;
  std::unique_ptr<Attempt> attempt_;
  std::thread attempt_thread_;
  std::unique_ptr<AmqpConnection> conn_;
  ReplyCorrelator correlator_;
  std::map<uint64_t, Outbound> unconfirmed_;  // publisher-confirm seq -> message
  absl::flat_hash_map<std::string, uint64_t> by_unique_id_;
  absl::flat_hash_set<std::string> declared_;  // exchanges declared on this connection
  absl::Status last_error_ = absl::UnavailableError("not connected yet");
  size_t host_index_ = 0;
  bool ever_connected_ = false;
  bool resubscribe_ = false;
};

CellConnection::CellConnection(CellConnectionOptions options, BridgeObserver* observer)
    : options_(std::move(options)),
      observer_(observer),
      reply_queue_(absl::StrCat("reply_", NewUuidHex())) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

CellConnection::~CellConnection() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void CellConnection::Start() {
  loop_ = std::make_unique<Loop>(this);
  watchdog_ = std::thread([this] { Watch(); });
  thread_ = std::thread([this] { loop_->Run(); });
}

absl::Duration CellConnection::StallLimit() const {
  const absl::Duration io_timeout = AmqpEndpoint().io_timeout;
  if (options_.heartbeat <= absl::ZeroDuration()) return io_timeout;
  return std::min(options_.heartbeat, io_timeout);
}

void CellConnection::Arm(int fd) {
  absl::MutexLock lock(&watch_mu_);
  watched_fd_ = fd;
  watch_deadline_ = absl::Now() + StallLimit();
}

void CellConnection::Disarm() {
  absl::MutexLock lock(&watch_mu_);
  watched_fd_ = -1;
}

void CellConnection::Watch() {
  absl::MutexLock lock(&watch_mu_);
  while (!watch_stop_) {
    if (watched_fd_ >= 0 && absl::Now() >= watch_deadline_) {
      // shutdown(), not close(): the descriptor stays the loop's, and the call blocked on it
      // fails at once, so the loop disconnects and reconnects. Disarm() runs before the loop
      // closes it, under this mutex, so this never reaches a reused descriptor.
      shutdown(watched_fd_, SHUT_RDWR);
      watched_fd_ = -1;
    }
    // A coarse tick: the limit is seconds, and arming must stay cheap for the loop.
    watch_mu_.AwaitWithTimeout(absl::Condition(&watch_stop_), kWatchTick);
  }
}

void CellConnection::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&watch_mu_);
    watch_stop_ = true;
  }
  if (watchdog_.joinable()) watchdog_.join();
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
                          absl::StrCat("cell '", options_.cell, "': gateway shutting down")));
    return;
  }
  // One wake-up per batch: the loop drains the whole queue each time it wakes.
  if (was_empty) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

bool CellConnection::WaitForFirstAttempt(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&first_attempt_done_), timeout);
  return connected();
}

}  // namespace cellgw::bridge
