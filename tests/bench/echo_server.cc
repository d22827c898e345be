// echo_server: a native oslo.messaging RPC server for the benchmark, so cellgw can be measured
// without Python on the other side. Built on the bridge: bridge::AmqpConnection for the
// connection, consumers and reply publishes, bridge/envelope.h for decoding requests and
// encoding replies byte for byte as oslo's server does.
//
//   echo_server --url=rabbit://guest:guest@127.0.0.1:5672/ --topic=bench_native
//               [--server=echo1] [--exchange=openstack] [--fanout=true]
//
// Topology, as an oslo RPC server declares it (wire spec §3): topic exchange <exchange>
// (topic, durable=false, auto_delete=false); queues <topic> and <topic>.<server> (classic,
// durable=false, auto_delete=false, no arguments) bound with their own names as keys; with
// --fanout, exchange <topic>_fanout (fanout, durable=false, auto_delete=true) and queue
// <topic>_fanout_<uuid hex> (x-expires 1800000) bound to it, deleted again on a clean stop.
// bridge::AmqpConnection has no queue.bind or queue.delete, so those go through a short-lived
// plain rabbitmq-c connection (tests/bench/raw_amqp.h) before consuming and after stopping.
//
// Behaviour per request (wire spec §7, §7.1, §7.2):
//   * method "echo" (any namespace or version): the reply's result is
//     {"ctxt": <request context + "client_timeout": <_timeout or null>>, "kw": <args>,
//      "server": "<--server>"}, the same shape as tests/support/oslo_server.py's echo, so a
//     benchmark moves the same bytes whichever server answers;
//   * any other method: oslo's NoSuchMethod failure ("Endpoint does not support RPC method
//     <m>", module oslo_messaging.rpc.dispatcher, args [message], kwargs {});
//   * no _msg_id: a cast, counted and never answered; _msg_id without _reply_q, bodies that do
//     not decode and non-JSON content types are dropped without a reply, as oslo does;
//   * replies go to the default exchange with routing key = _reply_q, mandatory, oslo's
//     properties, a fresh _unique_id, ending true. A returned reply is counted, not retried.
// Acknowledgement: bridge::AmqpConnection acknowledges what it received at the end of each read
// pass, before the requests are answered; oslo's server acks each message at once, before
// dispatch (at-most-once). Replies are published without publisher confirms, as oslo's are.
//
// One thread owns the connection; it waits in poll() on the socket and a signalfd.
// stdout is one JSON line per event: {"event": "ready", ...} once consuming, and
// {"event": "stopped", "calls", "casts", "dropped", "returned"} after SIGTERM/SIGINT (exit 0).
// Exit 1 when the broker cannot be reached or the connection is lost, 2 on bad flags.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bridge/amqp_connection.h"
#include "bridge/envelope.h"
#include "common/ids.h"
#include "common/json_text.h"
#include "bridge/remote_failure.h"
#include "bridge/transport_url.h"
#include "tests/bench/bench_stats.h"
#include "tests/bench/raw_amqp.h"

ABSL_FLAG(std::string, url, "", "oslo.messaging transport URL of the broker (first host used)");
ABSL_FLAG(std::string, topic, "bench_native", "Target.topic to serve");
ABSL_FLAG(std::string, server, "echo1", "Target.server (names the <topic>.<server> queue)");
ABSL_FLAG(std::string, exchange, "openstack", "topic exchange (oslo's control_exchange)");
ABSL_FLAG(bool, fanout, true, "also consume a <topic>_fanout queue, as oslo servers do");

namespace cellgw::bench {
namespace {

constexpr uint64_t kMaxBodyBytes = 64ull << 20;
constexpr int32_t kFanoutQueueExpiresMs = 1800000;  // oslo's rabbit_transient_queues_ttl

void Emit(const JsonLine& line) {
  std::printf("%s\n", line.Build().c_str());
  std::fflush(stdout);
}

// The context oslo hands the endpoint: the request's context plus client_timeout.
std::string EndpointContext(const bridge::DecodedRequest& request) {
  std::string context = request.context_json;  // "{...}" rebuilt by DecodeRequest
  context.pop_back();
  if (context.size() > 1) context.append(", ");
  absl::StrAppend(&context, "\"client_timeout\": ",
                  request.timeout_json.has_value() ? *request.timeout_json : "null", "}");
  return context;
}

class EchoServer : public bridge::AmqpConnection::Handler {
 public:
  explicit EchoServer(std::string server) : server_(std::move(server)) {
    json::AppendQuoted(server_, &quoted_server_).IgnoreError();
  }

