#include "bridge/consumer_connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "bridge/clock.h"
#include "bridge/random_source.h"

namespace cellgw::bridge {
namespace {

// Upper bound for one wait, so heartbeats and timers are serviced on an idle connection.
constexpr absl::Duration kMaxWait = absl::Seconds(1);
// Declares `exchange` on `channel` as ExchangeUse says.
absl::Status DeclareExchange(AmqpConnection& conn, uint16_t channel, const ExchangeUse& exchange) {
  if (exchange.must_exist) {
    const absl::Status exists = conn.DeclareExchangeOn(channel, exchange.spec, /*passive=*/true);
    if (absl::IsNotFound(exists)) {
      return absl::FailedPreconditionError(
          absl::StrCat("exchange '", exchange.spec.name,
                       "' does not exist (cellgw creates only the cell's control exchange)"));
    }
    if (!exists.ok()) return exists;
  }
  return conn.DeclareExchangeOn(channel, exchange.spec, /*passive=*/false);
}

// A subscription whose channel the broker closed or whose consumer it cancelled is set up
// again after this pause (a refusal that persists then ends it, and a loop of them is slow).
constexpr absl::Duration kResubscribePause = absl::Milliseconds(500);

}  // namespace

// Everything only the loop thread touches.
class ConsumerConnection::Loop : public AmqpConnection::ChannelHandler {
 public:
  explicit Loop(ConsumerConnection* owner)
      : owner_(owner),
        backoff_(owner->options_.initial_backoff, owner->options_.max_backoff,
                 std::max<size_t>(1, owner->options_.url.hosts.size()), RandomSource::Real()),
        // The connector makes AmqpConnections only: Adopt() relies on it.
        attempt_(
            [](const AmqpEndpoint& endpoint) -> ConnectAttempt::Result {
              absl::StatusOr<std::unique_ptr<AmqpConnection>> conn =
                  AmqpConnection::Open(endpoint);
              if (!conn.ok()) return conn.status();
              return std::unique_ptr<AmqpTransport>(*std::move(conn));
            },
            [owner] { owner->Wake(); }) {}

  void Run() {
    const ConsumerConnectionOptions& options = owner_->options_;
    absl::Time next_attempt = absl::Now();
    for (;;) {
      std::vector<NewSubscription> subscribes;
      std::vector<SubscriptionId> cancels;
      std::vector<Settle> settles;
      std::vector<Publication> publications;
      bool stopping;
      {
        absl::MutexLock lock(&owner_->mu_);
        subscribes.swap(owner_->subscribes_);
        cancels.swap(owner_->cancels_);
        settles.swap(owner_->settles_);
        publications.swap(owner_->publications_);
        stopping = owner_->stopping_;
      }
      if (stopping) {
        Shutdown(subscribes, publications);
        return;
      }
      // From here until the loop waits again, rabbitmq-c may block on the socket (it writes
      // with no timeout): the watchdog cuts the connection if that lasts too long.
      if (conn_ != nullptr) owner_->watchdog_.Arm(conn_->fd());
      // In an order that keeps each request's meaning: a subscription exists before it is
      // settled or cancelled, and settles sent before a cancel happen before it.
      for (NewSubscription& request : subscribes) Add(std::move(request));
      for (const Settle& settle : settles) Apply(settle);
      for (SubscriptionId id : cancels) End(id, absl::OkStatus());
      for (Publication& publication : publications) PublishOne(std::move(publication));

      if (conn_ != nullptr) {
        const absl::Status read = conn_->ReadChannels(*this, options.max_message_bytes);
        if (!read.ok()) Disconnect(read);
      }
      if (conn_ != nullptr) Resubscribe();
      if (conn_ == nullptr) {
        if (std::optional<ConnectAttempt::Result> result = attempt_.TakeResult()) {
          if (AttemptFinished(*std::move(result), &next_attempt)) continue;
        } else if (!attempt_.running() && absl::Now() >= next_attempt) {
          attempt_.Start(Endpoint());
        }
      }
      EndOutlasted();

      absl::Duration wait = std::min(kMaxWait, NextTimer() - absl::Now());
      if (conn_ != nullptr) {
        if (conn_->HasBufferedInput()) continue;
        const int heartbeat = conn_->negotiated_heartbeat_seconds();
        if (heartbeat > 0) wait = std::min(wait, absl::Seconds(heartbeat) / 2);
      } else if (!attempt_.running()) {
        wait = std::min(wait, next_attempt - absl::Now());
      }
      owner_->watchdog_.Disarm();
      WaitForWake(std::max(wait, absl::ZeroDuration()), conn_ != nullptr ? conn_->fd() : -1);
    }
  }

