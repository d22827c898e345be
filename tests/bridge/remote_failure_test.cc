#include "bridge/remote_failure.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::bridge {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The failure string of the captured reply_failure_custom_kwargs vector (what oslo's server
// put in "failure"), traceback shortened.
constexpr char kCustomFailure[] =
    "{\"class\": \"CellQuotaExceeded\", \"module\": \"wirespec_exc\", \"message\": \"Quota "
    "exceeded for cores: requested 8\", \"tb\": [\"Traceback (most recent call last):\\n\", "
    "\"  File \\\"/srv/demo/lib/server.py\\\", line 28, in fail_custom\\n    raise "
    "wirespec_exc.CellQuotaExceeded(resource='cores', requested=8)\\n\", "
    "\"wirespec_exc.CellQuotaExceeded: Quota exceeded for cores: requested 8\\n\"], \"args\": "
    "[\"Quota exceeded for cores: requested 8\"], \"kwargs\": {\"resource\": \"cores\", "
    "\"requested\": 8}}";

TEST(ParseRemoteFailureTest, ReadsEveryFieldOfAnOsloFailure) {
  const absl::StatusOr<RemoteFailure> failure = ParseRemoteFailure(kCustomFailure);
  ASSERT_TRUE(failure.ok()) << failure.status();
  EXPECT_EQ(failure->exception_class, "CellQuotaExceeded");
  EXPECT_EQ(failure->exception_module, "wirespec_exc");
  EXPECT_EQ(failure->message, "Quota exceeded for cores: requested 8");
  ASSERT_EQ(failure->traceback.size(), 3u);
  EXPECT_EQ(failure->traceback[0], "Traceback (most recent call last):\n");
  EXPECT_EQ(failure->traceback[1],
            "  File \"/srv/demo/lib/server.py\", line 28, in fail_custom\n    raise "
            "wirespec_exc.CellQuotaExceeded(resource='cores', requested=8)\n");
  EXPECT_EQ(failure->traceback[2],
            "wirespec_exc.CellQuotaExceeded: Quota exceeded for cores: requested 8\n");
  EXPECT_EQ(failure->args_json, "[\"Quota exceeded for cores: requested 8\"]");
  EXPECT_EQ(failure->kwargs_json, "{\"resource\": \"cores\", \"requested\": 8}");
}

TEST(SerializeRemoteFailureTest, ReproducesOslosStringByteForByte) {
  const absl::StatusOr<RemoteFailure> failure = ParseRemoteFailure(kCustomFailure);
  ASSERT_TRUE(failure.ok()) << failure.status();
  EXPECT_EQ(SerializeRemoteFailure(*failure), kCustomFailure);
}

TEST(SerializeRemoteFailureTest, WritesKeysInOsloOrderInPythonStyle) {
  RemoteFailure failure;
  failure.exception_class = "ValueError";
  failure.exception_module = "builtins";
  failure.message = "caf\xc3\xa9 \"x\"";
  failure.traceback = {"line 1\n", "ValueError: caf\xc3\xa9\n"};
  failure.args_json = "[\"caf\xc3\xa9\",1]";
  failure.kwargs_json = "{\"n\":18446744073709551615}";
  EXPECT_EQ(SerializeRemoteFailure(failure),
            "{\"class\": \"ValueError\", \"module\": \"builtins\", \"message\": \"caf\\u00e9 "
            "\\\"x\\\"\", \"tb\": [\"line 1\\n\", \"ValueError: caf\\u00e9\\n\"], \"args\": "
            "[\"caf\\u00e9\", 1], \"kwargs\": {\"n\": 18446744073709551615}}");
}

TEST(SerializeRemoteFailureTest, DefaultFailureHasEmptyFields) {
  EXPECT_EQ(SerializeRemoteFailure(RemoteFailure{}),
            "{\"class\": \"\", \"module\": \"\", \"message\": \"\", \"tb\": [], \"args\": [], "
            "\"kwargs\": {}}");
}

TEST(SerializeRemoteFailureTest, NeverFailsOnBadInput) {
  RemoteFailure failure;
  failure.message = "bad \xff byte";
  failure.args_json = "{\"not\": \"an array\"}";
  failure.kwargs_json = "{broken";
  EXPECT_EQ(SerializeRemoteFailure(failure),
            "{\"class\": \"\", \"module\": \"\", \"message\": \"bad \\ufffd byte\", \"tb\": [], "
            "\"args\": [], \"kwargs\": {}}");
}

