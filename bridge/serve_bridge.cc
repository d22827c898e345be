#include "bridge/serve_bridge.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/envelope.h"
#include "bridge/target.h"
#include "bridge/transport_url.h"
#include "common/ids.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

// How many answered _unique_ids a session remembers to drop redeliveries of.
constexpr size_t kRememberedAnswers = 1024;
// How often the ticker looks for heartbeats due; oslo's shortest interval is 1 s.
constexpr absl::Duration kTickEvery = absl::Milliseconds(250);
// x-expires of the fanout queue, as oslo's rabbit_transient_queues_ttl default (wire spec §3).
constexpr int32_t kFanoutQueueExpiresMs = 1800000;

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckName(absl::string_view field, absl::string_view what, absl::string_view name) {
  if (name.empty()) return FieldError(field, "required");
  if (name.size() > kMaxAmqpNameBytes) {
    return FieldError(field, absl::StrCat(what, " is ", name.size(), " bytes long; the limit is ",
                                          kMaxAmqpNameBytes));
  }
  return absl::OkStatus();
}

// oslo's call monitor (wire spec §7.1): a heartbeat every int(_timeout)/2 s while the method
// runs, when int(_timeout) >= 2; otherwise none.
absl::Duration HeartbeatInterval(const std::optional<std::string>& timeout_json) {
  if (!timeout_json.has_value()) return absl::ZeroDuration();
  double seconds = 0;
  if (!absl::SimpleAtod(*timeout_json, &seconds) || !(seconds >= 2) || seconds > 1e9) {
    return absl::ZeroDuration();
  }
  const int64_t whole = static_cast<int64_t>(seconds);
  return absl::Seconds(whole / 2);  // Python: int(timeout) // 2
}

// A call's deadline from its AMQP expiration (a TTL in ms as a decimal string, which the
// broker checked when it was published); nullopt when absent or unreadable.
std::optional<absl::Time> DeadlineOf(absl::string_view expiration, absl::Time received) {
  int64_t ms = 0;
  if (expiration.empty() || !absl::SimpleAtoi(expiration, &ms) || ms < 0) return std::nullopt;
  return received + absl::Milliseconds(ms);
}

}  // namespace

struct ServeBridge::Cell {
  CellOptions options;
  std::unique_ptr<ConsumerConnection> connection;

  ExchangeSpec Exchange(const std::string& name) const {
    ExchangeSpec spec;
    spec.name = name;
    spec.type = "topic";
    spec.durable = options.amqp_durable_queues || options.rabbit_quorum_queue;
    spec.auto_delete = options.amqp_auto_delete;
    return spec;
  }
};

// The session's receiving end on the consumer connection.
class ServeSession::Sink : public SubscriptionSink {
 public:
  explicit Sink(std::shared_ptr<ServeSession> session) : session_(std::move(session)) {}

  Disposition OnDelivery(Delivery delivery) override {
    return session_->OnDelivery(std::move(delivery), absl::Now());
  }
  void OnConsuming(uint64_t) override {
    const bool first = !session_->consumed_once_.exchange(true);
    if (session_->worker_ != nullptr) session_->worker_->OnConsuming(session_->queues_, first);
  }
  void OnInterrupted(const absl::Status& why) override {
    if (session_->worker_ != nullptr) session_->worker_->OnInterrupted(why);
  }
  void OnEnded(const absl::Status& status) override {
    std::shared_ptr<ServeWorker> worker = std::move(session_->worker_);
    session_.reset();  // the session may own whoever owns the worker
    if (worker != nullptr) worker->OnEnd(status);
  }

 private:
  std::shared_ptr<ServeSession> session_;
};

ServeSession::ServeSession(ConsumerConnection* connection, std::string describe,
                           RpcDispatcher dispatcher, std::string fanout_exchange,
                           std::vector<std::string> queues, std::shared_ptr<ServeWorker> worker)
    : connection_(connection),
      describe_(std::move(describe)),
      dispatcher_(std::move(dispatcher)),
      fanout_exchange_(std::move(fanout_exchange)),
      queues_(std::move(queues)),
      worker_(std::move(worker)) {}

size_t ServeSession::held() const {
  absl::MutexLock lock(&mu_);
  return held_.size();
}

void ServeSession::Remember(const std::string& unique_id) {
  if (unique_id.empty()) return;
  held_by_unique_id_.erase(unique_id);
  if (!answered_.insert(unique_id).second) return;
  if (answered_ring_.size() < kRememberedAnswers) {
    answered_ring_.push_back(unique_id);
  } else {
    answered_.erase(answered_ring_[answered_next_]);
    answered_ring_[answered_next_] = unique_id;
    answered_next_ = (answered_next_ + 1) % kRememberedAnswers;
  }
}

