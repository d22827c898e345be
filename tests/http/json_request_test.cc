// The HTTP/JSON body -> CellGateway request translation (gateway/http/json_request): every
// member lands in its proto field, args and context travel as the exact text sent, and every
// malformed body is refused with INVALID_ARGUMENT naming what is wrong.
#include "gateway/http/json_request.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(JsonRequestTest, EveryMemberLandsInItsCallRequestField) {
  const std::string body = R"({"cell": "cell1", "exchange": "nova", "topic": "compute",
      "namespace": "admin", "version": "5.1", "server": "host-1", "method": "resize",
      "args": {"flavor": 3}, "context": {"user_id": "u1"}, "timeout_ms": 1500,
      "call_monitor_timeout_ms": 4000})";
  absl::StatusOr<JsonRequest> parsed = ParseJsonRequest(body, SendKind::kCall);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::CallRequest request = ToCallRequest(*parsed);
  EXPECT_EQ(request.target().cell(), "cell1");
  EXPECT_EQ(request.target().exchange(), "nova");
  EXPECT_EQ(request.target().topic(), "compute");
  EXPECT_EQ(request.target().namespace_(), "admin");
  EXPECT_EQ(request.target().version(), "5.1");
  EXPECT_EQ(request.target().server(), "host-1");
  EXPECT_EQ(request.method(), "resize");
  EXPECT_EQ(request.args_json(), R"({"flavor": 3})");
  EXPECT_EQ(request.context_json(), R"({"user_id": "u1"})");
  EXPECT_EQ(request.timeout().seconds(), 1);
  EXPECT_EQ(request.timeout().nanos(), 500000000);
  EXPECT_EQ(request.call_monitor_timeout().seconds(), 4);
  EXPECT_EQ(request.call_monitor_timeout().nanos(), 0);
}

TEST(JsonRequestTest, ArgsAndContextAreTheExactTextSent) {
  // Big integers, a float written with a trailing zero, escapes, raw UTF-8 and odd spacing:
  // any conversion would change at least one of them.
  const std::string args =
      "{\"u64\": 18446744073709551615, \"big70\": 1180591620717411303424,\n"
      "  \"f\": 1.50, \"esc\": \"\\u00e9\\n\", \"raw\": \"caf\xc3\xa9 \xe2\x98\x83\","
      "\"nested\" :[ [ {} ] ]}";
  const std::string context = "{ \"request_id\" : \"req-1\" , \"roles\": [\"admin\"] }";
  const std::string body = "{\"topic\": \"t\", \"method\": \"m\", \"args\": " + args +
                           ", \"context\":" + context + "}";
  absl::StatusOr<JsonRequest> parsed = ParseJsonRequest(body, SendKind::kCast);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::CastRequest request = ToCastRequest(*parsed);
  EXPECT_EQ(request.args_json(), args);
  EXPECT_EQ(request.context_json(), context);
}

TEST(JsonRequestTest, AbsentAndNullMembersLeaveTheFieldsUnset) {
  absl::StatusOr<JsonRequest> parsed = ParseJsonRequest(
      R"({"topic": "t", "method": "m", "cell": null, "args": null, "context": null,
          "timeout_ms": null, "call_monitor_timeout_ms": null})",
      SendKind::kCall);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::CallRequest request = ToCallRequest(*parsed);
  EXPECT_EQ(request.target().cell(), "");
  EXPECT_EQ(request.args_json(), "");
  EXPECT_EQ(request.context_json(), "");
  EXPECT_FALSE(request.has_timeout());
  EXPECT_FALSE(request.has_call_monitor_timeout());
}

TEST(JsonRequestTest, ZeroTimeoutsMeanUnsetAsInTheGrpcApi) {
  absl::StatusOr<JsonRequest> parsed = ParseJsonRequest(
      R"({"topic": "t", "method": "m", "timeout_ms": 0, "call_monitor_timeout_ms": 0})",
      SendKind::kCall);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->timeout.has_value());
  EXPECT_FALSE(ToCallRequest(*parsed).has_timeout());
  EXPECT_FALSE(ToCallRequest(*parsed).has_call_monitor_timeout());
}

TEST(JsonRequestTest, CastAndFanoutKeepTimeoutForTheDeadlineOnly) {
  for (SendKind kind : {SendKind::kCast, SendKind::kFanout}) {
    absl::StatusOr<JsonRequest> parsed =
        ParseJsonRequest(R"({"topic": "t", "method": "m", "timeout_ms": 250})", kind);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->timeout, absl::Milliseconds(250));
  }
}

TEST(JsonRequestTest, EscapedStringsAreDecoded) {
  absl::StatusOr<JsonRequest> parsed = ParseJsonRequest(
      R"({"topic": "comp\u00fcte", "method": "a\/b", "server": "\ud83d\ude00"})",
      SendKind::kFanout);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::FanoutRequest request = ToFanoutRequest(*parsed);
  EXPECT_EQ(request.target().topic(), "comp\xc3\xbcte");
  EXPECT_EQ(request.method(), "a/b");
  EXPECT_EQ(request.target().server(), "\xf0\x9f\x98\x80");
}

