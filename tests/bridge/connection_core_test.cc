#include "bridge/connection_core.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/cancellation.h"
#include "bridge/envelope.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bridge/fake_broker.h"
#include "tests/bridge/fake_clock.h"
#include "tests/bridge/fake_random.h"
#include "tests/bridge/recording_observer.h"
#include "tests/bridge/test_messages.h"

namespace cellgw::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using bridge::CellConnectionOptions;
using bridge::ConnectionCore;
using bridge::Outbound;

constexpr absl::Duration kLimit = absl::Seconds(10);  // the watchdog's

CellConnectionOptions Options(int hosts = 1) {
  CellConnectionOptions options;
  options.cell = "c1";
  for (int i = 0; i < hosts; ++i) {
    bridge::BrokerHost host;
    host.host = absl::StrCat("h", i);
    options.url.hosts.push_back(host);
  }
  options.initial_backoff = absl::Milliseconds(200);
  options.max_backoff = absl::Seconds(1);
  return options;
}

class ConnectionCoreTest : public ::testing::Test {
 protected:
  // FixedRandom(0.5): the first host is hosts/2, and every backoff wait is 0.75 of its step.
  ConnectionCoreTest()
      : random_(0.5),
        watchdog_(kLimit, clock_, absl::Milliseconds(250),
                  [this](int fd) { cut_fds_.push_back(fd); }) {}

  std::unique_ptr<ConnectionCore> MakeCore(CellConnectionOptions options = Options()) {
    return std::make_unique<ConnectionCore>(std::move(options), "reply_q", clock_, random_,
                                            &observer_, &watchdog_);
  }

  // Runs the attempt `core` asks for against the fake broker, as the cell connection's attempt
  // thread would.
  absl::Status Connect(ConnectionCore& core) {
    std::optional<bridge::AmqpEndpoint> endpoint = core.StartAttemptIfDue();
    if (!endpoint.has_value()) return absl::FailedPreconditionError("no attempt due");
    return core.FinishAttempt(broker_.Connector()(*endpoint));
  }

  std::unique_ptr<ConnectionCore> Connected(CellConnectionOptions options = Options()) {
    std::unique_ptr<ConnectionCore> core = MakeCore(std::move(options));
    EXPECT_TRUE(Connect(*core).ok());
    return core;
  }

  static void Send(ConnectionCore& core, Outbound message) {
    std::vector<Outbound> batch;
    batch.push_back(std::move(message));
    core.Publish(std::move(batch));
  }

  FakeBroker::Published Last() { return broker_.published().back(); }

  absl::Time In(absl::Duration d) { return clock_.Now() + d; }

  FakeBroker broker_;  // outlives the cores, which own its transports
  FakeClock clock_;
  FixedRandom random_;
  RecordingObserver observer_;
  std::vector<int> cut_fds_;
  bridge::StallWatchdog watchdog_;
};

// --- Connecting and reconnecting -------------------------------------------------------------

TEST_F(ConnectionCoreTest, ConnectsSubscribesTheReplyQueueAndReportsUp) {
  std::unique_ptr<ConnectionCore> core = MakeCore();
  EXPECT_FALSE(core->connected());
  ASSERT_TRUE(Connect(*core).ok());
  EXPECT_TRUE(core->connected());
  EXPECT_TRUE(broker_.HasQueue("reply_q"));
  EXPECT_THAT(broker_.consumed(), ElementsAre("reply_q"));
  EXPECT_THAT(observer_.states(), ElementsAre(true));
  EXPECT_EQ(observer_.count("reconnect"), 0);
}

