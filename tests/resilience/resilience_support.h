// Shared tools of the resilience tests (tests/resilience): watching the gateway's health
// entries as they change, reading its metrics and memory, timing calls against the gateway's
// own deadline, steady cast/call traffic through the gRPC async API, and looking at the
// broker's side (the gateway's AMQP connections and reply queues) through rabbitmqctl.
//
// Each resilience test binary starts its own private RabbitMQ node(s) (tests/support), real
// oslo.messaging servers and an in-process gateway (tests/integration/gateway_fixture.h),
// breaks something, and checks what callers see. Every wait here is on an event (a health
// update, an RPC completion, a line printed by a peer) with a bounded timeout; the only timed
// wait is TrafficDriver's pacing of the requests it sends.
#ifndef CELLGW_TESTS_RESILIENCE_RESILIENCE_SUPPORT_H_
#define CELLGW_TESTS_RESILIENCE_RESILIENCE_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "client/cellgw_client.h"
#include "tests/resilience/resilience_health.grpc.pb.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"

namespace cellgw::testing {

// How much later than its own deadline the gRPC client gives up on a call whose `timeout`
// the gateway must enforce: a call still running at timeout + kGrpcMargin proves the gateway
// missed its deadline, and the test cannot hang on it.
inline constexpr absl::Duration kGrpcMargin = absl::Seconds(10);

// Follows one grpc.health.v1 entry of a gateway (e.g. "cell/c1") through a Watch stream on a
// reader thread, keeping every status the gateway pushed with the time it arrived.
// Thread-safe.
class HealthWatcher {
 public:
  // Starts watching `service` on the gateway at `address` ("host:port").
  HealthWatcher(const std::string& address, const std::string& service);
  ~HealthWatcher();  // cancels the stream and joins the reader
  HealthWatcher(const HealthWatcher&) = delete;
  HealthWatcher& operator=(const HealthWatcher&) = delete;

  // Blocks until an update that arrived at or after `since` says SERVING (`serving` true) or
  // anything else (`serving` false), and returns that update's arrival time.
  // DEADLINE_EXCEEDED after `timeout`; UNAVAILABLE when the stream ended first.
  absl::StatusOr<absl::Time> WaitFor(bool serving, absl::Time since, absl::Duration timeout);

 private:
  struct Update {
    absl::Time at;
    bool serving;
  };
  void Read();

  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  grpc::ClientContext context_;
  const std::string service_;
  absl::Mutex mu_;
  std::vector<Update> updates_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

// The value of sample `name` whose labels include every (key, value) of `labels`, in a
// Prometheus text exposition (GatewayMetrics::Scrape()). Sums the matching samples; 0 when
// none matches.
double MetricValue(const std::string& scrape, const std::string& name,
                   const std::map<std::string, std::string>& labels);

// This process's resident set size and its peak so far (VmRSS / VmHWM of /proc/self/status),
// in KiB. The gateway runs in-process, so this is the gateway's memory plus the test's.
struct ProcessMemory {
  int64_t rss_kib = 0;
  int64_t peak_kib = 0;
};
ProcessMemory ReadProcessMemory();

// How one request ended, as the caller saw it.
struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  std::string result_json;  // calls that succeeded
  absl::Duration elapsed;
  absl::Time ended;
};

// A Call whose `timeout` field is `timeout`, so the gateway must end it by then, with a gRPC
// deadline kGrpcMargin later (see above). Blocks.
Outcome TimedCall(client::CellgwClient& client, const v1::Target& target, const std::string& method,
                  const std::string& args_json, absl::Duration timeout);

// A Cast with a gRPC deadline of `deadline` from now. Blocks.
Outcome TimedCast(client::CellgwClient& client, const v1::Target& target, const std::string& method,
                  const std::string& args_json, absl::Duration deadline = absl::Seconds(30));

// Fires calls through the gRPC async (callback) API without waiting for each other; collects
// their outcomes. Thread-safe.
class AsyncCalls {
 public:
  explicit AsyncCalls(client::CellgwClient* client) : client_(client) {}
  ~AsyncCalls();  // Wait()s for every call it started
  AsyncCalls(const AsyncCalls&) = delete;
  AsyncCalls& operator=(const AsyncCalls&) = delete;

  // Starts one call, as TimedCall would make it, and returns at once.
  void Start(const v1::Target& target, const std::string& method, const std::string& args_json,
             absl::Duration timeout, const std::string& context_json = "");
  // Blocks until every started call has ended, or `timeout`; returns their outcomes in the
  // order they ended. DEADLINE_EXCEEDED when some are still running.
  absl::StatusOr<std::vector<Outcome>> Wait(absl::Duration timeout = absl::Seconds(120));

