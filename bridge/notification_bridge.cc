#include "bridge/notification_bridge.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bridge/target.h"
#include "bridge/transport_url.h"
#include "common/ids.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// An AMQP short string (exchange, queue, routing key) that must be 1..255 bytes.
absl::Status CheckName(absl::string_view field, absl::string_view what, absl::string_view name) {
  if (name.empty()) return FieldError(field, "must not be empty");
  if (name.size() > kMaxAmqpNameBytes) {
    return FieldError(field, absl::StrCat(what, " is ", name.size(), " bytes long; the limit is ",
                                          kMaxAmqpNameBytes));
  }
  return absl::OkStatus();
}

std::string FormatAckId(const DeliveryTag& tag) {
  return absl::StrCat(tag.incarnation, ":", tag.tag);
}

absl::StatusOr<DeliveryTag> ParseAckId(absl::string_view text) {
  const size_t colon = text.find(':');
  DeliveryTag tag;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(text.substr(0, colon), &tag.incarnation) ||
      !absl::SimpleAtoi(text.substr(colon + 1), &tag.tag) || tag.incarnation == 0 ||
      tag.tag == 0) {
    constexpr size_t kShown = 64;
    return absl::InvalidArgumentError(absl::StrCat(
        "not an ack_id of this stream: \"", absl::CHexEscape(text.substr(0, kShown)),
        text.size() > kShown ? "...\"" : "\""));
  }
  return tag;
}

}  // namespace

struct NotificationBridge::Cell {
  CellOptions options;
  std::unique_ptr<ConsumerConnection> connection;
  std::atomic<int> notifies_in_flight{0};
  std::atomic<int> subscriptions{0};

  // The topic exchange, with the flags oslo derives from the cell's options (durable =
  // amqp_durable_queues or rabbit_quorum_queue, auto_delete = amqp_auto_delete): any other
  // combination is refused by the broker with 406. Only the control exchange is created when
  // missing; any other must exist, as for casts and calls.
  absl::StatusOr<ExchangeUse> Exchange(absl::string_view exchange) const {
    ExchangeUse use;
    ExchangeSpec& spec = use.spec;
    spec.name = exchange.empty() ? options.control_exchange : std::string(exchange);
    CELLGW_RETURN_IF_ERROR(CheckName(
        "exchange", exchange.empty() ? "the cell's control_exchange" : "the exchange",
        spec.name));
    spec.type = "topic";
    spec.durable = options.amqp_durable_queues || options.rabbit_quorum_queue;
    spec.auto_delete = options.amqp_auto_delete;
    use.must_exist = spec.name != options.control_exchange;
    return use;
  }

  // A queue oslo declares for notifications: the exchange's flags, quorum with
  // rabbit_quorum_queue, no arguments otherwise (no TTL).
  QueueTopology Queue(const ExchangeUse& exchange, std::string name) const {
    QueueTopology queue;
    queue.spec.name = std::move(name);
    queue.spec.durable = exchange.spec.durable;
    queue.spec.auto_delete = exchange.spec.auto_delete;
    queue.quorum = options.rabbit_quorum_queue;
    return queue;
  }
};

// One subscription's receiving end on the consumer connection: decodes, filters, counts, and
// passes notifications on to the subscriber.
class NotificationBridge::Sink : public SubscriptionSink {
 public:
  Sink(Cell* cell, NotificationObserver* observer,
       std::function<bool(absl::string_view)> accept,
       std::shared_ptr<NotificationSubscriber> subscriber)
      : cell_(cell),
        observer_(observer),
        accept_(std::move(accept)),
        subscriber_(std::move(subscriber)) {}

