// A call in flight when the gateway's AMQP connection drops while the broker stays up
// (issue 5 item 1): the reply queue is not exclusive and outlives the connection, so after the
// reconnect the gateway consumes it again under the same name and the call still gets its
// reply. And its counterpart: when the reply queue itself is deleted, the call can never be
// answered and must fail at once with UNAVAILABLE instead of waiting out its deadline, and
// later calls must work again.
//
// And when the old connection is cut by a network partition rather than closed, the broker
// may keep it, with its consumer on the same reply queue, for a while after the gateway has
// reconnected: replies the broker hands to that zombie consumer must not be lost.
//
// One private broker; the raw AMQP peer tests/support/hostile_peer.py on topic "peer"
// (exchange "nova"), whose "hold" calls get no reply until a later "release" request: so the
// test decides when a reply is sent, whatever rabbitmqctl's latency; one in-process gateway
// with cell "c1" (direct to the broker) and cell "z" (vhost "zv", with a peer of its own,
// through a TcpProxy, heartbeat 2 s).
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/resilience/resilience_support.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr absl::Duration kHeldCallTimeout = absl::Seconds(20);
constexpr absl::Duration kHeartbeat = absl::Seconds(2);

class ReconnectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto node = RabbitMqNode::Start(TestTmpDir() + "/reconnect_rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    ASSERT_TRUE(node_->AddVhost("zv").ok());
    peer_ = StartPeer(node_->Url());
    ASSERT_NE(peer_, nullptr);
    zombie_peer_ = StartPeer(node_->Url("zv"));
    ASSERT_NE(zombie_peer_, nullptr);
    auto proxy = TcpProxy::Start(node_->amqp_port());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = proxy->release();
    bridge::CellOptions proxied =
        Cell("z", absl::StrCat("rabbit://guest:guest@127.0.0.1:", proxy_->port(), "/zv"), "nova");
    proxied.heartbeat_timeout_threshold = kHeartbeat;
    auto gateway = StartGateway({Cell("c1", node_->Url(), "nova"), proxied});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete proxy_;
    proxy_ = nullptr;
    delete peer_;
    peer_ = nullptr;
    delete zombie_peer_;
    zombie_peer_ = nullptr;
    delete node_;
    node_ = nullptr;
  }

  static OsloProcess* StartPeer(const std::string& url) {
    auto peer = OsloProcess::Run({RunfilePath("tests/support/hostile_peer.py"), "--url", url,
                                  "--exchange", "nova", "--topic", "peer"});
    EXPECT_TRUE(peer.ok()) << peer.status();
    if (!peer.ok()) return nullptr;
    auto ready = (*peer)->WaitForLine(
        [](const std::string& line) { return absl::StrContains(line, R"("event": "ready")"); },
        absl::Seconds(60));
    EXPECT_TRUE(ready.ok()) << ready.status();
    return peer->release();
  }

  void SetUp() override { health_ = std::make_unique<HealthWatcher>(gateway_->address, "cell/c1"); }
  // Its open Watch stream would hold up the gateway's shutdown.
  void TearDown() override { health_.reset(); }

  static v1::Target Target(const std::string& cell = "c1") {
    v1::Target target;
    target.set_cell(cell);
    target.set_topic("peer");
    return target;
  }

  // Starts a "hold" call and returns once the peer holds it: the call is in flight and its
  // reply will only be sent on "release".
  static void StartHeldCall(AsyncCalls& calls, const std::string& args) {
    calls.Start(Target(), "hold", args, kHeldCallTimeout);
    auto held = peer_->WaitForLine(
        [&](const std::string& line) {
          return absl::StrContains(line, R"("method": "hold")") && absl::StrContains(line, args);
        },
        kWait);
    ASSERT_TRUE(held.ok()) << held.status();
  }

  static double Reconnects() {
    return MetricValue(gateway_->server->metrics().Scrape(), "cellgw_amqp_reconnects_total",
                       {{"cell", "c1"}});
  }

  static RabbitMqNode* node_;
  static OsloProcess* peer_;
  static OsloProcess* zombie_peer_;  // on vhost "zv", for cell "z"
  static TcpProxy* proxy_;
  static RunningGateway* gateway_;
  std::unique_ptr<HealthWatcher> health_;
};

RabbitMqNode* ReconnectTest::node_ = nullptr;
OsloProcess* ReconnectTest::peer_ = nullptr;
OsloProcess* ReconnectTest::zombie_peer_ = nullptr;
TcpProxy* ReconnectTest::proxy_ = nullptr;
RunningGateway* ReconnectTest::gateway_ = nullptr;

TEST_F(ReconnectTest, CallInFlightGetsItsReplyAfterTheConnectionIsClosedAndReopened) {
  const double reconnects_before = Reconnects();
  AsyncCalls calls(gateway_->client.get());
  const std::string args = MarkedArgs(Marker("survive"), 1);
  StartHeldCall(calls, args);

  auto connections = GatewayConnections(*node_);
  ASSERT_TRUE(connections.ok()) << connections.status();
  ASSERT_EQ(connections->size(), 1u);
  const absl::Time closing_at = absl::Now();
  ASSERT_TRUE(node_->Ctl({"close_connection", connections->front(), "resilience test"}).ok());
  // The first SERVING update after the close comes from the new connection, which consumes
  // the reply queue before it reports itself up.
  auto up = health_->WaitFor(true, closing_at, kWait);
  ASSERT_TRUE(up.ok()) << up.status();
  // Only now is the reply sent.
  const Outcome release = TimedCast(*gateway_->client, Target(), "release", "{}");
  ASSERT_EQ(release.code, grpc::StatusCode::OK) << release.message;

  auto outcomes = calls.Wait(kWait);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 1u);
  const Outcome& call = outcomes->front();
  std::cout << "[figures] connection closed under a call: call code=" << call.code
            << " elapsed_s=" << Seconds(call.elapsed)
            << " reconnects=" << Reconnects() - reconnects_before
            << " close_to_reconnected_s=" << Seconds(*up - closing_at) << " (includes rabbitmqctl)"
            << std::endl;
  EXPECT_EQ(call.code, grpc::StatusCode::OK) << call.message;
  EXPECT_EQ(call.result_json, args);
  EXPECT_EQ(Reconnects() - reconnects_before, 1);
  auto after = GatewayConnections(*node_);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_NE(after->front(), connections->front());
}

