#include "bridge/stall_watchdog.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bridge/fake_clock.h"
#include "tests/bridge/latch.h"

namespace cellgw::testing {
namespace {

using ::testing::ElementsAre;
using bridge::StallWatchdog;

constexpr absl::Duration kLimit = absl::Seconds(10);

class StallWatchdogTest : public ::testing::Test {
 protected:
  StallWatchdog::Cut Record() {
    return [this](int fd) { cut_.push_back(fd); };
  }
  FakeClock clock_;
  std::vector<int> cut_;
};

TEST_F(StallWatchdogTest, CutsTheArmedSocketOnceThePassHasLastedTheLimit) {
  StallWatchdog watchdog(kLimit, clock_, absl::Milliseconds(250), Record());
  watchdog.Arm(7);
  clock_.Advance(kLimit - absl::Nanoseconds(1));
  EXPECT_FALSE(watchdog.CheckNow());
  clock_.Advance(absl::Nanoseconds(1));
  EXPECT_TRUE(watchdog.CheckNow());
  EXPECT_THAT(cut_, ElementsAre(7));
  clock_.Advance(kLimit);
  EXPECT_FALSE(watchdog.CheckNow()) << "a socket is cut once";
}

TEST_F(StallWatchdogTest, DisarmedSocketIsNeverCut) {
  StallWatchdog watchdog(kLimit, clock_, absl::Milliseconds(250), Record());
  watchdog.Arm(7);
  watchdog.Disarm();
  clock_.Advance(kLimit * 100);
  EXPECT_FALSE(watchdog.CheckNow());
  EXPECT_TRUE(cut_.empty());
}

TEST_F(StallWatchdogTest, ArmingAgainStartsTheLimitOver) {
  StallWatchdog watchdog(kLimit, clock_, absl::Milliseconds(250), Record());
  watchdog.Arm(7);
  clock_.Advance(kLimit / 2);
  watchdog.Arm(7);
  clock_.Advance(kLimit / 2);
  EXPECT_FALSE(watchdog.CheckNow());
  clock_.Advance(kLimit / 2);
  EXPECT_TRUE(watchdog.CheckNow());
}

TEST_F(StallWatchdogTest, ItsThreadCutsAStalledPassWithoutBeingAsked) {
  Latch cut;
  StallWatchdog watchdog(kLimit, clock_, absl::Milliseconds(1), [&](int fd) {
    EXPECT_EQ(fd, 9);
    cut.Notify();
  });
  watchdog.Start();
  watchdog.Arm(9);
  clock_.Advance(kLimit);
  EXPECT_TRUE(cut.Await(absl::Seconds(30)));
  watchdog.Stop();
}

TEST_F(StallWatchdogTest, TheDefaultCutShutsTheSocketDownAndLeavesItOpen) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  StallWatchdog::ShutdownSocket(fds[0]);
  pollfd poller{fds[0], POLLIN, 0};
  ASSERT_EQ(poll(&poller, 1, 0), 1);
  EXPECT_TRUE(poller.revents & POLLHUP) << "a call blocked on it returns at once";
  char byte;
  EXPECT_EQ(read(fds[0], &byte, 1), 0);
  EXPECT_EQ(close(fds[0]), 0) << "the descriptor is still the owner's to close";
  close(fds[1]);
}

}  // namespace
}  // namespace cellgw::testing