  // AmqpConnection::ChannelHandler. No synchronous AMQP call and no Disconnect in here: the
  // connection is in the middle of ReadChannels. A failed Ack/Reject marks it broken, and
  // ReadChannels then returns UNAVAILABLE.
  void OnDelivery(uint16_t channel, AmqpConnection::ChannelDelivery delivery) override {
    Subscription* sub = ByChannel(channel);
    if (sub == nullptr) return;
    Delivery out;
    out.tag = DeliveryTag{sub->incarnation, delivery.delivery_tag};
    out.redelivered = delivery.redelivered;
    out.exchange = std::move(delivery.exchange);
    out.routing_key = std::move(delivery.routing_key);
    out.content_type = std::move(delivery.content_type);
    out.expiration = std::move(delivery.expiration);
    out.body = std::move(delivery.body);
    out.oversized = delivery.oversized;
    out.body_size = delivery.body_size;
    switch (sub->sink->OnDelivery(std::move(out))) {
      case SubscriptionSink::Disposition::kKeep:
        sub->kept.insert(delivery.delivery_tag);
        break;
      case SubscriptionSink::Disposition::kAck:
        conn_->Ack(channel, delivery.delivery_tag).IgnoreError();
        break;
      case SubscriptionSink::Disposition::kDiscard:
        conn_->Reject(channel, delivery.delivery_tag, /*requeue=*/false).IgnoreError();
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
    std::vector<Publication> done;
    for (auto it = begin; it != end; ++it) done.push_back(std::move(it->second));
    unconfirmed_.erase(begin, end);
    for (Publication& publication : done) {
      Complete(publication, ack ? absl::OkStatus()
                                : absl::UnavailableError(absl::StrCat(
                                      "cell '", owner_->options_.cell,
                                      "': the broker refused the message (nack)")));
    }
  }

  void OnPublishChannelReset(const absl::Status& why) override {
    FailUnconfirmed(absl::UnavailableError(absl::StrCat(
        "cell '", owner_->options_.cell, "': publish channel reset: ", why.message())));
  }

  void OnConsumerCancelled(uint16_t channel) override {
    // The broker dropped a consumer (its queue was deleted): set the subscription up again,
    // which declares the queue anew. Its channel is closed first, outside ReadChannels.
    Subscription* sub = ByChannel(channel);
    if (sub == nullptr) return;
    sub->close_channel = true;  // still open; deliveries on it now reach nobody
    Interrupt(*sub, absl::UnavailableError("the broker cancelled the consumer (queue deleted)"));
  }

  void OnChannelClosed(uint16_t channel, const absl::Status& why) override {
    if (channel == declare_channel_) {
      declare_channel_ = 0;
      return;
    }
    Subscription* sub = ByChannel(channel);
    if (sub == nullptr) return;
    Interrupt(*sub, why);
    sub->channel = 0;  // already closed by the broker
  }

 private:
  struct Subscription {
    SubscriptionId id = 0;
    SubscriptionTopology topology;
    std::shared_ptr<SubscriptionSink> sink;
    uint16_t channel = 0;  // its own channel while set up; 0 otherwise
    bool close_channel = false;  // the channel is open but must be closed before a new one
    bool consuming = false;
    uint64_t incarnation = 0;
    absl::flat_hash_set<uint64_t> kept;  // delivery tags the sink kept, not yet settled
    absl::Time waiting_since;            // when it last stopped (or had not started) consuming
    absl::Status why;                    // why it is not consuming
    absl::Time retry_at = absl::InfinitePast();
  };

  Subscription* ByChannel(uint16_t channel) {
    auto it = by_channel_.find(channel);
    if (it == by_channel_.end()) return nullptr;
    auto sub = subs_.find(it->second);
    return sub == subs_.end() ? nullptr : &sub->second;
  }

  void Add(NewSubscription request) {
    Subscription sub;
    sub.id = request.id;
    sub.topology = std::move(request.topology);
    sub.sink = std::move(request.sink);
    sub.waiting_since = absl::Now();
    sub.why = last_error_;
    Subscription& added = subs_.emplace(sub.id, std::move(sub)).first->second;
    if (conn_ != nullptr) SetUp(added);
  }

  // Opens the subscription's channel, declares its topology and consumes. A refusal ends the
  // subscription; a lost connection disconnects (and the subscription waits for the next).
  void SetUp(Subscription& sub) {
    absl::StatusOr<uint16_t> channel = conn_->OpenOwnChannel();
    if (!channel.ok()) return SetUpFailed(sub, channel.status());
    by_channel_[*channel] = sub.id;
    sub.channel = *channel;
    const SubscriptionTopology& topology = sub.topology;
    const bool quorum = std::any_of(topology.queues.begin(), topology.queues.end(),
                                    [](const QueueTopology& q) { return q.quorum; });
    // Quorum queues refuse a channel-wide window: split it over the consumers instead.
    const size_t consumers = std::max<size_t>(1, topology.queues.size());
    const uint16_t window =
        quorum ? static_cast<uint16_t>(std::max<size_t>(1, topology.prefetch / consumers))
               : topology.prefetch;
    absl::Status status = conn_->SetPrefetch(sub.channel, window, /*per_channel=*/!quorum);
    for (size_t i = 0; status.ok() && i < topology.exchanges.size(); ++i) {
      status = DeclareExchange(*conn_, sub.channel, topology.exchanges[i]);
    }
    for (const QueueTopology& queue : topology.queues) {
      if (!status.ok()) break;
      status = conn_->DeclareQueueOn(sub.channel, queue.spec, queue.quorum);
      for (size_t i = 0; status.ok() && i < queue.bindings.size(); ++i) {
        status = conn_->BindQueue(sub.channel, queue.spec.name, queue.bindings[i].exchange,
                                  queue.bindings[i].routing_key);
      }
    }
    for (size_t i = 0; status.ok() && i < topology.queues.size(); ++i) {
      status = conn_->ConsumeOn(sub.channel, topology.queues[i].spec.name);
    }
    if (!status.ok()) {
      // A refusal closed the channel at the broker already.
      by_channel_.erase(sub.channel);
      sub.channel = 0;
      return SetUpFailed(sub, status);
    }
    sub.consuming = true;
    sub.incarnation = next_incarnation_++;
    sub.kept.clear();
    sub.sink->OnConsuming(sub.incarnation);
  }

  void SetUpFailed(Subscription& sub, const absl::Status& status) {
    if (absl::IsUnavailable(status)) return Disconnect(status);
    End(sub.id, absl::Status(status.code(), absl::StrCat("cell '", owner_->options_.cell,
                                                          "': ", status.message())));
  }

  // Subscriptions whose channel or consumer the broker dropped: set up again after a pause.
  void Resubscribe() {
    const absl::Time now = absl::Now();
    std::vector<SubscriptionId> due;
    for (auto& [id, sub] : subs_) {
      if (!sub.consuming && now >= sub.retry_at) due.push_back(id);
    }
    for (SubscriptionId id : due) {
      if (conn_ == nullptr) return;
      auto it = subs_.find(id);
      if (it == subs_.end()) continue;
      Subscription& sub = it->second;
      if (sub.close_channel) {
        sub.close_channel = false;
        by_channel_.erase(sub.channel);
        const absl::Status closed = conn_->CloseOwnChannel(sub.channel);
        sub.channel = 0;
        if (!closed.ok()) return Disconnect(closed);
      }
      SetUp(sub);
    }
  }

  // Consuming stopped for `sub`: its channel is closed, or open and to be closed. Deliveries
  // on it reach nobody any more; what it kept goes back to the queues with the channel.
  void Interrupt(Subscription& sub, const absl::Status& why) {
    by_channel_.erase(sub.channel);
    sub.consuming = false;
    sub.why = why;
    sub.kept.clear();
    sub.waiting_since = absl::Now();
    sub.retry_at = sub.waiting_since + kResubscribePause;
    sub.sink->OnInterrupted(why);
  }

  void Apply(const Settle& settle) {
    auto it = subs_.find(settle.id);
    if (it == subs_.end() || conn_ == nullptr) return;
    Subscription& sub = it->second;
    if (!sub.consuming) return;  // everything it kept went back to the queues
    for (const DeliveryTag& tag : settle.tags) {
      if (tag.incarnation != sub.incarnation || sub.kept.erase(tag.tag) == 0) continue;
      absl::Status status;
      if (settle.kind == Settle::Kind::kAck) {
        status = conn_->Ack(sub.channel, tag.tag);
        if (status.ok()) sub.sink->OnAcknowledged(tag);
      } else {
        status = conn_->Reject(sub.channel, tag.tag, settle.kind == Settle::Kind::kRequeue);
      }
      if (!status.ok()) return Disconnect(status);
    }
  }

  // Ends subscription `id` (if it still exists): its channel is closed, then the sink hears.
  void End(SubscriptionId id, const absl::Status& status) {
    auto it = subs_.find(id);
    if (it == subs_.end()) return;
    Subscription sub = std::move(it->second);
    subs_.erase(it);
    absl::Status closed;
    if (sub.channel != 0) {
      by_channel_.erase(sub.channel);
      if (conn_ != nullptr) closed = conn_->CloseOwnChannel(sub.channel);
    }
    // Only a cancel deletes: after an outage or at shutdown the queue's expiry does it.
    if (status.ok() && closed.ok() && conn_ != nullptr) closed = DeleteOnCancel(sub.topology);
    sub.sink->OnEnded(status);
    if (!closed.ok()) Disconnect(closed);
  }

  // Deletes the topology's delete_on_cancel queues on the declaring channel: their consumer's
  // channel is closed already, so the broker cancels no consumer of ours. A refusal is not an
  // error (the queue's x-expires still removes it); UNAVAILABLE is returned.
  absl::Status DeleteOnCancel(const SubscriptionTopology& topology) {
    for (const QueueTopology& queue : topology.queues) {
      if (!queue.delete_on_cancel) continue;
      if (declare_channel_ == 0) {
        absl::StatusOr<uint16_t> channel = conn_->OpenOwnChannel();
        if (!channel.ok()) return absl::IsUnavailable(channel.status()) ? channel.status()
                                                                         : absl::OkStatus();
        declare_channel_ = *channel;
      }
      const absl::Status deleted = conn_->DeleteQueueOn(declare_channel_, queue.spec.name);
      if (absl::IsUnavailable(deleted)) return deleted;
      if (!deleted.ok()) declare_channel_ = 0;  // a refusal closed the channel
      declared_queues_.erase(queue.spec.name);
    }
    return absl::OkStatus();
  }

  // Subscriptions that have not consumed for the outage limit end with UNAVAILABLE.
  void EndOutlasted() {
    const ConsumerConnectionOptions& options = owner_->options_;
    const absl::Time now = absl::Now();
    std::vector<SubscriptionId> over;
    for (const auto& [id, sub] : subs_) {
      if (!sub.consuming && now - sub.waiting_since >= options.outage_limit) over.push_back(id);
    }
    for (SubscriptionId id : over) {
      const std::string why(subs_.at(id).why.message());
      End(id, absl::UnavailableError(absl::StrCat(
                  "cell '", options.cell, "': could not consume for ",
                  absl::FormatDuration(options.outage_limit),
                  " (subscription_outage_timeout): ", why)));
    }
  }

  // The earliest time something is due: an outage limit or a resubscription.
  absl::Time NextTimer() const {
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, sub] : subs_) {
      if (sub.consuming) continue;
      next = std::min(next, sub.waiting_since + owner_->options_.outage_limit);
      if (conn_ != nullptr) next = std::min(next, sub.retry_at);
    }
    return next;
  }

