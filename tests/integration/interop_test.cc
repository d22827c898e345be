// Interop: gRPC callers -> cellgw -> a private RabbitMQ -> real oslo.messaging 14 servers
// (Debian's python3-oslo.messaging under /usr/bin/python3), and back.
//
// One broker for the whole binary (it takes seconds to start). Topology:
//   vhost "/"      cell "cell1" (exchange "nova"): servers host1, host2, host3 on topic "compute"
//                  cell "capped": the same broker and servers, with a version cap on "compute"
//                  cell "small": the same again, with max_in_flight 3
//   vhost "cell_a" cell "cell_a": server "a1" on topic "compute"
//   vhost "cell_b" cell "cell_b": server "b1" on topic "compute"
// Each test marks its messages with a fresh marker, so tests can share the servers.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

class InteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    auto node = RabbitMqNode::Start(absl::StrCat(tmp ? tmp : "/tmp", "/interop_rmq"));
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    ASSERT_TRUE(node_->AddVhost("cell_a").ok());
    ASSERT_TRUE(node_->AddVhost("cell_b").ok());

    for (const char* server : {"host1", "host2", "host3"}) {
      servers_[server] = StartServer(node_->Url("/"), server, "nova");
    }
    servers_["a1"] = StartServer(node_->Url("cell_a"), "a1", "nova");
    servers_["b1"] = StartServer(node_->Url("cell_b"), "b1", "nova");

    bridge::CellOptions capped = Cell("capped", node_->Url("/"), "nova");
    capped.upgrade_levels["compute"] = "grizzly";
    capped.version_aliases["grizzly"] = "1.1";
    bridge::CellOptions small = Cell("small", node_->Url("/"), "nova");
    small.max_in_flight = 3;
    bridge::CellOptions single = Cell("single", node_->Url("/"), "nova");
    single.max_in_flight = 1;
    // max_call_timeout defaults to rpc_response_timeout: no call to it outlives 1 s.
    bridge::CellOptions short_calls = Cell("short", node_->Url("/"), "nova");
    short_calls.rpc_response_timeout = absl::Seconds(1);
    auto gateway = StartGateway({Cell("cell1", node_->Url("/"), "nova"), capped, small,
                                 Cell("cell_a", node_->Url("cell_a"), "nova"),
                                 Cell("cell_b", node_->Url("cell_b"), "nova"), short_calls,
                                 single});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    for (auto& [name, server] : servers_) delete server;
    servers_.clear();
    delete node_;  // stops the broker and its epmd, by PID
    node_ = nullptr;
  }

  static OsloProcess* StartServer(const std::string& url, const std::string& server,
                                  const std::string& exchange) {
    OsloServerOptions options;
    options.url = url;
    options.topic = "compute";
    options.server = server;
    options.exchange = exchange;
    auto process = OsloProcess::StartServer(options);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? process->release() : nullptr;
  }

  static v1::Target Target(const std::string& cell = "cell1") {
    v1::Target target;
    target.set_cell(cell);
    target.set_topic("compute");
    return target;
  }

  static grpc::Status Call(const v1::Target& target, const std::string& method,
                           const std::string& args, v1::CallResponse* response,
                           const std::string& context = "") {
    v1::CallRequest request;
    *request.mutable_target() = target;
    request.set_method(method);
    request.set_args_json(args);
    request.set_context_json(context);
    return gateway_->client->Call(request, response, absl::Now() + absl::Seconds(30));
  }

  // A call of the test server's slow(seconds) method on `server` of `cell`.
  static v1::CallRequest SlowCall(const std::string& cell, const std::string& server,
                                  int seconds) {
    v1::CallRequest request;
    *request.mutable_target() = Target(cell);
    request.mutable_target()->set_server(server);
    request.set_method("slow");
    request.set_args_json(absl::StrCat(R"({"seconds": )", seconds, "}"));
    return request;
  }

  // Blocks until `server` printed an event line containing `needle`.
  static absl::StatusOr<std::string> AwaitLine(const std::string& server,
                                               const std::string& needle) {
    return servers_.at(server)->WaitForLine(
        [&](const std::string& line) { return absl::StrContains(line, needle); }, kWait);
  }

  static int CountLines(const std::string& server, const std::string& needle) {
    int count = 0;
    for (const std::string& line : servers_.at(server)->Lines()) {
      if (absl::StrContains(line, needle)) ++count;
    }
    return count;
  }

  // Makes sure `server` has processed everything sent to its queue before now: a
  // server-targeted call queues behind earlier messages and returns after them.
  static void Barrier(const std::string& server, const std::string& cell = "cell1") {
    v1::Target target = Target(cell);
    target.set_server(server);
    v1::CallResponse response;
    ASSERT_TRUE(Call(target, "echo", "{}", &response).ok());
  }

  static RabbitMqNode* node_;
  static std::map<std::string, OsloProcess*> servers_;
  static RunningGateway* gateway_;
};

