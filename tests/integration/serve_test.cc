// Serve: gRPC workers answering real oslo.messaging 14 RPC clients (Debian's
// python3-oslo.messaging under /usr/bin/python3, tests/support/oslo_client.py) through
// cellgw and a private RabbitMQ node, beside a real oslo RPC server on the same broker.
//
// One broker and one gateway for the whole binary. Cell "cell1" (control_exchange "nova")
// has a real oslo server "host1" on topic "compute": the oracle for what a Python server
// answers, and the partner of the mixed-servers test. Every test serves a topic of its own.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/resilience/resilience_health.grpc.pb.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/subprocess.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);

// A gRPC worker: one Serve stream, driven from the test's thread (Read/Answer) or, with
// AutoAnswer, by a thread of its own that answers every Incoming with `answer`.
class Worker {
 public:
  Worker(const std::string& address, v1::Registration registration) {
    stub_ = v1::CellGateway::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
    context_.set_wait_for_ready(true);  // a gateway process may still be starting
    stream_ = stub_->Serve(&context_);
    v1::ServeRequest first;
    *first.mutable_register_() = std::move(registration);
    stream_->Write(first);
  }
  ~Worker() {
    Kill();
    if (thread_.joinable()) thread_.join();
  }

  // The next event; false when the stream ended.
  bool Read(v1::ServeEvent* event) { return stream_->Read(event); }

  // Reads the Registered event; returns its queues (empty when the stream ended instead).
  std::vector<std::string> AwaitRegistered() {
    v1::ServeEvent event;
    if (!Read(&event) || !event.has_registered()) return {};
    return {event.registered().queues().begin(), event.registered().queues().end()};
  }

  bool Answer(uint64_t id, const std::string& result_json) {
    v1::ServeRequest request;
    request.mutable_reply()->set_id(id);
    request.mutable_reply()->set_result_json(result_json);
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(request);
  }
  bool Fail(uint64_t id, const v1::RemoteError& error) {
    v1::ServeRequest request;
    request.mutable_reply()->set_id(id);
    *request.mutable_reply()->mutable_error() = error;
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(request);
  }

  bool Register(v1::Registration registration) {
    v1::ServeRequest request;
    *request.mutable_register_() = std::move(registration);
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(request);
  }

  // From now on a thread reads every Incoming and answers it with answer(incoming).
  void AutoAnswer(std::function<std::string(const v1::Incoming&)> answer) {
    thread_ = std::thread([this, answer = std::move(answer)] {
      v1::ServeEvent event;
      while (stream_->Read(&event)) {
        if (event.has_incoming()) Answer(event.incoming().id(), answer(event.incoming()));
      }
    });
  }

  // The worker goes away abruptly (as a killed process: no half-close).
  void Kill() { context_.TryCancel(); }

  // Reads until the gateway ends the stream (the worker keeps its side open); its status.
  grpc::Status AwaitEnd() {
    v1::ServeEvent event;
    while (stream_->Read(&event)) {
    }
    return stream_->Finish();
  }

  grpc::Status Finish() {
    stream_->WritesDone();
    v1::ServeEvent event;
    while (stream_->Read(&event)) {
    }
    return stream_->Finish();
  }

 private:
  std::unique_ptr<v1::CellGateway::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ServeRequest, v1::ServeEvent>> stream_;
  absl::Mutex write_mu_;
  std::thread thread_;
};

