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

TEST(CapForLogTest, ShortTextIsKeptWhole) {
  EXPECT_EQ(CapForLog("compute"), "compute");
  EXPECT_EQ(CapForLog(std::string(256, 'a')), std::string(256, 'a'));
  EXPECT_EQ(CapForLog(""), "");
}

TEST(CapForLogTest, LongTextIsCutWithAMarkerGivingItsSize) {
  const std::string topic(4 << 20, 't');
  const std::string capped = CapForLog(topic);
  EXPECT_EQ(capped, std::string(256, 't') + "...[4194304 bytes]");
  EXPECT_EQ(CapForLog("abcdef", 3), "abc...[6 bytes]");
}

TEST(CapForLogTest, NeverCutsAUtf8SequenceInHalf) {
  // 'a' then 2-byte sequences: byte 4 is the middle of the second "é".
  const std::string text = "a\xc3\xa9\xc3\xa9\xc3\xa9";
  EXPECT_EQ(CapForLog(text, 4), "a\xc3\xa9...[7 bytes]");
  EXPECT_EQ(CapForLog(text, 5), "a\xc3\xa9\xc3\xa9...[7 bytes]");
  // A 4-byte sequence straddling the cut is left out whole.
  EXPECT_EQ(CapForLog("ab\xf0\x9f\x98\x80" "cd", 4), "ab...[8 bytes]");
}

TEST(CapForLogTest, ALogLineOfACappedValueStaysShort) {
  const std::string line =
      FormatLogLine(LogLevel::kWarning, "request finished",
                    {{"topic", CapForLog(std::string(1 << 20, 'x'))}});
  EXPECT_LT(line.size(), 512u);
  EXPECT_TRUE(json::Validate(line).ok());
}

}  // namespace
}  // namespace cellgw::gateway
