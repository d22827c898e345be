#include "gateway/rpc/call_timeouts.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

CallTimeouts Timeouts() {
  return CallTimeouts({{"cell1", {absl::Seconds(60), absl::Seconds(60)}},
                       {"long", {absl::Seconds(60), absl::Seconds(600)}}});
}

TEST(CallTimeoutsTest, UnsetTimeoutIsTheCellsRpcResponseTimeout) {
  EXPECT_EQ(Timeouts().For("cell1", absl::ZeroDuration()), absl::Seconds(60));
  EXPECT_EQ(Timeouts().For("long", absl::ZeroDuration()), absl::Seconds(60));
}

TEST(CallTimeoutsTest, AShorterTimeoutIsKept) {
  EXPECT_EQ(Timeouts().For("cell1", absl::Milliseconds(1500)), absl::Milliseconds(1500));
}

TEST(CallTimeoutsTest, ALongerTimeoutIsCutToMaxCallTimeout) {
  // The default max_call_timeout is rpc_response_timeout: a caller cannot lengthen a call.
  EXPECT_EQ(Timeouts().For("cell1", absl::Hours(1)), absl::Seconds(60));
  // An operator may allow longer calls than the default, up to the limit.
  EXPECT_EQ(Timeouts().For("long", absl::Seconds(300)), absl::Seconds(300));
  EXPECT_EQ(Timeouts().For("long", absl::Hours(1)), absl::Seconds(600));
}

TEST(CallTimeoutsTest, UnknownCellsAndNoCellsPassTheRequestThrough) {
  EXPECT_EQ(Timeouts().For("cell9", absl::Hours(1)), absl::Hours(1));
  EXPECT_EQ(CallTimeouts().For("cell1", absl::ZeroDuration()), absl::ZeroDuration());
}

}  // namespace
}  // namespace cellgw::gateway