SubscriptionSink::Disposition ServeSession::OnDelivery(Delivery delivery, absl::Time received) {
  // oslo's server drops what it cannot decode (reject without requeue, wire spec §7.1).
  if (delivery.oversized || delivery.content_type != "application/json") {
    return SubscriptionSink::Disposition::kDiscard;
  }
  absl::StatusOr<DecodedRequest> request = DecodeRequest(delivery.body);
  if (!request.ok()) return SubscriptionSink::Disposition::kDiscard;

  Held held;
  held.tag = delivery.tag;
  held.msg_id = request->msg_id;
  held.reply_q = request->reply_q;
  held.unique_id = request->unique_id;
  // A message with no _msg_id is a cast for oslo: never answered, even on failure.
  held.kind = !held.msg_id.empty()                  ? IncomingKind::kCall
              : delivery.exchange == fanout_exchange_ ? IncomingKind::kFanout
                                                      : IncomingKind::kCast;
  uint64_t id = 0;
  std::optional<absl::Time> incoming_deadline;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return SubscriptionSink::Disposition::kKeep;  // the channel is closing
    if (!held.unique_id.empty()) {
      // A redelivery (after a reconnect) of what the worker holds: it now answers this copy.
      if (auto it = held_by_unique_id_.find(held.unique_id); it != held_by_unique_id_.end()) {
        held_.at(it->second).tag = held.tag;
        return SubscriptionSink::Disposition::kKeep;
      }
      // Or of what it answered already: oslo's duplicate check drops it without a reply.
      if (answered_.contains(held.unique_id)) return SubscriptionSink::Disposition::kAck;
    }
    const DispatchDecision decision =
        dispatcher_.Dispatch(request->method, request->namespace_, request->version);
    if (!decision.endpoint.has_value()) {
      Remember(held.unique_id);
      if (held.kind == IncomingKind::kCall && !held.reply_q.empty()) {
        // Answered by the gateway, as oslo's dispatcher would; outside the lock is not needed:
        // publishing only queues the message.
        PublishReply(held.reply_q, held.msg_id, "null", &decision.failure, true).IgnoreError();
      }
      return SubscriptionSink::Disposition::kAck;
    }
    std::optional<absl::Time> deadline;
    if (held.kind == IncomingKind::kCall) {
      deadline = DeadlineOf(delivery.expiration, received);
      if (deadline.has_value()) held.deadline = *deadline;
      held.heartbeat_every = HeartbeatInterval(request->timeout_json);
      if (held.heartbeat_every > absl::ZeroDuration()) {
        held.next_heartbeat = absl::Now() + held.heartbeat_every;
      }
    }
    id = next_id_++;
    if (!held.unique_id.empty()) held_by_unique_id_[held.unique_id] = id;
    held_.emplace(id, held);
    incoming_deadline = deadline;
  }
  handed_out_.fetch_add(1, std::memory_order_relaxed);
  IncomingRequest incoming;
  incoming.id = id;
  incoming.kind = held.kind;
  incoming.method = std::move(request->method);
  incoming.args_json = std::move(request->args_json);
  incoming.context_json = std::move(request->context_json);
  incoming.namespace_ = std::move(request->namespace_);
  incoming.version = std::move(request->version);
  incoming.deadline = incoming_deadline;
  if (worker_ != nullptr) worker_->OnIncoming(std::move(incoming));
  return SubscriptionSink::Disposition::kKeep;
}

absl::Status ServeSession::PublishReply(const std::string& reply_q, const std::string& msg_id,
                                        absl::string_view result_json,
                                        const RemoteFailure* failure, bool ending) {
  CELLGW_ASSIGN_OR_RETURN(std::string body,
                          EncodeReply(msg_id, result_json, failure, ending, NewUuidHex()));
  Publication publication;
  publication.exchange = "";  // the default exchange routes by queue name
  publication.routing_key = reply_q;
  publication.body = std::move(body);
  publication.mandatory = true;  // as oslo's server (direct_mandatory_flag)
  connection_->Publish(std::move(publication));
  return absl::OkStatus();
}