  void OnMessage(bridge::InboundMessage message) override {
    if (message.kind == bridge::InboundMessage::Kind::kReturn) {
      ++returned_;
      return;
    }
    // oslo rejects (drops) anything that is not exactly application/json (wire spec §5).
    if (message.oversized || message.content_type != "application/json") {
      ++dropped_;
      return;
    }
    absl::StatusOr<bridge::DecodedRequest> request = bridge::DecodeRequest(message.body);
    if (!request.ok()) {
      ++dropped_;
      return;
    }
    if (request->msg_id.empty()) {
      ++casts_;
      return;
    }
    if (request->reply_q.empty()) {
      ++dropped_;
      return;
    }
    absl::StatusOr<std::string> reply = Answer(*request);
    if (!reply.ok()) {
      ++dropped_;
      return;
    }
    ++calls_;
    replies_.push_back(Reply{std::move(request->reply_q), *std::move(reply)});
  }

  void OnConfirm(uint64_t, bool, bool) override {}  // no confirms: publisher_confirms = false
  void OnPublishChannelReset(const absl::Status& why) override {
    std::fprintf(stderr, "echo_server: publish channel reset: %s\n",
                 std::string(why.message()).c_str());
  }
  void OnConsumerCancelled() override { cancelled_ = true; }

  // Publishes the replies gathered by the last ReadAvailable, in arrival order.
  absl::Status Flush(bridge::AmqpConnection& conn) {
    for (const Reply& reply : replies_) {
      bridge::PublishSpec spec;
      spec.exchange = "";
      spec.routing_key = reply.reply_q;
      spec.body = reply.body;
      spec.mandatory = true;
      absl::StatusOr<uint64_t> seq = conn.Publish(spec);
      if (!seq.ok()) return seq.status();
    }
    replies_.clear();
    return absl::OkStatus();
  }

  bool cancelled() const { return cancelled_; }

  JsonLine Stats() const {
    JsonLine line;
    line.Add("event", "stopped")
        .Add("calls", calls_)
        .Add("casts", casts_)
        .Add("dropped", dropped_)
        .Add("returned", returned_);
    return line;
  }

 private:
  struct Reply {
    std::string reply_q;
    std::string body;
  };

  absl::StatusOr<std::string> Answer(const bridge::DecodedRequest& request) const {
    if (request.method == "echo") {
      const std::string result =
          absl::StrCat("{\"ctxt\": ", EndpointContext(request), ", \"kw\": ", request.args_json,
                       ", \"server\": ", quoted_server_, "}");
      return bridge::EncodeReply(request.msg_id, result, nullptr, /*ending=*/true,
                                 NewUuidHex());
    }
    bridge::RemoteFailure failure;
    failure.exception_class = "NoSuchMethod";
    failure.exception_module = "oslo_messaging.rpc.dispatcher";
    failure.message = absl::StrCat("Endpoint does not support RPC method ", request.method);
    std::string args = "[";
    json::AppendQuotedLossy(failure.message, &args);
    args.push_back(']');
    failure.args_json = std::move(args);
    return bridge::EncodeReply(request.msg_id, "null", &failure, /*ending=*/true,
                               NewUuidHex());
  }