  void PublishOne(Publication publication) {
    const std::string& cell = owner_->options_.cell;
    if (conn_ == nullptr) {
      if (!first_attempt_done_) {
        held_.push_back(std::move(publication));
        return;
      }
      return Complete(publication,
                      absl::UnavailableError(absl::StrCat(
                          "cell '", cell, "': not connected to its broker (",
                          last_error_.message(), ")")));
    }
    absl::Status status = DeclareFor(publication);
    if (!status.ok()) {
      if (absl::IsUnavailable(status)) {
        Complete(publication, status);
        return Disconnect(status);
      }
      return Complete(publication,
                      absl::Status(status.code(), absl::StrCat("cell '", cell, "': ",
                                                               status.message())));
    }
    PublishSpec spec;
    spec.exchange = publication.exchange;
    spec.routing_key = publication.routing_key;
    spec.body = publication.body;
    spec.mandatory = publication.mandatory;
    absl::StatusOr<uint64_t> seq = conn_->Publish(spec);
    if (!seq.ok()) {
      Complete(publication, seq.status());
      return Disconnect(seq.status());
    }
    publication.body = std::string();  // not needed any more
    unconfirmed_.emplace(*seq, std::move(publication));
  }

  // Declares what `publication` needs and this connection has not declared yet.
  absl::Status DeclareFor(const Publication& publication) {
    bool needed = publication.queue.has_value() && !declared_queues_.contains(
                                                       publication.queue->spec.name);
    for (const ExchangeUse& exchange : publication.exchanges) {
      needed = needed || !declared_exchanges_.contains(exchange.spec.name);
    }
    if (!needed) return absl::OkStatus();
    if (declare_channel_ == 0) {
      absl::StatusOr<uint16_t> channel = conn_->OpenOwnChannel();
      if (!channel.ok()) return channel.status();
      declare_channel_ = *channel;
    }
    // A refusal closes the declaring channel; the next publication opens another.
    const auto refused = [this](absl::Status status) {
      if (!absl::IsUnavailable(status)) declare_channel_ = 0;
      return status;
    };
    for (const ExchangeUse& exchange : publication.exchanges) {
      if (declared_exchanges_.contains(exchange.spec.name)) continue;
      absl::Status status = DeclareExchange(*conn_, declare_channel_, exchange);
      if (!status.ok()) return refused(status);
      declared_exchanges_.insert(exchange.spec.name);
    }
    if (publication.queue.has_value() && !declared_queues_.contains(publication.queue->spec.name)) {
      const QueueTopology& queue = *publication.queue;
      absl::Status status = conn_->DeclareQueueOn(declare_channel_, queue.spec, queue.quorum);
      for (size_t i = 0; status.ok() && i < queue.bindings.size(); ++i) {
        status = conn_->BindQueue(declare_channel_, queue.spec.name, queue.bindings[i].exchange,
                                  queue.bindings[i].routing_key);
      }
      if (!status.ok()) return refused(status);
      declared_queues_.insert(queue.spec.name);
    }
    return absl::OkStatus();
  }

