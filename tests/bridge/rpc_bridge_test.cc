// RpcBridge with its cells' connections on a fake broker (no RabbitMQ): routing to cells,
// what is refused before anything is sent, backpressure, and the one encoding of each
// request that goes out. tests/integration covers the same bridge against real brokers.
#include "bridge/rpc_bridge.h"

#include <memory>
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
#include "tests/bridge/latch.h"
#include "tests/bridge/test_messages.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;
using bridge::CallOptions;
using bridge::CallResult;
using bridge::RpcBridge;
using bridge::RpcRequest;
using bridge::SendResult;

constexpr absl::Duration kWait = absl::Seconds(30);

// The outcome of one bridge request, waited for from the test's thread.
template <typename T>
class Pending {
 public:
  std::function<void(absl::StatusOr<T>)> Callback() {
    return [this](absl::StatusOr<T> result) {
      result_ = std::move(result);
      done_.Notify();
    };
  }
  // True when the callback already ran (inline: refused before anything was sent).
  bool ran() const { return done_.notified(); }
  const absl::StatusOr<T>& Get() {
    EXPECT_TRUE(done_.Await(kWait));
    return result_;
  }

 private:
  Latch done_;
  absl::StatusOr<T> result_ = absl::UnknownError("not run");
};

bridge::CellOptions Cell(const std::string& name, const std::string& vhost = "") {
  bridge::CellOptions cell;
  cell.name = name;
  cell.transport_url = absl::StrCat("rabbit://guest:guest@fake:5672/", vhost);
  cell.control_exchange = "nova";
  return cell;
}

RpcRequest Request(const std::string& cell = "", const std::string& method = "echo") {
  RpcRequest request;
  request.cell = cell;
  request.target.topic = "compute";
  request.method = method;
  request.args_json = R"({"x": 1})";
  return request;
}

class RpcBridgeTest : public ::testing::Test {
 protected:
  RpcBridgeTest() : random_(0.0) {
    broker_.set_auto_confirm(true);
    broker_.AddExchange({"compute_fanout", "fanout", false, true});
  }
  ~RpcBridgeTest() override {
    if (bridge_ != nullptr) bridge_->Stop();
  }

  // Answers every call with its own args, as a server would.
  void AnswerCalls() {
    broker_.set_on_publish([this](const FakeBroker::Published& published) {
      absl::StatusOr<bridge::DecodedRequest> request = bridge::DecodeRequest(published.body);
      if (!request.ok() || request->msg_id.empty()) return;
      broker_.Deliver(ReplyBody(request->msg_id, request->args_json));
    });
  }

  RpcBridge& Start(std::vector<bridge::CellOptions> cells) {
    bridge::ConnectionEnv env;
    env.connector = broker_.Connector();
    env.clock = &clock_;
    env.random = &random_;
    absl::StatusOr<std::unique_ptr<RpcBridge>> created =
        RpcBridge::Create(std::move(cells), nullptr, std::move(env));
    EXPECT_TRUE(created.ok()) << created.status();
    bridge_ = *std::move(created);
    bridge_->Start();
    EXPECT_TRUE(bridge_->WaitForConnections(kWait));
    return *bridge_;
  }

  absl::StatusOr<SendResult> Cast(const RpcRequest& request) {
    Pending<SendResult> pending;
    bridge_->Cast(request, pending.Callback());
    return pending.Get();
  }

  absl::StatusOr<CallResult> Call(const RpcRequest& request,
                                  CallOptions options = CallOptions()) {
    Pending<CallResult> pending;
    bridge_->Call(request, options, pending.Callback());
    return pending.Get();
  }

  FakeBroker broker_;  // outlives the bridge
  FakeClock clock_;
  FixedRandom random_;
  std::unique_ptr<RpcBridge> bridge_;
};

TEST_F(RpcBridgeTest, RequestsGoToTheNamedCellsBroker) {
  RpcBridge& bridge = Start({Cell("a", "vhost_a"), Cell("b", "vhost_b")});
  ASSERT_TRUE(Cast(Request("b")).ok());
  ASSERT_TRUE(Cast(Request("a")).ok());
  const std::vector<FakeBroker::Published> published = broker_.published();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].virtual_host, "vhost_b");
  EXPECT_EQ(published[1].virtual_host, "vhost_a");
  EXPECT_TRUE(*bridge.CellConnected("a"));
  EXPECT_TRUE(absl::IsNotFound(bridge.CellConnected("c").status()));
}