v1::Registration Registration(const std::string& topic, const std::string& server,
                              uint32_t max_in_flight = 0) {
  v1::Registration registration;
  registration.set_cell("cell1");
  registration.set_topic(topic);
  registration.set_server(server);
  registration.set_max_in_flight(max_in_flight);
  v1::Endpoint* main = registration.add_endpoints();
  main->set_version("1.3");
  for (const char* method : {"echo", "note", "fail_value", "fail_custom", "slow"}) {
    main->add_methods(method);
  }
  v1::Endpoint* admin = registration.add_endpoints();
  admin->set_namespace_("admin");
  admin->set_version("2.0");
  admin->add_methods("ns_only");
  return registration;
}

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    auto node = RabbitMqNode::Start(absl::StrCat(tmp ? tmp : "/tmp", "/serve_rmq"));
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    auto server = OsloProcess::StartServer(ComputeServer(node_->Url("/"), "host1"));
    ASSERT_TRUE(server.ok()) << server.status();
    oslo_server_ = server->release();
    auto gateway = StartGateway({Cell("cell1", node_->Url("/"), "nova")});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete oslo_server_;
    oslo_server_ = nullptr;
    delete node_;  // stops the broker and its epmd, by PID
    node_ = nullptr;
  }

  // Starts a real oslo RPCClient: {"--topic", t, ..., kind, method, args[, context]}.
  static std::unique_ptr<OsloProcess> Client(std::vector<std::string> args) {
    std::vector<std::string> all = {"--url", node_->Url("/"), "--exchange", "nova"};
    all.insert(all.end(), args.begin(), args.end());
    auto process = OsloProcess::RunClient(all);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  // Runs a client to its end and returns its one output line.
  static std::string ClientOutput(std::vector<std::string> args) {
    std::unique_ptr<OsloProcess> client = Client(std::move(args));
    if (client == nullptr) return "";
    return Output(*client);
  }

  static std::string Output(OsloProcess& client) {
    auto code = client.Wait(kWait);
    EXPECT_TRUE(code.ok()) << code.status();
    const std::vector<std::string> lines = client.Lines();
    return lines.empty() ? absl::StrCat("(no output; stderr: ", client.StderrTail(), ")")
                         : lines.back();
  }

  static std::string Address() { return gateway_->address; }

  // The gateway's health status of `service` (grpc.health.v1 Check).
  static grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    return status.ok() ? response.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  }

  // The value of the series of `metric` whose labels contain `labels`, from a scrape.
  static double MetricValue(const std::string& metric, const std::string& labels) {
    for (absl::string_view line : absl::StrSplit(gateway_->server->metrics().Scrape(), '\n')) {
      if (absl::StartsWith(line, metric + "{") && absl::StrContains(line, labels)) {
        double value = 0;
        if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) return value;
      }
    }
    return -1;
  }

  // Messages ready and unacknowledged in `queue`, from rabbitmqctl.
  static std::pair<int, int> QueueCounts(const std::string& queue) {
    auto out = node_->Ctl({"list_queues", "--no-table-headers", "name", "messages_ready",
                           "messages_unacknowledged"});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return {-1, -1};
    for (absl::string_view line : absl::StrSplit(*out, '\n')) {
      std::vector<std::string> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"),
                                                       absl::SkipEmpty());
      if (fields.size() == 3 && fields[0] == queue) {
        return {std::stoi(fields[1]), std::stoi(fields[2])};
      }
    }
    return {-1, -1};
  }

  // Polls QueueCounts until it equals `expected` (a client's publish is asynchronous).
  static bool AwaitQueueCounts(const std::string& queue, std::pair<int, int> expected) {
    const absl::Time deadline = absl::Now() + kWait;
    std::pair<int, int> got;
    while ((got = QueueCounts(queue)) != expected && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(got, expected) << queue;
    return got == expected;
  }

  // cellgw_serve_requests_total of cell1 with `outcome`.
  static double Outcome(absl::string_view outcome) {
    return MetricValue("cellgw_serve_requests_total",
                       absl::StrCat(R"(cell="cell1",outcome=")", outcome, "\""));
  }

  // Polls Health(service) on `address` until it is `expected`.
  static bool AwaitHealth(const std::string& service,
                          grpc::health::v1::HealthCheckResponse::ServingStatus expected) {
    const absl::Time deadline = absl::Now() + kWait;
    grpc::health::v1::HealthCheckResponse::ServingStatus got;
    while ((got = Health(service)) != expected && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(got, expected) << service;
    return got == expected;
  }

  // The real gateway binary as a child process on a free port, with cell1 on the suite's
  // broker; `name` names its config and log files.
  struct ChildGateway {
    std::unique_ptr<Subprocess> process;
    std::string address;
  };
  static absl::StatusOr<ChildGateway> SpawnGateway(const std::string& name) {
    absl::StatusOr<int> port = PickFreeLoopbackPort();
    if (!port.ok()) return port.status();
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string base = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
    {
      std::ofstream out(base + ".yaml");
      out << "listen: 127.0.0.1:" << *port << "\ncells:\n  - name: cell1\n    transport_url: "
          << node_->Url("/") << "\n    control_exchange: nova\n";
    }
    SpawnOptions options;
    options.argv = {RunfilePath("gateway/cellgw"), "--config", base + ".yaml"};
    options.env = ChildEnvironment({});
    options.stdout_path = base + ".log";
    options.die_with_parent = true;
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Spawn(options);
    if (!process.ok()) return process.status();
    return ChildGateway{*std::move(process), absl::StrCat("127.0.0.1:", *port)};
  }

  // Resident set size of process `pid` in bytes (VmRSS), -1 when unreadable.
  static int64_t ResidentBytes(pid_t pid) {
    std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
    std::string line;
    while (std::getline(status, line)) {
      int64_t kib = 0;
      if (absl::StartsWith(line, "VmRSS:") &&
          absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(6)), " kB"),
                           &kib)) {
        return kib * 1024;
      }
    }
    return -1;
  }

  // Polls MetricValue until it equals `expected` (a stream's end is counted once gRPC is done
  // with it, after the worker saw its status).
  static bool AwaitMetric(const std::string& metric, const std::string& labels,
                          double expected) {
    const absl::Time deadline = absl::Now() + kWait;
    double got;
    while ((got = MetricValue(metric, labels)) != expected && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(got, expected) << metric << labels;
    return got == expected;
  }

  static RabbitMqNode* node_;
  static OsloProcess* oslo_server_;
  static RunningGateway* gateway_;
};