  static void Complete(Publication& publication, const absl::Status& status) {
    if (!publication.on_confirmed) return;
    auto callback = std::move(publication.on_confirmed);
    publication.on_confirmed = nullptr;
    callback(status);
  }

  void FailUnconfirmed(const absl::Status& why) {
    std::map<uint64_t, Publication> unconfirmed;
    unconfirmed.swap(unconfirmed_);
    for (auto& [seq, publication] : unconfirmed) Complete(publication, why);
  }

  // The endpoint of the host the next attempt goes to.
  AmqpEndpoint Endpoint() const {
    const ConsumerConnectionOptions& options = owner_->options_;
    AmqpEndpoint endpoint;
    if (!options.url.hosts.empty()) {
      const BrokerHost& host = options.url.hosts[backoff_.host() % options.url.hosts.size()];
      endpoint.host = host.host;
      endpoint.port = host.port;
      endpoint.username = host.username;
      endpoint.password = host.password;
    }
    endpoint.virtual_host = options.url.virtual_host;
    endpoint.heartbeat = options.heartbeat;
    endpoint.connection_name = absl::StrCat("cellgw:", getpid(), ":", options.cell, "/consumer");
    endpoint.tls = options.tls;
    return endpoint;
  }

  // Takes a finished attempt's outcome; true when the loop should go round again at once.
  bool AttemptFinished(ConnectAttempt::Result result, absl::Time* next_attempt) {
    first_attempt_done_ = true;
    const ConsumerConnectionOptions& options = owner_->options_;
    if (result.ok()) {
      backoff_.Succeeded();
      // The connector makes nothing but AmqpConnections (see the constructor).
      Adopt(std::unique_ptr<AmqpConnection>(static_cast<AmqpConnection*>(result->release())));
      return true;
    }
    last_error_ = result.status();
    for (Publication& publication : held_) {
      Complete(publication, absl::UnavailableError(absl::StrCat(
                                "cell '", options.cell, "': cannot connect to its broker: ",
                                last_error_.message())));
    }
    held_.clear();
    *next_attempt = absl::Now() + backoff_.Failed();
    return false;
  }

