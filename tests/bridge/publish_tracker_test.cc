#include "bridge/publish_tracker.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::testing {
namespace {

using ::testing::ElementsAre;
using bridge::Outbound;
using bridge::PublishTracker;

Outbound Message(const std::string& unique_id) {
  Outbound message;
  message.unique_id = unique_id;
  message.body = "body of " + unique_id;
  return message;
}

std::vector<std::string> Ids(const std::vector<Outbound>& messages) {
  std::vector<std::string> ids;
  for (const Outbound& message : messages) ids.push_back(message.unique_id);
  return ids;
}

PublishTracker Tracking(int count) {
  PublishTracker tracker;
  for (int i = 1; i <= count; ++i) tracker.Add(i, Message("u" + std::to_string(i)));
  return tracker;
}

TEST(PublishTrackerTest, SingleConfirmTakesOnlyThatMessage) {
  PublishTracker tracker = Tracking(3);
  EXPECT_THAT(Ids(tracker.TakeConfirmed(2, /*multiple=*/false)), ElementsAre("u2"));
  EXPECT_EQ(tracker.size(), 2u);
  EXPECT_EQ(tracker.Find("u2"), nullptr);
  EXPECT_NE(tracker.Find("u1"), nullptr);
}

TEST(PublishTrackerTest, ConfirmOfAnUnknownNumberTakesNothing) {
  PublishTracker tracker = Tracking(2);
  EXPECT_TRUE(tracker.TakeConfirmed(7, false).empty());
  tracker.TakeConfirmed(1, false);
  EXPECT_TRUE(tracker.TakeConfirmed(1, false).empty()) << "a confirm counts once";
  EXPECT_EQ(tracker.size(), 1u);
}

TEST(PublishTrackerTest, MultipleConfirmTakesEveryMessageUpToItsNumberInPublishOrder) {
  PublishTracker tracker = Tracking(4);
  tracker.TakeConfirmed(2, false);
  EXPECT_THAT(Ids(tracker.TakeConfirmed(3, /*multiple=*/true)), ElementsAre("u1", "u3"));
  EXPECT_THAT(Ids(tracker.TakeAll()), ElementsAre("u4"));
}

TEST(PublishTrackerTest, FindByUniqueIdLeavesTheMessageTracked) {
  PublishTracker tracker = Tracking(2);
  Outbound* found = tracker.Find("u2");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->unique_id, "u2");
  EXPECT_EQ(tracker.Find("nobody"), nullptr);
  EXPECT_EQ(tracker.size(), 2u);
  EXPECT_THAT(Ids(tracker.TakeConfirmed(2, false)), ElementsAre("u2"));
}

TEST(PublishTrackerTest, TakeAllEmptiesTheTrackerInPublishOrder) {
  PublishTracker tracker;
  tracker.Add(5, Message("a"));
  tracker.Add(1, Message("b"));  // numbers restart after a channel reset
  EXPECT_THAT(Ids(tracker.TakeAll()), ElementsAre("b", "a"));
  EXPECT_EQ(tracker.size(), 0u);
  EXPECT_EQ(tracker.Find("a"), nullptr);
}

TEST(PublishTrackerTest, TrackedMessagesDoNotKeepTheirBodies) {
  PublishTracker tracker = Tracking(1);
  ASSERT_NE(tracker.Find("u1"), nullptr);
  EXPECT_TRUE(tracker.Find("u1")->body.empty());
}

}  // namespace
}  // namespace cellgw::testing
