#include "tests/bridge/fake_broker.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cellgw::testing {
namespace {

// RabbitMQ's text for an inequivalent redeclare, so that tests can match on it.
absl::Status Inequivalent(const std::string& what, const std::string& name,
                          absl::string_view arg, absl::string_view received,
                          absl::string_view current) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": PRECONDITION_FAILED - inequivalent arg '", arg, "' for exchange '",
                   name, "' in vhost '/': received '", received, "' but current is '", current,
                   "'"));
}

absl::string_view Bool(bool value) { return value ? "true" : "false"; }

void Signal(int fd) {
  if (fd < 0) return;
  const char byte = 0;
  (void)!write(fd, &byte, 1);
}

}  // namespace

class FakeBroker::Transport final : public bridge::AmqpTransport {
 public:
  Transport(FakeBroker* broker, std::shared_ptr<Conn> conn)
      : broker_(broker), conn_(std::move(conn)) {}

  ~Transport() override {
    absl::MutexLock lock(&broker_->mu_);
    conn_->closed = true;
    for (int& fd : conn_->fds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }

  absl::Status DeclareExchange(const bridge::ExchangeSpec& spec, bool passive) override {
    absl::MutexLock lock(&broker_->mu_);
    if (!conn_->broken.ok()) return conn_->broken;
    const std::string what = absl::StrCat("declaring exchange '", spec.name, "'");
    auto it = broker_->exchanges_.find(spec.name);
    if (passive) {
      ++broker_->passive_declares_;
      if (it != broker_->exchanges_.end()) return absl::OkStatus();
      return absl::NotFoundError(absl::StrCat(what, ": NOT_FOUND - no exchange '", spec.name,
                                              "' in vhost '", conn_->virtual_host, "'"));
    }
    ++broker_->active_declares_;
    if (it == broker_->exchanges_.end()) {
      if (absl::StartsWith(spec.name, "amq.")) {
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": ACCESS_REFUSED - exchange name '", spec.name,
                         "' contains reserved prefix 'amq.*'"));
      }
      broker_->exchanges_[spec.name] = Exchange{spec, false};
      return absl::OkStatus();
    }
    const Exchange& current = it->second;
    if (current.spec.type != spec.type) {
      return Inequivalent(what, spec.name, "type", spec.type, current.spec.type);
    }
    if (current.spec.durable != spec.durable) {
      return Inequivalent(what, spec.name, "durable", Bool(spec.durable),
                          Bool(current.spec.durable));
    }
    if (current.spec.auto_delete != spec.auto_delete) {
      return Inequivalent(what, spec.name, "auto_delete", Bool(spec.auto_delete),
                          Bool(current.spec.auto_delete));
    }
    if (current.internal) return Inequivalent(what, spec.name, "internal", "false", "true");
    return absl::OkStatus();
  }

  absl::Status DeclareQueue(const bridge::QueueSpec& spec, bool passive) override {
    absl::MutexLock lock(&broker_->mu_);
    if (!conn_->broken.ok()) return conn_->broken;
    if (!passive) {
      broker_->queues_[spec.name] = true;
      return absl::OkStatus();
    }
    if (broker_->queues_.count(spec.name) > 0) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("declaring queue '", spec.name,
                                            "': NOT_FOUND - no queue '", spec.name, "'"));
  }

  absl::Status Consume(absl::string_view queue) override {
    absl::MutexLock lock(&broker_->mu_);
    if (!conn_->broken.ok()) return conn_->broken;
    if (broker_->queues_.count(std::string(queue)) == 0) {
      return absl::NotFoundError(absl::StrCat("consuming '", queue, "': NOT_FOUND"));
    }
    conn_->consuming = std::string(queue);
    broker_->consumed_.emplace_back(queue);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Publish(const bridge::PublishSpec& spec) override {
    broker_->mu_.Lock();
    if (!conn_->broken.ok()) {
      absl::Status broken = conn_->broken;
      broker_->mu_.Unlock();
      return broken;
    }
    if (broker_->stall_next_) return Stall();
    Published published;
    published.connection = conn_->id;
    published.virtual_host = conn_->virtual_host;
    published.seq = conn_->next_seq++;
    published.exchange = std::string(spec.exchange);
    published.routing_key = std::string(spec.routing_key);
    published.body = std::string(spec.body);
    published.mandatory = spec.mandatory;
    published.expiration = std::string(spec.expiration);
    broker_->published_.push_back(published);
    if (!published.exchange.empty() && broker_->exchanges_.count(published.exchange) == 0) {
      // As RabbitMQ: the publish itself goes out; the broker then closes the channel.
      Event reset;
      reset.kind = Event::Kind::kReset;
      reset.why = absl::UnavailableError(absl::StrCat(
          "broker closed channel: 404 NOT_FOUND - no exchange '", published.exchange, "'"));
      broker_->Push(*conn_, std::move(reset));
    } else if (broker_->auto_confirm_) {
      Event confirm;
      confirm.kind = Event::Kind::kConfirm;
      confirm.seq = published.seq;
      confirm.ack = true;
      broker_->Push(*conn_, std::move(confirm));
    }
    std::function<void(const Published&)> hook = broker_->on_publish_;
    broker_->mu_.Unlock();
    if (hook) hook(published);
    return published.seq;
  }

  absl::Status ReadAvailable(Handler& handler, uint64_t max_body_bytes) override {
    std::deque<Event> events;
    {
      absl::MutexLock lock(&broker_->mu_);
      char buffer[256];
      while (conn_->fds[0] >= 0 && read(conn_->fds[0], buffer, sizeof(buffer)) > 0) {
      }
      if (!conn_->broken.ok()) return conn_->broken;
      events.swap(conn_->events);
    }
    // Outside the lock: handlers complete requests, whose callbacks may call the broker.
    for (Event& event : events) {
      switch (event.kind) {
        case Event::Kind::kMessage:
          if (event.message.body_size > max_body_bytes) {
            event.message.oversized = true;
            event.message.body.clear();
          }
          handler.OnMessage(std::move(event.message));
          break;
        case Event::Kind::kConfirm:
          handler.OnConfirm(event.seq, event.multiple, event.ack);
          break;
        case Event::Kind::kReset: {
          {
            absl::MutexLock lock(&broker_->mu_);
            conn_->next_seq = 1;
          }
          handler.OnPublishChannelReset(event.why);
          break;
        }
        case Event::Kind::kCancel:
          handler.OnConsumerCancelled();
          break;
      }
    }
    return absl::OkStatus();
  }

  bool HasBufferedInput() const override {
    absl::MutexLock lock(&broker_->mu_);
    return !conn_->events.empty();
  }

  int fd() const override {
    absl::MutexLock lock(&broker_->mu_);
    return conn_->fds[0];
  }

  int negotiated_heartbeat_seconds() const override {
    absl::MutexLock lock(&broker_->mu_);
    return conn_->heartbeat_seconds;
  }

 private:
  // A publish to a broker that stopped reading: blocks until the socket is shut down, as
  // rabbitmq-c's send() does, then fails. Called with the broker's lock held; releases it.
  absl::StatusOr<uint64_t> Stall() ABSL_UNLOCK_FUNCTION(broker_->mu_) {
    broker_->stall_next_ = false;
    broker_->stalled_ = true;
    const int fd = conn_->fds[0];
    broker_->mu_.Unlock();
    pollfd poller{fd, POLLRDHUP, 0};
    for (int waited_ms = 0; waited_ms < 60000; waited_ms += 100) {
      if (poll(&poller, 1, 100) > 0 && (poller.revents & (POLLHUP | POLLRDHUP))) break;
    }
    absl::MutexLock lock(&broker_->mu_);
    conn_->broken = absl::UnavailableError("publish to fake failed: socket shut down");
    return conn_->broken;
  }

  FakeBroker* const broker_;
  const std::shared_ptr<Conn> conn_;
};

