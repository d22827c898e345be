#include "gateway/rpc/request_validator.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::CallRequest ValidCall() {
  v1::CallRequest request;
  v1::Target* target = request.mutable_target();
  target->set_cell("cell1");
  target->set_exchange("nova");
  target->set_topic("compute");
  target->set_namespace_("admin");
  target->set_version("5.1");
  target->set_server("host1");
  request.set_method("resize");
  request.set_args_json(R"({"flavor": 3})");
  request.set_context_json(R"({"user_id": "u"})");
  return request;
}

const ContextEdits kEdits{"req-1", nullptr};

struct BoundsCase {
  std::string name;
  std::function<void(v1::CallRequest*)> mutate;
  std::string message;  // "" = valid
};

TEST(CheckBoundsTest, EveryFieldHasA255ByteLimitAndTheMessageNamesIt) {
  const std::string b255(255, 'b');
  const std::string b256(256, 'b');
  std::string e_acute_128;  // 128 characters, 256 bytes: the limit is in bytes
  for (int i = 0; i < 128; ++i) e_acute_128 += "\xc3\xa9";
  const std::vector<BoundsCase> cases = {
      {"all fields at the limit",
       [&](v1::CallRequest* r) {
         v1::Target* t = r->mutable_target();
         for (auto* field : {t->mutable_cell(), t->mutable_exchange(), t->mutable_topic(),
                             t->mutable_namespace_(), t->mutable_version(), t->mutable_server(),
                             r->mutable_method()}) {
           *field = b255;
         }
       },
       ""},
      {"cell", [&](auto* r) { r->mutable_target()->set_cell(b256); },
       "target.cell: is 256 bytes long; the limit is 255"},
      {"exchange", [&](auto* r) { r->mutable_target()->set_exchange(b256); },
       "target.exchange: is 256 bytes long; the limit is 255"},
      {"topic", [&](auto* r) { r->mutable_target()->set_topic(b256); },
       "target.topic: is 256 bytes long; the limit is 255"},
      {"topic in characters", [&](auto* r) { r->mutable_target()->set_topic(e_acute_128); },
       "target.topic: is 256 bytes long; the limit is 255"},
      {"namespace", [&](auto* r) { r->mutable_target()->set_namespace_(b256); },
       "target.namespace: is 256 bytes long; the limit is 255"},
      {"version", [&](auto* r) { r->mutable_target()->set_version(b256); },
       "target.version: is 256 bytes long; the limit is 255"},
      {"server", [&](auto* r) { r->mutable_target()->set_server(b256); },
       "target.server: is 256 bytes long; the limit is 255"},
      {"method", [&](auto* r) { r->set_method(b256); },
       "method: is 256 bytes long; the limit is 255"},
      {"empty topic", [](auto* r) { r->mutable_target()->set_topic(""); },
       "target.topic: required"},
      {"empty method", [](auto* r) { r->set_method(""); }, "method: required"},
      {"first field in order wins",
       [&](auto* r) {
         r->mutable_target()->set_topic(std::string(4 << 20, 't'));
         r->set_method(std::string(4 << 20, 'm'));
       },
       "target.topic: is 4194304 bytes long; the limit is 255"},
  };
  for (const BoundsCase& c : cases) {
    v1::CallRequest request = ValidCall();
    c.mutate(&request);
    const absl::Status status = CheckBounds(request.target(), request.method());
    if (c.message.empty()) {
      EXPECT_TRUE(status.ok()) << c.name << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
      EXPECT_EQ(status.message(), c.message) << c.name;
    }
  }
}

TEST(ValidateCallTest, CopiesEveryFieldAndReadsDurations) {
  v1::CallRequest request = ValidCall();
  request.mutable_timeout()->set_seconds(2);
  request.mutable_timeout()->set_nanos(500000000);
  request.mutable_call_monitor_timeout()->set_seconds(10);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::StatusOr<ValidatedCall> call = ValidateCall(request, deadline, kEdits);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->request.cell, "cell1");
  EXPECT_EQ(call->request.target.exchange, "nova");
  EXPECT_EQ(call->request.target.topic, "compute");
  EXPECT_EQ(call->request.target.namespace_, "admin");
  EXPECT_EQ(call->request.target.version, "5.1");
  EXPECT_EQ(call->request.target.server, "host1");
  EXPECT_EQ(call->request.method, "resize");
  EXPECT_EQ(call->request.args_json, R"({"flavor": 3})");
  EXPECT_EQ(call->options.deadline, deadline);
  EXPECT_EQ(call->options.timeout, absl::Milliseconds(2500));
  EXPECT_EQ(call->options.call_monitor_timeout, absl::Seconds(10));
}

