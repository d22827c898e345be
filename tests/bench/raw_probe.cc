// raw_probe: what RabbitMQ itself allows on this machine, with no gateway, no gRPC and no JSON
// processing: plain rabbitmq-c, one connection and one thread per process.
//
//   raw_probe --mode=server  --url=URL [--topic=bench_raw] [--exchange=openstack]
//   raw_probe --mode=client  --url=URL [--topic=bench_raw] --concurrency=64 --payload_bytes=256
//             [--warmup_s=1 --duration_s=5 | --count=N] [--watch=...]
//   raw_probe --mode=publish --url=URL --topic=bench_native --concurrency=64 ...
//
// server: declares the topic exchange, queue <topic> bound with key <topic>, consumes it with
//   automatic acknowledgement (as the native echo server does), and answers every delivery by
//   publishing its body back to the default exchange with routing key = reply_to, mandatory,
//   correlation_id copied. Prints {"event": "ready"} and, after SIGTERM/SIGINT,
//   {"event": "stopped", "calls": n}.
// client: request/reply with `concurrency` requests in flight, pipelined on one connection.
//   Each request is the exact body cellgw would publish for a call of the same payload (an oslo
//   2.0 envelope made by bridge::EncodeRequest), published as cellgw publishes calls
//   (mandatory, expiration, oslo properties) plus reply_to and correlation_id, which stand in
//   for oslo's _reply_q and _msg_id so that no side parses JSON. Replies come on a
//   server-named exclusive queue consumed with automatic acknowledgement.
// publish: the confirmed-publisher ceiling for casts: publisher confirms on, `concurrency`
//   unconfirmed publishes in flight, each the body cellgw would publish for a cast, mandatory
//   as cellgw's casts are; latency is publish to confirm.
// --confirms (server, client): the same request/reply, with the reply (server) or request
//   (client) channel in confirm mode, to measure what publisher confirms cost the broker.
//
// client and publish print the same JSON line as cellgw-bench (tests/bench/bench_stats.h) on
// stdout and a human line on stderr. Exit 1 on broker errors, 2 on bad flags.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bridge/envelope.h"
#include "common/ids.h"
#include "bridge/transport_url.h"
#include "tests/bench/bench_stats.h"
#include "tests/bench/raw_amqp.h"

ABSL_FLAG(std::string, mode, "client", "server | client | publish");
ABSL_FLAG(std::string, url, "", "oslo.messaging transport URL of the broker (first host used)");
ABSL_FLAG(std::string, topic, "bench_raw", "routing key and queue name");
ABSL_FLAG(std::string, exchange, "openstack", "topic exchange");
ABSL_FLAG(int, payload_bytes, 256, "size of the string in args {\"payload\": \"xxx...\"}");
ABSL_FLAG(int, concurrency, 64, "requests (client) or unconfirmed publishes (publish) in flight");
ABSL_FLAG(double, warmup_s, 1, "seconds of load before the measured window");
ABSL_FLAG(double, duration_s, 5, "measured window in seconds (ignored with --count)");
ABSL_FLAG(int64_t, count, 0, "when > 0: send exactly this many and measure them all");
ABSL_FLAG(double, timeout_s, 30, "give up on what is still in flight this long after the end");
ABSL_FLAG(std::string, watch, "",
          "processes to report CPU/memory of: name=PID,name=pg:PGID,name=self,name=machine");
ABSL_FLAG(std::string, label, "", "free text copied into the JSON line");
ABSL_FLAG(bool, confirms, false,
          "server: put the reply channel in confirm mode (as oslo servers and the native echo "
          "server publish replies); client: put the request channel in confirm mode (as cellgw "
          "publishes calls). The acks are read and ignored. Measures what confirms cost the "
          "broker. publish mode always uses confirms");

namespace cellgw::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr amqp_channel_t kChannel = 1;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "raw_probe: %s\n", std::string(status.message()).c_str());
  return 1;
}

// ---- server ----------------------------------------------------------------------------

class EchoBack : public RawConnection::Handler {
 public:
  explicit EchoBack(RawConnection* conn) : conn_(conn) {}
  void OnMessage(const RawMessage& message) override {
    if (message.returned || message.reply_to.empty()) return;
    status_.Update(conn_->Publish(kChannel, "", message.reply_to, /*mandatory=*/true, message.body,
                                  {}, message.correlation_id));
    ++calls_;
  }
  const absl::Status& status() const { return status_; }
  int64_t calls() const { return calls_; }