struct BadBody {
  std::string name;
  std::string body;
  SendKind kind;
  std::string message_start;  // the refusal must start with this (the name of what is wrong)
  std::string detail;         // and contain this
};

TEST(JsonRequestTest, MalformedBodiesAreRefusedNamingWhatIsWrong) {
  const std::vector<BadBody> cases = {
      {"empty body", "", SendKind::kCall, "body: ", "empty"},
      {"whitespace body", " \n", SendKind::kCall, "body: ", "empty"},
      {"not JSON", "topic=compute", SendKind::kCall, "body: ", "not valid JSON"},
      {"truncated", R"({"topic": "t")", SendKind::kCall, "body: ", "not valid JSON"},
      {"trailing garbage", R"({"topic": "t"} x)", SendKind::kCall, "body: ", "not valid JSON"},
      {"an array", R"([{"topic": "t"}])", SendKind::kCall, "body: ", "not an array"},
      {"a string", R"("t")", SendKind::kCast, "body: ", "not a string"},
      {"topic a number", R"({"topic": 5})", SendKind::kCall, "topic: ", "must be a string"},
      {"cell an object", R"({"cell": {}})", SendKind::kCall, "cell: ", "not an object"},
      {"method a boolean", R"({"method": true})", SendKind::kCast, "method: ", "a boolean"},
      {"version a number", R"({"version": 1.0})", SendKind::kCall, "version: ", "a number"},
      {"server an array", R"({"server": ["a"]})", SendKind::kCall, "server: ", "an array"},
      {"exchange a number", R"({"exchange": 0})", SendKind::kFanout, "exchange: ", "a number"},
      {"namespace a bool", R"({"namespace": false})", SendKind::kCall, "namespace: ",
       "a boolean"},
      {"lone surrogate", R"({"topic": "\ud800"})", SendKind::kCall, "topic: ", "surrogate"},
      {"args an array", R"({"args": [1]})", SendKind::kCall, "args: ", "must be a JSON object"},
      {"args a string", R"({"args": "{}"})", SendKind::kCall, "args: ", "not a string"},
      {"context a number", R"({"context": 7})", SendKind::kCast, "context: ", "not a number"},
      {"timeout a string", R"({"timeout_ms": "5"})", SendKind::kCall, "timeout_ms: ",
       "not a string"},
      {"timeout negative", R"({"timeout_ms": -1})", SendKind::kCall, "timeout_ms: ", "got -1"},
      {"timeout fractional", R"({"timeout_ms": 1.5})", SendKind::kCall, "timeout_ms: ",
       "got 1.5"},
      {"timeout exponent", R"({"timeout_ms": 1e3})", SendKind::kCast, "timeout_ms: ",
       "got 1e3"},
      {"timeout too large", R"({"timeout_ms": 2147483648})", SendKind::kCall, "timeout_ms: ",
       "2147483647"},
      {"timeout huge", R"({"timeout_ms": 99999999999999999999999})", SendKind::kCall,
       "timeout_ms: ", "2147483647"},
      {"monitor a string", R"({"call_monitor_timeout_ms": "x"})", SendKind::kCall,
       "call_monitor_timeout_ms: ", "not a string"},
      {"monitor on a cast", R"({"call_monitor_timeout_ms": 4000})", SendKind::kCast,
       "call_monitor_timeout_ms: ", "only /v1/call"},
      {"monitor on a fanout", R"({"call_monitor_timeout_ms": null})", SendKind::kFanout,
       "call_monitor_timeout_ms: ", "only /v1/call"},
      {"unknown member", R"({"topic": "t", "timeout": 5})", SendKind::kCall, "timeout: ",
       "unknown member"},
      {"gRPC field name", R"({"args_json": "{}"})", SendKind::kCall, "args_json: ",
       "unknown member"},
      {"unknown null member", R"({"target": null})", SendKind::kCall, "target: ",
       "unknown member"},
      {"duplicate member", R"({"topic": "a", "topic": "b"})", SendKind::kCall, "topic: ",
       "given twice"},
  };
  for (const BadBody& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<JsonRequest> parsed = ParseJsonRequest(c.body, c.kind);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), StartsWith(c.message_start));
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.detail));
  }
}

TEST(JsonRequestTest, AnUnknownMembersNameIsEchoedShortened) {
  const std::string name(5000, 'x');
  absl::StatusOr<JsonRequest> parsed =
      ParseJsonRequest("{\"" + name + "\": 1}", SendKind::kCall);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), StartsWith(std::string(64, 'x') + "...: "));
  EXPECT_LT(parsed.status().message().size(), 300u);
}

}  // namespace
}  // namespace cellgw::gateway::http
