#include "bridge/reply_correlator.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cellgw::bridge {
namespace {

// Time is injected: every test uses this fixed origin and explicit offsets.
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// Records what a call's callback received.
struct Outcome {
  int calls = 0;
  std::optional<absl::StatusOr<Reply>> value;
};

ReplyCorrelator::Callback Record(Outcome* outcome) {
  return [outcome](absl::StatusOr<Reply> reply) {
    ++outcome->calls;
    outcome->value = std::move(reply);
  };
}

Reply Final(const std::string& msg_id, const std::string& result) {
  Reply reply;
  reply.msg_id = msg_id;
  reply.result_json = result;
  reply.ending = true;
  return reply;
}

Reply Heartbeat(const std::string& msg_id) {
  Reply reply;
  reply.msg_id = msg_id;
  return reply;
}

TEST(ReplyCorrelatorTest, FinalReplyCompletesTheCallWithItsMsgIdOnce) {
  ReplyCorrelator correlator;
  Outcome a, b;
  ASSERT_TRUE(correlator.Add("a", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&a)));
  ASSERT_TRUE(correlator.Add("b", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&b)));
  EXPECT_EQ(correlator.Deliver(Final("b", "42"), kT0), ReplyCorrelator::Outcome::kCompleted);
  EXPECT_EQ(a.calls, 0);
  ASSERT_EQ(b.calls, 1);
  ASSERT_TRUE(b.value->ok());
  EXPECT_EQ((*b.value)->result_json, "42");
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(ReplyCorrelatorTest, AddRefusesAMsgIdThatIsAlreadyPending) {
  ReplyCorrelator correlator;
  Outcome first, second;
  EXPECT_TRUE(correlator.Add("a", kT0, kT0 + absl::Seconds(1), absl::ZeroDuration(), Record(&first)));
  EXPECT_FALSE(
      correlator.Add("a", kT0, kT0 + absl::Seconds(1), absl::ZeroDuration(), Record(&second)));
  correlator.Deliver(Final("a", "1"), kT0);
  EXPECT_EQ(first.calls, 1);
  EXPECT_EQ(second.calls, 0);
}

TEST(ReplyCorrelatorTest, ClassifiesUnknownDuplicateAndLateReplies) {
  ReplyCorrelator correlator;
  Outcome answered, expired;
  correlator.Add("answered", kT0, kT0 + absl::Seconds(5), absl::ZeroDuration(), Record(&answered));
  correlator.Add("expired", kT0, kT0 + absl::Seconds(1), absl::ZeroDuration(), Record(&expired));
  correlator.Deliver(Final("answered", "1"), kT0);
  correlator.ExpireDue(kT0 + absl::Seconds(1));

  EXPECT_EQ(correlator.Deliver(Final("answered", "1"), kT0 + absl::Seconds(2)),
            ReplyCorrelator::Outcome::kDuplicate);
  EXPECT_EQ(correlator.Deliver(Final("expired", "1"), kT0 + absl::Seconds(2)),
            ReplyCorrelator::Outcome::kLate);
  EXPECT_EQ(correlator.Deliver(Final("never-sent", "1"), kT0 + absl::Seconds(2)),
            ReplyCorrelator::Outcome::kUnknown);
  // Neither callback ran a second time.
  EXPECT_EQ(answered.calls, 1);
  EXPECT_EQ(expired.calls, 1);
}