absl::StatusOr<ServeSession::Timing> ServeSession::Answer(uint64_t id,
                                                          const WorkerAnswer& answer) {
  const absl::Time now = absl::Now();
  Held held;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("the session is closed");
    auto it = held_.find(id);
    if (it == held_.end()) {
      return absl::NotFoundError(
          absl::StrCat("id: no request ", id, " is waiting for an answer"));
    }
    held = it->second;
    if (held.kind == IncomingKind::kCall && !held.reply_q.empty()) {
      const RemoteFailure* failure = answer.failure.has_value() ? &*answer.failure : nullptr;
      // Published under the lock so that a heartbeat for this call (Tick) cannot follow it.
      CELLGW_RETURN_IF_ERROR(PublishReply(held.reply_q, held.msg_id,
                                          failure != nullptr ? "null" : answer.result_json,
                                          failure, true));
    }
    held_.erase(it);
    Remember(held.unique_id);
  }
  if (held.kind != IncomingKind::kCall && answer.failure.has_value()) {
    casts_failed_.fetch_add(1, std::memory_order_relaxed);
  }
  connection_->Ack(subscription_.load(), {held.tag});
  return now > held.deadline ? Timing::kAfterDeadline : Timing::kInTime;
}

size_t ServeSession::Close() {
  std::vector<DeliveryTag> tags;
  size_t abandoned = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return 0;
    closed_ = true;
    RemoteFailure gone;
    gone.exception_class = std::string(kWorkerGoneClass);
    gone.exception_module = "builtins";
    gone.message = absl::StrCat("cellgw: the worker serving ", describe_,
                                " disconnected before answering");
    gone.args_json = absl::StrCat("[\"", absl::CEscape(gone.message), "\"]");
    gone.traceback = {absl::StrCat(gone.exception_class, ": ", gone.message, "\n")};
    for (auto& [id, held] : held_) {
      tags.push_back(held.tag);
      if (held.kind == IncomingKind::kCall && !held.reply_q.empty()) {
        PublishReply(held.reply_q, held.msg_id, "null", &gone, true).IgnoreError();
        ++abandoned;
      }
    }
    held_.clear();
    held_by_unique_id_.clear();
  }
  // Acknowledged, not returned to the queue: a request handed to a worker counts as taken, as
  // oslo's server acknowledges before running it; its caller has its answer.
  if (!tags.empty()) connection_->Ack(subscription_.load(), tags);
  connection_->Cancel(subscription_.load());
  return abandoned;
}

void ServeSession::Tick(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  for (auto& [id, held] : held_) {
    if (held.heartbeat_every <= absl::ZeroDuration() || now < held.next_heartbeat) continue;
    PublishReply(held.reply_q, held.msg_id, "null", nullptr, false).IgnoreError();
    held.next_heartbeat = now + held.heartbeat_every;
  }
}

absl::StatusOr<std::unique_ptr<ServeBridge>> ServeBridge::Create(
    const std::vector<CellOptions>& cells) {
  std::vector<std::unique_ptr<Cell>> built;
  for (const CellOptions& options : cells) {
    absl::StatusOr<ConsumerConnectionOptions> connection = ConsumerConnectionOptionsFor(options);
    if (!connection.ok()) return connection.status();
    auto cell = std::make_unique<Cell>();
    cell->options = options;
    cell->connection = std::make_unique<ConsumerConnection>(*std::move(connection));
    built.push_back(std::move(cell));
  }
  return std::unique_ptr<ServeBridge>(new ServeBridge(std::move(built)));
}

ServeBridge::ServeBridge(std::vector<std::unique_ptr<Cell>> cells) : cells_(std::move(cells)) {
  ticker_ = std::thread([this] { RunTicker(); });
}

ServeBridge::~ServeBridge() { Stop(); }

void ServeBridge::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (ticker_.joinable()) ticker_.join();
  for (auto& cell : cells_) cell->connection->Stop();
}

void ServeBridge::RunTicker() {
  for (;;) {
    std::vector<std::shared_ptr<ServeSession>> live;
    {
      absl::MutexLock lock(&mu_);
      const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), kTickEvery);
      if (stopping_) return;
      std::vector<std::weak_ptr<ServeSession>> kept;
      for (auto& weak : sessions_) {
        if (std::shared_ptr<ServeSession> session = weak.lock()) {
          live.push_back(std::move(session));
          kept.push_back(std::move(weak));
        }
      }
      sessions_.swap(kept);
    }
    const absl::Time now = absl::Now();
    for (auto& session : live) session->Tick(now);
  }
}

absl::StatusOr<ServeBridge::Cell*> ServeBridge::Route(absl::string_view cell) const {
  if (cell.empty()) {
    if (cells_.size() == 1) return cells_.front().get();
    return FieldError("cell", "required when the gateway serves more than one cell");
  }
  for (const auto& candidate : cells_) {
    if (candidate->options.name == cell) return candidate.get();
  }
  return absl::NotFoundError(absl::StrCat("cell: unknown cell '", absl::CHexEscape(cell), "'"));
}