TEST_F(ConnectionCoreTest, FailedAttemptsBackOffExponentiallyWithJitterUpToTheCapOnTheNextHost) {
  std::unique_ptr<ConnectionCore> core = MakeCore(Options(3));
  broker_.FailNextConnects(5);
  // Steps 200, 400, 800, 1000 (the cap), 1000 ms, each drawn at 0.75; hosts from h1 in turn.
  const absl::Duration waits[] = {absl::Milliseconds(150), absl::Milliseconds(300),
                                  absl::Milliseconds(600), absl::Milliseconds(750),
                                  absl::Milliseconds(750)};
  const char* hosts[] = {"h1", "h2", "h0", "h1", "h2"};
  for (int i = 0; i < 5; ++i) {
    std::optional<bridge::AmqpEndpoint> endpoint = core->StartAttemptIfDue();
    ASSERT_TRUE(endpoint.has_value()) << i;
    EXPECT_EQ(endpoint->host, hosts[i]);
    EXPECT_FALSE(core->StartAttemptIfDue().has_value()) << "one attempt at a time";
    EXPECT_FALSE(core->FinishAttempt(broker_.Connector()(*endpoint)).ok());
    EXPECT_EQ(core->NextWait(), waits[i]) << i;
    clock_.Advance(waits[i] - absl::Nanoseconds(1));
    EXPECT_FALSE(core->StartAttemptIfDue().has_value()) << i;
    clock_.Advance(absl::Nanoseconds(1));
  }
  ASSERT_TRUE(Connect(*core).ok());
  EXPECT_EQ(broker_.attempts().back().host, "h0");
  EXPECT_EQ(observer_.count("connect_failed"), 5);
}

TEST_F(ConnectionCoreTest, LostConnectionIsRetriedAtOnceAndTheBackoffStartsOverAfterSuccess) {
  std::unique_ptr<ConnectionCore> core = MakeCore();
  broker_.FailNextConnects(3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(Connect(*core).ok());
    clock_.Advance(core->NextWait());
  }
  ASSERT_TRUE(Connect(*core).ok());
  broker_.DropConnection(absl::UnavailableError("socket closed"));
  core->Service();
  EXPECT_FALSE(core->connected());
  EXPECT_THAT(observer_.states(), ElementsAre(true, false));
  // No waiting for a lost connection: the attempt is due now.
  broker_.FailNextConnects(1);
  EXPECT_FALSE(Connect(*core).ok());
  // The success reset the backoff: the next wait is the first step's again.
  EXPECT_EQ(core->NextWait(), absl::Milliseconds(150));
  clock_.Advance(absl::Milliseconds(150));
  ASSERT_TRUE(Connect(*core).ok());
  EXPECT_EQ(observer_.count("reconnect"), 1);
}

TEST_F(ConnectionCoreTest, RequestsFailAtOnceWithUnavailableWhileDisconnectedAndWhileAnAttemptRuns) {
  std::unique_ptr<ConnectionCore> core = MakeCore();
  Outcome before, during;
  Send(*core, TestCast(before));
  EXPECT_EQ(before.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(before.status()));
  EXPECT_THAT(before.status().message(), HasSubstr("cell 'c1': not connected"));

  ASSERT_TRUE(core->StartAttemptIfDue().has_value());  // an attempt that has not finished
  Send(*core, TestCall(during, "m1", In(absl::Seconds(30))));
  EXPECT_EQ(during.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(during.status()));
  EXPECT_TRUE(broker_.published().empty());
}

TEST_F(ConnectionCoreTest, AFailedAttemptFailsCallsInFlightInsteadOfLettingThemWaitOutTheirDeadline) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.DropConnection(absl::UnavailableError("reset by peer"));
  core->Service();
  EXPECT_EQ(call.runs(), 0) << "a call waits for the reconnect to show whether its queue lived";
  broker_.FailNextConnects(1);
  EXPECT_FALSE(Connect(*core).ok());
  ASSERT_EQ(call.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_THAT(call.status().message(), HasSubstr("not re-established"));
}

TEST_F(ConnectionCoreTest, CallsKeepWaitingAcrossAReconnectWhenTheReplyQueueSurvived) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.DropConnection(absl::UnavailableError("reset by peer"));
  core->Service();
  ASSERT_TRUE(Connect(*core).ok());
  EXPECT_EQ(call.runs(), 0);
  broker_.Deliver(ReplyBody("m1", "42"));
  core->Service();
  ASSERT_EQ(call.runs(), 1);
  EXPECT_TRUE(call.status().ok()) << call.status();
  EXPECT_EQ(call.result_json(), "42");
}