  Disposition OnDelivery(Delivery delivery) override {
    const std::string& name = cell_->options.name;
    if (delivery.oversized) return Drop(NotificationDropReason::kOversized);
    // oslo's listener refuses anything that is not exactly application/json (wire spec §5).
    if (delivery.content_type != "application/json") {
      return Drop(NotificationDropReason::kMalformed);
    }
    absl::StatusOr<ReceivedNotification> message = DecodeNotification(delivery.body);
    if (!message.ok()) return Drop(NotificationDropReason::kMalformed);
    if (accept_ && !accept_(message->event_type)) {
      if (observer_ != nullptr) observer_->OnNotificationFiltered(name);
      return Disposition::kAck;
    }
    DeliveredNotification notification;
    notification.message = *std::move(message);
    const size_t dot = delivery.routing_key.rfind('.');
    notification.topic = dot == std::string::npos ? delivery.routing_key
                                                   : delivery.routing_key.substr(0, dot);
    notification.ack_id = FormatAckId(delivery.tag);
    notification.redelivered = delivery.redelivered;
    if (observer_ != nullptr) observer_->OnNotificationDelivered(name, delivery.redelivered);
    subscriber_->OnNotification(std::move(notification));
    return Disposition::kKeep;
  }

  void OnConsuming(uint64_t) override { subscriber_->OnConsuming(); }

  void OnInterrupted(const absl::Status& why) override { subscriber_->OnInterrupted(why); }

  void OnAcknowledged(const DeliveryTag&) override {
    if (observer_ != nullptr) observer_->OnNotificationAcknowledged(cell_->options.name);
  }

  void OnEnded(const absl::Status& status) override {
    cell_->subscriptions.fetch_sub(1, std::memory_order_relaxed);
    if (observer_ != nullptr) observer_->OnSubscribersChanged(cell_->options.name, -1);
    // Released here: the subscriber may own whoever owns this sink's handle.
    std::shared_ptr<NotificationSubscriber> subscriber = std::move(subscriber_);
    subscriber->OnEnd(status);
  }

 private:
  Disposition Drop(NotificationDropReason reason) {
    if (observer_ != nullptr) observer_->OnNotificationDropped(cell_->options.name, reason);
    return Disposition::kDiscard;
  }

  Cell* const cell_;
  NotificationObserver* const observer_;
  const std::function<bool(absl::string_view)> accept_;
  std::shared_ptr<NotificationSubscriber> subscriber_;
};

absl::Status NotificationSubscription::Acknowledge(const std::vector<absl::string_view>& ack_ids) {
  std::vector<DeliveryTag> tags;
  tags.reserve(ack_ids.size());
  for (size_t i = 0; i < ack_ids.size(); ++i) {
    absl::StatusOr<DeliveryTag> tag = ParseAckId(ack_ids[i]);
    if (!tag.ok()) return FieldError(absl::StrCat("ack_ids[", i, "]"), tag.status().message());
    tags.push_back(*tag);
  }
  connection_->Ack(id_, tags);
  return absl::OkStatus();
}

void NotificationSubscription::Cancel() { connection_->Cancel(id_); }

absl::StatusOr<std::unique_ptr<NotificationBridge>> NotificationBridge::Create(
    const std::vector<CellOptions>& cells, NotificationObserver* observer) {
  std::vector<std::unique_ptr<Cell>> built;
  for (const CellOptions& options : cells) {
    const std::string where = absl::StrCat("cells[", options.name, "]");
    absl::StatusOr<ConsumerConnectionOptions> connection = ConsumerConnectionOptionsFor(options);
    if (!connection.ok()) return connection.status();
    if (options.max_subscriptions < 1) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".max_subscriptions: must be >= 1"));
    }
    auto cell = std::make_unique<Cell>();
    cell->options = options;
    cell->connection = std::make_unique<ConsumerConnection>(*std::move(connection));
    built.push_back(std::move(cell));
  }
  return std::unique_ptr<NotificationBridge>(new NotificationBridge(std::move(built), observer));
}

NotificationBridge::NotificationBridge(std::vector<std::unique_ptr<Cell>> cells,
                                       NotificationObserver* observer)
    : cells_(std::move(cells)), observer_(observer) {}

NotificationBridge::~NotificationBridge() { Stop(); }