FakeBroker::FakeBroker() = default;

FakeBroker::~FakeBroker() {
  absl::MutexLock lock(&mu_);
  hold_connects_ = false;
}

bridge::AmqpConnector FakeBroker::Connector() {
  return [this](const bridge::AmqpEndpoint& endpoint) { return Open(endpoint); };
}

absl::StatusOr<std::unique_ptr<bridge::AmqpTransport>> FakeBroker::Open(
    const bridge::AmqpEndpoint& endpoint) {
  absl::MutexLock lock(&mu_);
  attempts_.push_back(endpoint);
  mu_.Await(absl::Condition(
      +[](bool* hold) { return !*hold; }, &hold_connects_));
  if (!connect_failures_.empty()) {
    absl::Status failure = connect_failures_.front();
    connect_failures_.pop_front();
    return failure;
  }
  auto conn = std::make_shared<Conn>();
  conn->id = static_cast<int>(conns_.size()) + 1;
  conn->virtual_host = endpoint.virtual_host;
  conn->heartbeat_seconds = heartbeat_seconds_;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, conn->fds) != 0) {
    return absl::InternalError("socketpair failed");
  }
  conns_.push_back(conn);
  return std::unique_ptr<bridge::AmqpTransport>(new Transport(this, std::move(conn)));
}

void FakeBroker::FailNextConnects(int count, absl::Status status) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < count; ++i) connect_failures_.push_back(status);
}

void FakeBroker::HoldConnects() {
  absl::MutexLock lock(&mu_);
  hold_connects_ = true;
}

void FakeBroker::ReleaseConnects() {
  absl::MutexLock lock(&mu_);
  hold_connects_ = false;
}

std::vector<bridge::AmqpEndpoint> FakeBroker::attempts() const {
  absl::MutexLock lock(&mu_);
  return attempts_;
}

bool FakeBroker::AwaitAttempts(size_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return attempts_.size() >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

int FakeBroker::connections() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(conns_.size());
}

void FakeBroker::set_heartbeat_seconds(int seconds) {
  absl::MutexLock lock(&mu_);
  heartbeat_seconds_ = seconds;
}

