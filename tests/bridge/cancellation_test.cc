#include "bridge/cancellation.h"

#include <thread>

#include "gtest/gtest.h"

namespace cellgw::testing {
namespace {

using bridge::Cancellation;

TEST(CancellationTest, CancelWhileTheBridgeHoldsTheRequestRunsTheHookOnceAndWins) {
  Cancellation cancellation;
  int hooks = 0;
  ASSERT_TRUE(cancellation.Attach([&hooks] { ++hooks; }));
  EXPECT_FALSE(cancellation.cancelled());
  EXPECT_TRUE(cancellation.Cancel());
  EXPECT_TRUE(cancellation.cancelled());
  EXPECT_EQ(hooks, 1);
  EXPECT_FALSE(cancellation.Cancel()) << "a second cancel changes nothing";
  EXPECT_FALSE(cancellation.Claim()) << "the request's done must not run";
  EXPECT_EQ(hooks, 1);
}

TEST(CancellationTest, CompletionFirstWinsAndALaterCancelDoesNothing) {
  Cancellation cancellation;
  int hooks = 0;
  ASSERT_TRUE(cancellation.Attach([&hooks] { ++hooks; }));
  EXPECT_TRUE(cancellation.Claim());
  EXPECT_FALSE(cancellation.Cancel());
  EXPECT_EQ(hooks, 0);
  EXPECT_FALSE(cancellation.Claim()) << "completion is claimed once";
}

TEST(CancellationTest, CancelBeforeTheBridgeTookTheRequestMakesAttachRefuse) {
  Cancellation cancellation;
  EXPECT_FALSE(cancellation.Cancel()) << "nothing to withdraw yet: the bridge ends it";
  EXPECT_TRUE(cancellation.cancelled());
  int hooks = 0;
  EXPECT_FALSE(cancellation.Attach([&hooks] { ++hooks; }));
  EXPECT_EQ(hooks, 0);
}

TEST(CancellationTest, RacingCancelAndCompletionHaveExactlyOneWinner) {
  for (int i = 0; i < 2000; ++i) {
    Cancellation cancellation;
    int hooks = 0;  // written by the cancelling thread only, read after both joined
    ASSERT_TRUE(cancellation.Attach([&hooks] { ++hooks; }));
    bool cancelled = false;
    bool claimed = false;
    std::thread canceller([&] { cancelled = cancellation.Cancel(); });
    std::thread completer([&] { claimed = cancellation.Claim(); });
    canceller.join();
    completer.join();
    ASSERT_NE(cancelled, claimed) << "run " << i;
    ASSERT_EQ(hooks, cancelled ? 1 : 0) << "run " << i;
  }
}

}  // namespace
}  // namespace cellgw::testing
