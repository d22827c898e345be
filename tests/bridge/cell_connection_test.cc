// The thread around the connection core: its loop, wake-ups, connection-attempt thread,
// watchdog thread and shutdown, with a fake broker and a fake clock. The rules themselves
// (backoff, confirms, correlation, exchanges) are connection_core_test's.
#include "bridge/cell_connection.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/envelope.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bridge/fake_broker.h"
#include "tests/bridge/fake_clock.h"
#include "tests/bridge/fake_random.h"
#include "tests/bridge/test_messages.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;
using bridge::CellConnection;

// Bounds every wait on the loop thread; none is reached when the code works.
constexpr absl::Duration kWait = absl::Seconds(30);

class CellConnectionTest : public ::testing::Test {
 protected:
  CellConnectionTest() : random_(0.0) {}

  std::unique_ptr<CellConnection> Make() {
    bridge::CellConnectionOptions options;
    options.cell = "c1";
    options.url.hosts.emplace_back();
    options.url.hosts.back().host = "fake";
    options.heartbeat = absl::Seconds(4);  // the watchdog's limit
    bridge::ConnectionEnv env;
    env.connector = broker_.Connector();
    env.clock = &clock_;
    env.random = &random_;
    env.watchdog_tick = absl::Milliseconds(1);
    return std::make_unique<CellConnection>(std::move(options), nullptr, std::move(env));
  }

  std::unique_ptr<CellConnection> Started() {
    std::unique_ptr<CellConnection> connection = Make();
    connection->Start();
    EXPECT_TRUE(connection->WaitForFirstAttempt(kWait));
    return connection;
  }

  FakeBroker broker_;  // outlives the connections
  FakeClock clock_;
  FixedRandom random_;
};

TEST_F(CellConnectionTest, ConnectsInTheBackgroundAndSaysSo) {
  std::unique_ptr<CellConnection> connection = Make();
  EXPECT_FALSE(connection->connected());
  connection->Start();
  EXPECT_TRUE(connection->WaitForFirstAttempt(kWait));
  EXPECT_TRUE(connection->connected());
  EXPECT_TRUE(broker_.HasQueue(connection->reply_queue()));
  EXPECT_THAT(connection->reply_queue(), ::testing::StartsWith("reply_"));
}

TEST_F(CellConnectionTest, SubmittedCastIsPublishedByTheLoopAndCompletesOnItsConfirm) {
  broker_.set_auto_confirm(true);
  std::unique_ptr<CellConnection> connection = Started();
  Outcome cast;
  connection->Submit(TestCast(cast));
  ASSERT_TRUE(cast.Await(kWait));
  EXPECT_TRUE(cast.status().ok()) << cast.status();
  EXPECT_EQ(broker_.published().size(), 1u);
}

TEST_F(CellConnectionTest, AReplyOnTheSocketWakesTheLoopAndCompletesTheCall) {
  std::unique_ptr<CellConnection> connection = Started();
  broker_.set_on_publish([&](const FakeBroker::Published& published) {
    absl::StatusOr<bridge::DecodedRequest> request = bridge::DecodeRequest(published.body);
    broker_.Deliver(ReplyBody(request->msg_id, R"("pong")"));
  });
  Outcome call;
  connection->Submit(TestCall(call, "m1", clock_.Now() + absl::Seconds(60)));
  ASSERT_TRUE(call.Await(kWait));
  EXPECT_EQ(call.result_json(), R"("pong")");
}

TEST_F(CellConnectionTest, SubmissionsFailAtOnceWhileAConnectionAttemptHangs) {
  broker_.HoldConnects();  // a broker that accepts TCP and never answers
  std::unique_ptr<CellConnection> connection = Make();
  connection->Start();
  ASSERT_TRUE(broker_.AwaitAttempts(1, kWait));
  Outcome cast;
  connection->Submit(TestCast(cast));
  ASSERT_TRUE(cast.Await(kWait));
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_THAT(cast.status().message(), HasSubstr("not connected"));
  broker_.ReleaseConnects();  // lets Stop() join the attempt
}

TEST_F(CellConnectionTest, CallEndsAtItsDeadlineByTheClock) {
  std::unique_ptr<CellConnection> connection = Started();
  Outcome call;
  connection->Submit(TestCall(call, "m1", clock_.Now() + absl::Seconds(5)));
  ASSERT_TRUE(broker_.AwaitPublished(1, kWait));
  clock_.Advance(absl::Seconds(5));
  broker_.Poke();  // wakes the loop now instead of at its next periodic look
  ASSERT_TRUE(call.Await(kWait));
  EXPECT_TRUE(absl::IsDeadlineExceeded(call.status()));
}

TEST_F(CellConnectionTest, TheWatchdogCutsAPublishBlockedOnTheSocketAndTheLoopReconnects) {
  std::unique_ptr<CellConnection> connection = Started();
  broker_.StallNextPublish();
  Outcome cast;
  connection->Submit(TestCast(cast));
  ASSERT_TRUE(broker_.AwaitStalled(kWait));
  EXPECT_EQ(cast.runs(), 0);
  clock_.Advance(absl::Seconds(4));  // the heartbeat: the longest a pass may block
  ASSERT_TRUE(cast.Await(kWait));
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_TRUE(broker_.AwaitAttempts(2, kWait)) << "the loop connects again";
}

TEST_F(CellConnectionTest, StopFailsWhatIsInFlightWithUnavailableAndLaterSubmissionsInline) {
  std::unique_ptr<CellConnection> connection = Started();
  Outcome call;
  connection->Submit(TestCall(call, "m1", clock_.Now() + absl::Seconds(60)));
  ASSERT_TRUE(broker_.AwaitPublished(1, kWait));
  connection->Stop();
  ASSERT_EQ(call.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_THAT(call.status().message(), HasSubstr("cell 'c1': gateway shutting down"));
  EXPECT_FALSE(connection->connected());
  Outcome late;
  connection->Submit(TestCast(late));
  EXPECT_EQ(late.runs(), 1) << "completed inline";
  EXPECT_TRUE(absl::IsUnavailable(late.status()));
  connection->Stop();  // idempotent
}

TEST_F(CellConnectionTest, StopOfAConnectionNeverStartedFailsWhatWasSubmitted) {
  std::unique_ptr<CellConnection> connection = Make();
  Outcome cast;
  connection->Submit(TestCast(cast));
  connection->Stop();
  ASSERT_EQ(cast.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_EQ(broker_.connections(), 0);
}

}  // namespace
}  // namespace cellgw::testing
