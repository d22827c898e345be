#include "bridge/connection_core.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/envelope.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

// Nothing is sent for a caller who already gave up (cancelled, or past its own deadline)
// while that can still be avoided: once published, a message cannot be taken back.
absl::Status Withdrawn(const Outbound& message, absl::Time now) {
  if (message.cancellation != nullptr && message.cancellation->cancelled()) {
    return absl::CancelledError("the caller cancelled the request before it was published");
  }
  if (message.publish_by <= now) {
    return absl::DeadlineExceededError(
        "the caller's deadline passed before the request was published; nothing was sent");
  }
  return absl::OkStatus();
}

// oslo declares its reply queues with x-expires = rabbit_transient_queues_ttl (1800 s): the
// queue outlives a dropped connection, so replies sent meanwhile wait for the reconnect.
constexpr int32_t kReplyQueueExpiresMs = 1800000;
// Upper bound for one wait, so heartbeats are serviced even on an idle connection.
constexpr absl::Duration kMaxWait = absl::Seconds(1);

}  // namespace

ConnectionCore::ConnectionCore(CellConnectionOptions options, std::string reply_queue,
                               Clock& clock, RandomSource& random, BridgeObserver* observer,
                               StallWatchdog* watchdog)
    : options_(std::move(options)),
      reply_queue_(std::move(reply_queue)),
      clock_(clock),
      observer_(observer),
      watchdog_(watchdog),
      exchanges_(options_.max_known_exchanges),
      backoff_(options_.initial_backoff, options_.max_backoff, options_.url.hosts.size(),
               random) {}

ConnectionCore::~ConnectionCore() {
  // Closing cleanly talks to the broker: bounded by the watchdog like any other I/O.
  if (transport_ != nullptr) Arm();
  transport_.reset();
  Disarm();
}

// --- Reconnecting --------------------------------------------------------------------------

std::optional<AmqpEndpoint> ConnectionCore::StartAttemptIfDue() {
  if (transport_ != nullptr || attempting_ || options_.url.hosts.empty()) return std::nullopt;
  if (clock_.Now() < next_attempt_) return std::nullopt;
  attempting_ = true;
  return Endpoint(backoff_.host());
}

AmqpEndpoint ConnectionCore::Endpoint(size_t host_index) const {
  const BrokerHost& host = options_.url.hosts[host_index % options_.url.hosts.size()];
  AmqpEndpoint endpoint;
  endpoint.host = host.host;
  endpoint.port = host.port;
  endpoint.username = host.username;
  endpoint.password = host.password;
  endpoint.virtual_host = options_.url.virtual_host;
  endpoint.heartbeat = options_.heartbeat;
  endpoint.connection_name =
      absl::StrCat("cellgw:", getpid(), ":", options_.cell, "/", options_.index);
  endpoint.tls = options_.tls;
  return endpoint;
}

absl::Status ConnectionCore::FinishAttempt(
    absl::StatusOr<std::unique_ptr<AmqpTransport>> transport) {
  attempting_ = false;
  absl::Status status = transport.status();
  if (status.ok()) status = Adopt(*std::move(transport));
  if (status.ok()) {
    backoff_.Succeeded();
    return status;
  }
  last_error_ = status;
  if (observer_ != nullptr) observer_->OnConnectFailed(options_.cell, status);
  // No broker to deliver replies: calls in flight would only wait out their deadlines.
  correlator_.FailAll(absl::UnavailableError(
      absl::StrCat("cell '", options_.cell, "': connection to the broker lost and not "
                   "re-established: ", status.message())));
  next_attempt_ = clock_.Now() + backoff_.Failed();
  return status;
}

// Takes over a freshly opened connection: subscribes to the reply queue and reports it up.
absl::Status ConnectionCore::Adopt(std::unique_ptr<AmqpTransport> transport) {
  transport_ = std::move(transport);
  exchanges_.Forget();
  Arm();
  absl::Status status = Subscribe(/*pending_may_survive=*/ever_connected_);
  Disarm();
  if (!status.ok()) {
    transport_.reset();
    return status;
  }
  connected_.store(true, std::memory_order_release);
  if (observer_ != nullptr) {
    observer_->OnConnectionState(options_.cell, options_.index, true);
    if (ever_connected_) observer_->OnReconnect(options_.cell);
  }
  ever_connected_ = true;
  return absl::OkStatus();
}

// Declares the reply queue (same name every time) and consumes it. Calls in flight keep
// waiting when the queue survived; when it was gone their replies are lost with it.
absl::Status ConnectionCore::Subscribe(bool pending_may_survive) {
  resubscribe_ = false;
  QueueSpec spec;
  spec.name = reply_queue_;
  spec.expires_ms = kReplyQueueExpiresMs;
  if (pending_may_survive && correlator_.pending() > 0) {
    absl::Status exists = transport_->DeclareQueue(spec, /*passive=*/true);
    if (absl::IsNotFound(exists)) {
      correlator_.FailAll(absl::UnavailableError(absl::StrCat(
          "cell '", options_.cell,
          "': the reply queue was lost with the broker connection; the reply cannot arrive")));
    } else if (!exists.ok()) {
      return exists;
    }
  }
  CELLGW_RETURN_IF_ERROR(transport_->DeclareQueue(spec, /*passive=*/false));
  return transport_->Consume(spec.name);
}