TEST_F(RpcBridgeTest, CellIsRequiredWithSeveralCellsAndMustBeKnown) {
  RpcBridge& bridge = Start({Cell("a"), Cell("b")});
  Pending<SendResult> unnamed, unknown;
  bridge.Cast(Request(""), unnamed.Callback());
  bridge.Cast(Request("nope"), unknown.Callback());
  ASSERT_TRUE(unnamed.ran() && unknown.ran()) << "refused inline";
  EXPECT_TRUE(absl::IsInvalidArgument(unnamed.Get().status()));
  EXPECT_THAT(unnamed.Get().status().message(), HasSubstr("target.cell"));
  EXPECT_TRUE(absl::IsNotFound(unknown.Get().status()));
  EXPECT_TRUE(broker_.published().empty());
}

TEST_F(RpcBridgeTest, EmptyCellRoutesToTheOnlyCell) {
  Start({Cell("only", "v")});
  ASSERT_TRUE(Cast(Request("")).ok());
  EXPECT_EQ(broker_.published().at(0).virtual_host, "v");
}

TEST_F(RpcBridgeTest, VersionOverTheCapIsRefusedAndNothingIsSent) {
  bridge::CellOptions capped = Cell("capped");
  capped.upgrade_levels["compute"] = "1.1";
  RpcBridge& bridge = Start({capped});
  RpcRequest request = Request("capped", "refused_method");
  request.target.version = "1.2";
  Pending<CallResult> call;
  bridge.Call(request, CallOptions(), call.Callback());
  ASSERT_TRUE(call.ran()) << "refused inline";
  EXPECT_TRUE(absl::IsFailedPrecondition(call.Get().status())) << call.Get().status();
  // A request sent after it is the first and only one published.
  request.target.version = "1.1";
  request.method = "allowed_method";
  ASSERT_TRUE(Cast(request).ok());
  ASSERT_EQ(broker_.published().size(), 1u);
  EXPECT_EQ(bridge::DecodeRequest(broker_.published()[0].body)->method, "allowed_method");
}

TEST_F(RpcBridgeTest, RequestsBeyondMaxInFlightAreRefusedUntilOneFinishes) {
  bridge::CellOptions small = Cell("small");
  small.max_in_flight = 2;
  RpcBridge& bridge = Start({small});
  Pending<CallResult> first, second, third, fourth;
  bridge.Call(Request(), CallOptions(), first.Callback());
  bridge.Call(Request(), CallOptions(), second.Callback());
  bridge.Call(Request(), CallOptions(), third.Callback());
  ASSERT_TRUE(third.ran()) << "refused inline";
  EXPECT_TRUE(absl::IsResourceExhausted(third.Get().status()));
  EXPECT_THAT(third.Get().status().message(), HasSubstr("max_in_flight"));
  ASSERT_TRUE(broker_.AwaitPublished(2, kWait));
  broker_.Deliver(ReplyBody(bridge::DecodeRequest(broker_.published()[0].body)->msg_id, "1"));
  ASSERT_TRUE(first.Get().ok());
  bridge.Call(Request(), CallOptions(), fourth.Callback());
  EXPECT_TRUE(broker_.AwaitPublished(3, kWait)) << "the freed slot is taken";
  EXPECT_FALSE(fourth.ran());
  bridge.Stop();  // ends the calls still pending while their Pending objects live
}

TEST_F(RpcBridgeTest, MessageOverMaxMessageBytesIsRefusedAndNothingIsSent) {
  bridge::CellOptions cell = Cell("c");
  cell.max_message_bytes = 300;
  RpcBridge& bridge = Start({cell});
  RpcRequest request = Request();
  request.args_json = absl::StrCat(R"({"big": ")", std::string(300, 'x'), R"("})");
  Pending<SendResult> cast;
  bridge.Cast(request, cast.Callback());
  ASSERT_TRUE(cast.ran());
  EXPECT_TRUE(absl::IsResourceExhausted(cast.Get().status()));
  EXPECT_THAT(cast.Get().status().message(), HasSubstr("max_message_bytes"));
  // The refusal took no in-flight slot: a small request still goes.
  ASSERT_TRUE(Cast(Request()).ok());
  EXPECT_EQ(broker_.published().size(), 1u);
}