TEST(RemoteFailureRoundTripTest, SerializeThenParseGivesTheSameFailure) {
  RemoteFailure failure;
  failure.exception_class = "NoSuchMethod";
  failure.exception_module = "oslo_messaging.rpc.dispatcher";
  failure.message = "Endpoint does not support RPC method nope \xf0\x9f\x98\x80";
  failure.traceback = {"Traceback (most recent call last):\n", "x\n"};
  failure.args_json = "[\"Endpoint does not support RPC method nope \\ud83d\\ude00\"]";
  failure.kwargs_json = "{}";
  const absl::StatusOr<RemoteFailure> parsed = ParseRemoteFailure(SerializeRemoteFailure(failure));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->exception_class, failure.exception_class);
  EXPECT_EQ(parsed->exception_module, failure.exception_module);
  EXPECT_EQ(parsed->message, failure.message);
  EXPECT_EQ(parsed->traceback, failure.traceback);
  EXPECT_EQ(parsed->args_json, failure.args_json);
  EXPECT_EQ(parsed->kwargs_json, failure.kwargs_json);
}

// Tolerance: what oslo's client (dict.get with defaults) accepts, we accept.
struct TolerantCase {
  std::string name;
  std::string json;
  std::string exception_class;
  std::string message;
  size_t traceback_lines;
  std::string args_json;
  std::string kwargs_json;
};

class ParseRemoteFailureTolerantTest : public ::testing::TestWithParam<TolerantCase> {};

TEST_P(ParseRemoteFailureTolerantTest, FillsDefaults) {
  const absl::StatusOr<RemoteFailure> failure = ParseRemoteFailure(GetParam().json);
  ASSERT_TRUE(failure.ok()) << failure.status();
  EXPECT_EQ(failure->exception_class, GetParam().exception_class);
  EXPECT_EQ(failure->message, GetParam().message);
  EXPECT_EQ(failure->traceback.size(), GetParam().traceback_lines);
  EXPECT_EQ(failure->args_json, GetParam().args_json);
  EXPECT_EQ(failure->kwargs_json, GetParam().kwargs_json);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseRemoteFailureTolerantTest,
    ::testing::Values(
        TolerantCase{"EmptyObject", "{}", "", "", 0, "[]", "{}"},
        TolerantCase{"OnlyClass", "{\"class\": \"E\"}", "E", "", 0, "[]", "{}"},
        TolerantCase{"NullClassModuleTbArgsKwargs",
                     "{\"class\": null, \"module\": null, \"message\": \"m\", \"tb\": null, "
                     "\"args\": null, \"kwargs\": null}",
                     "", "m", 0, "[]", "{}"},
        TolerantCase{"UnknownKeysIgnored", "{\"class\": \"E\", \"extra\": [1, {\"x\": 2}]}", "E",
                     "", 0, "[]", "{}"},
        TolerantCase{"LastDuplicateCounts", "{\"class\": \"A\", \"class\": \"B\"}", "B", "", 0,
                     "[]", "{}"},
        TolerantCase{"CompactSpacing",
                     "{\"class\":\"E\",\"message\":\"m\",\"tb\":[\"a\",\"b\"],\"args\":[1,2],"
                     "\"kwargs\":{\"k\":1}}",
                     "E", "m", 2, "[1,2]", "{\"k\":1}"}),
    [](const ::testing::TestParamInfo<TolerantCase>& info) { return info.param.name; });

struct RefusedCase {
  std::string name;
  std::string json;
  std::string field;  // the error names this field
};

class ParseRemoteFailureRefusedTest : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(ParseRemoteFailureRefusedTest, IsInvalidArgumentNamingTheField) {
  const absl::StatusOr<RemoteFailure> failure = ParseRemoteFailure(GetParam().json);
  EXPECT_EQ(failure.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(failure.status().message()), HasSubstr(GetParam().field + ": "));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseRemoteFailureRefusedTest,
    ::testing::Values(RefusedCase{"NotJson", "{\"class\": ", "failure"},
                      RefusedCase{"NotAnObject", "[\"ValueError\"]", "failure"},
                      RefusedCase{"JsonStringNotObject", "\"{}\"", "failure"},
                      RefusedCase{"ClassNotString", "{\"class\": 1}", "failure.class"},
                      RefusedCase{"ModuleNotString", "{\"module\": []}", "failure.module"},
                      RefusedCase{"MessageNotString", "{\"message\": {}}", "failure.message"},
                      RefusedCase{"MessageNull", "{\"message\": null}", "failure.message"},
                      RefusedCase{"TbNotList", "{\"tb\": \"line\"}", "failure.tb"},
                      RefusedCase{"TbEntryNotString", "{\"tb\": [\"a\", 1]}", "failure.tb"},
                      RefusedCase{"ArgsNotArray", "{\"args\": \"x\"}", "failure.args"},
                      RefusedCase{"KwargsNotObject", "{\"kwargs\": []}", "failure.kwargs"}),
    [](const ::testing::TestParamInfo<RefusedCase>& info) { return info.param.name; });

TEST(ParseRemoteFailureTest, TracebackKeepsEveryEntryInOrder) {
  const absl::StatusOr<RemoteFailure> failure =
      ParseRemoteFailure("{\"tb\": [\"one\\n\", \"two\\n\", \"three\\n\"]}");
  ASSERT_TRUE(failure.ok());
  EXPECT_THAT(failure->traceback, ElementsAre("one\n", "two\n", "three\n"));
}

}  // namespace
}  // namespace cellgw::bridge
