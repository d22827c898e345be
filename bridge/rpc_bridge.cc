#include "bridge/rpc_bridge.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/cell_connection.h"
#include "bridge/envelope.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "bridge/transport_url.h"
#include "bridge/version.h"

namespace cellgw::bridge {

struct RpcBridge::Cell {
  CellOptions options;
  VersionCaps caps;
  std::string redacted_url;
  std::vector<std::unique_ptr<CellConnection>> connections;
  std::atomic<uint64_t> next_connection{0};
  std::atomic<int> in_flight{0};

  // Takes one of the cell's max_in_flight slots; false when none is free.
  bool Admit() {
    if (in_flight.fetch_add(1, std::memory_order_relaxed) < options.max_in_flight) return true;
    in_flight.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void Release() { in_flight.fetch_sub(1, std::memory_order_relaxed); }

  absl::Status Overloaded() const {
    return absl::ResourceExhaustedError(
        absl::StrCat("cell '", options.name, "': ", options.max_in_flight,
                     " requests already in flight (max_in_flight); retry later"));
  }
  absl::Status CheckSize(const std::string& body) const {
    if (body.size() <= options.max_message_bytes) return absl::OkStatus();
    return absl::ResourceExhaustedError(
        absl::StrCat("args_json: the encoded message is ", body.size(),
                     " bytes; cell '", options.name, "' allows ", options.max_message_bytes,
                     " (max_message_bytes)"));
  }

  // Round-robin over the cell's connections, skipping ones that are down so that one broken
  // connection does not fail every n-th request while others are healthy.
  CellConnection* Pick() {
    const size_t n = connections.size();
    const size_t start = next_connection.fetch_add(1, std::memory_order_relaxed) % n;
    for (size_t i = 0; i < n; ++i) {
      CellConnection* candidate = connections[(start + i) % n].get();
      if (candidate->connected()) return candidate;
    }
    return connections[start].get();
  }

  ExchangeSpec TopicExchange(const Target& target) const {
    ExchangeSpec spec;
    spec.name = bridge::TopicExchange(target, options.control_exchange);
    spec.type = "topic";
    // oslo: durable = amqp_durable_queues or rabbit_quorum_queue; auto_delete =
    // amqp_auto_delete. Any other combination is refused by the broker with 406.
    spec.durable = options.amqp_durable_queues || options.rabbit_quorum_queue;
    spec.auto_delete = options.amqp_auto_delete;
    return spec;
  }
};

namespace {

// Checks that apply to every kind of send: target names and the version cap.
absl::Status CheckTarget(const Target& target, const CellOptions& options,
                         const VersionCaps& caps, SendKind kind) {
  CELLGW_RETURN_IF_ERROR(ValidateTarget(target, options.control_exchange, kind));
  if (!target.version.empty()) {
    absl::StatusOr<Version> version = ParseVersion(target.version);
    if (!version.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("target.version: ", version.status().message()));
    }
  }
  return caps.Check(target.topic, target.version);
}

std::string Describe(const Target& target, absl::string_view exchange, SendKind kind) {
  if (kind == SendKind::kFanout) {
    return absl::StrCat("fanout exchange '", exchange, "'");
  }
  return absl::StrCat("topic '", RoutingKey(target), "' on exchange '", exchange, "'");
}

}  // namespace

absl::StatusOr<std::unique_ptr<RpcBridge>> RpcBridge::Create(std::vector<CellOptions> cells,
                                                             BridgeObserver* observer) {
  if (cells.empty()) return absl::InvalidArgumentError("cells: at least one cell is required");
  std::vector<std::unique_ptr<Cell>> built;
  for (CellOptions& options : cells) {
    const std::string where = absl::StrCat("cells[", options.name, "]");
    for (const auto& other : built) {
      if (other->options.name == options.name) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".name: duplicate cell name"));
      }
    }
    absl::StatusOr<TransportUrl> url = ParseTransportUrl(options.transport_url);
    if (!url.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".transport_url: ", url.status().message()));
    }
    absl::StatusOr<VersionCaps> caps =
        VersionCaps::Create(options.upgrade_levels, options.version_aliases);
    if (!caps.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", caps.status().message()));
    }
    if (options.connections < 1) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".connections: must be >= 1"));
    }
    if (options.max_in_flight < 1) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".max_in_flight: must be >= 1"));
    }
    if (options.ssl && options.ssl_ca_file.empty()) {
      // Never TLS without verifying the broker: that would only look secure.
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".ssl_ca_file: required with ssl (the broker's certificate is "
                              "always verified)"));
    }
    auto cell = std::make_unique<Cell>();
    cell->caps = *std::move(caps);
    cell->redacted_url = RedactTransportUrl(options.transport_url);
    for (int i = 0; i < options.connections; ++i) {
      CellConnectionOptions connection_options;
      connection_options.cell = options.name;
      connection_options.index = i;
      connection_options.url = *url;
      connection_options.heartbeat = options.heartbeat_timeout_threshold;
      connection_options.max_message_bytes = options.max_message_bytes;
      connection_options.tls.enabled = options.ssl;
      connection_options.tls.ca_file = options.ssl_ca_file;
      connection_options.tls.cert_file = options.ssl_cert_file;
      connection_options.tls.key_file = options.ssl_key_file;
      cell->connections.push_back(
          std::make_unique<CellConnection>(std::move(connection_options), observer));
    }
    cell->options = std::move(options);
    built.push_back(std::move(cell));
  }
  return std::unique_ptr<RpcBridge>(new RpcBridge(std::move(built), observer));
}