TEST_F(ReconnectTest, CallInFlightFailsAtOnceWithUnavailableWhenItsReplyQueueIsDeleted) {
  AsyncCalls calls(gateway_->client.get());
  const std::string args = MarkedArgs(Marker("lostq"), 1);
  StartHeldCall(calls, args);

  auto queues = ReplyQueues(*node_);
  ASSERT_TRUE(queues.ok()) << queues.status();
  ASSERT_EQ(queues->size(), 1u);
  ASSERT_TRUE(node_->Ctl({"delete_queue", queues->front()}).ok());
  // rabbitmqctl exits once the queue is deleted.
  const absl::Time deleted_by = absl::Now();

  auto outcomes = calls.Wait(kHeldCallTimeout + kGrpcMargin);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 1u);
  const Outcome& call = outcomes->front();
  // The held reply now goes to the re-declared queue (dropped there as late), and the
  // connection serves calls again.
  const Outcome release = TimedCast(*gateway_->client, Target(), "release", "{}");
  const Outcome next =
      TimedCall(*gateway_->client, Target(), "valid", MarkedArgs("next", 2), absl::Seconds(10));
  std::cout << "[figures] reply queue deleted under a call: call code=" << call.code
            << " elapsed_s=" << Seconds(call.elapsed)
            << " ended_after_delete_s=" << Seconds(call.ended - deleted_by)
            << " next_call code=" << next.code << " message=" << call.message << std::endl;
  EXPECT_EQ(call.code, grpc::StatusCode::UNAVAILABLE) << call.message;
  // At once (it may even end before rabbitmqctl exits), not at its 20 s deadline.
  EXPECT_LT(call.ended - deleted_by, absl::Seconds(1));
  EXPECT_EQ(release.code, grpc::StatusCode::OK) << release.message;
  EXPECT_EQ(next.code, grpc::StatusCode::OK) << next.message;
}

TEST_F(ReconnectTest, RepliesHandedToAZombieConsumerOfTheOldConnectionAreNotLost) {
  HealthWatcher health(gateway_->address, "cell/z");
  ASSERT_TRUE(health.WaitFor(true, absl::InfinitePast(), kWait).ok());
  const Outcome warm =
      TimedCall(*gateway_->client, Target("z"), "valid", MarkedArgs("warm", 0), kWait);
  ASSERT_EQ(warm.code, grpc::StatusCode::OK) << warm.message;

  // Cut the idle connection like a partition, and keep the broker's end alive.
  const absl::Time cut_at = absl::Now();
  proxy_->SetZombieHeartbeats(true);
  ASSERT_EQ(proxy_->Partition(), 1);
  auto down = health.WaitFor(false, cut_at, kWait);
  ASSERT_TRUE(down.ok()) << down.status();
  auto up = health.WaitFor(true, *down, kWait);
  ASSERT_TRUE(up.ok()) << up.status();
  // The broker now has two consumers on the cell's reply queue: the new connection's and
  // the zombie's, and hands replies to them in turn.
  constexpr int kCalls = 6;
  const std::string marker = Marker("zombie");
  AsyncCalls calls(gateway_->client.get());
  for (int i = 0; i < kCalls; ++i) {
    calls.Start(Target("z"), "valid", MarkedArgs(marker, i), kHeldCallTimeout);
  }
  int replied = 0;
  auto all_replied = zombie_peer_->WaitForLine(
      [&](const std::string& line) {
        if (absl::StrContains(line, R"("event": "replied")") &&
            absl::StrContains(line, R"("method": "valid")")) {
          ++replied;
        }
        return replied == kCalls + 1;  // and the warm-up call's
      },
      kWait);
  ASSERT_TRUE(all_replied.ok()) << all_replied.status();
  // Let the zombie die: the broker notices after its missed heartbeats and takes back what it
  // had handed it but never saw acknowledged.
  const absl::Time released_at = absl::Now();
  proxy_->SetZombieHeartbeats(false);

  auto outcomes = calls.Wait(kHeldCallTimeout + kGrpcMargin);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  absl::Duration latest = absl::ZeroDuration();
  for (const Outcome& o : *outcomes) latest = std::max(latest, o.ended - released_at);
  std::cout << "[figures] zombie consumer: calls=" << kCalls
            << " ok=" << CountCode(*outcomes, grpc::StatusCode::OK)
            << " deadline_exceeded=" << CountCode(*outcomes, grpc::StatusCode::DEADLINE_EXCEEDED)
            << " detect_s=" << Seconds(*down - cut_at)
            << " last_ended_after_zombie_released_s=" << Seconds(latest) << std::endl;
  EXPECT_EQ(CountCode(*outcomes, grpc::StatusCode::OK), kCalls);
}

}  // namespace
}  // namespace cellgw::testing
