// Hostile replies (issue 5 item 4): a raw AMQP peer (tests/support/hostile_peer.py) consumes
// topic "hostile" on the cell's exchange and answers each call according to its method name
// with garbage, wrong types, unknown or repeated msg ids, oversized bodies, a wrong content
// type, late or absurdly nested replies. For each, the call ends as it should (OK when a valid
// reply also came, otherwise DEADLINE_EXCEEDED at its own timeout), the bad reply is counted
// in cellgw_replies_dropped_total under the right reason (and no other), and the gateway goes
// on serving: the peer's next valid reply and a real oslo.messaging server still work.
//
// Counting is exact without sleeping: the peer answers requests one at a time, in order, on
// one channel, and the gateway has one connection, so when a later "valid" call returns,
// every reply to the earlier call has been read and classified.
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/resilience/resilience_support.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

constexpr uint64_t kMaxMessageBytes = 256 * 1024;
constexpr absl::Duration kBadTimeout = absl::Seconds(1);
// A DEADLINE_EXCEEDED call must end within this of its timeout.
constexpr absl::Duration kSlack = absl::Milliseconds(500);
const char* const kReasons[] = {"late", "duplicate", "unknown", "malformed", "oversized"};

struct HostileCase {
  std::string method;
  std::string args_json;
  grpc::StatusCode code;               // what the call ends with
  std::map<std::string, int> dropped;  // reason -> replies dropped for it
};

std::vector<HostileCase> Cases() {
  using grpc::StatusCode;
  return {
      {"not_json", "{}", StatusCode::DEADLINE_EXCEEDED, {{"malformed", 1}}},
      // `_msg_id` a number, then the right id with `failure` an object.
      {"wrong_types", "{}", StatusCode::DEADLINE_EXCEEDED, {{"malformed", 2}}},
      {"unknown_msgid", "{}", StatusCode::DEADLINE_EXCEEDED, {{"unknown", 1}}},
      {"twice", R"({"n": 7})", StatusCode::OK, {{"duplicate", 1}}},
      {"huge", R"({"bytes": 1048576})", StatusCode::DEADLINE_EXCEEDED, {{"oversized", 1}}},
      {"wrong_content_type", "{}", StatusCode::DEADLINE_EXCEEDED, {{"malformed", 1}}},
      {"valid_after_garbage", R"({"n": 8})", StatusCode::OK, {{"malformed", 1}}},
      // The valid reply comes 2 s after the call (1 s timeout) gave up.
      {"late", R"({"delay": 2})", StatusCode::DEADLINE_EXCEEDED, {{"late", 1}}},
      // 20000 nested lists, deeper than the JSON scanner's limit.
      {"deep", R"({"depth": 20000})", StatusCode::DEADLINE_EXCEEDED, {{"malformed", 1}}},
  };
}

class HostileReplyTest : public ::testing::TestWithParam<HostileCase> {
 protected:
  static void SetUpTestSuite() {
    auto node = RabbitMqNode::Start(TestTmpDir() + "/hostile_rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    auto peer = OsloProcess::Run({RunfilePath("tests/support/hostile_peer.py"), "--url",
                                  node_->Url(), "--exchange", "nova", "--topic", "hostile"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peer_ = peer->release();
    auto ready = peer_->WaitForLine(
        [](const std::string& line) { return absl::StrContains(line, R"("event": "ready")"); },
        absl::Seconds(60));
    ASSERT_TRUE(ready.ok()) << ready.status();
    const OsloServerOptions options = ComputeServer(node_->Url());
    auto server = OsloProcess::StartServer(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();

    bridge::CellOptions cell = Cell("hostile", node_->Url(), "nova");
    cell.max_message_bytes = kMaxMessageBytes;
    auto gateway = StartGateway({cell});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete peer_;
    peer_ = nullptr;
    delete node_;
    node_ = nullptr;
  }

  static v1::Target Target(const std::string& topic = "hostile") {
    v1::Target target;
    target.set_cell("hostile");
    target.set_topic(topic);
    return target;
  }

  static std::map<std::string, double> Dropped() {
    const std::string scrape = gateway_->server->metrics().Scrape();
    std::map<std::string, double> dropped;
    for (const char* reason : kReasons) {
      dropped[reason] = MetricValue(scrape, "cellgw_replies_dropped_total",
                                    {{"cell", "hostile"}, {"reason", reason}});
    }
    return dropped;
  }

  static RabbitMqNode* node_;
  static OsloProcess* peer_;
  static OsloProcess* server_;
  static RunningGateway* gateway_;
};

RabbitMqNode* HostileReplyTest::node_ = nullptr;
OsloProcess* HostileReplyTest::peer_ = nullptr;
OsloProcess* HostileReplyTest::server_ = nullptr;
RunningGateway* HostileReplyTest::gateway_ = nullptr;

TEST_P(HostileReplyTest, CallEndsAsExpectedBadRepliesAreCountedAndTheGatewayKeepsServing) {
  const HostileCase& c = GetParam();
  const std::map<std::string, double> before = Dropped();

  const Outcome call = TimedCall(*gateway_->client, Target(), c.method, c.args_json, kBadTimeout);
  // The peer's next reply follows every reply to the call above (see the file comment).
  const std::string barrier_args = MarkedArgs(Marker("barrier"), 1);
  const Outcome barrier =
      TimedCall(*gateway_->client, Target(), "valid", barrier_args, absl::Seconds(10));
  const std::map<std::string, double> after = Dropped();

  std::cout << "[figures] hostile " << c.method << ": code=" << call.code
            << " elapsed_s=" << Seconds(call.elapsed);
  for (const char* reason : kReasons) {
    std::cout << " " << reason << "+" << after.at(reason) - before.at(reason);
  }
  std::cout << std::endl;

  EXPECT_EQ(call.code, c.code) << call.message;
  if (c.code == grpc::StatusCode::OK) {
    EXPECT_EQ(call.result_json, c.args_json);
  } else {
    // The gateway itself ended it at its timeout, not the gRPC client later.
    EXPECT_GE(call.elapsed, kBadTimeout);
    EXPECT_LE(call.elapsed, kBadTimeout + kSlack);
  }
  for (const char* reason : kReasons) {
    const auto it = c.dropped.find(reason);
    EXPECT_EQ(after.at(reason) - before.at(reason), it == c.dropped.end() ? 0 : it->second)
        << "reason " << reason;
  }
  ASSERT_EQ(barrier.code, grpc::StatusCode::OK) << barrier.message;
  EXPECT_EQ(barrier.result_json, barrier_args);
  const Outcome real =
      TimedCall(*gateway_->client, Target("compute"), "echo", R"({"x": 1})", absl::Seconds(10));
  ASSERT_EQ(real.code, grpc::StatusCode::OK) << real.message;
  EXPECT_EQ(Member(real.result_json, "server"), R"("host1")");
}

INSTANTIATE_TEST_SUITE_P(Replies, HostileReplyTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return info.param.method;
                         });

}  // namespace
}  // namespace cellgw::testing