void NotificationBridge::Stop() {
  for (auto& cell : cells_) cell->connection->Stop();
}

absl::StatusOr<NotificationBridge::Cell*> NotificationBridge::Route(absl::string_view cell) const {
  if (cell.empty()) {
    if (cells_.size() == 1) return cells_.front().get();
    return FieldError("cell", "required when the gateway serves more than one cell");
  }
  for (const auto& candidate : cells_) {
    if (candidate->options.name == cell) return candidate.get();
  }
  return absl::NotFoundError(absl::StrCat("cell: unknown cell '", absl::CHexEscape(cell), "'"));
}

absl::StatusOr<std::string> NotificationBridge::RouteCell(absl::string_view cell) const {
  CELLGW_ASSIGN_OR_RETURN(Cell * routed, Route(cell));
  return routed->options.name;
}

void NotificationBridge::Notify(const NotifyRequest& request,
                                std::function<void(absl::StatusOr<NotifyResult>)> done) {
  absl::StatusOr<Cell*> routed = Route(request.cell);
  if (!routed.ok()) return done(routed.status());
  Cell& cell = **routed;
  if (request.publisher_id.empty()) return done(FieldError("publisher_id", "required"));
  if (request.event_type.empty()) return done(FieldError("event_type", "required"));
  absl::StatusOr<std::string> priority =
      CanonicalPriority(request.priority.empty() ? "info" : request.priority);
  if (!priority.ok()) return done(priority.status());
  absl::StatusOr<ExchangeUse> exchange = cell.Exchange(request.exchange);
  if (!exchange.ok()) return done(exchange.status());
  const std::string topic = request.topic.empty() ? std::string(kDefaultTopic) : request.topic;
  std::string routing_key = NotificationRoutingKey(topic, *priority);
  if (absl::Status status = CheckName("topic", "the routing key \"<topic>.<priority>\"",
                                      routing_key);
      !status.ok()) {
    return done(status);
  }

  const std::string message_id = NewUuidDashed();
  const std::string unique_id = NewUuidHex();
  const std::string timestamp = OsloTimestamp(absl::Now());
  NotificationToSend send;
  send.message_id = message_id;
  send.publisher_id = request.publisher_id;
  send.event_type = request.event_type;
  send.priority = *priority;
  send.payload_json = request.payload_json;
  send.timestamp = timestamp;
  send.unique_id = unique_id;
  send.context_json = request.context_json;
  absl::StatusOr<std::string> body = EncodeNotification(send);
  if (!body.ok()) return done(body.status());
  if (body->size() > cell.options.max_message_bytes) {
    return done(absl::ResourceExhaustedError(absl::StrCat(
        "payload_json: the encoded notification is ", body->size(), " bytes; cell '",
        cell.options.name, "' allows ", cell.options.max_message_bytes, " (max_message_bytes)")));
  }
  if (cell.notifies_in_flight.fetch_add(1, std::memory_order_relaxed) >=
      cell.options.max_in_flight) {
    cell.notifies_in_flight.fetch_sub(1, std::memory_order_relaxed);
    return done(absl::ResourceExhaustedError(
        absl::StrCat("cell '", cell.options.name, "': ", cell.options.max_in_flight,
                     " notifications already in flight (max_in_flight); retry later")));
  }

  Publication publication;
  publication.exchanges.push_back(*exchange);
  // As oslo's notifier: the queue a listener without a pool would read, so that nothing
  // published before any listener exists is lost.
  publication.queue = cell.Queue(*exchange, routing_key);
  publication.queue->bindings.push_back({exchange->spec.name, routing_key});
  publication.exchange = exchange->spec.name;
  publication.routing_key = std::move(routing_key);
  publication.body = *std::move(body);
  NotificationObserver* observer = observer_;
  publication.on_confirmed = [&cell, observer, message_id,
                              done = std::move(done)](absl::Status status) {
    cell.notifies_in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (!status.ok()) return done(status);
    if (observer != nullptr) observer->OnNotificationPublished(cell.options.name);
    done(NotifyResult{message_id});
  };
  cell.connection->Start();
  cell.connection->Publish(std::move(publication));
}

