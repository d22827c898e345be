#include "bridge/exchange_registry.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bridge/fake_broker.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;
using bridge::ExchangeRegistry;
using bridge::ExchangeSpec;

ExchangeSpec Topic(const std::string& name) { return {name, "topic", false, false}; }

class ExchangeRegistryTest : public ::testing::Test {
 protected:
  ExchangeRegistryTest() {
    transport_ = *broker_.Connector()(bridge::AmqpEndpoint());
  }
  // Declares made by the last call: (passive, active).
  std::pair<int, int> Declares() {
    const std::pair<int, int> now = {broker_.passive_declares(), broker_.active_declares()};
    const std::pair<int, int> since = {now.first - seen_.first, now.second - seen_.second};
    seen_ = now;
    return since;
  }

  FakeBroker broker_;
  std::unique_ptr<bridge::AmqpTransport> transport_;
  std::pair<int, int> seen_ = {0, 0};
};

TEST_F(ExchangeRegistryTest, CreatableExchangeIsDeclaredActivelyOnceThenRemembered) {
  ExchangeRegistry registry;
  EXPECT_TRUE(registry.Ensure(*transport_, Topic("nova"), /*create_if_missing=*/true).ok());
  EXPECT_EQ(Declares(), std::make_pair(0, 1));
  EXPECT_TRUE(broker_.HasExchange("nova"));
  EXPECT_TRUE(registry.Ensure(*transport_, Topic("nova"), true).ok());
  EXPECT_EQ(Declares(), std::make_pair(0, 0));
  EXPECT_EQ(registry.size(), 1u);
}

TEST_F(ExchangeRegistryTest, OtherMissingExchangeIsNotFoundAfterOnePassiveDeclareAndNotCreated) {
  ExchangeRegistry registry;
  const absl::Status status = registry.Ensure(*transport_, Topic("random-name"), false);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("exchange 'random-name'"));
  EXPECT_EQ(Declares(), std::make_pair(1, 0));
  EXPECT_FALSE(broker_.HasExchange("random-name"));
  EXPECT_EQ(registry.size(), 0u);
}

TEST_F(ExchangeRegistryTest, ExistingExchangeIsCheckedForItsTypeAndFlagsByAnActiveDeclare) {
  broker_.AddExchange({"amq.direct", "direct", true, false});
  broker_.AddExchange(Topic("neutron"));
  ExchangeRegistry registry;
  const absl::Status refused = registry.Ensure(*transport_, Topic("amq.direct"), false);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("inequivalent arg 'type'"));
  EXPECT_EQ(Declares(), std::make_pair(1, 1));
  EXPECT_TRUE(registry.Ensure(*transport_, Topic("neutron"), false).ok());
  EXPECT_EQ(Declares(), std::make_pair(1, 1));
  EXPECT_EQ(registry.size(), 1u);
}

TEST_F(ExchangeRegistryTest, RefusalsAreCheckedAgainEveryTime) {
  broker_.AddExchange({"compute_fanout", "fanout", false, true});
  ExchangeRegistry registry;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(registry.Ensure(*transport_, Topic("compute_fanout"), false).ok());
  }
  EXPECT_EQ(Declares(), std::make_pair(3, 3));
}

TEST_F(ExchangeRegistryTest, AnExchangeIsRememberedWithItsTypeNotJustItsName) {
  broker_.AddExchange({"compute_fanout", "fanout", false, true});
  ExchangeRegistry registry;
  EXPECT_TRUE(registry.Ensure(*transport_, {"compute_fanout", "fanout", false, true}, false).ok());
  EXPECT_FALSE(registry.Ensure(*transport_, Topic("compute_fanout"), false).ok())
      << "the same name as a topic exchange is not the exchange that was checked";
}

TEST_F(ExchangeRegistryTest, RemembersAtMostItsCapacityForgettingTheLeastRecentlyUsed) {
  for (const char* name : {"a", "b", "c"}) broker_.AddExchange(Topic(name));
  ExchangeRegistry registry(2);
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("a"), false).ok());
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("b"), false).ok());
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("a"), false).ok());  // a is now the newest
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("c"), false).ok());  // b goes
  EXPECT_EQ(registry.size(), 2u);
  Declares();
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("a"), false).ok());
  EXPECT_EQ(Declares(), std::make_pair(0, 0));
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("b"), false).ok());
  EXPECT_EQ(Declares(), std::make_pair(1, 1));
  EXPECT_EQ(registry.size(), 2u);
}

TEST_F(ExchangeRegistryTest, ForgetMakesEveryExchangeCheckedAgain) {
  ExchangeRegistry registry;
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("nova"), true).ok());
  registry.Forget();
  EXPECT_EQ(registry.size(), 0u);
  Declares();
  ASSERT_TRUE(registry.Ensure(*transport_, Topic("nova"), true).ok());
  EXPECT_EQ(Declares(), std::make_pair(0, 1));
}

TEST_F(ExchangeRegistryTest, LostConnectionIsUnavailable) {
  ExchangeRegistry registry;
  broker_.DropConnection(absl::UnavailableError("gone"));
  EXPECT_TRUE(absl::IsUnavailable(registry.Ensure(*transport_, Topic("nova"), true)));
}

}  // namespace
}  // namespace cellgw::testing