  void Adopt(std::unique_ptr<AmqpConnection> conn) {
    conn_ = std::move(conn);
    owner_->connected_.store(true, std::memory_order_release);
    owner_->watchdog_.Arm(conn_->fd());
    std::vector<SubscriptionId> ids;
    for (const auto& [id, sub] : subs_) ids.push_back(id);
    for (SubscriptionId id : ids) {
      auto it = subs_.find(id);
      if (conn_ == nullptr) break;
      if (it != subs_.end()) SetUp(it->second);
    }
    std::vector<Publication> held;
    held.swap(held_);
    for (Publication& publication : held) PublishOne(std::move(publication));
  }

  void Disconnect(const absl::Status& why) {
    if (conn_ == nullptr) return;
    // Before the socket is closed, so the watchdog never touches a reused descriptor.
    owner_->watchdog_.Disarm();
    conn_.reset();
    owner_->connected_.store(false, std::memory_order_release);
    last_error_ = why;
    declare_channel_ = 0;
    declared_exchanges_.clear();
    declared_queues_.clear();
    by_channel_.clear();
    for (auto& [id, sub] : subs_) {
      sub.channel = 0;
      sub.close_channel = false;
      if (sub.consuming) Interrupt(sub, why);
      sub.retry_at = absl::InfinitePast();  // set up as soon as a connection is back
    }
    FailUnconfirmed(absl::UnavailableError(
        absl::StrCat("cell '", owner_->options_.cell,
                     "': connection lost before the broker confirmed the message: ",
                     why.message())));
  }