TEST_F(ConnectionCoreTest, CallsFailWithUnavailableWhenTheReplyQueueWasLostWithTheConnection) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.DropConnection(absl::UnavailableError("broker restarted"));
  broker_.DeleteQueue("reply_q");
  core->Service();
  ASSERT_TRUE(Connect(*core).ok());
  ASSERT_EQ(call.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_THAT(call.status().message(), HasSubstr("reply queue was lost"));
  EXPECT_TRUE(broker_.HasQueue("reply_q")) << "declared again under the same name";
}

// --- Confirms and returns --------------------------------------------------------------------

TEST_F(ConnectionCoreTest, CastCompletesOnlyWhenTheBrokerAcksIt) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Send(*core, TestCast(cast));
  ASSERT_EQ(broker_.published().size(), 1u);
  EXPECT_EQ(cast.runs(), 0);
  EXPECT_EQ(core->unconfirmed(), 1u);
  broker_.Confirm(Last().seq, /*multiple=*/false, /*ack=*/true);
  core->Service();
  EXPECT_EQ(cast.runs(), 1);
  EXPECT_TRUE(cast.status().ok()) << cast.status();
  EXPECT_EQ(core->unconfirmed(), 0u);
  EXPECT_EQ(observer_.count("ack"), 1);
}

TEST_F(ConnectionCoreTest, NackFailsTheCastWithUnavailableNamingTheDestination) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Send(*core, TestCast(cast));
  broker_.Confirm(Last().seq, false, /*ack=*/false);
  core->Service();
  ASSERT_EQ(cast.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_THAT(cast.status().message(), HasSubstr("topic 'compute' on exchange 'nova' (nack)"));
}

TEST_F(ConnectionCoreTest, MultipleAckCompletesEveryPublishUpToItsNumberAndNoLater) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome a, b, c;
  Send(*core, TestCast(a));
  Send(*core, TestCast(b));
  Send(*core, TestCast(c));
  broker_.Confirm(broker_.published()[1].seq, /*multiple=*/true, true);
  core->Service();
  EXPECT_EQ(a.runs(), 1);
  EXPECT_EQ(b.runs(), 1);
  EXPECT_EQ(c.runs(), 0);
  EXPECT_EQ(core->unconfirmed(), 1u);
}

TEST_F(ConnectionCoreTest, MandatoryReturnFailsTheCastWithUnavailableAndItsLaterAckDoesNotRunItAgain) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Send(*core, TestCast(cast, "nova", "nobody"));
  const FakeBroker::Published published = Last();
  broker_.Return(published);
  broker_.Confirm(published.seq, false, true);  // the broker confirms returned messages too
  core->Service();
  ASSERT_EQ(cast.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_THAT(cast.status().message(),
              HasSubstr("no server listening on topic 'nobody' on exchange 'nova'"));
  EXPECT_EQ(observer_.count("returned"), 1);
  EXPECT_EQ(core->unconfirmed(), 0u);
}

TEST_F(ConnectionCoreTest, MandatoryReturnFailsACallAtOnce) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.Return(Last());
  core->Service();
  ASSERT_EQ(call.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_EQ(core->pending_calls(), 0u);
}

TEST_F(ConnectionCoreTest, PublishChannelResetFailsEveryUnconfirmedMessageAndNothingConfirmed) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome confirmed, cast, call;
  Send(*core, TestCast(confirmed));
  broker_.Confirm(Last().seq, false, true);
  core->Service();
  Send(*core, TestCast(cast));
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.ResetPublishChannel(absl::UnavailableError("broker closed channel: 404"));
  core->Service();
  EXPECT_EQ(confirmed.runs(), 1);
  EXPECT_TRUE(confirmed.status().ok());
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_TRUE(core->connected()) << "only the channel was reset";
  // What was checked may have vanished with the channel: exchanges are checked again.
  EXPECT_EQ(core->known_exchanges(), 0u);
  const int declares = broker_.active_declares();
  Outcome next;
  Send(*core, TestCast(next));
  EXPECT_EQ(broker_.active_declares(), declares + 1);
  EXPECT_EQ(Last().seq, 1u) << "the reopened channel numbers its confirms from 1";
}