RpcBridge::RpcBridge(std::vector<std::unique_ptr<Cell>> cells, BridgeObserver* observer)
    : cells_(std::move(cells)), observer_(observer) {}

RpcBridge::~RpcBridge() { Stop(); }

void RpcBridge::Start() {
  for (auto& cell : cells_) {
    for (auto& connection : cell->connections) connection->Start();
  }
}

bool RpcBridge::WaitForConnections(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  bool all = true;
  for (auto& cell : cells_) {
    for (auto& connection : cell->connections) {
      all = connection->WaitForFirstAttempt(
                std::max(deadline - absl::Now(), absl::ZeroDuration())) &&
            all;
    }
  }
  return all;
}

void RpcBridge::Stop() {
  for (auto& cell : cells_) {
    for (auto& connection : cell->connections) connection->Stop();
  }
}

absl::StatusOr<RpcBridge::Cell*> RpcBridge::Route(const RpcRequest& request) const {
  if (request.cell.empty()) {
    if (cells_.size() == 1) return cells_.front().get();
    return absl::InvalidArgumentError(
        "target.cell: required when the gateway serves more than one cell");
  }
  for (const auto& cell : cells_) {
    if (cell->options.name == request.cell) return cell.get();
  }
  return absl::NotFoundError(absl::StrCat("target.cell: unknown cell '", request.cell, "'"));
}

void RpcBridge::Cast(const RpcRequest& request, SendCallback done) {
  Send(request, SendKind::kCast, std::move(done));
}

void RpcBridge::Fanout(const RpcRequest& request, SendCallback done) {
  Send(request, SendKind::kFanout, std::move(done));
}

void RpcBridge::Send(const RpcRequest& request, SendKind kind, SendCallback done) {
  absl::StatusOr<Cell*> routed = Route(request);
  if (!routed.ok()) return done(routed.status());
  Cell& cell = **routed;
  if (absl::Status status = CheckTarget(request.target, cell.options, cell.caps, kind);
      !status.ok()) {
    return done(status);
  }
  std::string unique_id = NewUuidHex();
  RequestMessage message;
  message.method = request.method;
  message.args_json = request.args_json;
  message.context_json = request.context_json;
  message.namespace_ = request.target.namespace_;
  message.version = request.target.version;
  message.unique_id = unique_id;
  absl::StatusOr<std::string> body = EncodeRequest(message);
  if (!body.ok()) return done(body.status());
  if (absl::Status size = cell.CheckSize(*body); !size.ok()) return done(size);
  if (!cell.Admit()) return done(cell.Overloaded());

  Outbound out;
  if (kind == SendKind::kFanout) {
    // oslo's fanout exchange ignores Target.exchange: always <topic>_fanout, transient,
    // auto-delete, published with an empty routing key.
    out.exchange.name = FanoutExchange(request.target);
    out.exchange.type = "fanout";
    out.exchange.durable = false;
    out.exchange.auto_delete = true;
  } else {
    out.exchange = cell.TopicExchange(request.target);
    out.routing_key = RoutingKey(request.target);
  }
  out.destination = Describe(request.target, out.exchange.name, kind);
  out.body = *std::move(body);
  // A cast to a topic nobody consumes would vanish silently; mandatory makes the broker say
  // so. Fanout stays non-mandatory: an empty fanout (no server up yet) is normal in a cell.
  out.mandatory = kind == SendKind::kCast;
  out.unique_id = unique_id;
  out.on_confirmed = [&cell, done = std::move(done), unique_id](absl::Status status) {
    cell.Release();
    if (!status.ok()) return done(status);
    done(SendResult{unique_id});
  };
  cell.Pick()->Submit(std::move(out));
}