  void Shutdown(std::vector<NewSubscription>& subscribes, std::vector<Publication>& publications) {
    const absl::Status stopping =
        absl::UnavailableError(absl::StrCat("cell '", owner_->options_.cell, "': shutting down"));
    for (NewSubscription& request : subscribes) request.sink->OnEnded(stopping);
    for (Publication& publication : publications) Complete(publication, stopping);
    for (Publication& publication : held_) Complete(publication, stopping);
    held_.clear();
    // The connection goes first, in one close: that returns every subscription's kept
    // deliveries to the queues without a round trip per channel. Closing cleanly talks to
    // the broker: bounded by the watchdog like any other I/O.
    if (conn_ != nullptr) owner_->watchdog_.Arm(conn_->fd());
    conn_.reset();
    owner_->watchdog_.Disarm();
    owner_->connected_.store(false, std::memory_order_release);
    by_channel_.clear();
    std::vector<SubscriptionId> ids;
    for (auto& [id, sub] : subs_) {
      sub.channel = 0;
      ids.push_back(id);
    }
    for (SubscriptionId id : ids) End(id, stopping);
    FailUnconfirmed(stopping);
    // An attempt in progress ends within the I/O timeout; its connection is closed unused.
    attempt_.Join();
  }

  void WaitForWake(absl::Duration wait, int amqp_fd) {
    pollfd fds[2];
    fds[0] = {owner_->wake_fd_, POLLIN, 0};
    fds[1] = {amqp_fd, POLLIN, 0};
    const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1)));
    const int rc = poll(fds, amqp_fd >= 0 ? 2 : 1, static_cast<int>(std::min<int64_t>(ms, 1000)));
    if (rc > 0 && (fds[0].revents & POLLIN)) {
      uint64_t value;
      (void)!read(owner_->wake_fd_, &value, sizeof(value));
    }
  }

  ConsumerConnection* owner_;
  ReconnectBackoff backoff_;
  ConnectAttempt attempt_;
  std::unique_ptr<AmqpConnection> conn_;
  bool first_attempt_done_ = false;
  absl::Status last_error_ = absl::UnavailableError("not connected yet");

  std::map<SubscriptionId, Subscription> subs_;
  absl::flat_hash_map<uint16_t, SubscriptionId> by_channel_;
  uint64_t next_incarnation_ = 1;

  uint16_t declare_channel_ = 0;  // own channel for publications' declares; 0 = none yet
  absl::flat_hash_set<std::string> declared_exchanges_;
  absl::flat_hash_set<std::string> declared_queues_;
  std::map<uint64_t, Publication> unconfirmed_;  // publisher-confirm seq -> publication
  std::vector<Publication> held_;                // waiting for the first connection attempt
};