RabbitMqNode* InteropTest::node_ = nullptr;
std::map<std::string, OsloProcess*> InteropTest::servers_;
RunningGateway* InteropTest::gateway_ = nullptr;

TEST_F(InteropTest, CallResultKeepsBigIntegersUnicodeAndNestingExactly) {
  v1::CallResponse response;
  grpc::Status status = Call(Target(), "big", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result_json(),
            R"({"u64max": 18446744073709551615, "i64min": -9223372036854775808, )"
            R"("big70": 1180591620717411303424, )"
            R"("text": "h\u00e9llo \u2603 \ud83d\ude00 \"q\" \\ /", )"
            R"("nested": [[[[{"deep": [null, true, false, 1.5]}]]]]})");
  EXPECT_EQ(response.msg_id().size(), 32u);
}

TEST_F(InteropTest, CallArgumentsArriveExactlyWithBigIntegersUnicodeAndNesting) {
  const std::string args =
      R"({"u64": 18446744073709551615, "big": 1180591620717411303424, "neg": -9223372036854775808,)"
      R"( "text": "café ☃ 😀 \"q\"", "deep": [[[[[[[[{"x": [1.5, null, true]}]]]]]]]]})";
  v1::CallResponse response;
  grpc::Status status = Call(Target(), "echo", args, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The server returns its kwargs; Python prints them back in its own (json.dumps) form.
  EXPECT_EQ(Member(response.result_json(), "kw"),
            R"({"u64": 18446744073709551615, "big": 1180591620717411303424, )"
            R"("neg": -9223372036854775808, "text": "caf\u00e9 \u2603 \ud83d\ude00 \"q\"", )"
            R"("deep": [[[[[[[[{"x": [1.5, null, true]}]]]]]]]]})");
}

TEST_F(InteropTest, ContextReachesTheServerKeyForKey) {
  const std::string context =
      R"({"user_id": "u-7e1f", "project_id": "p-42", "request_id": "req-1234", )"
      R"("is_admin": false, "roles": ["member", "reader"], "auth_token": null, )"
      R"("quota": 18446744073709551615, "nested": {"a": [1, {"b": "ü"}]}})";
  const std::string marker = Marker("ctx");
  v1::CallResponse response;
  grpc::Status status =
      Call(Target(), "echo", absl::StrCat(R"({"marker": ")", marker, R"("})"), &response, context);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The server's view of the context, as its endpoint received it (oslo adds client_timeout).
  std::map<std::string, std::string> seen = Members(Member(response.result_json(), "ctxt"));
  EXPECT_EQ(seen.erase("client_timeout"), 1u);
  const std::map<std::string, std::string> expected = {
      {"user_id", R"("u-7e1f")"},
      {"project_id", R"("p-42")"},
      {"request_id", R"("req-1234")"},
      {"is_admin", "false"},
      {"roles", R"(["member", "reader"])"},
      {"auth_token", "null"},
      {"quota", "18446744073709551615"},
      {"nested", R"({"a": [1, {"b": "\u00fc"}]})"},
  };
  EXPECT_EQ(seen, expected);
}