TEST_F(ConnectionCoreTest, LostConnectionFailsUnconfirmedCastsWithUnavailable) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Send(*core, TestCast(cast));
  broker_.DropConnection(absl::UnavailableError("reset by peer"));
  core->Service();
  ASSERT_EQ(cast.runs(), 1);
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_THAT(cast.status().message(), HasSubstr("before the broker confirmed"));
}

// --- Replies and deadlines -------------------------------------------------------------------

TEST_F(ConnectionCoreTest, RepliesCompleteTheirOwnCallsByMsgIdInAnyOrder) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome first, second;
  Send(*core, TestCall(first, "m1", In(absl::Seconds(60))));
  Send(*core, TestCall(second, "m2", In(absl::Seconds(60))));
  broker_.Deliver(ReplyBody("m2", R"({"n": 2})"));
  broker_.Deliver(ReplyBody("m1", R"({"n": 1})"));
  core->Service();
  EXPECT_EQ(first.result_json(), R"({"n": 1})");
  EXPECT_EQ(second.result_json(), R"({"n": 2})");
  EXPECT_EQ(core->pending_calls(), 0u);
}

TEST_F(ConnectionCoreTest, CallEndsWithDeadlineExceededAtItsDeadlineAndNotBefore) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(5))));
  EXPECT_EQ(core->NextWait(), absl::Seconds(1)) << "capped, so heartbeats are serviced";
  clock_.Advance(absl::Seconds(5) - absl::Nanoseconds(1));
  EXPECT_EQ(core->NextWait(), absl::Nanoseconds(1));
  core->Service();
  EXPECT_EQ(call.runs(), 0);
  clock_.Advance(absl::Nanoseconds(1));
  core->Service();
  ASSERT_EQ(call.runs(), 1);
  EXPECT_TRUE(absl::IsDeadlineExceeded(call.status()));
  // Its reply, arriving now, is late: dropped and counted.
  broker_.Deliver(ReplyBody("m1", "1"));
  core->Service();
  EXPECT_EQ(call.runs(), 1);
  EXPECT_EQ(observer_.count("dropped_late"), 1);
}

TEST_F(ConnectionCoreTest, DeadlinesRunWhileDisconnected) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(2))));
  broker_.DropConnection(absl::UnavailableError("gone"));
  core->Service();
  ASSERT_TRUE(core->StartAttemptIfDue().has_value());  // an attempt hangs
  clock_.Advance(absl::Seconds(2));
  core->Service();
  EXPECT_TRUE(absl::IsDeadlineExceeded(call.status()));
}

TEST_F(ConnectionCoreTest, RepliesThatAreNotAnswersAreDroppedAndCounted) {
  CellConnectionOptions options = Options();
  options.max_message_bytes = 200;
  std::unique_ptr<ConnectionCore> core = Connected(options);
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.Deliver("not json");
  broker_.Deliver(ReplyBody("m1", "1"), "text/plain");
  broker_.Deliver(ReplyBody("someone-else", "1"));
  broker_.Deliver(ReplyBody("m1", absl::StrCat("\"", std::string(300, 'x'), "\"")));
  broker_.Deliver(ReplyBody("m1", "7"));
  broker_.Deliver(ReplyBody("m1", "8"));
  core->Service();
  EXPECT_EQ(observer_.count("dropped_malformed"), 2);
  EXPECT_EQ(observer_.count("dropped_unknown"), 1);
  EXPECT_EQ(observer_.count("dropped_oversized"), 1);
  EXPECT_EQ(observer_.count("dropped_duplicate"), 1);
  EXPECT_EQ(call.runs(), 1);
  EXPECT_EQ(call.result_json(), "7");
}

TEST_F(ConnectionCoreTest, ConsumerCancelledWithTheQueueKeptResubscribesAndCallsKeepWaiting) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  broker_.CancelConsumer();
  core->Service();
  EXPECT_THAT(broker_.consumed(), ElementsAre("reply_q", "reply_q"));
  EXPECT_EQ(call.runs(), 0);
  broker_.Deliver(ReplyBody("m1", "1"));
  core->Service();
  EXPECT_EQ(call.result_json(), "1");
}

