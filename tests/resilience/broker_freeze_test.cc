// A broker frozen with SIGSTOP (issue 5 item 1): its TCP connections stay open and the kernel
// still completes new TCP handshakes, but nothing answers. With a 2 s heartbeat the gateway
// must notice by the missing heartbeats (within ~3 heartbeats), then refuse new requests at
// once with UNAVAILABLE, end every call by its own deadline, fail the calls stuck in the dead
// connection with UNAVAILABLE long before their deadlines, and recover by itself after
// SIGCONT. Publishing more than the socket buffers hold into the frozen broker must not wedge
// the gateway either.
//
// One private broker, one real oslo.messaging server (topic "compute", exchange "nova"), one
// in-process gateway whose cell has heartbeat_timeout_threshold 2. Each test freezes the
// broker and always continues it again, also when an assertion fails, and leaves the gateway
// connected.
#include <signal.h>

#include <algorithm>
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

constexpr absl::Duration kHeartbeat = absl::Seconds(2);
constexpr absl::Duration kLongTimeout = absl::Seconds(30);
constexpr absl::Duration kShortTimeout = absl::Seconds(2);
// "At once" for a refusal, and how late after its deadline a call may be reported.
constexpr absl::Duration kSlack = absl::Milliseconds(500);
// How long detection may take: rabbitmq-c gives up after two missed heartbeats, and the
// gateway's loop looks at least every half heartbeat.
const absl::Duration kDetectionBound = 3 * kHeartbeat + kSlack;
// The bound of one connection attempt (AmqpEndpoint::io_timeout): calls stuck in a dead
// connection stay pending until an attempt to reconnect has shown the broker unreachable.
constexpr absl::Duration kConnectAttempt = absl::Seconds(10);