TEST(ValidateCallTest, UnsetTimeoutStaysZeroForCallTimeoutsToFillIn) {
  absl::StatusOr<ValidatedCall> call = ValidateCall(ValidCall(), absl::InfiniteFuture(), kEdits);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->options.timeout, absl::ZeroDuration());
  EXPECT_EQ(call->options.call_monitor_timeout, absl::ZeroDuration());
  EXPECT_EQ(call->options.deadline, absl::InfiniteFuture());
}

TEST(ValidateCallTest, BadDurationsNameTheirField) {
  struct Case {
    std::function<void(v1::CallRequest*)> mutate;
    std::string prefix;
  };
  for (const Case& c : std::vector<Case>{
           {[](auto* r) { r->mutable_timeout()->set_seconds(-1); },
            "timeout: must not be negative"},
           {[](auto* r) { r->mutable_timeout()->set_nanos(-5); }, "timeout: must not be negative"},
           {[](auto* r) {
              r->mutable_timeout()->set_seconds(1);
              r->mutable_timeout()->set_nanos(-1);
            },
            "timeout: not a valid google.protobuf.Duration"},
           {[](auto* r) { r->mutable_timeout()->set_seconds(315576000001); },
            "timeout: not a valid google.protobuf.Duration"},
           {[](auto* r) { r->mutable_call_monitor_timeout()->set_seconds(-3); },
            "call_monitor_timeout: must not be negative"},
       }) {
    v1::CallRequest request = ValidCall();
    c.mutate(&request);
    absl::StatusOr<ValidatedCall> call = ValidateCall(request, absl::InfiniteFuture(), kEdits);
    EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(call.status().message()), StartsWith(c.prefix));
  }
}

TEST(ValidateCastTest, TheContextIsReadOnceHereWithTheRequestIdAndPolicyApplied) {
  v1::CastRequest request;
  request.mutable_target()->set_topic("compute");
  request.set_method("note");
  request.set_context_json(R"({"user_id": "root", "tenant": "t"})");
  ContextPolicy policy;
  policy.set = {{"user_id", "scheduler"}};
  policy.caller = "token:scheduler";
  absl::StatusOr<bridge::RpcRequest> cast = ValidateCast(request, ContextEdits{"req-7", &policy});
  ASSERT_TRUE(cast.ok()) << cast.status();
  // What the bridge gets is final: nothing later in the gateway reads or edits it.
  EXPECT_EQ(cast->context_json,
            R"({"tenant": "t", "user_id": "scheduler", "request_id": "req-7"})");
}

TEST(ValidateFanoutTest, BadContextIsRefusedHereNamingContextJson) {
  v1::FanoutRequest request;
  request.mutable_target()->set_topic("compute");
  request.set_method("note");
  request.set_context_json("{user}");
  absl::StatusOr<bridge::RpcRequest> fanout = ValidateFanout(request, kEdits);
  EXPECT_EQ(fanout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(fanout.status().message()), StartsWith("context_json: "));
}

TEST(ValidateCastTest, ArgsJsonIsNotParsedByTheGatewayTheBridgeChecksItWhileEncoding) {
  v1::CastRequest request;
  request.mutable_target()->set_topic("compute");
  request.set_method("note");
  request.set_args_json("not json");
  absl::StatusOr<bridge::RpcRequest> cast = ValidateCast(request, kEdits);
  ASSERT_TRUE(cast.ok()) << cast.status();
  EXPECT_EQ(cast->args_json, "not json");
}

TEST(ValidateCastTest, BoundsAreCheckedBeforeTheContextIsRead) {
  v1::CastRequest request;
  request.mutable_target()->set_topic(std::string(300, 't'));
  request.set_method("note");
  request.set_context_json("{not json");
  absl::StatusOr<bridge::RpcRequest> cast = ValidateCast(request, kEdits);
  EXPECT_THAT(std::string(cast.status().message()), HasSubstr("target.topic"));
}

}  // namespace
}  // namespace cellgw::gateway