ConsumerConnection::ConsumerConnection(ConsumerConnectionOptions options)
    : options_(std::move(options)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      // As a cell connection's: the heartbeat, at most the I/O timeout.
      watchdog_(options_.heartbeat > absl::ZeroDuration()
                    ? std::min(options_.heartbeat, AmqpEndpoint().io_timeout)
                    : AmqpEndpoint().io_timeout,
                Clock::Real()) {}

ConsumerConnection::~ConsumerConnection() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ConsumerConnection::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  watchdog_.Start();
  loop_ = std::make_unique<Loop>(this);
  thread_ = std::thread([this] { loop_->Run(); });
}

void ConsumerConnection::Stop() {
  std::vector<NewSubscription> subscribes;
  std::vector<Publication> publications;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    if (!started_) {
      // No loop ever ran: what was queued is failed here.
      subscribes.swap(subscribes_);
      publications.swap(publications_);
    }
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  watchdog_.Stop();
  const absl::Status stopping =
      absl::UnavailableError(absl::StrCat("cell '", options_.cell, "': shutting down"));
  for (NewSubscription& request : subscribes) request.sink->OnEnded(stopping);
  for (Publication& publication : publications) {
    if (publication.on_confirmed) publication.on_confirmed(stopping);
  }
}

void ConsumerConnection::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

bool ConsumerConnection::Enqueue(const std::function<void()>& add) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    add();
  }
  Wake();
  return true;
}

ConsumerConnection::SubscriptionId ConsumerConnection::Subscribe(
    SubscriptionTopology topology, std::shared_ptr<SubscriptionSink> sink) {
  SubscriptionId id = 0;
  const bool queued = Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    id = next_id_++;
    subscribes_.push_back(NewSubscription{id, std::move(topology), sink});
  });
  if (!queued) {
    sink->OnEnded(
        absl::UnavailableError(absl::StrCat("cell '", options_.cell, "': shutting down")));
  }
  return id;
}

void ConsumerConnection::Cancel(SubscriptionId id) {
  Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { cancels_.push_back(id); });
}

void ConsumerConnection::Ack(SubscriptionId id, const std::vector<DeliveryTag>& tags) {
  if (tags.empty()) return;
  Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    settles_.push_back(Settle{id, tags, Settle::Kind::kAck});
  });
}

void ConsumerConnection::Reject(SubscriptionId id, const std::vector<DeliveryTag>& tags,
                                bool requeue) {
  if (tags.empty()) return;
  Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    settles_.push_back(
        Settle{id, tags, requeue ? Settle::Kind::kRequeue : Settle::Kind::kDiscard});
  });
}

void ConsumerConnection::Publish(Publication publication) {
  const bool queued = Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    publications_.push_back(std::move(publication));
  });
  if (!queued && publication.on_confirmed) {
    publication.on_confirmed(
        absl::UnavailableError(absl::StrCat("cell '", options_.cell, "': shutting down")));
  }
}

absl::StatusOr<ConsumerConnectionOptions> ConsumerConnectionOptionsFor(const CellOptions& cell) {
  absl::StatusOr<TransportUrl> url = ParseTransportUrl(cell.transport_url);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cells[", cell.name, "].transport_url: ", url.status().message()));
  }
  ConsumerConnectionOptions options;
  options.cell = cell.name;
  options.url = *std::move(url);
  options.tls.enabled = cell.ssl;
  options.tls.ca_file = cell.ssl_ca_file;
  options.tls.cert_file = cell.ssl_cert_file;
  options.tls.key_file = cell.ssl_key_file;
  options.heartbeat = cell.heartbeat_timeout_threshold;
  options.max_message_bytes = cell.max_message_bytes;
  options.outage_limit = cell.subscription_outage_timeout;
  return options;
}

}  // namespace cellgw::bridge
