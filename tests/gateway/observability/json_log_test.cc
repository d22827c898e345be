#include "gateway/observability/json_log.h"

#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(JsonLogTest, LineIsOneJsonObjectWithTimeLevelMessageAndFieldsInOrder) {
  const std::string line = FormatLogLine(
      LogLevel::kWarning, "request finished",
      {{"request_id", "req-1"}, {"duration_seconds", 0.25}, {"connection", 3}});
  ASSERT_TRUE(json::Validate(line).ok()) << line;
  auto members = json::ObjectMembers(line);
  ASSERT_TRUE(members.ok());
  std::vector<std::string> keys;
  for (const auto& m : *members) keys.push_back(m.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"time", "level", "message", "request_id",
                                            "duration_seconds", "connection"}));
  EXPECT_THAT(line, StartsWith("{\"time\":\"20"));
  EXPECT_THAT(line, HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(line, HasSubstr("\"duration_seconds\":0.25"));
  EXPECT_THAT(line, HasSubstr("\"connection\":3"));
}

TEST(JsonLogTest, HostileTextStaysOneValidLine) {
  const std::string line =
      FormatLogLine(LogLevel::kInfo, "m", {{"cell", "a\"b\nc\\\x01\xff\xfe"}});
  EXPECT_TRUE(json::Validate(line).ok()) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(JsonLogTest, ParseLogLevelAcceptsTheDocumentedNamesOnly) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  auto bad = ParseLogLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("log_level"));
}

TEST(JsonLogTest, LevelFilter) {
  SetLogLevel(LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  SetLogLevel(LogLevel::kInfo);
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));
}

}  // namespace
}  // namespace cellgw::gateway