absl::StatusOr<std::unique_ptr<NotificationSubscription>> NotificationBridge::Subscribe(
    const SubscribeRequest& request, std::shared_ptr<NotificationSubscriber> subscriber) {
  CELLGW_ASSIGN_OR_RETURN(Cell * cell, Route(request.cell));
  if (request.max_unacked < 1 || request.max_unacked > kMaxUnackedLimit) {
    return FieldError("max_unacked", absl::StrCat("must be 1 to ", kMaxUnackedLimit, " (got ",
                                                  request.max_unacked, ")"));
  }
  CELLGW_ASSIGN_OR_RETURN(const ExchangeUse exchange, cell->Exchange(request.exchange));

  // The names oslo's listener derives, duplicates dropped, order kept.
  std::vector<std::string> topics;
  for (size_t i = 0; i < request.topics.size(); ++i) {
    const std::string field = absl::StrCat("topics[", i, "]");
    CELLGW_RETURN_IF_ERROR(CheckName(field, "the topic", request.topics[i]));
    if (std::find(topics.begin(), topics.end(), request.topics[i]) == topics.end()) {
      topics.push_back(request.topics[i]);
    }
  }
  if (topics.empty()) topics.emplace_back(kDefaultTopic);
  std::vector<std::string> priorities;
  for (size_t i = 0; i < request.priorities.size(); ++i) {
    absl::StatusOr<std::string> priority = CanonicalPriority(request.priorities[i]);
    if (!priority.ok()) {
      return FieldError(absl::StrCat("priorities[", i, "]"),
                        absl::StripPrefix(priority.status().message(), "priority: "));
    }
    if (std::find(priorities.begin(), priorities.end(), *priority) == priorities.end()) {
      priorities.push_back(*priority);
    }
  }
  if (priorities.empty()) {
    for (absl::string_view priority : kNotificationPriorities) priorities.emplace_back(priority);
  }
  if (!request.pool.empty()) CELLGW_RETURN_IF_ERROR(CheckName("pool", "the pool", request.pool));

  SubscriptionTopology topology;
  topology.exchanges.push_back(exchange);
  topology.prefetch = static_cast<uint16_t>(std::min<uint32_t>(request.max_unacked, 65535));
  if (!request.pool.empty()) topology.queues.push_back(cell->Queue(exchange, request.pool));
  for (size_t t = 0; t < topics.size(); ++t) {
    for (const std::string& priority : priorities) {
      std::string key = NotificationRoutingKey(topics[t], priority);
      CELLGW_RETURN_IF_ERROR(CheckName(absl::StrCat("topics[", t, "]"),
                                       "the routing key \"<topic>.<priority>\"", key));
      QueueTopology::Binding binding{exchange.spec.name, key};
      if (!request.pool.empty()) {
        topology.queues.front().bindings.push_back(std::move(binding));
      } else {
        topology.queues.push_back(cell->Queue(exchange, key));
        topology.queues.back().bindings.push_back(std::move(binding));
      }
    }
  }

  if (cell->subscriptions.fetch_add(1, std::memory_order_relaxed) >=
      cell->options.max_subscriptions) {
    cell->subscriptions.fetch_sub(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(
        absl::StrCat("cell '", cell->options.name, "': ", cell->options.max_subscriptions,
                     " subscriptions already (max_subscriptions)"));
  }
  if (observer_ != nullptr) observer_->OnSubscribersChanged(cell->options.name, +1);
  auto sink = std::make_shared<Sink>(cell, observer_, request.accept_event_type,
                                     std::move(subscriber));
  cell->connection->Start();
  const ConsumerConnection::SubscriptionId id =
      cell->connection->Subscribe(std::move(topology), std::move(sink));
  return std::make_unique<NotificationSubscription>(cell->connection.get(), id);
}

}  // namespace cellgw::bridge
