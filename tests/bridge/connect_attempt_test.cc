#include "bridge/connect_attempt.h"

#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/bridge/fake_broker.h"
#include "tests/bridge/latch.h"

namespace cellgw::testing {
namespace {

using bridge::ConnectAttempt;

TEST(ConnectAttemptTest, ResultIsTakenOnceAfterTheAttemptSaidItWasDone) {
  FakeBroker broker;
  broker.HoldConnects();
  Latch done;
  ConnectAttempt attempt(broker.Connector(), [&] { done.Notify(); });
  EXPECT_FALSE(attempt.running());
  bridge::AmqpEndpoint endpoint;
  endpoint.host = "broker-2";
  attempt.Start(endpoint);
  ASSERT_TRUE(broker.AwaitAttempts(1, absl::Seconds(30)));
  EXPECT_TRUE(attempt.running());
  EXPECT_FALSE(attempt.TakeResult().has_value()) << "still connecting";
  EXPECT_FALSE(done.notified());
  broker.ReleaseConnects();
  ASSERT_TRUE(done.Await(absl::Seconds(30)));
  std::optional<ConnectAttempt::Result> result = attempt.TakeResult();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok()) << result->status();
  EXPECT_FALSE(attempt.running());
  EXPECT_FALSE(attempt.TakeResult().has_value()) << "taken once";
  EXPECT_EQ(broker.attempts().front().host, "broker-2");
}

TEST(ConnectAttemptTest, AFailedConnectIsItsResult) {
  FakeBroker broker;
  broker.FailNextConnects(1, absl::UnavailableError("refused"));
  Latch done;
  ConnectAttempt attempt(broker.Connector(), [&] { done.Notify(); });
  attempt.Start(bridge::AmqpEndpoint());
  ASSERT_TRUE(done.Await(absl::Seconds(30)));
  std::optional<ConnectAttempt::Result> result = attempt.TakeResult();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status(), absl::UnavailableError("refused"));
}

TEST(ConnectAttemptTest, JoinWaitsForTheAttemptAndDiscardsItsConnection) {
  FakeBroker broker;
  ConnectAttempt attempt(broker.Connector(), [] {});
  attempt.Start(bridge::AmqpEndpoint());
  attempt.Join();
  EXPECT_FALSE(attempt.running());
  EXPECT_FALSE(attempt.TakeResult().has_value());
  EXPECT_EQ(broker.connections(), 1);
}

}  // namespace
}  // namespace cellgw::testing