void ConnectionCore::Disconnect(const absl::Status& why) {
  if (transport_ == nullptr) return;
  // Before the socket is closed, so the watchdog never touches a reused descriptor.
  Disarm();
  transport_.reset();
  last_error_ = why;
  exchanges_.Forget();
  next_attempt_ = clock_.Now();  // the first reconnect attempt goes out at once
  connected_.store(false, std::memory_order_release);
  if (observer_ != nullptr) observer_->OnConnectionState(options_.cell, options_.index, false);
  // Unconfirmed casts may or may not have reached the broker: say so rather than guess.
  // Calls stay pending until the reconnect shows whether their reply queue survived.
  const absl::Status lost = absl::UnavailableError(absl::StrCat(
      "cell '", options_.cell,
      "': connection lost before the broker confirmed the message: ", why.message()));
  for (Outbound& message : unconfirmed_.TakeAll()) {
    if (!message.is_call()) Complete(message, lost);
  }
}

void ConnectionCore::Shutdown(const absl::Status& why) {
  FailUnconfirmed(why);
  correlator_.FailAll(why);
  if (transport_ != nullptr) Arm();
  transport_.reset();
  Disarm();
  connected_.store(false, std::memory_order_release);
}

// --- Publishing ----------------------------------------------------------------------------

void ConnectionCore::Publish(std::vector<Outbound> batch) {
  if (batch.empty()) return;
  if (transport_ == nullptr) {
    const absl::Status not_connected = absl::UnavailableError(
        absl::StrCat("cell '", options_.cell, "': not connected to its broker (",
                     last_error_.message(), ")"));
    for (Outbound& message : batch) Complete(message, not_connected);
    return;
  }
  // From here until the pass ends, rabbitmq-c may block on the socket (it writes with no
  // timeout): the watchdog cuts the connection if that lasts too long.
  Arm();
  const absl::Time now = clock_.Now();
  for (Outbound& message : batch) {
    if (transport_ == nullptr) {
      Complete(message, absl::UnavailableError(absl::StrCat(
                            "cell '", options_.cell, "': connection lost: ",
                            last_error_.message())));
      continue;
    }
    if (absl::Status withdrawn = Withdrawn(message, now); !withdrawn.ok()) {
      Complete(message, withdrawn);
      continue;
    }
    PublishOne(message);
  }
  Disarm();
}

void ConnectionCore::Withdraw(const std::string& msg_id) {
  correlator_.Fail(msg_id, absl::CancelledError("the caller cancelled the call"));
}