TEST_F(RpcBridgeTest, CallIsPublishedAsItsOneOsloEncodingWithItsTtl) {
  AnswerCalls();
  Start({Cell("c")});
  RpcRequest request = Request();
  request.target.server = "host1";
  request.target.namespace_ = "ns";
  request.target.version = "1.3";
  request.context_json = R"({"user_id": "u1"})";
  CallOptions options;
  options.timeout = absl::Seconds(30);
  options.call_monitor_timeout = absl::Milliseconds(2500);
  absl::StatusOr<CallResult> result = Call(request, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->result_json, R"({"x": 1})");

  const FakeBroker::Published published = broker_.published().at(0);
  EXPECT_EQ(published.exchange, "nova");
  EXPECT_EQ(published.routing_key, "compute.host1");
  EXPECT_TRUE(published.mandatory);
  EXPECT_EQ(published.expiration, "30000") << "the clock does not move: exactly the timeout";
  absl::StatusOr<bridge::DecodedRequest> decoded = bridge::DecodeRequest(published.body);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->msg_id, result->msg_id);
  bridge::RequestMessage expected;
  expected.method = "echo";
  expected.args_json = R"({"x": 1})";
  expected.context_json = R"({"user_id": "u1"})";
  expected.namespace_ = "ns";
  expected.version = "1.3";
  expected.msg_id = result->msg_id;
  expected.reply_q = decoded->reply_q;
  expected.call_monitor_timeout_s = 3;  // whole seconds, rounded up
  expected.unique_id = decoded->unique_id;
  EXPECT_EQ(published.body, *bridge::EncodeRequest(expected));
  EXPECT_THAT(decoded->reply_q, ::testing::StartsWith("reply_"));
}

TEST_F(RpcBridgeTest, CastIsPublishedAsItsOneOsloEncodingAndReturnsItsUniqueId) {
  Start({Cell("c")});
  absl::StatusOr<SendResult> result = Cast(Request());
  ASSERT_TRUE(result.ok()) << result.status();
  const FakeBroker::Published published = broker_.published().at(0);
  bridge::RequestMessage expected;
  expected.method = "echo";
  expected.args_json = R"({"x": 1})";
  expected.unique_id = result->unique_id;
  EXPECT_EQ(published.body, *bridge::EncodeRequest(expected));
  EXPECT_EQ(published.routing_key, "compute");
  EXPECT_TRUE(published.mandatory);
  EXPECT_TRUE(published.expiration.empty());
}

TEST_F(RpcBridgeTest, FanoutGoesToTheTopicsFanoutExchangeUnroutedAndNotMandatory) {
  RpcBridge& bridge = Start({Cell("c")});
  RpcRequest request = Request();
  request.target.exchange = "ignored";  // as oslo: a fanout ignores the exchange
  Pending<SendResult> fanout;
  bridge.Fanout(request, fanout.Callback());
  ASSERT_TRUE(fanout.Get().ok()) << fanout.Get().status();
  const FakeBroker::Published published = broker_.published().at(0);
  EXPECT_EQ(published.exchange, "compute_fanout");
  EXPECT_EQ(published.routing_key, "");
  EXPECT_FALSE(published.mandatory);
}

TEST_F(RpcBridgeTest, FanoutToATopicWithNoServerSucceedsAndCreatesNothing) {
  RpcBridge& bridge = Start({Cell("c")});
  RpcRequest request = Request();
  request.target.topic = "nobody";
  Pending<SendResult> fanout;
  bridge.Fanout(request, fanout.Callback());
  ASSERT_TRUE(fanout.Get().ok()) << fanout.Get().status();
  EXPECT_TRUE(broker_.published().empty());
  EXPECT_FALSE(broker_.HasExchange("nobody_fanout"));
}

TEST_F(RpcBridgeTest, ExchangeNamedByTheCallerMustExistAndTheControlExchangeIsCreated) {
  Start({Cell("c")});
  RpcRequest hostile = Request();
  hostile.target.exchange = "made_up";
  absl::StatusOr<SendResult> refused = Cast(hostile);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("exchange 'made_up'"));
  EXPECT_FALSE(broker_.HasExchange("made_up"));
  ASSERT_TRUE(Cast(Request()).ok());
  EXPECT_TRUE(broker_.HasExchange("nova"));
}

TEST_F(RpcBridgeTest, RemoteExceptionIsAResultNotAnError) {
  broker_.set_on_publish([this](const FakeBroker::Published& published) {
    bridge::RemoteFailure failure;
    failure.exception_class = "ValueError";
    failure.exception_module = "builtins";
    failure.message = "bad";
    broker_.Deliver(*bridge::EncodeReply(bridge::DecodeRequest(published.body)->msg_id,
                                         "null", &failure, true, "u"));
  });
  Start({Cell("c")});
  absl::StatusOr<CallResult> result = Call(Request());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->failure.has_value());
  EXPECT_EQ(result->failure->exception_class, "ValueError");
}

