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
  // At a request's completion: frees its slot and says whether its `done` may run. False
  // when its caller withdrew it first (the cancellation freed the slot then).
  bool Settle(const std::shared_ptr<Cancellation>& cancellation) {
    if (cancellation != nullptr && !cancellation->Claim()) return false;
    Release();
    return true;
  }

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

  // Where a message of `kind` to `target` goes: its exchange (and what to do when that is
  // missing), routing key, mandatory flag and description for errors.
  void Address(const Target& target, SendKind kind, Outbound& out) const {
    if (kind == SendKind::kFanout) {
      // oslo's fanout exchange ignores Target.exchange: always <topic>_fanout, transient,
      // auto-delete, published with an empty routing key. Only oslo's servers create it:
      // while none of the topic runs, a fanout reaches nobody, as oslo's would.
      out.exchange.name = FanoutExchange(target);
      out.exchange.type = "fanout";
      out.exchange.durable = false;
      out.exchange.auto_delete = true;
      out.if_missing = MissingExchange::kNobodyListens;
    } else {
      out.exchange.name = TopicExchange(target, options.control_exchange);
      out.exchange.type = "topic";
      // oslo: durable = amqp_durable_queues or rabbit_quorum_queue; auto_delete =
      // amqp_auto_delete. Any other combination is refused by the broker with 406.
      out.exchange.durable = options.amqp_durable_queues || options.rabbit_quorum_queue;
      out.exchange.auto_delete = options.amqp_auto_delete;
      // Callers name exchanges: only the cell's own is ever created (exchange_registry.h).
      out.if_missing = out.exchange.name == options.control_exchange
                           ? MissingExchange::kCreate
                           : MissingExchange::kRefuse;
      out.routing_key = RoutingKey(target);
    }
    out.destination = Describe(target, out.exchange.name, kind);
    // A cast or call to a topic nobody consumes would vanish silently (or wait out its
    // deadline); mandatory makes the broker say so. Fanout stays non-mandatory: an empty
    // fanout (no server up yet) is normal in a cell.
    out.mandatory = kind != SendKind::kFanout;
  }
};

absl::StatusOr<std::unique_ptr<RpcBridge>> RpcBridge::Create(std::vector<CellOptions> cells,
                                                             BridgeObserver* observer,
                                                             ConnectionEnv env) {
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
          std::make_unique<CellConnection>(std::move(connection_options), observer, env));
    }
    cell->options = std::move(options);
    built.push_back(std::move(cell));
  }
  Clock* clock = env.clock != nullptr ? env.clock : &Clock::Real();
  return std::unique_ptr<RpcBridge>(new RpcBridge(std::move(built), observer, clock));
}

RpcBridge::RpcBridge(std::vector<std::unique_ptr<Cell>> cells, BridgeObserver* observer,
                     Clock* clock)
    : cells_(std::move(cells)), observer_(observer), clock_(clock) {}

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

void RpcBridge::Cast(const RpcRequest& request, const SendOptions& options,
                     SendCallback done) {
  Send(request, SendKind::kCast, options, std::move(done));
}

void RpcBridge::Fanout(const RpcRequest& request, const SendOptions& options,
                       SendCallback done) {
  Send(request, SendKind::kFanout, options, std::move(done));
}

void RpcBridge::Send(const RpcRequest& request, SendKind kind, const SendOptions& options,
                     SendCallback done) {
  CallOptions send;
  send.deadline = options.deadline;
  send.cancellation = options.cancellation;
  absl::StatusOr<Prepared> prepared = Prepare(request, kind, send);
  if (!prepared.ok()) return done(prepared.status());
  Cell& cell = *prepared->cell;
  Outbound& out = prepared->message;
  out.on_confirmed = [&cell, done = std::move(done), unique_id = out.unique_id,
                      cancellation = out.cancellation](absl::Status status) {
    if (!cell.Settle(cancellation)) return;
    if (!status.ok()) return done(status);
    done(SendResult{unique_id});
  };
  prepared->connection->Submit(std::move(out));
}