TEST_F(ConnectionCoreTest, ConsumerCancelledWithTheQueueDeletedFailsCallsAndSubscribesAgain) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  // An operator deleted the reply queue: the broker cancels the consumer. The call's reply
  // may already be gone with it, so the call fails; the queue comes back for the next calls.
  broker_.DeleteQueue("reply_q");
  core->Service();
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_TRUE(broker_.HasQueue("reply_q"));
  EXPECT_THAT(broker_.consumed(), ElementsAre("reply_q", "reply_q"));
  EXPECT_TRUE(core->connected());
  Outcome next;
  Send(*core, TestCall(next, "m2", In(absl::Seconds(60))));
  broker_.Deliver(ReplyBody("m2", "2"));
  core->Service();
  EXPECT_EQ(next.result_json(), "2");
}

TEST_F(ConnectionCoreTest, NextWaitIsTheEarlierOfTheNextDeadlineAndHalfTheHeartbeat) {
  broker_.set_heartbeat_seconds(1);
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome call;
  Send(*core, TestCall(call, "m1", In(absl::Milliseconds(700))));
  EXPECT_EQ(core->NextWait(), absl::Milliseconds(500));  // half the heartbeat
  clock_.Advance(absl::Milliseconds(400));
  EXPECT_EQ(core->NextWait(), absl::Milliseconds(300));  // the deadline
}

// --- Callers who gave up ----------------------------------------------------------------------

TEST_F(ConnectionCoreTest, CastWhoseCallersDeadlinePassedBeforeItsTurnIsNotPublished) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome late, in_time;
  Outbound message = TestCast(late);
  message.publish_by = clock_.Now();  // reached: the caller's deadline is now
  Outbound other = TestCast(in_time);
  other.publish_by = In(absl::Nanoseconds(1));
  std::vector<Outbound> batch;
  batch.push_back(std::move(message));
  batch.push_back(std::move(other));
  core->Publish(std::move(batch));
  ASSERT_EQ(late.runs(), 1);
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.status())) << late.status();
  EXPECT_THAT(late.status().message(), HasSubstr("nothing was sent"));
  ASSERT_EQ(broker_.published().size(), 1u) << "only the message still in time";
  EXPECT_EQ(in_time.runs(), 0) << "waits for its confirm";
}

TEST_F(ConnectionCoreTest, CancelledMessageIsNotPublishedAndEndsCancelled) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Outbound message = TestCast(cast);
  message.cancellation = std::make_shared<bridge::Cancellation>();
  ASSERT_TRUE(message.cancellation->Attach([] {}));
  ASSERT_TRUE(message.cancellation->Cancel());
  Send(*core, std::move(message));
  ASSERT_EQ(cast.runs(), 1);
  EXPECT_TRUE(absl::IsCancelled(cast.status())) << cast.status();
  EXPECT_TRUE(broker_.published().empty());
}

TEST_F(ConnectionCoreTest, WithdrawnCallEndsCancelledAndItsReplyIsDroppedAsLate) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome withdrawn, kept;
  Send(*core, TestCall(withdrawn, "m1", In(absl::Seconds(60))));
  Send(*core, TestCall(kept, "m2", In(absl::Seconds(60))));
  core->Withdraw("m1");
  ASSERT_EQ(withdrawn.runs(), 1);
  EXPECT_TRUE(absl::IsCancelled(withdrawn.status())) << withdrawn.status();
  EXPECT_EQ(core->pending_calls(), 1u) << "it holds no memory until its deadline";
  core->Withdraw("no-such-call");  // nothing pending by that id: nothing happens
  broker_.Deliver(ReplyBody("m1", "1"));
  broker_.Deliver(ReplyBody("m2", "2"));
  core->Service();
  EXPECT_EQ(withdrawn.runs(), 1);
  EXPECT_EQ(observer_.count("dropped_late"), 1);
  ASSERT_EQ(kept.runs(), 1);
  EXPECT_EQ(kept.result_json(), "2");
}

// --- Draining --------------------------------------------------------------------------------