TEST_F(InteropTest, CastIsSeenByTheServer) {
  // cell_a has one server on the topic, so the round-robin cast has exactly one place to go.
  const std::string marker = Marker("cast");
  v1::CastRequest request;
  *request.mutable_target() = Target("cell_a");
  request.set_method("note");
  request.set_args_json(absl::StrCat(R"({"marker": ")", marker, R"(", "n": 18446744073709551615})"));
  request.set_context_json(R"({"user_id": "u-cast"})");
  v1::CastResponse response;
  grpc::Status status = gateway_->client->Cast(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.unique_id().size(), 32u);
  auto line = servers_.at("a1")->WaitForLine(
      [&](const std::string& l) {
        return absl::StrContains(l, marker) && absl::StrContains(l, R"("event": "cast")");
      },
      kWait);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(Member(*line, "kw"),
            absl::StrCat(R"({"marker": ")", marker, R"(", "n": 18446744073709551615})"));
  EXPECT_EQ(Member(Member(*line, "ctxt"), "user_id"), R"("u-cast")");
}

TEST_F(InteropTest, ServerTargetedCallReachesOnlyThatServer) {
  v1::Target target = Target();
  target.set_server("host2");
  const std::string marker = Marker("tcall");
  for (int i = 0; i < 6; ++i) {
    v1::CallResponse response;
    grpc::Status status = Call(
        target, "echo", absl::StrCat(R"({"marker": ")", marker, "-", i, R"("})"), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(Member(response.result_json(), "server"), R"("host2")");
  }
  // The reply can overtake the reader of the server's stdout; lines arrive in order, so
  // once the last call's line is read, all are.
  ASSERT_TRUE(AwaitLine("host2", absl::StrCat(marker, "-5")).ok());
  EXPECT_EQ(CountLines("host2", marker), 6);
  EXPECT_EQ(CountLines("host1", marker), 0);
  EXPECT_EQ(CountLines("host3", marker), 0);
}

TEST_F(InteropTest, ServerTargetedCastReachesOnlyThatServer) {
  const std::string marker = Marker("tcast");
  v1::CastRequest request;
  *request.mutable_target() = Target();
  request.mutable_target()->set_server("host3");
  request.set_method("note");
  request.set_args_json(absl::StrCat(R"({"marker": ")", marker, R"("})"));
  for (int i = 0; i < 4; ++i) {
    v1::CastResponse response;
    ASSERT_TRUE(gateway_->client->Cast(request, &response).ok());
  }
  Barrier("host3");
  Barrier("host1");
  Barrier("host2");
  int casts = 0;
  for (const std::string& line : servers_.at("host3")->Lines()) {
    if (absl::StrContains(line, marker) && absl::StrContains(line, R"("event": "cast")")) ++casts;
  }
  EXPECT_EQ(casts, 4);
  EXPECT_EQ(CountLines("host3", marker), 8);  // an "invoked" and a "cast" line each
  EXPECT_EQ(CountLines("host1", marker), 0);
  EXPECT_EQ(CountLines("host2", marker), 0);
}

TEST_F(InteropTest, FanoutReachesEachOfThreeServersExactlyOnce) {
  const std::string first = Marker("fanout");
  const std::string second = Marker("fanout-barrier");
  for (const std::string& marker : {first, second}) {
    v1::FanoutRequest request;
    *request.mutable_target() = Target();
    request.set_method("note");
    request.set_args_json(absl::StrCat(R"({"marker": ")", marker, R"("})"));
    v1::FanoutResponse response;
    grpc::Status status = gateway_->client->Fanout(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // Each server's fanout queue is FIFO: once the second fanout is seen, any copy of the
  // first would have been seen before it.
  for (const char* server : {"host1", "host2", "host3"}) {
    ASSERT_TRUE(AwaitLine(server, absl::StrCat(second, R"("}, "method": "note", "server")")).ok()
                || AwaitLine(server, second).ok());
    EXPECT_TRUE(AwaitLine(server, first).ok()) << server;
  }
  for (const char* server : {"host1", "host2", "host3"}) {
    Barrier(server);
    int casts = 0;
    for (const std::string& line : servers_.at(server)->Lines()) {
      if (absl::StrContains(line, first) && absl::StrContains(line, R"("event": "cast")")) {
        ++casts;
      }
    }
    EXPECT_EQ(casts, 1) << server;
  }
  // Other cells' servers share the topic name but not the vhost.
  EXPECT_EQ(CountLines("a1", first), 0);
  EXPECT_EQ(CountLines("b1", first), 0);
}

TEST_F(InteropTest, NamespaceAndVersionSelectTheEndpoint) {
  v1::Target admin = Target();
  admin.set_namespace_("admin");
  admin.set_version("2.0");
  v1::CallResponse response;
  grpc::Status status = Call(admin, "ns_only", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result_json(), R"("from admin namespace")");

  v1::Target compatible = Target();
  compatible.set_version("1.2");
  status = Call(compatible, "echo", "{}", &response);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // The default namespace's endpoint is at 1.3, so ns_only at 2.0 there is no match.
  v1::Target wrong_namespace = Target();
  wrong_namespace.set_version("2.0");
  status = Call(wrong_namespace, "ns_only", "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(InteropTest, UnsupportedVersionMapsToFailedPreconditionWithRemoteError) {
  v1::Target target = Target();
  target.set_version("1.4");
  v1::CallResponse response;
  grpc::Status status = Call(target, "echo", "{}", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  auto remote = client::RemoteErrorOf(status);
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->exception_class(), "UnsupportedVersion");
  EXPECT_EQ(remote->exception_module(), "oslo_messaging.rpc.dispatcher");
  EXPECT_THAT(remote->message(), HasSubstr("Endpoint does not support RPC version 1.4"));
}

TEST_F(InteropTest, UnknownMethodMapsToUnimplementedWithRemoteError) {
  v1::CallResponse response;
  grpc::Status status = Call(Target(), "no_such_method", "{}", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  auto remote = client::RemoteErrorOf(status);
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->exception_class(), "NoSuchMethod");
  EXPECT_EQ(remote->exception_module(), "oslo_messaging.rpc.dispatcher");
  EXPECT_EQ(remote->message(), "Endpoint does not support RPC method no_such_method");
}

TEST_F(InteropTest, BuiltinExceptionComesBackWithClassModuleMessageAndTraceback) {
  v1::CallResponse response;
  grpc::Status status = Call(Target(), "fail_value", R"({"what": "size -1"})", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  auto remote = client::RemoteErrorOf(status);
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->exception_class(), "ValueError");
  EXPECT_EQ(remote->exception_module(), "builtins");
  EXPECT_THAT(remote->message(), HasSubstr("size -1"));
  EXPECT_EQ(remote->args_json(), absl::StrCat("[\"", remote->message(), "\"]"));
  EXPECT_EQ(remote->kwargs_json(), "{}");
  ASSERT_GT(remote->traceback_size(), 1);
  EXPECT_EQ(remote->traceback(0), "Traceback (most recent call last):\n");
  EXPECT_THAT(remote->traceback(remote->traceback_size() - 1), HasSubstr("ValueError: "));
  EXPECT_THAT(status.error_message(), HasSubstr("ValueError"));
}

TEST_F(InteropTest, CustomModuleExceptionComesBackWithKwargs) {
  v1::CallResponse response;
  grpc::Status status = Call(Target(), "fail_custom", "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  auto remote = client::RemoteErrorOf(status);
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->exception_class(), "CellQuotaExceeded");
  EXPECT_EQ(remote->exception_module(), "cellgw_test_exc");
  EXPECT_EQ(remote->message(), "Quota exceeded for cores: requested 8");
  EXPECT_EQ(Members(remote->kwargs_json()),
            (std::map<std::string, std::string>{{"resource", R"("cores")"}, {"requested", "8"}}));
  EXPECT_EQ(remote->args_json(), R"(["Quota exceeded for cores: requested 8"])");
  EXPECT_THAT(status.error_message(),
              HasSubstr("cellgw_test_exc.CellQuotaExceeded: Quota exceeded for cores"));
}

TEST_F(InteropTest, VersionOverTheCapIsRefusedAndNothingIsSent) {
  const std::string marker = Marker("capped");
  const std::string args = absl::StrCat(R"({"marker": ")", marker, R"("})");
  v1::Target over = Target("capped");
  over.set_version("1.2");
  v1::CallResponse response;
  grpc::Status status = Call(over, "echo", args, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("version cap 1.1"));

  v1::Target none = Target("capped");  // a capped topic needs a version, as in oslo
  status = Call(none, "echo", args, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::CastRequest cast;
  *cast.mutable_target() = over;
  cast.set_method("note");
  cast.set_args_json(args);
  v1::CastResponse cast_response;
  EXPECT_EQ(gateway_->client->Cast(cast, &cast_response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // Nothing reached the broker on the capped cell's connection (it has sent nothing yet) ...
  EXPECT_THAT(gateway_->server->metrics().Scrape(),
              HasSubstr("cellgw_amqp_messages_published_total{cell=\"capped\"} 0"));
  // ... and no server ran it.
  for (const char* server : {"host1", "host2", "host3"}) Barrier(server);
  for (const char* server : {"host1", "host2", "host3"}) EXPECT_EQ(CountLines(server, marker), 0);

  // At the cap it goes through.
  v1::Target at_cap = Target("capped");
  at_cap.set_version("1.1");
  status = Call(at_cap, "echo", args, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(InteropTest, CallNobodyAnswersEndsWithDeadlineExceededAtItsTimeout) {
  v1::CallRequest request = SlowCall("cell1", "host1", 4);
  request.mutable_timeout()->set_seconds(1);
  v1::CallResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = gateway_->client->Call(request, &response);
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(elapsed, absl::Seconds(1));
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
}

TEST_F(InteropTest, GrpcDeadlineEndsTheCallWhenItIsEarlierThanTheTimeout) {
  v1::CallRequest request = SlowCall("cell1", "host2", 4);
  request.mutable_timeout()->set_seconds(30);
  v1::CallResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status =
      gateway_->client->Call(request, &response, absl::Now() + absl::Milliseconds(800));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(elapsed, absl::Milliseconds(1300));
}

TEST_F(InteropTest, ATimeoutOverMaxCallTimeoutIsCutToIt) {
  // Asking for 30 s does not lengthen the call beyond the cell's bound (1 s): the 4 s
  // method's reply would come too late.
  v1::CallRequest request = SlowCall("short", "host3", 4);
  request.mutable_timeout()->set_seconds(30);
  v1::CallResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status =
      gateway_->client->Call(request, &response, absl::Now() + absl::Seconds(20));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_GE(elapsed, absl::Seconds(1));
  EXPECT_LT(elapsed, absl::Milliseconds(2500));
}

TEST_F(InteropTest, CallMonitorHeartbeatsKeepALongCallAliveBeyondTheMonitorTimeout) {
  // oslo's server sends a heartbeat every _timeout/2 seconds while the method runs; without
  // them the 2 s monitor would end this 3 s call.
  v1::CallRequest request = SlowCall("cell1", "host3", 3);
  request.mutable_call_monitor_timeout()->set_seconds(2);
  v1::CallResponse response;
  grpc::Status status = gateway_->client->Call(request, &response, absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result_json(), R"("slept 3")");
}

TEST_F(InteropTest, TwoHundredConcurrentCallsEachGetTheirOwnAnswer) {
  constexpr int kCalls = 200;
  struct Pending {
    grpc::ClientContext context;
    v1::CallRequest request;
    v1::CallResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Pending>> calls;
  absl::BlockingCounter done(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    auto pending = std::make_unique<Pending>();
    pending->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    *pending->request.mutable_target() = Target();
    pending->request.set_method("echo");
    pending->request.set_args_json(absl::StrCat(R"({"i": )", i, "}"));
    calls.push_back(std::move(pending));
  }
  // All issued before any is awaited: the callback API, no thread per call.
  for (auto& pending : calls) {
    Pending* p = pending.get();
    gateway_->client->stub().async()->Call(&p->context, &p->request, &p->response,
                                           [p, &done](grpc::Status status) {
                                             p->status = std::move(status);
                                             done.DecrementCount();
                                           });
  }
  done.Wait();
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(calls[i]->status.ok()) << i << ": " << calls[i]->status.error_message();
    EXPECT_EQ(Member(calls[i]->response.result_json(), "kw"), absl::StrCat(R"({"i": )", i, "}"));
  }
}

TEST_F(InteropTest, TwoCellsOnTwoVirtualHostsStayApart) {
  const std::string marker = Marker("vhost");
  const std::string args = absl::StrCat(R"({"marker": ")", marker, R"("})");
  for (const char* cell : {"cell_a", "cell_b"}) {
    v1::CallResponse response;
    grpc::Status status = Call(Target(cell), "echo", args, &response);
    ASSERT_TRUE(status.ok()) << cell << ": " << status.error_message();
    EXPECT_EQ(Member(response.result_json(), "server"),
              std::string(cell) == "cell_a" ? R"("a1")" : R"("b1")");
  }
  v1::FanoutRequest fanout;
  *fanout.mutable_target() = Target("cell_a");
  fanout.set_method("note");
  fanout.set_args_json(args);
  v1::FanoutResponse fanout_response;
  ASSERT_TRUE(gateway_->client->Fanout(fanout, &fanout_response).ok());
  // This fanout's own cast line (a1 printed cast lines in earlier tests too); a1's lines
  // arrive in order, so once it is read the call's line is read as well.
  ASSERT_TRUE(servers_.at("a1")
                  ->WaitForLine(
                      [&](const std::string& line) {
                        return absl::StrContains(line, R"("event": "cast")") &&
                               absl::StrContains(line, marker);
                      },
                      kWait)
                  .ok());
  Barrier("b1", "cell_b");
  EXPECT_EQ(CountLines("a1", marker), 3);  // call: invoked; fanout: invoked + cast
  EXPECT_EQ(CountLines("b1", marker), 1);  // its own call only
  for (const char* server : {"host1", "host2", "host3"}) EXPECT_EQ(CountLines(server, marker), 0);
}

TEST_F(InteropTest, CastToATopicNobodyListensOnFailsAtOnceWithUnavailable) {
  v1::CastRequest request;
  *request.mutable_target() = Target();
  request.mutable_target()->set_topic("nobody_listens");
  request.set_method("note");
  v1::CastResponse response;
  grpc::Status status = gateway_->client->Cast(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("no server listening"));
}

TEST_F(InteropTest, RequestsBeyondMaxInFlightAreRefusedAtOnceAndTheOthersComplete) {
  struct Pending {
    grpc::ClientContext context;
    v1::CallRequest request;
    v1::CallResponse response;
    grpc::Status status;
  };
  // A distinctive duration marks this test's calls in the servers' output.
  const std::string seconds = "1.7314159";
  std::vector<std::unique_ptr<Pending>> calls(3);
  absl::BlockingCounter done(3);
  for (auto& pending : calls) {
    pending = std::make_unique<Pending>();
    *pending->request.mutable_target() = Target("small");
    pending->request.set_method("slow");
    pending->request.set_args_json(absl::StrCat(R"({"seconds": )", seconds, "}"));
    Pending* p = pending.get();
    gateway_->client->stub().async()->Call(&p->context, &p->request, &p->response,
                                           [p, &done](grpc::Status status) {
                                             p->status = std::move(status);
                                             done.DecrementCount();
                                           });
  }
  // Once every server has started them, all three are in flight in the gateway.
  int started = 0;
  for (const char* server : {"host1", "host2", "host3"}) {
    started += CountLines(server, seconds);
  }
  for (int i = 0; i < 3 && started < 3; ++i) {
    for (const char* server : {"host1", "host2", "host3"}) {
      (void)servers_.at(server)->WaitForLine(
          [&](const std::string& l) { return absl::StrContains(l, seconds); },
          absl::Milliseconds(500));
    }
    started = CountLines("host1", seconds) + CountLines("host2", seconds) +
              CountLines("host3", seconds);
  }
  ASSERT_EQ(started, 3);

  const absl::Time start = absl::Now();
  v1::CallResponse response;
  grpc::Status refused = Call(Target("small"), "echo", "{}", &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("max_in_flight"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  v1::CastRequest cast;
  *cast.mutable_target() = Target("small");
  cast.set_method("note");
  v1::CastResponse cast_response;
  EXPECT_EQ(gateway_->client->Cast(cast, &cast_response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  done.Wait();
  for (auto& pending : calls) EXPECT_TRUE(pending->status.ok()) << pending->status.error_message();
  // Capacity is back once they finished.
  EXPECT_TRUE(Call(Target("small"), "echo", "{}", &response).ok());
}

TEST_F(InteropTest, ACallerThatCancelsFreesItsMaxInFlightSlotAtOnce) {
  // "single" allows one request in flight. The slow call holds it until its caller cancels;
  // before, the slot stayed taken until the method returned (15 s) or the call's deadline.
  const std::string seconds = "15.0271828";
  v1::CallRequest slow = SlowCall("single", "host1", 0);
  slow.set_args_json(absl::StrCat(R"({"seconds": )", seconds, "}"));
  grpc::ClientContext context;
  v1::CallResponse slow_response;
  absl::Notification slow_done;
  grpc::Status slow_status;
  gateway_->client->stub().async()->Call(&context, &slow, &slow_response,
                                         [&](grpc::Status status) {
                                           slow_status = std::move(status);
                                           slow_done.Notify();
                                         });
  ASSERT_TRUE(AwaitLine("host1", seconds).ok()) << "the server is running it";
  v1::CallResponse response;
  ASSERT_EQ(Call(Target("single"), "echo", "{}", &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "the one slot is taken";

  const absl::Time cancelled_at = absl::Now();
  context.TryCancel();
  ASSERT_TRUE(slow_done.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(slow_status.error_code(), grpc::StatusCode::CANCELLED);
  // The gateway learns of the cancel a moment after the client: ask until the slot is back,
  // bounded well inside the 15 s the method still runs.
  grpc::Status next;
  do {
    if (next.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      absl::SleepFor(absl::Milliseconds(5));  // a poll interval, not a wait for an event
    }
    next = Call(Target("single"), "echo", "{}", &response);
  } while (next.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
           absl::Now() - cancelled_at < absl::Seconds(8));
  EXPECT_TRUE(next.ok()) << next.error_message();
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(8))
      << "the slot came back only when the method returned";
}

TEST_F(InteropTest, ListCellsShowsEveryCellConnectedWithoutPasswords) {
  v1::ListCellsResponse response;
  ASSERT_TRUE(gateway_->client->ListCells(&response).ok());
  ASSERT_EQ(response.cells_size(), 7);
  for (const auto& cell : response.cells()) {
    EXPECT_TRUE(cell.connected()) << cell.name();
    EXPECT_EQ(cell.control_exchange(), "nova");
    EXPECT_THAT(cell.transport_url(), HasSubstr("guest:***@127.0.0.1:"));
    EXPECT_THAT(cell.transport_url(), ::testing::Not(HasSubstr("guest:guest")));
  }
}

}  // namespace
}  // namespace cellgw::testing