void RpcBridge::Call(const RpcRequest& request, const CallOptions& options, CallCallback done) {
  absl::StatusOr<Cell*> routed = Route(request);
  if (!routed.ok()) return done(routed.status());
  Cell& cell = **routed;
  if (absl::Status status = CheckTarget(request.target, cell.options, cell.caps, SendKind::kCall);
      !status.ok()) {
    return done(status);
  }
  const absl::Time now = absl::Now();
  const absl::Duration timeout = options.timeout > absl::ZeroDuration()
                                     ? options.timeout
                                     : cell.options.rpc_response_timeout;
  const absl::Time deadline = std::min(options.deadline, now + timeout);
  if (deadline <= now) {
    return done(absl::DeadlineExceededError("the call's deadline had passed before it was sent"));
  }
  CellConnection* connection = cell.Pick();
  std::string msg_id = NewUuidHex();
  std::string unique_id = NewUuidHex();
  RequestMessage message;
  message.method = request.method;
  message.args_json = request.args_json;
  message.context_json = request.context_json;
  message.namespace_ = request.target.namespace_;
  message.version = request.target.version;
  message.msg_id = msg_id;
  message.reply_q = connection->reply_queue();
  if (options.call_monitor_timeout > absl::ZeroDuration()) {
    message.call_monitor_timeout_s = absl::ToInt64Seconds(
        absl::Ceil(options.call_monitor_timeout, absl::Seconds(1)));
  }
  message.unique_id = unique_id;
  absl::StatusOr<std::string> body = EncodeRequest(message);
  if (!body.ok()) return done(body.status());
  if (absl::Status size = cell.CheckSize(*body); !size.ok()) return done(size);
  if (!cell.Admit()) return done(cell.Overloaded());

  Outbound out;
  out.exchange = cell.TopicExchange(request.target);
  out.routing_key = RoutingKey(request.target);
  out.destination = Describe(request.target, out.exchange.name, SendKind::kCall);
  out.body = *std::move(body);
  out.mandatory = true;
  // As oslo: the request's AMQP TTL is the call timeout, so a request no server takes in
  // time is dropped by the broker instead of running after its caller gave up.
  out.expiration = absl::StrCat(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(deadline - now,
                                                                absl::Milliseconds(1)))));
  out.unique_id = std::move(unique_id);
  out.msg_id = msg_id;
  out.deadline = deadline;
  if (message.call_monitor_timeout_s.has_value()) {
    out.monitor = absl::Seconds(*message.call_monitor_timeout_s);
  }
  out.on_reply = [&cell, done = std::move(done), msg_id](absl::StatusOr<Reply> reply) {
    cell.Release();
    if (!reply.ok()) return done(reply.status());
    CallResult result;
    result.msg_id = msg_id;
    result.result_json = std::move(reply->result_json);
    result.failure = std::move(reply->failure);
    done(std::move(result));
  };
  connection->Submit(std::move(out));
}

std::vector<CellStatus> RpcBridge::ListCells() const {
  std::vector<CellStatus> cells;
  for (const auto& cell : cells_) {
    CellStatus status;
    status.name = cell->options.name;
    status.connected = std::any_of(cell->connections.begin(), cell->connections.end(),
                                   [](const auto& c) { return c->connected(); });
    status.redacted_transport_url = cell->redacted_url;
    status.control_exchange = cell->options.control_exchange;
    cells.push_back(std::move(status));
  }
  return cells;
}

absl::StatusOr<bool> RpcBridge::CellConnected(absl::string_view name) const {
  for (const auto& cell : cells_) {
    if (cell->options.name != name) continue;
    return std::any_of(cell->connections.begin(), cell->connections.end(),
                       [](const auto& c) { return c->connected(); });
  }
  return absl::NotFoundError(absl::StrCat("unknown cell '", name, "'"));
}

}  // namespace cellgw::bridge
