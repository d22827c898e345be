#include "bridge/target.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::bridge {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Target MakeTarget(std::string topic, std::string server = "", std::string exchange = "") {
  Target target;
  target.topic = std::move(topic);
  target.server = std::move(server);
  target.exchange = std::move(exchange);
  return target;
}

TEST(TopicExchangeTest, TargetExchangeOverridesControlExchange) {
  EXPECT_EQ(TopicExchange(MakeTarget("compute", "", "custom"), "nova"), "custom");
}

TEST(TopicExchangeTest, EmptyTargetExchangeFallsBackToControlExchange) {
  EXPECT_EQ(TopicExchange(MakeTarget("compute"), "nova"), "nova");
}

TEST(RoutingKeyTest, IsTopicWithoutServer) {
  EXPECT_EQ(RoutingKey(MakeTarget("compute")), "compute");
}

TEST(RoutingKeyTest, IsTopicDotServerWithServer) {
  EXPECT_EQ(RoutingKey(MakeTarget("compute", "host1")), "compute.host1");
}

TEST(FanoutExchangeTest, IsTopicUnderscoreFanoutAndIgnoresServerAndExchange) {
  EXPECT_EQ(FanoutExchange(MakeTarget("compute", "host1", "custom")), "compute_fanout");
}

struct ValidCase {
  std::string name;
  Target target;
  std::string control_exchange;
  SendKind kind;
};

class ValidTargetTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidTargetTest, IsAccepted) {
  const ValidCase& c = GetParam();
  EXPECT_TRUE(ValidateTarget(c.target, c.control_exchange, c.kind).ok())
      << ValidateTarget(c.target, c.control_exchange, c.kind);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidTargetTest,
    ::testing::Values(
        ValidCase{"CastTopicOnly", MakeTarget("compute"), "nova", SendKind::kCast},
        ValidCase{"CallToServer", MakeTarget("compute", "host1"), "nova", SendKind::kCall},
        ValidCase{"OwnExchangeWithoutControlExchange", MakeTarget("compute", "", "x"), "",
                  SendKind::kCast},
        ValidCase{"TopicAt255Bytes", MakeTarget(std::string(255, 't')), "nova",
                  SendKind::kCast},
        ValidCase{"RoutingKeyAt255Bytes",
                  MakeTarget(std::string(200, 't'), std::string(54, 's')), "nova",
                  SendKind::kCall},
        ValidCase{"ExchangeAt255Bytes", MakeTarget("compute", "", std::string(255, 'e')),
                  "nova", SendKind::kCast},
        ValidCase{"FanoutExchangeAt255Bytes", MakeTarget(std::string(248, 't')), "nova",
                  SendKind::kFanout},
        // oslo ignores exchange and server for fanout, so neither may make it fail.
        ValidCase{"FanoutIgnoresOverlongServerAndExchange",
                  MakeTarget("compute", std::string(1000, 's'), std::string(1000, 'e')), "",
                  SendKind::kFanout},
        // The limit is in bytes: 127 two-byte characters are 254 bytes.
        ValidCase{"MultibyteTopicWithin255Bytes", MakeTarget([] {
                    std::string s;
                    for (int i = 0; i < 127; ++i) s += "\xc3\xa9";
                    return s;
                  }()),
                  "nova", SendKind::kCast}),
    [](const ::testing::TestParamInfo<ValidCase>& info) { return info.param.name; });

struct InvalidCase {
  std::string name;
  Target target;
  std::string control_exchange;
  SendKind kind;
  std::string message_prefix;  // the field the error must name
  std::string message_part;    // and what it must say about it
};

class InvalidTargetTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidTargetTest, IsInvalidArgumentNamingTheField) {
  const InvalidCase& c = GetParam();
  const absl::Status status = ValidateTarget(c.target, c.control_exchange, c.kind);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(c.message_prefix));
  EXPECT_THAT(std::string(status.message()), HasSubstr(c.message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidTargetTest,
    ::testing::Values(
        InvalidCase{"EmptyTopicCast", MakeTarget(""), "nova", SendKind::kCast,
                    "target.topic: ", "must not be empty"},
        InvalidCase{"EmptyTopicFanout", MakeTarget(""), "nova", SendKind::kFanout,
                    "target.topic: ", "must not be empty"},
        InvalidCase{"TopicOver255Bytes", MakeTarget(std::string(256, 't')), "nova",
                    SendKind::kCall, "target.topic: ", "is 256 bytes long; the limit is 255"},
        InvalidCase{"MultibyteTopicOver255Bytes", MakeTarget([] {
                      std::string s;
                      for (int i = 0; i < 128; ++i) s += "\xc3\xa9";
                      return s;
                    }()),
                    "nova", SendKind::kCast, "target.topic: ", "is 256 bytes long"},
        InvalidCase{"FanoutExchangeOver255Bytes", MakeTarget(std::string(249, 't')), "nova",
                    SendKind::kFanout, "target.topic: ",
                    "fanout exchange \"" + std::string(249, 't') +
                        "_fanout\" is 256 bytes long; the limit is 255"},
        InvalidCase{"ExchangeOver255Bytes", MakeTarget("compute", "", std::string(256, 'e')),
                    "nova", SendKind::kCast, "target.exchange: ", "is 256 bytes long"},
        InvalidCase{"ControlExchangeOver255Bytes", MakeTarget("compute"),
                    std::string(256, 'c'), SendKind::kCall, "target.exchange: ",
                    "control_exchange is 256 bytes long"},
        InvalidCase{"NoExchangeAtAll", MakeTarget("compute"), "", SendKind::kCast,
                    "target.exchange: ", "no control_exchange"},
        InvalidCase{"ServerOver255Bytes", MakeTarget("compute", std::string(256, 's')),
                    "nova", SendKind::kCall, "target.server: ", "is 256 bytes long"},
        InvalidCase{"RoutingKeyOver255Bytes",
                    MakeTarget(std::string(200, 't'), std::string(100, 's')), "nova",
                    SendKind::kCast, "target.server: ",
                    "AMQP routing key \"" + std::string(200, 't') + "." +
                        std::string(100, 's') + "\" is 301 bytes long; the limit is 255"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

TEST(ValidateTargetTest, OverlongFieldIsNotQuotedInTheMessage) {
  const std::string topic(100000, 'q');
  const absl::Status status = ValidateTarget(MakeTarget(topic), "nova", SendKind::kCast);
  ASSERT_FALSE(status.ok());
  EXPECT_LT(status.message().size(), 200u);
}

TEST(ValidateTargetTest, ControlBytesInQuotedNamesAreEscaped) {
  const std::string topic = std::string(250, 't') + "\n\x01";
  const absl::Status status = ValidateTarget(MakeTarget(topic), "nova", SendKind::kFanout);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("\\n\\x01_fanout"));
  EXPECT_EQ(std::string(status.message()).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace cellgw::bridge