  const std::string server_;
  std::string quoted_server_;
  std::vector<Reply> replies_;
  int64_t calls_ = 0;
  int64_t casts_ = 0;
  int64_t dropped_ = 0;
  int64_t returned_ = 0;
  bool cancelled_ = false;
};

struct Topology {
  std::string topic_queue;
  std::string server_queue;
  std::string fanout_queue;  // empty without --fanout
};

// Declares and binds what an oslo RPC server declares, on a short-lived plain connection.
absl::StatusOr<Topology> DeclareTopology(const bridge::TransportUrl& url,
                                         const std::string& exchange, const std::string& topic,
                                         const std::string& server, bool fanout) {
  absl::StatusOr<std::unique_ptr<RawConnection>> conn = RawConnection::Open(url, 0);
  if (!conn.ok()) return conn.status();
  RawConnection& c = **conn;
  Topology topology;
  topology.topic_queue = topic;
  topology.server_queue = absl::StrCat(topic, ".", server);
  absl::Status status = c.OpenChannel(1);
  if (status.ok()) status = c.DeclareExchange(1, exchange, "topic", false, false);
  for (const std::string* queue : {&topology.topic_queue, &topology.server_queue}) {
    if (!status.ok()) break;
    status = c.DeclareQueue(1, *queue, false, false, false, 0).status();
    if (status.ok()) status = c.BindQueue(1, *queue, exchange, *queue);
  }
  if (status.ok() && fanout) {
    const std::string fanout_exchange = absl::StrCat(topic, "_fanout");
    topology.fanout_queue = absl::StrCat(topic, "_fanout_", NewUuidHex());
    status = c.DeclareExchange(1, fanout_exchange, "fanout", false, true);
    if (status.ok()) {
      status = c.DeclareQueue(1, topology.fanout_queue, false, false, false, kFanoutQueueExpiresMs)
                   .status();
    }
    if (status.ok()) status = c.BindQueue(1, topology.fanout_queue, fanout_exchange, topic);
  }
  if (!status.ok()) return status;
  return topology;
}

int Main() {
  absl::StatusOr<bridge::TransportUrl> url = bridge::ParseTransportUrl(absl::GetFlag(FLAGS_url));
  const std::string topic = absl::GetFlag(FLAGS_topic);
  const std::string server = absl::GetFlag(FLAGS_server);
  const std::string exchange = absl::GetFlag(FLAGS_exchange);
  if (!url.ok() || topic.empty() || server.empty() || exchange.empty()) {
    std::fprintf(stderr, "echo_server: %s\n",
                 url.ok() ? "--topic, --server and --exchange must not be empty"
                          : std::string(url.status().message()).c_str());
    return 2;
  }
  // Blocked before anything else so that the signals only ever arrive through the signalfd.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);

  absl::StatusOr<Topology> topology =
      DeclareTopology(*url, exchange, topic, server, absl::GetFlag(FLAGS_fanout));
  if (!topology.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", std::string(topology.status().message()).c_str());
    return 1;
  }
  const bridge::BrokerHost& host = url->hosts.front();
  bridge::AmqpEndpoint endpoint;
  endpoint.host = host.host;
  endpoint.port = host.port;
  endpoint.username = host.username;
  endpoint.password = host.password;
  endpoint.virtual_host = url->virtual_host;
  endpoint.connection_name = absl::StrCat("cellgw-echo-server:", getpid(), ":", server);
  // oslo's server publishes replies without publisher confirms; confirming them would charge
  // the broker (and so the measured gateway) for work an oslo deployment does not do.
  endpoint.publisher_confirms = false;
  absl::StatusOr<std::unique_ptr<bridge::AmqpConnection>> conn =
      bridge::AmqpConnection::Open(endpoint);
  absl::Status status = conn.status();
  for (const std::string* queue :
       {&topology->topic_queue, &topology->server_queue, &topology->fanout_queue}) {
    if (!status.ok() || queue->empty()) continue;
    status = (*conn)->Consume(*queue);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  JsonLine ready;
  ready.Add("event", "ready")
      .Add("server", server)
      .Add("topic", topic)
      .Add("exchange", exchange)
      .Add("pid", static_cast<int64_t>(getpid()));
  Emit(ready);

  EchoServer handler(server);
  bridge::AmqpConnection& amqp = **conn;
  const int heartbeat = amqp.negotiated_heartbeat_seconds();
  const int wait_ms = heartbeat > 0 ? std::min(1000, heartbeat * 500) : 1000;
  for (;;) {
    if (!amqp.HasBufferedInput()) {
      pollfd fds[2] = {{signal_fd, POLLIN, 0}, {amqp.fd(), POLLIN, 0}};
      poll(fds, 2, wait_ms);
      if (fds[0].revents & POLLIN) break;
    }
    status = amqp.ReadAvailable(handler, kMaxBodyBytes);
    if (status.ok()) status = handler.Flush(amqp);
    if (status.ok() && handler.cancelled()) {
      status = absl::UnavailableError("the broker cancelled a consumer (queue deleted?)");
    }
    if (!status.ok()) {
      std::fprintf(stderr, "echo_server: %s\n", std::string(status.message()).c_str());
      return 1;
    }
  }
  conn->reset();
  // oslo deletes its fanout queue on a graceful stop; the auto-delete exchange then goes too.
  if (!topology->fanout_queue.empty()) {
    absl::StatusOr<std::unique_ptr<RawConnection>> cleanup = RawConnection::Open(*url, 0);
    if (cleanup.ok() && (*cleanup)->OpenChannel(1).ok()) {
      (*cleanup)->DeleteQueue(1, topology->fanout_queue).IgnoreError();
    }
  }
  Emit(handler.Stats());
  return 0;
}

}  // namespace
}  // namespace cellgw::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cellgw::bench::Main();
}