 private:
  RawConnection* conn_;
  absl::Status status_;
  int64_t calls_ = 0;
};

int RunServer(const bridge::TransportUrl& url, const std::string& exchange,
              const std::string& topic) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);

  absl::StatusOr<std::unique_ptr<RawConnection>> opened = RawConnection::Open(url, 0);
  if (!opened.ok()) return Fail(opened.status());
  RawConnection& conn = **opened;
  absl::Status status = conn.OpenChannel(kChannel);
  if (status.ok()) status = conn.DeclareExchange(kChannel, exchange, "topic", false, false);
  if (status.ok()) status = conn.DeclareQueue(kChannel, topic, false, false, false, 0).status();
  if (status.ok()) status = conn.BindQueue(kChannel, topic, exchange, topic);
  if (status.ok()) status = conn.Consume(kChannel, topic, /*no_ack=*/true);
  if (status.ok() && absl::GetFlag(FLAGS_confirms)) status = conn.ConfirmSelect(kChannel);
  if (!status.ok()) return Fail(status);
  JsonLine ready;
  ready.Add("event", "ready").Add("topic", topic).Add("pid", static_cast<int64_t>(getpid()));
  std::printf("%s\n", ready.Build().c_str());
  std::fflush(stdout);

  EchoBack handler(&conn);
  for (;;) {
    if (!conn.HasBufferedInput()) {
      pollfd fds[2] = {{signal_fd, POLLIN, 0}, {conn.fd(), POLLIN, 0}};
      poll(fds, 2, 1000);
      if (fds[0].revents & POLLIN) break;
    }
    status = conn.Pump(absl::ZeroDuration(), handler);
    if (status.ok()) status = handler.status();
    if (!status.ok()) return Fail(status);
  }
  JsonLine stopped;
  stopped.Add("event", "stopped").Add("calls", handler.calls());
  std::printf("%s\n", stopped.Build().c_str());
  return 0;
}

// ---- client and publisher ----------------------------------------------------------------

struct Window {
  bool count_mode = false;
  int64_t count = 0;
  Clock::time_point warmup_end;
  Clock::time_point end;
};

// The load loop both client modes share: keep `concurrency` in flight, record what
// completes inside the window, sample CPU and context switches at the window's edges and
// memory at its end.
class Runner : public RawConnection::Handler {
 public:
  Runner(RawConnection* conn, bool publish_mode, std::string body, std::string reply_queue,
         std::string exchange, std::string topic, int concurrency, Window window,
         std::vector<WatchedProcess> watched)
      : conn_(conn),
        publish_mode_(publish_mode),
        body_(std::move(body)),
        reply_queue_(std::move(reply_queue)),
        exchange_(std::move(exchange)),
        topic_(std::move(topic)),
        concurrency_(concurrency),
        window_(window),
        watched_(std::move(watched)) {}

