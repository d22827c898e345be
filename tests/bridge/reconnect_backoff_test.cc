#include "bridge/reconnect_backoff.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bridge/fake_random.h"

namespace cellgw::testing {
namespace {

using ::testing::ElementsAre;
using bridge::ReconnectBackoff;

constexpr absl::Duration kInitial = absl::Milliseconds(200);
constexpr absl::Duration kMax = absl::Seconds(15);

TEST(ReconnectBackoffTest, StartsOnTheHostTheRandomSourcePicks) {
  FixedRandom low(0.0), middle(0.5), high(0.999);
  EXPECT_EQ(ReconnectBackoff(kInitial, kMax, 3, low).host(), 0u);
  EXPECT_EQ(ReconnectBackoff(kInitial, kMax, 3, middle).host(), 1u);
  EXPECT_EQ(ReconnectBackoff(kInitial, kMax, 3, high).host(), 2u);
}

TEST(ReconnectBackoffTest, EachFailureMovesToTheNextHostInTurn) {
  FixedRandom random(0.0);
  ReconnectBackoff backoff(kInitial, kMax, 3, random);
  std::vector<size_t> hosts = {backoff.host()};
  for (int i = 0; i < 4; ++i) {
    backoff.Failed();
    hosts.push_back(backoff.host());
  }
  EXPECT_THAT(hosts, ElementsAre(0, 1, 2, 0, 1));
}

TEST(ReconnectBackoffTest, StepsDoubleFromTheInitialWaitUpToTheCap) {
  FixedRandom random(0.0);  // the jitter factor is then 0.5
  ReconnectBackoff backoff(kInitial, kMax, 1, random);
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 9; ++i) waits.push_back(backoff.Failed());
  EXPECT_THAT(waits, ElementsAre(absl::Milliseconds(100), absl::Milliseconds(200),
                                 absl::Milliseconds(400), absl::Milliseconds(800),
                                 absl::Milliseconds(1600), absl::Milliseconds(3200),
                                 absl::Milliseconds(6400), absl::Milliseconds(7500),
                                 absl::Milliseconds(7500)));
  EXPECT_EQ(backoff.step(), kMax);
}

TEST(ReconnectBackoffTest, JitterDrawsEachWaitFromHalfToAllOfItsStep) {
  ReconnectBackoff backoff(kInitial, kMax, 1, bridge::RandomSource::Real());
  absl::Duration shortest = absl::InfiniteDuration();
  absl::Duration longest = absl::ZeroDuration();
  for (int i = 0; i < 2000; ++i) {
    const absl::Duration wait = backoff.Failed();
    shortest = std::min(shortest, wait);
    longest = std::max(longest, wait);
    backoff.Succeeded();
  }
  EXPECT_GE(shortest, kInitial / 2);
  EXPECT_LT(longest, kInitial);
  // 2000 draws spread over the range (the chance of all landing in one half is 2^-1999).
  EXPECT_LT(shortest, kInitial * 3 / 4);
  EXPECT_GT(longest, kInitial * 3 / 4);
}

TEST(ReconnectBackoffTest, SuccessStartsTheStepsOverAndKeepsTheHost) {
  FixedRandom random(0.0);
  ReconnectBackoff backoff(kInitial, kMax, 2, random);
  backoff.Failed();
  backoff.Failed();
  backoff.Failed();
  const size_t host = backoff.host();
  backoff.Succeeded();
  EXPECT_EQ(backoff.host(), host);
  EXPECT_EQ(backoff.Failed(), kInitial / 2);
}

}  // namespace
}  // namespace cellgw::testing