void FakeBroker::AddExchange(const bridge::ExchangeSpec& spec, bool internal) {
  absl::MutexLock lock(&mu_);
  exchanges_[spec.name] = Exchange{spec, internal};
}

bool FakeBroker::HasExchange(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  return exchanges_.count(name) > 0;
}

size_t FakeBroker::exchange_count() const {
  absl::MutexLock lock(&mu_);
  return exchanges_.size();
}

void FakeBroker::DeleteExchange(const std::string& name) {
  absl::MutexLock lock(&mu_);
  exchanges_.erase(name);
}

bool FakeBroker::HasQueue(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  return queues_.count(name) > 0;
}

void FakeBroker::DeleteQueue(const std::string& name) {
  absl::MutexLock lock(&mu_);
  queues_.erase(name);
  for (const auto& conn : conns_) {
    if (conn->closed || conn->consuming != name) continue;
    conn->consuming.clear();
    Event cancel;
    cancel.kind = Event::Kind::kCancel;
    Push(*conn, std::move(cancel));
  }
}

int FakeBroker::passive_declares() const {
  absl::MutexLock lock(&mu_);
  return passive_declares_;
}

int FakeBroker::active_declares() const {
  absl::MutexLock lock(&mu_);
  return active_declares_;
}

std::vector<std::string> FakeBroker::consumed() const {
  absl::MutexLock lock(&mu_);
  return consumed_;
}

std::vector<FakeBroker::Published> FakeBroker::published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

bool FakeBroker::AwaitPublished(size_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return published_.size() >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void FakeBroker::set_auto_confirm(bool on) {
  absl::MutexLock lock(&mu_);
  auto_confirm_ = on;
}

void FakeBroker::set_on_publish(std::function<void(const Published&)> hook) {
  absl::MutexLock lock(&mu_);
  on_publish_ = std::move(hook);
}

void FakeBroker::StallNextPublish() {
  absl::MutexLock lock(&mu_);
  stall_next_ = true;
}

bool FakeBroker::AwaitStalled(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stalled_), timeout);
}

FakeBroker::Conn* FakeBroker::Current() {
  for (auto it = conns_.rbegin(); it != conns_.rend(); ++it) {
    if (!(*it)->closed && (*it)->broken.ok()) return it->get();
  }
  return nullptr;
}

void FakeBroker::Push(Conn& conn, Event event) {
  if (conn.closed) return;
  conn.events.push_back(std::move(event));
  Signal(conn.fds[1]);
}

void FakeBroker::PushToCurrent(Event event) {
  absl::MutexLock lock(&mu_);
  Conn* conn = Current();
  if (conn == nullptr) return;
  if (event.kind == Event::Kind::kMessage &&
      event.message.kind == bridge::InboundMessage::Kind::kDelivery) {
    event.message.delivery_tag = conn->next_delivery_tag++;
    event.message.routing_key = conn->consuming;
  }
  if (event.kind == Event::Kind::kCancel) conn->consuming.clear();
  Push(*conn, std::move(event));
}

void FakeBroker::Confirm(uint64_t seq, bool multiple, bool ack) {
  Event confirm;
  confirm.kind = Event::Kind::kConfirm;
  confirm.seq = seq;
  confirm.multiple = multiple;
  confirm.ack = ack;
  PushToCurrent(std::move(confirm));
}

void FakeBroker::Return(const Published& message, uint16_t code, const std::string& text) {
  Event returned;
  returned.message.kind = bridge::InboundMessage::Kind::kReturn;
  returned.message.exchange = message.exchange;
  returned.message.routing_key = message.routing_key;
  returned.message.content_type = "application/json";
  returned.message.body = message.body;
  returned.message.body_size = message.body.size();
  returned.message.reply_code = code;
  returned.message.reply_text = text;
  PushToCurrent(std::move(returned));
}

void FakeBroker::Deliver(const std::string& body, const std::string& content_type) {
  Event delivery;
  delivery.message.kind = bridge::InboundMessage::Kind::kDelivery;
  delivery.message.content_type = content_type;
  delivery.message.body = body;
  delivery.message.body_size = body.size();
  PushToCurrent(std::move(delivery));
}

void FakeBroker::CancelConsumer() {
  Event cancel;
  cancel.kind = Event::Kind::kCancel;
  PushToCurrent(std::move(cancel));
}

void FakeBroker::ResetPublishChannel(const absl::Status& why) {
  Event reset;
  reset.kind = Event::Kind::kReset;
  reset.why = why;
  PushToCurrent(std::move(reset));
}

void FakeBroker::DropConnection(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  Conn* conn = Current();
  if (conn == nullptr) return;
  conn->broken = absl::UnavailableError(why.message());
  Signal(conn->fds[1]);
}

void FakeBroker::Poke() {
  absl::MutexLock lock(&mu_);
  Conn* conn = Current();
  if (conn != nullptr) Signal(conn->fds[1]);
}

}  // namespace cellgw::testing