  // Returns once everything sent has completed after the window, or `stall_timeout` passed
  // without any completion (what is left is then counted as TIMEOUT errors).
  absl::Status Run(absl::Duration stall_timeout) {
    const auto stall = absl::ToChronoMicroseconds(stall_timeout);
    measuring_ = window_.count_mode;
    if (measuring_) Begin();
    last_progress_ = Clock::now();
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (!window_.count_mode) {
        if (!measuring_ && !ended_ && now >= window_.warmup_end) {
          Begin();
          measuring_ = true;
        }
        if (measuring_ && now >= window_.end) End(now);
      }
      const bool sending_done = ended_ || (window_.count_mode && sent_ >= window_.count);
      while (!sending_done && in_flight_.size() < static_cast<size_t>(concurrency_)) {
        absl::Status status = Send();
        if (!status.ok()) return status;
        if (window_.count_mode && sent_ >= window_.count) break;
      }
      if (sending_done && in_flight_.empty()) {
        if (!ended_) End(last_completion_);
        return absl::OkStatus();
      }
      if (now - last_progress_ > stall) {
        errors_["TIMEOUT"] += static_cast<int64_t>(in_flight_.size());
        if (!ended_) End(now);
        return absl::OkStatus();
      }
      absl::Status status = conn_->Pump(absl::Milliseconds(50), *this);
      if (!status.ok()) return status;
    }
  }

  void OnMessage(const RawMessage& message) override {
    uint64_t id = 0;
    if (!absl::SimpleAtoi(message.correlation_id, &id)) return;
    if (message.returned) {
      // The broker confirms a returned message too; in publish mode that ack completes it.
      if (measuring_) ++errors_["RETURNED"];
      if (publish_mode_) {
        returned_.insert(id);
      } else {
        in_flight_.erase(id);
      }
      return;
    }
    Complete(id, true);
  }

  void OnConfirm(uint64_t seq, bool multiple, bool ack) override {
    if (!publish_mode_) return;  // client --confirms: the reply completes a call, not the ack
    if (!multiple) {
      Complete(seq, ack);
      return;
    }
    while (!in_flight_.empty() && in_flight_.begin()->first <= seq) {
      Complete(in_flight_.begin()->first, ack);
    }
  }

  int64_t ok() const { return ok_; }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }
  std::vector<int64_t>* latencies() { return &latencies_; }
  const std::map<std::string, int64_t>& errors() const { return errors_; }
  const WindowEdge& before() const { return before_; }
  const WindowEdge& after() const { return after_; }
  const std::map<std::string, MemorySample>& memory() const { return memory_; }

 private:
  absl::Status Send() {
    const uint64_t id = ++sent_;  // equals the publisher-confirm sequence number
    const std::string correlation = absl::StrCat(id);
    in_flight_.emplace(id, Clock::now());
    if (publish_mode_) {
      return conn_->Publish(kChannel, exchange_, topic_, /*mandatory=*/true, body_, {},
                            correlation);
    }
    return conn_->Publish(kChannel, exchange_, topic_, /*mandatory=*/true, body_, reply_queue_,
                          correlation, "30000");
  }

  void Complete(uint64_t id, bool ack) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) return;
    const Clock::time_point now = Clock::now();
    last_progress_ = now;
    const bool was_returned = returned_.erase(id) > 0;
    if (measuring_ && !was_returned) {
      last_completion_ = now;
      if (ack) {
        ++ok_;
        latencies_.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(now - it->second).count());
      } else {
        ++errors_["NACK"];
      }
    }
    in_flight_.erase(it);
  }

  void Begin() {
    before_ = SampleWindowEdge(watched_);
    start_ = Clock::now();
  }

  void End(Clock::time_point end) {
    end_ = end;
    after_ = SampleWindowEdge(watched_);
    memory_ = SampleMemory(watched_);
    measuring_ = false;
    ended_ = true;
  }

  RawConnection* conn_;
  const bool publish_mode_;
  const std::string body_;
  const std::string reply_queue_;
  const std::string exchange_;
  const std::string topic_;
  const int concurrency_;
  const Window window_;
  const std::vector<WatchedProcess> watched_;
  std::map<uint64_t, Clock::time_point> in_flight_;  // ordered: confirms may be `multiple`
  absl::flat_hash_set<uint64_t> returned_;  // publish mode: returned, awaiting their confirm
  Clock::time_point last_progress_;
  uint64_t sent_ = 0;
  bool measuring_ = false;
  bool ended_ = false;
  Clock::time_point start_;
  Clock::time_point end_;
  Clock::time_point last_completion_;
  int64_t ok_ = 0;
  std::vector<int64_t> latencies_;
  std::map<std::string, int64_t> errors_;
  WindowEdge before_;  // CPU and context switches at the window's edges
  WindowEdge after_;
  std::map<std::string, MemorySample> memory_;
};