void RpcBridge::Call(const RpcRequest& request, const CallOptions& options, CallCallback done) {
  absl::StatusOr<Prepared> prepared = Prepare(request, SendKind::kCall, options);
  if (!prepared.ok()) return done(prepared.status());
  Cell& cell = *prepared->cell;
  Outbound& out = prepared->message;
  out.on_reply = [&cell, done = std::move(done), msg_id = out.msg_id,
                  cancellation = out.cancellation](absl::StatusOr<Reply> reply) {
    if (!cell.Settle(cancellation)) return;
    if (!reply.ok()) return done(reply.status());
    CallResult result;
    result.msg_id = msg_id;
    result.result_json = std::move(reply->result_json);
    result.failure = std::move(reply->failure);
    done(std::move(result));
  };
  prepared->connection->Submit(std::move(out));
}

absl::StatusOr<RpcBridge::Prepared> RpcBridge::Prepare(const RpcRequest& request,
                                                       SendKind kind,
                                                       const CallOptions& call) const {
  CELLGW_ASSIGN_OR_RETURN(Cell* cell, Route(request));
  CELLGW_RETURN_IF_ERROR(CheckTarget(request.target, cell->options, cell->caps, kind));
  Prepared prepared;
  prepared.cell = cell;
  prepared.connection = cell->Pick();
  Outbound& out = prepared.message;
  out.unique_id = NewUuidHex();
  RequestMessage message;
  message.method = request.method;
  message.args_json = request.args_json;
  message.context_json = request.context_json;
  message.namespace_ = request.target.namespace_;
  message.version = request.target.version;
  message.unique_id = out.unique_id;
  const absl::Time now = clock_->Now();
  if (call.deadline <= now) {
    return absl::DeadlineExceededError("the caller's deadline had passed before it was sent");
  }
  out.publish_by = call.deadline;
  if (kind == SendKind::kCall) {
    const absl::Duration timeout = call.timeout > absl::ZeroDuration()
                                       ? call.timeout
                                       : cell->options.rpc_response_timeout;
    out.deadline = std::min(call.deadline, now + timeout);
    out.publish_by = out.deadline;
    // As oslo: the request's AMQP TTL is the call timeout, so a request no server takes in
    // time is dropped by the broker instead of running after its caller gave up.
    out.expiration = absl::StrCat(std::max<int64_t>(
        1, absl::ToInt64Milliseconds(absl::Ceil(out.deadline - now, absl::Milliseconds(1)))));
    out.msg_id = NewUuidHex();
    message.msg_id = out.msg_id;
    message.reply_q = prepared.connection->reply_queue();
    if (call.call_monitor_timeout > absl::ZeroDuration()) {
      message.call_monitor_timeout_s = absl::ToInt64Seconds(
          absl::Ceil(call.call_monitor_timeout, absl::Seconds(1)));
      out.monitor = absl::Seconds(*message.call_monitor_timeout_s);
    }
  }
  // The one encoding of this request: what is sent, and what the broker may return.
  CELLGW_ASSIGN_OR_RETURN(out.body, EncodeRequest(message));
  CELLGW_RETURN_IF_ERROR(cell->CheckSize(out.body));
  cell->Address(request.target, kind, out);
  // Last: every refusal above leaves the cell's slots alone.
  if (!cell->Admit()) return cell->Overloaded();
  if (call.cancellation != nullptr) {
    // A withdrawn call also leaves its connection's correlator, so that what a caller
    // cancels holds neither a slot nor memory.
    std::function<void()> on_cancel = [cell] { cell->Release(); };
    if (kind == SendKind::kCall) {
      on_cancel = [cell, connection = prepared.connection, msg_id = out.msg_id] {
        cell->Release();
        connection->Withdraw(msg_id);
      };
    }
    if (!call.cancellation->Attach(std::move(on_cancel))) {
      cell->Release();
      return absl::CancelledError("the caller cancelled the request");
    }
    out.cancellation = call.cancellation;
  }
  return prepared;
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
