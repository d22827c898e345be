// Two independent brokers in one transport URL (issue 5 item 1, failover):
// rabbit://guest:guest@127.0.0.1:P1,guest:guest@127.0.0.1:P2/. Each broker has its own real
// oslo.messaging server on topic "compute" (servers "on_a" and "on_b", so a call's result
// says which broker carried it). The broker the gateway is connected to is killed: calls
// succeed again on the other one after a short reconnect, without restarting the gateway.
// Then the other one is stopped cleanly too: with no broker left, requests fail at once.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/resilience/resilience_support.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"

namespace cellgw::testing {
namespace {

// The oslo server name on each broker, as its echo() reports it.
constexpr const char* kServerNames[] = {"on_a", "on_b"};

v1::Target Target() {
  v1::Target target;
  target.set_cell("pair");
  target.set_topic("compute");
  return target;
}

// Which broker (0 or 1) carried a call, from the server name its echo() returned; -1 when
// neither.
int BrokerOf(const Outcome& call) {
  for (int i = 0; i < 2; ++i) {
    if (Member(call.result_json, "server") == absl::StrCat("\"", kServerNames[i], "\"")) {
      return i;
    }
  }
  return -1;
}

TEST(MultiBrokerTest, TrafficMovesToTheOtherBrokerWhenTheConnectedOneFailsAndFailsFastWithNone) {
  std::unique_ptr<RabbitMqNode> owned[2];
  std::unique_ptr<OsloProcess> servers[2];
  RabbitMqNode* nodes[2];
  for (int i = 0; i < 2; ++i) {
    auto node = RabbitMqNode::Start(absl::StrCat(TestTmpDir(), "/pair_rmq_", i));
    ASSERT_TRUE(node.ok()) << node.status();
    owned[i] = *std::move(node);
    nodes[i] = owned[i].get();
    const OsloServerOptions options = ComputeServer(nodes[i]->Url(), kServerNames[i]);
    auto server = OsloProcess::StartServer(options);
    ASSERT_TRUE(server.ok()) << server.status();
    servers[i] = *std::move(server);
  }
  const std::string url = absl::StrCat("rabbit://guest:guest@127.0.0.1:", nodes[0]->amqp_port(),
                                       ",guest:guest@127.0.0.1:", nodes[1]->amqp_port(), "/");
  auto gateway = StartGateway({Cell("pair", url, "nova")});
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto health = std::make_unique<HealthWatcher>(gateway->address, "cell/pair");

  // The gateway picks one of the hosts; the server that answers tells which.
  Outcome before = TimedCall(*gateway->client, Target(), "echo", "{}", absl::Seconds(10));
  ASSERT_EQ(before.code, grpc::StatusCode::OK) << before.message;
  const int first = BrokerOf(before);
  ASSERT_GE(first, 0) << before.result_json;
  const int second = 1 - first;

  // Crash the broker in use.
  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE(nodes[first]->KillHard().ok());
  auto down = health->WaitFor(false, killed_at, absl::Seconds(10));
  ASSERT_TRUE(down.ok()) << down.status();
  auto up = health->WaitFor(true, *down, absl::Seconds(30));
  ASSERT_TRUE(up.ok()) << up.status();
  Outcome after = TimedCall(*gateway->client, Target(), "echo", "{}", absl::Seconds(10));
  const absl::Duration failover = absl::Now() - killed_at;
  ASSERT_EQ(after.code, grpc::StatusCode::OK) << after.message;
  EXPECT_EQ(BrokerOf(after), second);

  // Stop the second one too, cleanly this time: with no broker left, the cell reports
  // NOT_SERVING and requests fail at once with UNAVAILABLE instead of hanging.
  const absl::Time stopped_at = absl::Now();
  ASSERT_TRUE(nodes[second]->Stop().ok());
  auto none = health->WaitFor(false, stopped_at, absl::Seconds(30));
  ASSERT_TRUE(none.ok()) << none.status();
  const Outcome orphan = TimedCall(*gateway->client, Target(), "echo", "{}", absl::Seconds(10));
  const Outcome orphan_cast = TimedCast(*gateway->client, Target(), "note", "{}");

  std::cout << "[figures] two brokers: first=" << kServerNames[first]
            << " failover_detect_s=" << Seconds(*down - killed_at)
            << " failover_reconnect_s=" << Seconds(*up - *down)
            << " failover_first_ok_call_s=" << Seconds(failover)
            << " both_down_call code=" << orphan.code << " s=" << Seconds(orphan.elapsed)
            << " both_down_cast code=" << orphan_cast.code << " s=" << Seconds(orphan_cast.elapsed)
            << std::endl;
  EXPECT_EQ(orphan.code, grpc::StatusCode::UNAVAILABLE) << orphan.message;
  EXPECT_LT(orphan.elapsed, absl::Milliseconds(500));
  EXPECT_EQ(orphan_cast.code, grpc::StatusCode::UNAVAILABLE) << orphan_cast.message;
  EXPECT_LT(orphan_cast.elapsed, absl::Milliseconds(500));

  health.reset();  // its open Watch stream would hold up the gateway's shutdown
  gateway->server->Shutdown(absl::ZeroDuration());
  // Their brokers are gone, so oslo would linger in reconnect loops: no grace.
  for (auto& server : servers) EXPECT_TRUE(server->Stop(absl::Seconds(1)).ok());
  for (auto& node : owned) EXPECT_TRUE(node->Stop().ok());
}

}  // namespace
}  // namespace cellgw::testing