RabbitMqNode* ServeTest::node_ = nullptr;
OsloProcess* ServeTest::oslo_server_ = nullptr;
RunningGateway* ServeTest::gateway_ = nullptr;

TEST_F(ServeTest, RegisteredListsTheQueuesOsloDeclaresForAServer) {
  Worker worker(Address(), Registration("reg", "w1"));
  const std::vector<std::string> queues = worker.AwaitRegistered();
  ASSERT_EQ(queues.size(), 3u);
  EXPECT_EQ(queues[0], "reg");
  EXPECT_EQ(queues[1], "reg.w1");
  EXPECT_THAT(queues[2], ::testing::MatchesRegex("reg_fanout_[0-9a-f]{32}"));
  for (const std::string& queue : queues) EXPECT_EQ(QueueCounts(queue).first, 0) << queue;
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(ServeTest, CallReachesTheWorkerWithExactFieldsAndItsResultReachesTheCaller) {
  Worker worker(Address(), Registration("exact", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  const std::string args =
      R"({"u": "h\u00e9llo \u2603 \ud83d\ude00", "big": 18446744073709551615, )"
      R"("nested": [[{"d": [null, true, false, 1.5]}]]})";
  auto client = Client({"--topic", "exact", "--version", "1.2", "call", "echo", args,
                        R"({"user_id": "u1", "roles": ["admin"]})"});
  ASSERT_NE(client, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));
  ASSERT_TRUE(event.has_incoming());
  const v1::Incoming& incoming = event.incoming();
  EXPECT_EQ(incoming.kind(), v1::Incoming::CALL);
  EXPECT_EQ(incoming.method(), "echo");
  EXPECT_EQ(incoming.version(), "1.2");
  EXPECT_EQ(incoming.namespace_(), "");
  // Exactly as the caller's oslo wrote them: escapes and big integers untouched.
  EXPECT_EQ(Members(incoming.args_json()), Members(args));
  EXPECT_EQ(Member(incoming.context_json(), "user_id"), R"("u1")");
  EXPECT_EQ(Member(incoming.context_json(), "roles"), R"(["admin"])");
  ASSERT_TRUE(worker.Answer(
      incoming.id(), R"({"ok": 18446744073709551615, "t": "h\u00e9llo", "n": [[null]]})"));
  EXPECT_EQ(Output(*client), R"({"n": [[null]], "ok": 18446744073709551615, "t": "h\u00e9llo"})");
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(ServeTest, CastsToTopicAndServerAndFanoutReachTheWorkerWithTheirKind) {
  Worker worker(Address(), Registration("kinds", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  struct Case {
    std::vector<std::string> args;
    v1::Incoming::Kind kind;
    std::string marker;
  } cases[] = {
      {{"--topic", "kinds", "cast", "note", R"({"m": "to-topic"})"}, v1::Incoming::CAST,
       "to-topic"},
      {{"--topic", "kinds", "--server", "w1", "cast", "note", R"({"m": "to-server"})"},
       v1::Incoming::CAST, "to-server"},
      {{"--topic", "kinds", "fanout", "note", R"({"m": "to-all"})"}, v1::Incoming::FANOUT,
       "to-all"},
      {{"--topic", "kinds", "--namespace", "admin", "--version", "2.0", "cast", "ns_only",
        "{}"},
       v1::Incoming::CAST, ""},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ClientOutput(c.args), HasSubstr("sent"));
    v1::ServeEvent event;
    ASSERT_TRUE(worker.Read(&event));
    ASSERT_TRUE(event.has_incoming());
    EXPECT_EQ(event.incoming().kind(), c.kind) << c.marker;
    EXPECT_FALSE(event.incoming().has_deadline()) << c.marker;  // only calls have one
    if (!c.marker.empty()) {
      EXPECT_EQ(event.incoming().method(), "note");
      EXPECT_EQ(Member(event.incoming().args_json(), "m"), absl::StrCat("\"", c.marker, "\""));
      EXPECT_EQ(event.incoming().namespace_(), "");
      EXPECT_EQ(event.incoming().version(), "");
    } else {
      EXPECT_EQ(event.incoming().method(), "ns_only");
      EXPECT_EQ(event.incoming().namespace_(), "admin");
      EXPECT_EQ(event.incoming().version(), "2.0");
    }
    ASSERT_TRUE(worker.Answer(event.incoming().id(), ""));
  }
  EXPECT_TRUE(worker.Finish().ok());
}

// What the caller's oslo raises must be what it raises for the same exception from a real
// Python server (host1 on topic "compute", same endpoints).
TEST_F(ServeTest, ExceptionsReachTheCallerAsFromAPythonServer) {
  Worker worker(Address(), Registration("errors", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());

  v1::RemoteError value_error;
  value_error.set_exception_class("ValueError");
  value_error.set_exception_module("builtins");
  value_error.set_message("invalid value: x");
  value_error.add_traceback("Traceback (most recent call last):\n");
  value_error.add_traceback("ValueError: invalid value: x\n");
  value_error.set_args_json(R"(["invalid value: x"])");
  v1::RemoteError custom;
  custom.set_exception_class("CellQuotaExceeded");
  custom.set_exception_module("cellgw_test_exc");
  custom.set_message("Quota exceeded for cores: requested 8");
  custom.add_traceback(
      "cellgw_test_exc.CellQuotaExceeded: Quota exceeded for cores: requested 8\n");
  custom.set_args_json(R"(["Quota exceeded for cores: requested 8"])");
  custom.set_kwargs_json(R"({"resource": "cores", "requested": 8})");

  struct Case {
    std::string method, args;
    const v1::RemoteError* error;
  } cases[] = {{"fail_value", R"({"what": "x"})", &value_error},
               {"fail_custom", "{}", &custom}};
  for (const Case& c : cases) {
    const std::string python = ClientOutput({"--topic", "compute", "call", c.method, c.args});
    auto client = Client({"--topic", "errors", "call", c.method, c.args});
    ASSERT_NE(client, nullptr);
    v1::ServeEvent event;
    ASSERT_TRUE(worker.Read(&event));
    ASSERT_TRUE(event.has_incoming());
    ASSERT_TRUE(worker.Fail(event.incoming().id(), *c.error));
    EXPECT_EQ(Output(*client), python) << c.method;
    EXPECT_THAT(python, HasSubstr(c.error->exception_class()));
  }
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(ServeTest, NoSuchMethodAndUnsupportedVersionAreAnsweredAsOsloDoesWithoutTheWorker) {
  Worker worker(Address(), Registration("dispatch", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  const std::vector<std::vector<std::string>> refused = {
      {"call", "nope", "{}"},                          // NoSuchMethod
      {"call", "_private", "{}"},                      // never exposed
      {"--version", "1.4", "call", "echo", "{}"},      // UnsupportedVersion
      {"--namespace", "other", "call", "echo", "{}"},  // a wrong namespace, too
  };
  for (const std::vector<std::string>& args : refused) {
    std::vector<std::string> python = {"--topic", "compute"};
    python.insert(python.end(), args.begin(), args.end());
    std::vector<std::string> served = {"--topic", "dispatch"};
    served.insert(served.end(), args.begin(), args.end());
    const std::string expected = ClientOutput(python);
    EXPECT_THAT(expected, ::testing::AnyOf(HasSubstr("NoSuchMethod"),
                                           HasSubstr("UnsupportedVersion")));
    EXPECT_EQ(ClientOutput(served), expected) << args[args.size() - 2];
  }
  // None of them reached the worker: the first Incoming is the call sent now.
  auto client = Client({"--topic", "dispatch", "call", "echo", R"({"after": 1})"});
  ASSERT_NE(client, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));
  ASSERT_TRUE(event.has_incoming());
  EXPECT_EQ(Member(event.incoming().args_json(), "after"), "1");
  ASSERT_TRUE(worker.Answer(event.incoming().id(), "1"));
  EXPECT_EQ(Output(*client), "1");
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(ServeTest, AWorkerAndAPythonServerShareTheTopicsCalls) {
  Worker worker(Address(), Registration("compute", "gw1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  worker.AutoAnswer([](const v1::Incoming&) { return R"({"server": "gw1"})"; });
  int by_worker = 0, by_python = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string out = ClientOutput({"--topic", "compute", "call", "echo", "{}"});
    if (absl::StrContains(out, R"("server": "gw1")")) ++by_worker;
    if (absl::StrContains(out, R"("server": "host1")")) ++by_python;
  }
  // RabbitMQ's round robin over the two consumers of "compute".
  EXPECT_GT(by_worker, 0);
  EXPECT_GT(by_python, 0);
  EXPECT_EQ(by_worker + by_python, 8);
  worker.Kill();
}

TEST_F(ServeTest, MaxInFlightLeavesTheRestInTheBroker) {
  Worker worker(Address(), Registration("window", "w1", /*max_in_flight=*/2));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(ClientOutput({"--topic", "window", "cast", "note", absl::StrCat("{\"i\": ", i,
                                                                                "}")}),
                HasSubstr("sent"));
  }
  std::vector<uint64_t> ids;
  for (int i = 0; i < 2; ++i) {
    v1::ServeEvent event;
    ASSERT_TRUE(worker.Read(&event));
    ids.push_back(event.incoming().id());
  }
  // Two handed out and unacknowledged, three still ready in the broker.
  EXPECT_TRUE(AwaitQueueCounts("window", {3, 2}));
  ASSERT_TRUE(worker.Answer(ids[0], ""));
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));  // the answer freed one place
  EXPECT_EQ(Member(event.incoming().args_json(), "i"), "2");
  EXPECT_TRUE(AwaitQueueCounts("window", {2, 2}));
  worker.Kill();
}

TEST_F(ServeTest, HeldCallsFailFastWhenTheWorkerGoesAndQueuedOnesGoToTheNextWorker) {
  auto first = std::make_unique<Worker>(Address(), Registration("gone", "w1", 1));
  ASSERT_FALSE(first->AwaitRegistered().empty());
  auto held = Client({"--topic", "gone", "--timeout", "60", "call", "echo", R"({"n": "held"})"});
  ASSERT_NE(held, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(first->Read(&event));
  auto queued =
      Client({"--topic", "gone", "--timeout", "60", "call", "echo", R"({"n": "queued"})"});
  ASSERT_NE(queued, nullptr);
  // The queued call waits in the broker: the worker's one place is taken.
  ASSERT_TRUE(AwaitQueueCounts("gone", {1, 1}));
  const absl::Time killed = absl::Now();
  first->Kill();
  const std::string out = Output(*held);
  EXPECT_THAT(out, HasSubstr(R"("exception": "ConnectionAbortedError")"));
  EXPECT_LT(absl::Now() - killed, absl::Seconds(20));  // not its 60 s timeout

  Worker second(Address(), Registration("gone", "w2"));
  ASSERT_FALSE(second.AwaitRegistered().empty());
  second.AutoAnswer([](const v1::Incoming& in) { return in.args_json(); });
  EXPECT_EQ(Output(*queued), R"({"n": "queued"})");
  second.Kill();
}

TEST_F(ServeTest, MonitoredCallLongerThanTheMonitorTimeoutSucceedsOnHeartbeats) {
  Worker worker(Address(), Registration("monitor", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  auto client = Client({"--topic", "monitor", "--timeout", "60", "--call-monitor-timeout", "4",
                        "call", "slow", "{}"});
  ASSERT_NE(client, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));
  // The worker "works" three monitor periods; without heartbeats the caller would give up
  // after 4 s.
  EXPECT_EQ(client->WaitForLine([](const std::string&) { return true; }, absl::Seconds(12))
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(worker.Answer(event.incoming().id(), R"("done")"));
  EXPECT_EQ(Output(*client), R"("done")");
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(ServeTest, TheExampleCppWorkerAnswersARealOsloClient) {
  SpawnOptions options;
  options.argv = {RunfilePath("client/cellgw-example-worker"), "--addr", Address(), "--topic",
                  "example", "--server", "cpp1"};
  options.env = ChildEnvironment({});
  options.die_with_parent = true;
  auto worker = Subprocess::Spawn(options);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE(AwaitQueueCounts("example.cpp1", {0, 0}));  // registered and consuming
  EXPECT_EQ(ClientOutput({"--topic", "example", "call", "hello", R"({"n": 18446744073709551615})"}),
            R"({"greeting": "hello from cpp1", "kw": {"n": 18446744073709551615}})");
  EXPECT_EQ(ClientOutput({"--topic", "example", "call", "fail", "{}"}),
            R"({"exception": "ValueError", "message": "fail was called", "module": "builtins"})");
  (*worker)->Signal(SIGTERM);  // a clean stop: the stream is cancelled, exit status 0
  auto code = (*worker)->WaitFor(kWait);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

TEST_F(ServeTest, TheExamplePythonWorkerAnswersARealOsloClient) {
  SpawnOptions options;
  options.argv = {"/usr/bin/python3", RunfilePath("deploy/demo/python_worker.py"), "--stubs",
                  RunfilePath("proto/py"), "--addr", Address(), "--topic", "pyexample",
                  "--server", "py1"};
  options.env = ChildEnvironment({});
  options.die_with_parent = true;
  auto worker = Subprocess::Spawn(options);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE(AwaitQueueCounts("pyexample.py1", {0, 0}));  // registered and consuming
  EXPECT_EQ(ClientOutput({"--topic", "pyexample", "call", "add",
                          R"({"a": 18446744073709551615, "b": 1})"}),
            "18446744073709551616");
  EXPECT_EQ(ClientOutput({"--topic", "pyexample", "call", "fail", "{}"}),
            R"({"exception": "ZeroDivisionError", "message": "division by zero", )"
            R"("module": "builtins"})");
  (*worker)->Signal(SIGTERM);  // a clean stop: the stream is cancelled, exit status 0
  auto code = (*worker)->WaitFor(kWait);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

// One broker outage, two gateways: the suite's (subscription_outage_timeout 60 s, longer than
// the outage) keeps its worker's stream, and a second one whose cell allows 3 s ends its
// worker's stream with UNAVAILABLE. The broker stays down until that happened.
TEST_F(ServeTest, ServingResumesAfterABrokerRestartWithoutTheWorkerRegisteringAgain) {
  using Status = grpc::health::v1::HealthCheckResponse;
  const std::string entry = "serve/cell1/restart.w1";
  Worker worker(Address(), Registration("restart", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  worker.AutoAnswer([](const v1::Incoming& in) { return in.args_json(); });
  EXPECT_EQ(ClientOutput({"--topic", "restart", "call", "echo", R"({"n": 1})"}), R"({"n": 1})");
  EXPECT_EQ(Health(entry), Status::SERVING);

  bridge::CellOptions short_outage = Cell("cell1", node_->Url("/"), "nova");
  short_outage.subscription_outage_timeout = absl::Seconds(3);
  auto impatient_gateway = StartGateway({short_outage});
  ASSERT_TRUE(impatient_gateway.ok()) << impatient_gateway.status();
  Worker impatient(impatient_gateway->address, Registration("outage", "w1"));
  ASSERT_FALSE(impatient.AwaitRegistered().empty());

  ASSERT_TRUE(node_->KillHard().ok());  // kill -9: the gateway's connection just drops
  const absl::Time killed = absl::Now();
  EXPECT_TRUE(AwaitHealth(entry, Status::NOT_SERVING));
  // The impatient gateway's worker: its stream ends once the outage outlasts 3 s.
  const grpc::Status ended = impatient.AwaitEnd();
  const absl::Duration outage = absl::Now() - killed;
  std::printf("outage: stream ended after %.1f s with %d: %s\n", absl::ToDoubleSeconds(outage),
              static_cast<int>(ended.error_code()), ended.error_message().c_str());
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ended.error_message(), HasSubstr("subscription_outage_timeout"));
  EXPECT_GE(outage, absl::Seconds(3));
  EXPECT_LT(outage, absl::Seconds(15));
  impatient_gateway->server.reset();  // stops it before the broker returns
  EXPECT_EQ(Health(entry), Status::NOT_SERVING);  // the suite's worker is still waiting

  const absl::Status restarted = node_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  // The queues are transient: they exist again only when the gateway declared them anew.
  ASSERT_TRUE(AwaitQueueCounts("restart.w1", {0, 0}));
  EXPECT_TRUE(AwaitHealth(entry, Status::SERVING));
  EXPECT_EQ(ClientOutput({"--topic", "restart", "call", "echo", R"({"n": 2})"}), R"({"n": 2})");
  // The same stream, never ended: the worker saw no error.
  EXPECT_EQ(ClientOutput({"--topic", "restart", "--server", "w1", "call", "echo",
                          R"({"n": 3})"}),
            R"({"n": 3})");
  worker.Kill();
}

TEST_F(ServeTest, ACallCarriesItsCallersDeadline) {
  Worker worker(Address(), Registration("deadline", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  const absl::Time before = absl::Now();
  auto client = Client({"--topic", "deadline", "--timeout", "25", "call", "echo", "{}"});
  ASSERT_NE(client, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));
  const absl::Time after = absl::Now();
  ASSERT_TRUE(event.incoming().has_deadline());
  const absl::Time deadline = absl::FromUnixSeconds(event.incoming().deadline().seconds()) +
                              absl::Nanoseconds(event.incoming().deadline().nanos());
  // Received between `before` and `after`, plus the 25 s oslo put in the AMQP expiration.
  std::printf("deadline: now + %.3f s (call timeout 25 s; client start to Incoming %.3f s)\n",
              absl::ToDoubleSeconds(deadline - after), absl::ToDoubleSeconds(after - before));
  EXPECT_GE(deadline, before + absl::Seconds(25));
  EXPECT_LE(deadline, after + absl::Seconds(25));
  ASSERT_TRUE(worker.Answer(event.incoming().id(), "1"));
  EXPECT_EQ(Output(*client), "1");
  EXPECT_TRUE(worker.Finish().ok());
}

TEST_F(ServeTest, AReplyAfterTheCallersTimeoutIsCountedAsTimedOut) {
  Worker worker(Address(), Registration("late", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  const double timed_out = Outcome("timed_out");
  const double answered = Outcome("answered");
  auto client = Client({"--topic", "late", "--timeout", "2", "call", "echo", "{}"});
  ASSERT_NE(client, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));
  ASSERT_TRUE(event.incoming().has_deadline());
  const absl::Time deadline = absl::FromUnixSeconds(event.incoming().deadline().seconds()) +
                              absl::Nanoseconds(event.incoming().deadline().nanos());
  // The caller gives up (its process ends with the timeout) before the worker answers.
  EXPECT_THAT(Output(*client), HasSubstr(R"("exception": "MessagingTimeout")"));
  // The caller's deadline runs from its publish, the Incoming's from the gateway's receipt a
  // few ms later: the gateway judges by the latter, so the answer waits until it passed.
  if (absl::Now() <= deadline) absl::SleepFor(deadline - absl::Now() + absl::Milliseconds(10));
  ASSERT_TRUE(worker.Answer(event.incoming().id(), "1"));
  EXPECT_TRUE(AwaitMetric("cellgw_serve_requests_total",
                          R"(cell="cell1",outcome="timed_out")", timed_out + 1));
  EXPECT_EQ(Outcome("answered"), answered);  // counted once, as timed out
  EXPECT_TRUE(worker.Finish().ok());  // a late answer is no error for the worker
}

TEST_F(ServeTest, TheFanoutQueueIsDeclaredAsOslosAndDeletedWhenTheWorkerLeaves) {
  for (const bool killed : {false, true}) {
    Worker worker(Address(), Registration("fanq", "w1"));
    const std::vector<std::string> queues = worker.AwaitRegistered();
    ASSERT_EQ(queues.size(), 3u);
    const std::string& fanout = queues[2];
    // oslo 14's declare_fanout_consumer: durable false, auto_delete false, exclusive false,
    // x-expires 1800000 (rabbit_transient_queues_ttl).
    auto listed = node_->Ctl({"list_queues", "--no-table-headers", "name", "durable",
                              "auto_delete", "exclusive", "arguments"});
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_THAT(*listed, ::testing::ContainsRegex(
                             fanout + R"([[:space:]]+false[[:space:]]+false[[:space:]]+false[[:space:]]+)"
                                      R"(\[\{"x-expires",1800000\}\])"));
    if (killed) {
      worker.Kill();
    } else {
      EXPECT_TRUE(worker.Finish().ok());
    }
    // Gone at once, not after its 30 min expiry.
    EXPECT_TRUE(AwaitQueueCounts(fanout, {-1, -1})) << (killed ? "killed" : "half-closed");
    EXPECT_EQ(QueueCounts("fanq.w1"), std::make_pair(0, 0));  // the others stay, as oslo's
  }
}

// A worker that never answers, its window of 4 full, and 10,000 casts of 4 KiB (40 MB) sent
// to its topic by a real oslo client: the gateway (the real binary, measured alone) hands out
// 4 and leaves the rest in the broker. Its RSS may grow by allocator and gRPC noise, but not
// by the flood: the bound, 8 MiB, is a fifth of the flood's bytes, so holding even a fifth of
// it would fail.
TEST_F(ServeTest, ASlowWorkerDoesNotGrowTheGatewaysMemory) {
  constexpr int kCasts = 10000;
  constexpr int kWindow = 4;
  constexpr int64_t kBound = 8 << 20;
  auto gateway = SpawnGateway("flood_gateway");
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  Worker worker(gateway->address, Registration("flood", "w1", kWindow));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  std::atomic<int> incomings{0};
  std::thread reader([&] {
    v1::ServeEvent event;
    while (worker.Read(&event)) {
      if (event.has_incoming()) incomings.fetch_add(1);
    }
  });
  const int64_t rss_before = ResidentBytes(gateway->process->pid());
  const std::string args = absl::StrCat(R"({"pad": ")", std::string(4096, 'x'), R"("})");
  const absl::Time start = absl::Now();
  EXPECT_THAT(ClientOutput({"--topic", "flood", "--count", absl::StrCat(kCasts), "cast", "note",
                            args}),
              HasSubstr(absl::StrCat(R"("count": )", kCasts)));
  const absl::Duration sent_in = absl::Now() - start;
  // Everything published: the window handed out, the rest ready in the broker.
  EXPECT_TRUE(AwaitQueueCounts("flood", {kCasts - kWindow, kWindow}));
  const int64_t rss_after = ResidentBytes(gateway->process->pid());
  std::printf(
      "flood: %d casts of %zu bytes sent in %.1f s; worker holds %d (max_in_flight %d); "
      "gateway RSS %.1f MiB -> %.1f MiB (+%.2f MiB, bound %.0f MiB)\n",
      kCasts, args.size(), absl::ToDoubleSeconds(sent_in), incomings.load(), kWindow,
      rss_before / 1048576.0, rss_after / 1048576.0, (rss_after - rss_before) / 1048576.0,
      kBound / 1048576.0);
  EXPECT_EQ(incomings.load(), kWindow);
  ASSERT_GT(rss_before, 0);
  EXPECT_LT(rss_after - rss_before, kBound);
  worker.Kill();
  reader.join();
  gateway->process->Signal(SIGTERM);
  auto code = gateway->process->WaitFor(kWait);
  EXPECT_TRUE(code.ok()) << code.status();
  EXPECT_TRUE(node_->Ctl({"delete_queue", "flood"}).ok());  // 40 MB the other tests need not carry
}

TEST_F(ServeTest, HealthAndMetricsFollowTheWorkers) {
  using Status = grpc::health::v1::HealthCheckResponse;
  const std::string entry = "serve/cell1/health.w1";
  // Every earlier test's workers have gone.
  ASSERT_TRUE(AwaitMetric("cellgw_serve_workers", R"(cell="cell1")", 0));
  const double handed = Outcome("handed_out");
  const double answered = Outcome("answered");
  const double failed = Outcome("failed");
  const double abandoned = Outcome("abandoned");
  {
    Worker worker(Address(), Registration("health", "w1"));
    ASSERT_FALSE(worker.AwaitRegistered().empty());
    EXPECT_EQ(Health(entry), Status::SERVING);
    EXPECT_EQ(MetricValue("cellgw_serve_workers", R"(cell="cell1")"), 1);
    for (const char* method : {"echo", "fail_value", "slow"}) {
      auto client = Client({"--topic", "health", "call", method, "{}"});
      ASSERT_NE(client, nullptr);
      v1::ServeEvent event;
      ASSERT_TRUE(worker.Read(&event));
      if (absl::string_view(method) == "echo") {
        ASSERT_TRUE(worker.Answer(event.incoming().id(), "1"));
      } else if (absl::string_view(method) == "fail_value") {
        v1::RemoteError error;
        error.set_exception_class("ValueError");
        error.set_exception_module("builtins");
        ASSERT_TRUE(worker.Fail(event.incoming().id(), error));
      } else {
        worker.Kill();  // holds "slow": abandoned
      }
      EXPECT_THAT(Output(*client), ::testing::Not(HasSubstr("no output")));
    }
  }
  EXPECT_TRUE(AwaitMetric("cellgw_serve_workers", R"(cell="cell1")", 0));
  EXPECT_EQ(Health(entry), Status::NOT_SERVING);
  EXPECT_EQ(Outcome("handed_out"), handed + 3);
  EXPECT_EQ(Outcome("answered"), answered + 1);
  EXPECT_EQ(Outcome("failed"), failed + 1);
  EXPECT_EQ(Outcome("abandoned"), abandoned + 1);
}

// The gateway process (the real binary) is killed while its worker holds a monitored call: no
// more heartbeats, so the caller's oslo gives up after its monitor timeout, not its call
// timeout.
TEST_F(ServeTest, AMonitoredCallFailsByItsMonitorTimeoutWhenTheGatewayDies) {
  auto gateway = SpawnGateway("serve_gateway");
  ASSERT_TRUE(gateway.ok()) << gateway.status();

  Worker worker(gateway->address, Registration("dies", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  auto client = Client({"--topic", "dies", "--timeout", "60", "--call-monitor-timeout", "4",
                        "call", "slow", "{}"});
  ASSERT_NE(client, nullptr);
  v1::ServeEvent event;
  ASSERT_TRUE(worker.Read(&event));  // the worker holds the call
  const absl::Time killed = absl::Now();
  gateway->process->Signal(SIGKILL);
  EXPECT_THAT(Output(*client), HasSubstr(R"("exception": "MessagingTimeout")"));
  const absl::Duration waited = absl::Now() - killed;
  EXPECT_LT(waited, absl::Seconds(20)) << "failed by the 60 s call timeout, not the monitor's";
}

TEST_F(ServeTest, MalformedRegistrationIsRefusedNamingTheField) {
  struct Case {
    std::function<void(v1::Registration*)> change;
    std::string field;
  } cases[] = {
      {[](v1::Registration* r) { r->clear_topic(); }, "topic"},
      {[](v1::Registration* r) { r->clear_server(); }, "server"},
      {[](v1::Registration* r) { r->clear_endpoints(); }, "endpoints"},
      {[](v1::Registration* r) { r->mutable_endpoints(0)->set_version("1"); },
       "endpoints[0].version"},
      {[](v1::Registration* r) { r->set_max_in_flight(10001); }, "max_in_flight"},
  };
  for (const Case& c : cases) {
    v1::Registration registration = Registration("bad", "w1");
    c.change(&registration);
    Worker worker(Address(), registration);
    const grpc::Status status = worker.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_TRUE(absl::StartsWith(status.error_message(), c.field)) << status.error_message();
  }
}

TEST_F(ServeTest, AReplyNamingNoHeldRequestEndsTheStreamNamingTheId) {
  Worker worker(Address(), Registration("badreply", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  ASSERT_TRUE(worker.Answer(12345, "1"));
  const grpc::Status status = worker.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "id: ")) << status.error_message();
}

TEST_F(ServeTest, ASecondRegistrationEndsTheStreamNamingRegister) {
  Worker worker(Address(), Registration("twice", "w1"));
  ASSERT_FALSE(worker.AwaitRegistered().empty());
  ASSERT_TRUE(worker.Register(Registration("twice", "w2")));
  const grpc::Status status = worker.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "register: ")) << status.error_message();
}

}  // namespace
}  // namespace cellgw::testing