absl::StatusOr<std::string> ServeBridge::RouteCell(absl::string_view cell) const {
  CELLGW_ASSIGN_OR_RETURN(Cell * routed, Route(cell));
  return routed->options.name;
}

absl::StatusOr<std::string> ServeBridge::RouteExchange(absl::string_view cell,
                                                       absl::string_view exchange) const {
  CELLGW_ASSIGN_OR_RETURN(Cell * routed, Route(cell));
  return exchange.empty() ? routed->options.control_exchange : std::string(exchange);
}

absl::StatusOr<std::shared_ptr<ServeSession>> ServeBridge::Serve(
    const ServeRegistration& registration, std::shared_ptr<ServeWorker> worker) {
  CELLGW_ASSIGN_OR_RETURN(Cell * cell, Route(registration.cell));
  const std::string exchange_name =
      registration.exchange.empty() ? cell->options.control_exchange : registration.exchange;
  CELLGW_RETURN_IF_ERROR(CheckName("exchange", "the exchange", exchange_name));
  CELLGW_RETURN_IF_ERROR(CheckName("topic", "the topic", registration.topic));
  CELLGW_RETURN_IF_ERROR(CheckName("server", "the server", registration.server));
  const std::string server_queue = absl::StrCat(registration.topic, ".", registration.server);
  const std::string fanout_exchange = absl::StrCat(registration.topic, "_fanout");
  const std::string fanout_queue = absl::StrCat(fanout_exchange, "_", NewUuidHex());
  CELLGW_RETURN_IF_ERROR(CheckName("server", "\"<topic>.<server>\"", server_queue));
  CELLGW_RETURN_IF_ERROR(CheckName("topic", "\"<topic>_fanout_<uuid>\"", fanout_queue));
  if (registration.max_in_flight < 1 || registration.max_in_flight > kMaxInFlightLimit) {
    return FieldError("max_in_flight", absl::StrCat("must be 1 to ", kMaxInFlightLimit, " (got ",
                                                    registration.max_in_flight, ")"));
  }
  CELLGW_ASSIGN_OR_RETURN(RpcDispatcher dispatcher, RpcDispatcher::Create(registration.endpoints));

  const ExchangeSpec exchange = cell->Exchange(exchange_name);
  SubscriptionTopology topology;
  // As for casts and calls, a worker cannot create exchanges other than the cell's control
  // exchange: another one it names must exist. Its `<topic>_fanout` is created, as an oslo
  // server creates it (auto-delete: it goes with the topic's last fanout queue).
  topology.exchanges.push_back(
      ExchangeUse{exchange, /*must_exist=*/exchange_name != cell->options.control_exchange});
  topology.exchanges.push_back(
      ExchangeUse{ExchangeSpec{fanout_exchange, "fanout", false, true}, /*must_exist=*/false});
  topology.prefetch = static_cast<uint16_t>(std::min<uint32_t>(registration.max_in_flight, 65535));
  for (const std::string& name : {registration.topic, server_queue}) {
    QueueTopology queue;
    queue.spec.name = name;
    queue.spec.durable = exchange.durable;
    queue.spec.auto_delete = exchange.auto_delete;
    queue.quorum = cell->options.rabbit_quorum_queue;
    queue.bindings.push_back({exchange.name, name});
    topology.queues.push_back(std::move(queue));
  }
  QueueTopology fanout;
  fanout.spec.name = fanout_queue;
  fanout.spec.expires_ms = kFanoutQueueExpiresMs;
  // Only this session consumes it (its name is new): oslo deletes its own on a graceful stop.
  fanout.delete_on_cancel = true;
  fanout.bindings.push_back({fanout_exchange, registration.topic});
  topology.queues.push_back(std::move(fanout));

  std::vector<std::string> queues = {registration.topic, server_queue, fanout_queue};
  std::shared_ptr<ServeSession> session(new ServeSession(
      cell->connection.get(),
      absl::StrCat("cell '", cell->options.name, "' topic '", registration.topic, "' server '",
                   registration.server, "'"),
      std::move(dispatcher), fanout_exchange, std::move(queues), std::move(worker)));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the gateway is shutting down");
    sessions_.push_back(session);
  }
  cell->connection->Start();
  // The id is set before the loop thread can deliver: Subscribe only queues the request, and
  // nothing reads subscription_ before a delivery or an answer.
  auto sink = std::make_shared<ServeSession::Sink>(session);
  session->subscription_ = cell->connection->Subscribe(std::move(topology), std::move(sink));
  return session;
}

}  // namespace cellgw::bridge