TEST_F(ConnectionCoreTest, ShutdownFailsUnconfirmedMessagesAndCallsInFlightWithUnavailable) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast, call;
  Send(*core, TestCast(cast));
  Send(*core, TestCall(call, "m1", In(absl::Seconds(60))));
  core->Shutdown(absl::UnavailableError("cell 'c1': gateway shutting down"));
  EXPECT_THAT(cast.status().message(), HasSubstr("shutting down"));
  EXPECT_TRUE(absl::IsUnavailable(cast.status()));
  EXPECT_TRUE(absl::IsUnavailable(call.status()));
  EXPECT_FALSE(core->connected());
  EXPECT_EQ(core->fd(), -1);
  EXPECT_EQ(core->pending_calls(), 0u);
  EXPECT_EQ(core->unconfirmed(), 0u);
}

// --- The watchdog ----------------------------------------------------------------------------

TEST_F(ConnectionCoreTest, APassThatBlocksPastTheLimitIsCutAndAFinishedOneIsNot) {
  std::unique_ptr<ConnectionCore> core = Connected();
  const int fd = core->fd();
  // While the publish is in progress, the pass has lasted the limit.
  bool cut_during_publish = false;
  broker_.set_on_publish([&](const FakeBroker::Published&) {
    clock_.Advance(kLimit);
    cut_during_publish = watchdog_.CheckNow();
  });
  Outcome cast;
  Send(*core, TestCast(cast));
  EXPECT_TRUE(cut_during_publish);
  EXPECT_THAT(cut_fds_, ElementsAre(fd));
  // Once the pass is over the watchdog is disarmed, however long the loop then sleeps.
  broker_.set_on_publish(nullptr);
  Send(*core, TestCast(cast));
  clock_.Advance(kLimit * 10);
  EXPECT_FALSE(watchdog_.CheckNow());
  EXPECT_EQ(cut_fds_.size(), 1u);
}

// --- Exchanges -------------------------------------------------------------------------------

TEST_F(ConnectionCoreTest, ControlExchangeIsCreatedWhenMissingAndCheckedOncePerConnection) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome a, b;
  Send(*core, TestCast(a));
  Send(*core, TestCast(b));
  EXPECT_TRUE(broker_.HasExchange("nova"));
  EXPECT_EQ(broker_.active_declares(), 1);
  EXPECT_EQ(broker_.passive_declares(), 0);
  EXPECT_EQ(broker_.published().size(), 2u);
  // A new connection checks again.
  broker_.DropConnection(absl::UnavailableError("gone"));
  core->Service();
  ASSERT_TRUE(Connect(*core).ok());
  Send(*core, TestCast(a));
  EXPECT_EQ(broker_.active_declares(), 2);
}

TEST_F(ConnectionCoreTest, MissingExchangeNamedByTheCallerFailsWithFailedPreconditionAndIsNotCreated) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Send(*core, TestCast(cast, "no_such_exchange"));
  ASSERT_EQ(cast.runs(), 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(cast.status())) << cast.status();
  EXPECT_THAT(cast.status().message(), HasSubstr("exchange 'no_such_exchange'"));
  EXPECT_THAT(cast.status().message(), HasSubstr("NOT_FOUND"));
  EXPECT_FALSE(broker_.HasExchange("no_such_exchange"));
  EXPECT_TRUE(broker_.published().empty());
}