TEST(ReplyCorrelatorTest, ExpiresExactlyAtTheDeadlineNotBefore) {
  ReplyCorrelator correlator;
  Outcome outcome;
  correlator.Add("a", kT0, kT0 + absl::Seconds(2), absl::ZeroDuration(), Record(&outcome));
  EXPECT_EQ(correlator.NextDeadline(), kT0 + absl::Seconds(2));
  correlator.ExpireDue(kT0 + absl::Seconds(2) - absl::Nanoseconds(1));
  EXPECT_EQ(outcome.calls, 0);
  correlator.ExpireDue(kT0 + absl::Seconds(2));
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_EQ(outcome.value->status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(outcome.value->status().message().find("a"), absl::string_view::npos);
  EXPECT_EQ(correlator.NextDeadline(), absl::InfiniteFuture());
}

TEST(ReplyCorrelatorTest, NextDeadlineIsTheEarliestPending) {
  ReplyCorrelator correlator;
  Outcome a, b, c;
  correlator.Add("a", kT0, kT0 + absl::Seconds(30), absl::ZeroDuration(), Record(&a));
  correlator.Add("b", kT0, kT0 + absl::Seconds(10), absl::ZeroDuration(), Record(&b));
  correlator.Add("c", kT0, kT0 + absl::Seconds(20), absl::ZeroDuration(), Record(&c));
  EXPECT_EQ(correlator.NextDeadline(), kT0 + absl::Seconds(10));
  correlator.Deliver(Final("b", "null"), kT0);
  EXPECT_EQ(correlator.NextDeadline(), kT0 + absl::Seconds(20));
}

TEST(ReplyCorrelatorTest, HeartbeatDoesNotCompleteButPushesTheMonitorDeadline) {
  ReplyCorrelator correlator;
  Outcome outcome;
  correlator.Add("a", kT0, kT0 + absl::Seconds(60), absl::Seconds(4), Record(&outcome));
  EXPECT_EQ(correlator.NextDeadline(), kT0 + absl::Seconds(4));
  EXPECT_EQ(correlator.Deliver(Heartbeat("a"), kT0 + absl::Seconds(3)),
            ReplyCorrelator::Outcome::kProgress);
  EXPECT_EQ(outcome.calls, 0);
  EXPECT_EQ(correlator.NextDeadline(), kT0 + absl::Seconds(7));
  correlator.ExpireDue(kT0 + absl::Seconds(6));
  EXPECT_EQ(outcome.calls, 0);
  correlator.Deliver(Final("a", "\"done\""), kT0 + absl::Seconds(6));
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_EQ((*outcome.value)->result_json, "\"done\"");
}

TEST(ReplyCorrelatorTest, MissingHeartbeatEndsTheCallAtTheMonitorTimeout) {
  ReplyCorrelator correlator;
  Outcome outcome;
  correlator.Add("a", kT0, kT0 + absl::Seconds(60), absl::Seconds(4), Record(&outcome));
  correlator.ExpireDue(kT0 + absl::Seconds(4));
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_EQ(outcome.value->status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(outcome.value->status().message().find("heartbeat"), absl::string_view::npos);
}

TEST(ReplyCorrelatorTest, MonitorNeverExtendsPastTheOverallDeadline) {
  ReplyCorrelator correlator;
  Outcome outcome;
  correlator.Add("a", kT0, kT0 + absl::Seconds(5), absl::Seconds(4), Record(&outcome));
  correlator.Deliver(Heartbeat("a"), kT0 + absl::Seconds(3));
  EXPECT_EQ(correlator.NextDeadline(), kT0 + absl::Seconds(5));
}

TEST(ReplyCorrelatorTest, OlderPeersResultThenBareEndingDeliversTheResult) {
  // oslo before the single-reply change sent the result, then {"result": null, "ending": true}.
  ReplyCorrelator correlator;
  Outcome outcome;
  correlator.Add("a", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&outcome));
  Reply partial;
  partial.msg_id = "a";
  partial.result_json = "{\"v\": 1}";
  EXPECT_EQ(correlator.Deliver(partial, kT0), ReplyCorrelator::Outcome::kProgress);
  EXPECT_EQ(correlator.Deliver(Final("a", "null"), kT0), ReplyCorrelator::Outcome::kCompleted);
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_EQ((*outcome.value)->result_json, "{\"v\": 1}");
}

TEST(ReplyCorrelatorTest, FailureEndsTheCallEvenWithoutEnding) {
  ReplyCorrelator correlator;
  Outcome outcome;
  correlator.Add("a", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&outcome));
  Reply failed;
  failed.msg_id = "a";
  failed.failure = RemoteFailure{};
  failed.failure->exception_class = "ValueError";
  EXPECT_EQ(correlator.Deliver(failed, kT0), ReplyCorrelator::Outcome::kCompleted);
  ASSERT_EQ(outcome.calls, 1);
  ASSERT_TRUE(outcome.value->ok());
  EXPECT_EQ((*outcome.value)->failure->exception_class, "ValueError");
}

TEST(ReplyCorrelatorTest, FailAndFailAllEndCallsWithTheGivenStatus) {
  ReplyCorrelator correlator;
  Outcome a, b, c;
  correlator.Add("a", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&a));
  correlator.Add("b", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&b));
  correlator.Add("c", kT0, kT0 + absl::Seconds(60), absl::ZeroDuration(), Record(&c));
  EXPECT_TRUE(correlator.Fail("a", absl::UnavailableError("returned")));
  EXPECT_FALSE(correlator.Fail("a", absl::UnavailableError("again")));
  EXPECT_EQ(a.value->status().message(), "returned");
  correlator.FailAll(absl::UnavailableError("connection lost"));
  EXPECT_EQ(b.value->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.value->status().message(), "connection lost");
  EXPECT_EQ(correlator.pending(), 0u);
  EXPECT_EQ(correlator.Deliver(Final("b", "1"), kT0), ReplyCorrelator::Outcome::kLate);
}

TEST(ReplyCorrelatorTest, MemoryOfEndedCallsIsBounded) {
  ReplyCorrelator correlator(/*remembered_ids=*/2);
  Outcome outcome;
  for (const char* id : {"a", "b", "c"}) {
    correlator.Add(id, kT0, kT0 + absl::Seconds(1), absl::ZeroDuration(), Record(&outcome));
    correlator.Deliver(Final(id, "1"), kT0);
  }
  // "a" was forgotten when "c" ended: its duplicate now looks unknown.
  EXPECT_EQ(correlator.Deliver(Final("a", "1"), kT0), ReplyCorrelator::Outcome::kUnknown);
  EXPECT_EQ(correlator.Deliver(Final("b", "1"), kT0), ReplyCorrelator::Outcome::kDuplicate);
  EXPECT_EQ(correlator.Deliver(Final("c", "1"), kT0), ReplyCorrelator::Outcome::kDuplicate);
}

TEST(ReplyCorrelatorTest, CallbackMayAddAnotherCall) {
  ReplyCorrelator correlator;
  Outcome second;
  bool added = false;
  correlator.Add("a", kT0, kT0 + absl::Seconds(1), absl::ZeroDuration(),
                 [&](absl::StatusOr<Reply>) {
                   added = correlator.Add("b", kT0, kT0 + absl::Seconds(5), absl::ZeroDuration(),
                                          Record(&second));
                 });
  correlator.Deliver(Final("a", "1"), kT0);
  EXPECT_TRUE(added);
  EXPECT_EQ(correlator.pending(), 1u);
}

}  // namespace
}  // namespace cellgw::bridge