int RunLoad(const bridge::TransportUrl& url, const std::string& exchange, const std::string& topic,
            bool publish_mode) {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  Window window;
  window.count = absl::GetFlag(FLAGS_count);
  window.count_mode = window.count > 0;
  const Clock::time_point now = Clock::now();
  window.warmup_end =
      now + absl::ToChronoMicroseconds(absl::Seconds(absl::GetFlag(FLAGS_warmup_s)));
  window.end = window.warmup_end +
               absl::ToChronoMicroseconds(absl::Seconds(absl::GetFlag(FLAGS_duration_s)));
  if (concurrency < 1 || concurrency > 1000000 || payload_bytes < 0 || payload_bytes > (64 << 20) ||
      window.count < 0) {
    std::fprintf(stderr, "raw_probe: need 1 <= --concurrency <= 1e6, 0 <= --payload_bytes\n");
    return 2;
  }
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList(absl::GetFlag(FLAGS_watch), "--watch");
  if (!watched.ok()) {
    std::fprintf(stderr, "raw_probe: %s\n", std::string(watched.status().message()).c_str());
    return 2;
  }

  absl::StatusOr<std::unique_ptr<RawConnection>> opened = RawConnection::Open(url, 0);
  if (!opened.ok()) return Fail(opened.status());
  RawConnection& conn = **opened;
  absl::Status status = conn.OpenChannel(kChannel);
  std::string reply_queue;
  if (status.ok() && (publish_mode || absl::GetFlag(FLAGS_confirms))) {
    status = conn.ConfirmSelect(kChannel);
  }
  if (status.ok() && !publish_mode) {
    absl::StatusOr<std::string> queue = conn.DeclareQueue(kChannel, "", false, true, true, 0);
    status = queue.status();
    if (status.ok()) {
      reply_queue = *queue;
      status = conn.Consume(kChannel, reply_queue, /*no_ack=*/true);
    }
  }
  if (!status.ok()) return Fail(status);

  // The body cellgw would publish: same args, a request_id context as the gateway adds.
  const std::string args_json =
      absl::StrCat("{\"payload\": \"", std::string(payload_bytes, 'x'), "\"}");
  const std::string context_json =
      absl::StrCat("{\"request_id\": \"req-", NewUuidDashed(), "\"}");
  const std::string msg_id = NewUuidHex();
  const std::string unique_id = NewUuidHex();
  bridge::RequestMessage message;
  message.method = "echo";
  message.args_json = args_json;
  message.context_json = context_json;
  message.unique_id = unique_id;
  if (!publish_mode) {
    message.msg_id = msg_id;
    message.reply_q = reply_queue;
  }
  absl::StatusOr<std::string> body = bridge::EncodeRequest(message);
  if (!body.ok()) return Fail(body.status());

  Runner runner(&conn, publish_mode, *std::move(body), reply_queue, exchange, topic, concurrency,
                window, *watched);
  status = runner.Run(absl::Seconds(absl::GetFlag(FLAGS_timeout_s)));
  if (!status.ok()) return Fail(status);

  const LatencySummary latency = Summarize(runner.latencies());
  int64_t errors = 0;
  for (const auto& [code, n] : runner.errors()) errors += n;
  const std::string kind = publish_mode ? "publish" : "call";
  JsonLine line;
  line.Add("tool", "raw_probe")
      .Add("kind", kind)
      .Add("topic", topic)
      .Add("concurrency", concurrency)
      .Add("payload_bytes", payload_bytes)
      .Add("label", absl::GetFlag(FLAGS_label));
  AddRunReport(&line, runner.ok(), runner.seconds(), latency, runner.errors(), runner.before(),
               runner.after(), runner.memory());
  std::printf("%s\n", line.Build().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n",
               HumanLine(absl::StrCat("raw ", kind, " ", topic), concurrency, runner.ok(),
                         runner.seconds(), latency, errors)
                   .c_str());
  return 0;
}

int Main() {
  absl::StatusOr<bridge::TransportUrl> url = bridge::ParseTransportUrl(absl::GetFlag(FLAGS_url));
  if (!url.ok()) {
    std::fprintf(stderr, "raw_probe: %s\n", std::string(url.status().message()).c_str());
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string exchange = absl::GetFlag(FLAGS_exchange);
  const std::string topic = absl::GetFlag(FLAGS_topic);
  if (mode == "server") return RunServer(*url, exchange, topic);
  if (mode == "client") return RunLoad(*url, exchange, topic, /*publish_mode=*/false);
  if (mode == "publish") return RunLoad(*url, exchange, topic, /*publish_mode=*/true);
  std::fprintf(stderr, "raw_probe: --mode must be server, client or publish\n");
  return 2;
}

}  // namespace
}  // namespace cellgw::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cellgw::bench::Main();
}