TEST_F(RpcBridgeTest, CallWhoseDeadlineHasPassedIsRefusedBeforeAnythingIsSent) {
  RpcBridge& bridge = Start({Cell("c")});
  CallOptions options;
  options.deadline = clock_.Now();
  Pending<CallResult> call;
  bridge.Call(Request(), options, call.Callback());
  ASSERT_TRUE(call.ran());
  EXPECT_TRUE(absl::IsDeadlineExceeded(call.Get().status()));
  EXPECT_TRUE(broker_.published().empty());
}

TEST_F(RpcBridgeTest, CastWhoseDeadlineHasPassedIsRefusedBeforeAnythingIsSent) {
  RpcBridge& bridge = Start({Cell("c")});
  bridge::SendOptions options;
  options.deadline = clock_.Now();
  Pending<SendResult> cast;
  bridge.Cast(Request(), options, cast.Callback());
  ASSERT_TRUE(cast.ran());
  EXPECT_TRUE(absl::IsDeadlineExceeded(cast.Get().status()));
  EXPECT_TRUE(broker_.published().empty());
}

TEST_F(RpcBridgeTest, CancelledCallFreesItsSlotAtOnceAndItsDoneNeverRuns) {
  bridge::CellOptions one = Cell("one");
  one.max_in_flight = 1;
  RpcBridge& bridge = Start({one});
  CallOptions withdrawable;
  withdrawable.cancellation = std::make_shared<bridge::Cancellation>();
  Pending<CallResult> cancelled, refused, admitted;
  bridge.Call(Request(), withdrawable, cancelled.Callback());
  ASSERT_TRUE(broker_.AwaitPublished(1, kWait));
  bridge.Call(Request(), CallOptions(), refused.Callback());
  ASSERT_TRUE(refused.ran());
  EXPECT_TRUE(absl::IsResourceExhausted(refused.Get().status()));

  EXPECT_TRUE(withdrawable.cancellation->Cancel());
  bridge.Call(Request(), CallOptions(), admitted.Callback());
  ASSERT_TRUE(broker_.AwaitPublished(2, kWait)) << "the slot was freed by the cancel";
  // Both replies come on the one connection in order: once the second call has its reply,
  // the first's was handled (and dropped) too.
  broker_.Deliver(ReplyBody(bridge::DecodeRequest(broker_.published()[0].body)->msg_id, "1"));
  broker_.Deliver(ReplyBody(bridge::DecodeRequest(broker_.published()[1].body)->msg_id, "2"));
  ASSERT_TRUE(admitted.Get().ok()) << admitted.Get().status();
  EXPECT_EQ(admitted.Get()->result_json, "2");
  EXPECT_FALSE(cancelled.ran()) << "the caller that cancelled ends the request itself";
}

TEST_F(RpcBridgeTest, RequestCancelledBeforeTheBridgeTookItEndsCancelledAndSendsNothing) {
  bridge::CellOptions one = Cell("one");
  one.max_in_flight = 1;
  RpcBridge& bridge = Start({one});
  bridge::SendOptions options;
  options.cancellation = std::make_shared<bridge::Cancellation>();
  EXPECT_FALSE(options.cancellation->Cancel());
  Pending<SendResult> cast;
  bridge.Cast(Request(), options, cast.Callback());
  ASSERT_TRUE(cast.ran()) << "ended inline";
  EXPECT_TRUE(absl::IsCancelled(cast.Get().status()));
  // The slot it briefly took is back: a cell of one slot still takes the next request.
  Pending<SendResult> next;
  bridge.Cast(Request(), next.Callback());
  EXPECT_TRUE(next.Get().ok()) << next.Get().status();
  EXPECT_EQ(broker_.published().size(), 1u);
}

TEST_F(RpcBridgeTest, StopEndsCallsInFlightWithUnavailable) {
  RpcBridge& bridge = Start({Cell("c")});
  Pending<CallResult> call;
  bridge.Call(Request(), CallOptions(), call.Callback());
  ASSERT_TRUE(broker_.AwaitPublished(1, kWait));
  bridge.Stop();
  EXPECT_TRUE(absl::IsUnavailable(call.Get().status()));
  Pending<SendResult> after;
  bridge.Cast(Request(), after.Callback());
  EXPECT_TRUE(absl::IsUnavailable(after.Get().status()));
}

}  // namespace
}  // namespace cellgw::testing