// SIGCONTs the broker when the test leaves, however it leaves.
class Thaw {
 public:
  explicit Thaw(pid_t pid) : pid_(pid) {}
  ~Thaw() { Now(); }
  void Now() {
    if (pid_ > 0) kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

class BrokerFreezeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto node = RabbitMqNode::Start(TestTmpDir() + "/freeze_rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    ASSERT_GT(node_->beam_pid(), 0);
    const OsloServerOptions options = ComputeServer(node_->Url());
    auto server = OsloProcess::StartServer(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    bridge::CellOptions cell = Cell("frozen", node_->Url(), "nova");
    cell.heartbeat_timeout_threshold = kHeartbeat;
    auto gateway = StartGateway({cell});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete node_;
    node_ = nullptr;
  }

  void SetUp() override {
    health_ = std::make_unique<HealthWatcher>(gateway_->address, "cell/frozen");
    ASSERT_TRUE(health_->WaitFor(true, absl::InfinitePast(), absl::Seconds(60)).ok());
    const Outcome warm = TimedCall(*gateway_->client, Target(), "echo", "{}", absl::Seconds(10));
    ASSERT_EQ(warm.code, grpc::StatusCode::OK) << warm.message;
  }

  // Its open Watch stream would hold up the gateway's shutdown.
  void TearDown() override { health_.reset(); }

  static v1::Target Target() {
    v1::Target target;
    target.set_cell("frozen");
    target.set_topic("compute");
    return target;
  }

  static RabbitMqNode* node_;
  static OsloProcess* server_;
  static RunningGateway* gateway_;
  std::unique_ptr<HealthWatcher> health_;
};

RabbitMqNode* BrokerFreezeTest::node_ = nullptr;
OsloProcess* BrokerFreezeTest::server_ = nullptr;
RunningGateway* BrokerFreezeTest::gateway_ = nullptr;

TEST_F(BrokerFreezeTest, HeartbeatDetectsTheFreezeRequestsFailFastAndTheGatewayRecovers) {
  Thaw thaw(node_->beam_pid());
  const absl::Time frozen_at = absl::Now();
  ASSERT_EQ(kill(node_->beam_pid(), SIGSTOP), 0);
  // Sent now, these look fine to the gateway (the socket takes them) but can never be
  // answered.
  AsyncCalls in_flight(gateway_->client.get());
  for (int i = 0; i < 5; ++i) {
    in_flight.Start(Target(), "echo", MarkedArgs("frozen", i), kLongTimeout);
  }

  auto down = health_->WaitFor(false, frozen_at, kDetectionBound + absl::Seconds(5));
  ASSERT_TRUE(down.ok()) << down.status();
  const absl::Duration detection = *down - frozen_at;

  // Once the connection is known dead, a call with a long deadline is refused at once...
  const Outcome fresh_long = TimedCall(*gateway_->client, Target(), "echo", "{}", kLongTimeout);
  // ...a call with a short deadline ends by it...
  const Outcome fresh_short = TimedCall(*gateway_->client, Target(), "echo", "{}", kShortTimeout);
  // ...and a cast is refused at once too.
  const Outcome fresh_cast = TimedCast(*gateway_->client, Target(), "note", "{}");
  // The calls stuck in the dead connection end with UNAVAILABLE once a reconnect attempt
  // failed, long before their deadline.
  auto stuck = in_flight.Wait(kLongTimeout + kGrpcMargin + absl::Seconds(5));
  ASSERT_TRUE(stuck.ok()) << stuck.status();
  absl::Duration stuck_ended = absl::ZeroDuration();
  for (const Outcome& o : *stuck) stuck_ended = std::max(stuck_ended, o.ended - frozen_at);

  const absl::Time thawed_at = absl::Now();
  thaw.Now();
  auto up = health_->WaitFor(true, *down, absl::Seconds(60));
  ASSERT_TRUE(up.ok()) << up.status();
  const Outcome after = TimedCall(*gateway_->client, Target(), "echo", "{}", absl::Seconds(10));

  std::cout << "[figures] SIGSTOP: detect_s=" << Seconds(detection)
            << " (heartbeat 2 s) in_flight_calls=" << stuck->size()
            << " in_flight_unavailable=" << CountCode(*stuck, grpc::StatusCode::UNAVAILABLE)
            << " in_flight_ended_after_freeze_s=" << Seconds(stuck_ended)
            << " fresh_long_call code=" << fresh_long.code << " s=" << Seconds(fresh_long.elapsed)
            << " fresh_short_call code=" << fresh_short.code
            << " s=" << Seconds(fresh_short.elapsed) << " fresh_cast code=" << fresh_cast.code
            << " s=" << Seconds(fresh_cast.elapsed)
            << " recover_after_sigcont_s=" << Seconds(*up - thawed_at)
            << " call_after code=" << after.code << std::endl;

  EXPECT_LE(detection, kDetectionBound);
  EXPECT_EQ(fresh_long.code, grpc::StatusCode::UNAVAILABLE) << fresh_long.message;
  EXPECT_LE(fresh_long.elapsed, kSlack);
  EXPECT_TRUE(fresh_short.code == grpc::StatusCode::UNAVAILABLE ||
              fresh_short.code == grpc::StatusCode::DEADLINE_EXCEEDED)
      << fresh_short.code << " " << fresh_short.message;
  EXPECT_LE(fresh_short.elapsed, kShortTimeout + kSlack);
  EXPECT_EQ(fresh_cast.code, grpc::StatusCode::UNAVAILABLE) << fresh_cast.message;
  EXPECT_LE(fresh_cast.elapsed, kSlack);
  EXPECT_EQ(CountCode(*stuck, grpc::StatusCode::UNAVAILABLE), 5);
  EXPECT_LE(stuck_ended, kDetectionBound + kConnectAttempt + absl::Seconds(1));
  EXPECT_EQ(after.code, grpc::StatusCode::OK) << after.message;
}

TEST_F(BrokerFreezeTest, PublishingMoreThanTheSocketHoldsIntoAFrozenBrokerDoesNotWedgeIt) {
  // 400 casts of 96 KiB: ~38 MiB, more than loopback socket buffers take, so the gateway's
  // writes would block for as long as the broker does not read, unless it stops writing into
  // a connection that does not drain.
  constexpr int kCasts = 400;
  const absl::Duration cast_deadline = absl::Seconds(20);
  const std::string payload(96 * 1024, 'p');
  Thaw thaw(node_->beam_pid());
  const absl::Time frozen_at = absl::Now();
  ASSERT_EQ(kill(node_->beam_pid(), SIGSTOP), 0);

  struct Slot {
    grpc::ClientContext context;
    v1::CastRequest request;
    v1::CastResponse response;
  };
  std::vector<std::unique_ptr<Slot>> slots;
  absl::Mutex mu;
  std::vector<Outcome> outcomes;
  for (int i = 0; i < kCasts; ++i) {
    auto slot = std::make_unique<Slot>();
    *slot->request.mutable_target() = Target();
    slot->request.set_method("note");
    slot->request.set_args_json(absl::StrCat(R"({"seq": )", i, R"(, "pad": ")", payload, R"("})"));
    const absl::Time start = absl::Now();
    slot->context.set_deadline(absl::ToChronoTime(start + cast_deadline));
    gateway_->client->stub().async()->Cast(&slot->context, &slot->request, &slot->response,
                                           [&mu, &outcomes, start](grpc::Status status) {
                                             Outcome o;
                                             o.code = status.error_code();
                                             o.message = status.error_message();
                                             o.ended = absl::Now();
                                             o.elapsed = o.ended - start;
                                             absl::MutexLock lock(&mu);
                                             outcomes.push_back(std::move(o));
                                           });
    slots.push_back(std::move(slot));
  }

  auto down = health_->WaitFor(false, frozen_at, kDetectionBound + absl::Seconds(5));
  std::vector<Outcome> answered;
  {
    // The callbacks use `mu` and `outcomes`, so all must have run before they go; the casts'
    // own gRPC deadline bounds this wait.
    absl::MutexLock lock(&mu);
    auto all = [&]() { return outcomes.size() == static_cast<size_t>(kCasts); };
    mu.Await(absl::Condition(&all));
    answered = outcomes;
  }
  const absl::Duration answered_after_freeze = absl::Now() - frozen_at;
  thaw.Now();
  if (down.ok()) {
    ASSERT_TRUE(health_->WaitFor(true, *down, absl::Seconds(60)).ok());
  }
  const Outcome after = TimedCall(*gateway_->client, Target(), "echo", "{}", absl::Seconds(10));

  std::cout << "[figures] SIGSTOP bulk: casts=" << kCasts
            << " unavailable=" << CountCode(answered, grpc::StatusCode::UNAVAILABLE)
            << " deadline_exceeded=" << CountCode(answered, grpc::StatusCode::DEADLINE_EXCEEDED)
            << " ok=" << CountCode(answered, grpc::StatusCode::OK)
            << " slowest_s=" << Seconds(MaxElapsed(answered))
            << " detect_s=" << (down.ok() ? Seconds(*down - frozen_at) : "never")
            << " all_answered_after_freeze_s=" << Seconds(answered_after_freeze)
            << " call_after code=" << after.code << std::endl;
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_LE(*down - frozen_at, kDetectionBound);
  // None can have been confirmed (the broker never ran), and each was answered by the
  // gateway once it gave the connection up, not by the gRPC client at the deadline.
  EXPECT_EQ(CountCode(answered, grpc::StatusCode::UNAVAILABLE), kCasts);
  EXPECT_LE(MaxElapsed(answered), kDetectionBound + absl::Seconds(2));
  EXPECT_EQ(after.code, grpc::StatusCode::OK) << after.message;
}

}  // namespace
}  // namespace cellgw::testing