TEST_F(ConnectionCoreTest, RefusedExchangeFailsOnlyItsOwnRequestAndNothingElseInFlight) {
  broker_.AddExchange({"amq.direct", "direct", true, false});
  broker_.AddExchange({"compute_fanout", "fanout", false, true});
  broker_.AddExchange({"amq.rabbitmq.trace", "topic", true, false}, /*internal=*/true);
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome innocent_cast, innocent_call;
  Send(*core, TestCast(innocent_cast));
  Send(*core, TestCall(innocent_call, "m1", In(absl::Seconds(60))));
  const size_t innocent_published = broker_.published().size();
  for (const char* hostile : {"amq.direct", "compute_fanout", "amq.rabbitmq.trace", "amq.nope"}) {
    Outcome refused;
    Send(*core, TestCast(refused, hostile));
    ASSERT_EQ(refused.runs(), 1) << hostile;
    EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
    EXPECT_THAT(refused.status().message(), HasSubstr(absl::StrCat("exchange '", hostile, "'")));
  }
  EXPECT_EQ(broker_.published().size(), innocent_published) << "nothing hostile was published";
  EXPECT_EQ(innocent_cast.runs(), 0);
  EXPECT_EQ(innocent_call.runs(), 0);
  // The innocent requests complete as if nothing had happened.
  broker_.Confirm(broker_.published().back().seq, /*multiple=*/true, true);
  broker_.Deliver(ReplyBody("m1", "1"));
  core->Service();
  EXPECT_TRUE(innocent_cast.status().ok()) << innocent_cast.status();
  EXPECT_EQ(innocent_call.result_json(), "1");
  EXPECT_FALSE(broker_.HasExchange("amq.nope"));
}

TEST_F(ConnectionCoreTest, ControlExchangeWithOtherFlagsSaysWhichCellSettingsToCheck) {
  broker_.AddExchange({"nova", "topic", /*durable=*/true, false});
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome cast;
  Send(*core, TestCast(cast));
  EXPECT_TRUE(absl::IsFailedPrecondition(cast.status()));
  EXPECT_THAT(cast.status().message(), HasSubstr("inequivalent arg 'durable'"));
  EXPECT_THAT(cast.status().message(), HasSubstr("amqp_durable_queues"));
}

TEST_F(ConnectionCoreTest, RefusalsAreNotRememberedSoAFixedExchangeWorksOnTheNextRequest) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome first, second;
  Send(*core, TestCast(first, "neutron"));
  EXPECT_TRUE(absl::IsFailedPrecondition(first.status()));
  broker_.AddExchange({"neutron", "topic", false, false});  // its service started
  Send(*core, TestCast(second, "neutron"));
  EXPECT_EQ(second.runs(), 0) << second.status();
  EXPECT_EQ(Last().exchange, "neutron");
}

TEST_F(ConnectionCoreTest, FanoutToAMissingFanoutExchangeSucceedsWithoutPublishingOrCreating) {
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome fanout;
  Send(*core, TestFanout(fanout, "nobody"));
  ASSERT_EQ(fanout.runs(), 1);
  EXPECT_TRUE(fanout.status().ok()) << fanout.status();
  EXPECT_TRUE(broker_.published().empty());
  EXPECT_FALSE(broker_.HasExchange("nobody_fanout"));
}

TEST_F(ConnectionCoreTest, FanoutToAnExistingFanoutExchangeIsPublishedAndConfirmed) {
  broker_.AddExchange({"compute_fanout", "fanout", false, true});
  std::unique_ptr<ConnectionCore> core = Connected();
  Outcome fanout;
  Send(*core, TestFanout(fanout));
  ASSERT_EQ(broker_.published().size(), 1u);
  EXPECT_EQ(Last().exchange, "compute_fanout");
  EXPECT_FALSE(Last().mandatory);
  broker_.Confirm(Last().seq, false, true);
  core->Service();
  EXPECT_TRUE(fanout.status().ok());
}

TEST_F(ConnectionCoreTest, KnownExchangesStayWithinTheCapacityWhateverCallersName) {
  CellConnectionOptions options = Options();
  options.max_known_exchanges = 4;
  for (int i = 0; i < 10; ++i) broker_.AddExchange({absl::StrCat("x", i), "topic", false, false});
  std::unique_ptr<ConnectionCore> core = Connected(options);
  for (int i = 0; i < 10; ++i) {
    Outcome cast;
    Send(*core, TestCast(cast, absl::StrCat("x", i)));
    Outcome refused;
    Send(*core, TestCast(refused, absl::StrCat("random-", i)));
    EXPECT_LE(core->known_exchanges(), 4u);
  }
  EXPECT_EQ(core->known_exchanges(), 4u);
  EXPECT_EQ(broker_.exchange_count(), 10u) << "nothing created";
}

}  // namespace
}  // namespace cellgw::testing