 private:
  client::CellgwClient* client_;
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Outcome> outcomes_ ABSL_GUARDED_BY(mu_);
};

// A steady mix of casts ("note") and calls ("echo"), one of each every `interval`, sent
// through the gRPC async API from a pacing thread, each carrying {"marker", "seq"} so an
// oslo server's output shows which casts it received. Thread-safe.
struct TrafficOptions {
  v1::Target target;
  std::string marker;
  absl::Duration interval = absl::Milliseconds(50);
  absl::Duration call_timeout = absl::Seconds(2);  // enforced by the gateway
  absl::Duration cast_deadline = absl::Seconds(10);
};

struct TrafficRecord {
  bool is_call = false;
  int seq = 0;  // shared numbering for casts and calls
  absl::Time start;
  Outcome outcome;
};

class TrafficDriver {
 public:
  TrafficDriver(client::CellgwClient* client, TrafficOptions options);
  ~TrafficDriver();  // Stop()
  TrafficDriver(const TrafficDriver&) = delete;
  TrafficDriver& operator=(const TrafficDriver&) = delete;

  void Start();
  // Stops sending and waits (up to `timeout`) for every request to end. DEADLINE_EXCEEDED
  // when some did not: the gateway missed their deadlines by far. Idempotent.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(60));

  // Blocks until `count` calls in total succeeded. DEADLINE_EXCEEDED after `timeout`.
  absl::Status WaitForOkCalls(int count, absl::Duration timeout);
  // Blocks until a call sent at or after `sent_after` succeeded and returns when it ended.
  // DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<absl::Time> WaitForCallOkSentAfter(absl::Time sent_after, absl::Duration timeout);

  // Every ended request so far, in the order they ended.
  std::vector<TrafficRecord> Records();
  // Requests sent so far.
  int sent();

 private:
  void Pace();
  void Send(bool is_call, int seq);
  void Finish(TrafficRecord record);

  client::CellgwClient* client_;
  const TrafficOptions options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int sent_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int ok_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<TrafficRecord> records_ ABSL_GUARDED_BY(mu_);
  std::thread pacer_;
};

// {"marker": "<marker>", "seq": <seq>}: the args every test request carries.
std::string MarkedArgs(const std::string& marker, int seq);

// The seq numbers of the casts ({"event": "cast"} lines) carrying `marker` that `server`
// printed so far.
std::multiset<int> CastSeqsSeen(OsloProcess& server, const std::string& marker);

// Blocks until `server` printed a cast line for every seq in `expected` (duplicates allowed).
// DEADLINE_EXCEEDED after `timeout`, naming how many are missing.
absl::Status AwaitCasts(OsloProcess& server, const std::string& marker,
                        const std::set<int>& expected, absl::Duration timeout);

// Starts tests/support/oslo_server.py as OsloProcess::StartServer does, plus `extra_flags`
// (e.g. {"--durable"}), and returns once it is ready. Errors as StartServer's.
absl::StatusOr<std::unique_ptr<OsloProcess>> StartOsloServer(
    const OsloServerOptions& options, const std::vector<std::string>& extra_flags = {});

// The broker-side ids (Erlang pids, e.g. "<rabbit@h.1.2.0>") of the gateway's AMQP
// connections on `node`: those whose connection_name starts with "cellgw:". Errors of Ctl().
absl::StatusOr<std::vector<std::string>> GatewayConnections(RabbitMqNode& node,
                                                            const std::string& vhost = "/");

// The names of the queues called reply_* on `node` in `vhost`: the gateway's reply queues
// when no oslo client runs there. Errors of Ctl().
absl::StatusOr<std::vector<std::string>> ReplyQueues(RabbitMqNode& node,
                                                     const std::string& vhost = "/");

// A TCP forwarder on 127.0.0.1 in front of a broker, to cut a connection the way a network
// partition does: Partition() stops forwarding, in both directions, on every connection open
// at that moment, without closing either end, so neither side learns anything from TCP;
// connections made later are forwarded normally. While zombie heartbeats are on, the proxy
// sends an AMQP heartbeat frame to the broker on each partitioned connection every 500 ms,
// so the broker keeps that connection, and its consumers, alive: a zombie. Partition only
// while the partitioned connections are idle, so no AMQP frame is cut in half.
// Thread-safe; one forwarding thread.
class TcpProxy {
 public:
  // Listens on a free loopback port and forwards to 127.0.0.1:`upstream_port`. INTERNAL when
  // no socket can be bound.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int upstream_port);
  ~TcpProxy();  // closes everything and joins the thread
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Returns how many connections it partitioned.
  int Partition();
  void SetZombieHeartbeats(bool on);

 private:
  struct Pair {
    int client = -1;
    int upstream = -1;
    bool partitioned = false;
  };
  TcpProxy(int listener, int port, int upstream_port, int wake_read, int wake_write);
  void Run();
  void Wake();

  const int listener_;
  const int port_;
  const int upstream_port_;
  const int wake_read_;
  const int wake_write_;
  absl::Mutex mu_;
  std::vector<Pair> pairs_ ABSL_GUARDED_BY(mu_);
  bool zombie_heartbeats_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// How many outcomes have `code`.
int CountCode(const std::vector<Outcome>& outcomes, grpc::StatusCode code);

// The largest elapsed time among `outcomes` (zero when empty).
absl::Duration MaxElapsed(const std::vector<Outcome>& outcomes);

// Seconds with millisecond precision, for the printed figures.
std::string Seconds(absl::Duration d);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_RESILIENCE_RESILIENCE_SUPPORT_H_