void ConnectionCore::PublishOne(Outbound& message) {
  if (!ExchangeReady(message)) return;
  if (message.is_call()) {
    auto on_reply = std::move(message.on_reply);
    message.on_reply = nullptr;
    if (!correlator_.Add(message.msg_id, clock_.Now(), message.deadline, message.monitor,
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
  absl::StatusOr<uint64_t> seq = transport_->Publish(spec);
  if (!seq.ok()) {
    Fail(message, seq.status());
    Disconnect(seq.status());
    return;
  }
  if (observer_ != nullptr) observer_->OnPublished(options_.cell);
  unconfirmed_.Add(*seq, std::move(message));
}

// Whether `message` may be published to its exchange. When not, its fate is settled here:
// completed with the exchange's problem, or with the connection's loss.
bool ConnectionCore::ExchangeReady(Outbound& message) {
  if (message.exchange.name.empty()) return true;  // the default exchange always exists
  const absl::Status status = exchanges_.Ensure(
      *transport_, message.exchange, message.if_missing == MissingExchange::kCreate);
  if (status.ok()) return true;
  if (absl::IsUnavailable(status)) {
    Complete(message, status);
    Disconnect(status);
    return false;
  }
  if (absl::IsNotFound(status)) {
    if (message.if_missing == MissingExchange::kNobodyListens) {
      Complete(message, absl::OkStatus());
      return false;
    }
    Complete(message, absl::FailedPreconditionError(absl::StrCat(
                          "cell '", options_.cell, "': ", status.message(),
                          " (cellgw creates no exchange but the cell's control exchange; "
                          "the services that consume from it declare it)")));
    return false;
  }
  const absl::string_view hint =
      message.if_missing == MissingExchange::kCreate
          ? "check the cell's amqp_durable_queues, amqp_auto_delete and rabbit_quorum_queue "
            "settings"
          : message.exchange.type == "fanout"
                ? "a fanout goes to the transient, auto-delete fanout exchange oslo declares"
                : "a cast or call goes to a topic exchange with the cell's flags";
  Complete(message, absl::FailedPreconditionError(absl::StrCat(
                        "cell '", options_.cell, "': ", status.message(), " (", hint, ")")));
  return false;
}

void ConnectionCore::Fail(Outbound& message, const absl::Status& status) {
  if (message.is_call() && correlator_.Fail(message.msg_id, status)) return;
  Complete(message, status);  // a call not registered yet still holds its callback
}

void ConnectionCore::FailUnconfirmed(const absl::Status& why) {
  for (Outbound& message : unconfirmed_.TakeAll()) Fail(message, why);
}

// --- Reading -------------------------------------------------------------------------------

void ConnectionCore::Service() {
  if (transport_ != nullptr) {
    Arm();
    absl::Status status = transport_->ReadAvailable(*this, options_.max_message_bytes);
    if (status.ok() && resubscribe_) status = Subscribe(/*pending_may_survive=*/true);
    if (!status.ok()) Disconnect(status);
    Disarm();
  }
  correlator_.ExpireDue(clock_.Now());
}

void ConnectionCore::OnMessage(InboundMessage message) {
  if (message.kind == InboundMessage::Kind::kReturn) {
    HandleReturn(message);
  } else {
    HandleReply(message);
  }
}

void ConnectionCore::HandleReply(const InboundMessage& message) {
  if (message.oversized) return Drop(DropReason::kOversized);
  // oslo's client refuses anything that is not exactly application/json (wire spec 5).
  if (message.content_type != "application/json") return Drop(DropReason::kMalformed);
  absl::StatusOr<Reply> reply = DecodeReply(message.body);
  if (!reply.ok()) return Drop(DropReason::kMalformed);
  switch (correlator_.Deliver(*std::move(reply), clock_.Now())) {
    case ReplyCorrelator::Outcome::kCompleted:
    case ReplyCorrelator::Outcome::kProgress:
      return;
    case ReplyCorrelator::Outcome::kDuplicate:
      return Drop(DropReason::kDuplicate);
    case ReplyCorrelator::Outcome::kLate:
      return Drop(DropReason::kLate);
    case ReplyCorrelator::Outcome::kUnknown:
      return Drop(DropReason::kUnknown);
  }
}

void ConnectionCore::HandleReturn(const InboundMessage& returned) {
  if (observer_ != nullptr) observer_->OnReturned(options_.cell);
  absl::StatusOr<DecodedRequest> request = DecodeRequest(returned.body);
  if (!request.ok()) return;
  Outbound* message = unconfirmed_.Find(request->unique_id);
  if (message == nullptr) return;
  // The broker still confirms a returned message; the entry stays until that ack, with its
  // callback already spent.
  Fail(*message, absl::UnavailableError(absl::StrCat(
                     "no server listening on ", message->destination,
                     " (the broker returned the message: ", returned.reply_code, " ",
                     returned.reply_text, ")")));
}

void ConnectionCore::OnConfirm(uint64_t seq, bool multiple, bool ack) {
  for (Outbound& message : unconfirmed_.TakeConfirmed(seq, multiple)) {
    if (observer_ != nullptr) observer_->OnConfirmed(options_.cell, ack);
    if (ack) {
      if (!message.is_call()) Complete(message, absl::OkStatus());
      continue;  // a call goes on waiting for its reply
    }
    Fail(message, absl::UnavailableError(absl::StrCat(
                      "the broker refused the message to ", message.destination, " (nack)")));
  }
}

void ConnectionCore::OnPublishChannelReset(const absl::Status& why) {
  // The broker closed the channel because of some publish (an exchange that vanished): what
  // was checked may be gone too.
  exchanges_.Forget();
  FailUnconfirmed(why);
}

void ConnectionCore::Drop(DropReason reason) {
  if (observer_ != nullptr) observer_->OnReplyDropped(options_.cell, reason);
}

// --- Waiting -------------------------------------------------------------------------------

int ConnectionCore::fd() const { return transport_ == nullptr ? -1 : transport_->fd(); }

bool ConnectionCore::HasBufferedInput() const {
  return transport_ != nullptr && transport_->HasBufferedInput();
}

absl::Duration ConnectionCore::NextWait() const {
  const absl::Time now = clock_.Now();
  absl::Duration wait = std::min(kMaxWait, correlator_.NextDeadline() - now);
  if (transport_ != nullptr) {
    const int heartbeat = transport_->negotiated_heartbeat_seconds();
    if (heartbeat > 0) wait = std::min(wait, absl::Seconds(heartbeat) / 2);
  } else if (!attempting_) {
    wait = std::min(wait, next_attempt_ - now);
  }
  return std::max(wait, absl::ZeroDuration());
}

void ConnectionCore::Arm() {
  if (watchdog_ != nullptr && transport_ != nullptr) watchdog_->Arm(transport_->fd());
}

void ConnectionCore::Disarm() {
  if (watchdog_ != nullptr) watchdog_->Disarm();
}

}  // namespace cellgw::bridge
