#include "gateway/rpc/request_context.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/security/context_rules.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

absl::StatusOr<std::string> WithId(const std::string& context, const ContextPolicy* policy = nullptr) {
  return BuildContext(context, ContextEdits{"req-1", policy});
}

TEST(BuildContextTest, AddsRequestIdWhenTheContextHasNone) {
  EXPECT_EQ(*WithId(""), R"({"request_id": "req-1"})");
  EXPECT_EQ(*WithId("  \n"), R"({"request_id": "req-1"})");
  EXPECT_EQ(*WithId("{}"), R"({"request_id": "req-1"})");
  EXPECT_EQ(*WithId(R"({"user_id": "u", "n": 18446744073709551615})"),
            R"({"user_id": "u", "n": 18446744073709551615, "request_id": "req-1"})");
  // Spliced in: the caller's text around it stays byte for byte.
  EXPECT_EQ(*WithId("{ \"a\": 1 }  "), "{ \"a\": 1 , \"request_id\": \"req-1\"}  ");
}

TEST(BuildContextTest, KeepsTheCallersRequestIdAndText) {
  const std::string context = R"({"request_id": "req-mine", "user_id": "u"})";
  EXPECT_EQ(*WithId(context), context);
  // An escaped key is the same key.
  const std::string escaped = R"({"request\u005fid": "req-mine"})";
  EXPECT_EQ(*WithId(escaped), escaped);
}

TEST(BuildContextTest, RefusesAContextThatIsNotAnObjectNamingTheField) {
  for (const char* bad : {"[1]", "{bad", "7", "\"x\"", "{\"a\": 1,}", "{} {}"}) {
    absl::StatusOr<std::string> built = WithId(bad);
    ASSERT_FALSE(built.ok()) << bad;
    EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(built.status().message().substr(0, 14), "context_json: ") << built.status();
  }
}

ContextPolicy Policy(const std::vector<std::string>* deny,
                     std::vector<std::pair<std::string, std::string>> set) {
  ContextPolicy policy;
  policy.deny = deny;
  policy.set = std::move(set);
  policy.caller = "token:scheduler";
  return policy;
}

TEST(BuildContextTest, ADeniedKeyIsPermissionDeniedNamingTheKeyAndCaller) {
  const std::vector<std::string> deny = {"is_admin", "roles", "project_*"};
  const ContextPolicy policy = Policy(&deny, {});
  struct Case {
    std::string context;
    std::string key;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"user_id": "u", "is_admin": true})", "is_admin"},
           {R"({"roles": ["admin"]})", "roles"},
           {R"({"project_id": "p"})", "project_id"},
           // Decoded before matching: an escape does not hide the key.
           {R"({"is_\u0061dmin": false})", "is_admin"},
           // A duplicate counts even when an earlier occurrence was harmless.
           {R"({"a": 1, "a": 2, "roles": []})", "roles"},
       }) {
    absl::StatusOr<std::string> built = WithId(c.context, &policy);
    ASSERT_FALSE(built.ok()) << c.context;
    EXPECT_EQ(built.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(built.status().message(),
              "context_json: token:scheduler may not set key '" + c.key + "' (context_deny)");
  }
  EXPECT_EQ(*WithId(R"({"user_id": "u", "admin": true})", &policy),
            R"({"user_id": "u", "admin": true, "request_id": "req-1"})");
}

TEST(BuildContextTest, SetKeysReplaceEveryOccurrenceOfTheCallersValue) {
  const ContextPolicy policy = Policy(nullptr, {{"user_id", "scheduler"}, {"via", "cellgw"}});
  EXPECT_EQ(*WithId(R"({"user_id": "root", "x": [1, 2], "user_id": "admin"})", &policy),
            R"({"x": [1, 2], "user_id": "scheduler", "via": "cellgw", "request_id": "req-1"})");
  EXPECT_EQ(*WithId(R"({"user_\u0069d": "root"})", &policy),
            R"({"user_id": "scheduler", "via": "cellgw", "request_id": "req-1"})");
  EXPECT_EQ(*WithId("", &policy),
            R"({"user_id": "scheduler", "via": "cellgw", "request_id": "req-1"})");
  // The caller's own request_id is kept as with no policy.
  EXPECT_EQ(*WithId(R"({"request_id": "mine"})", &policy),
            R"({"request_id": "mine", "user_id": "scheduler", "via": "cellgw"})");
}

TEST(BuildContextTest, SetValuesAreJsonStringsEvenWithQuotesOrNonUtf8) {
  const ContextPolicy policy =
      Policy(nullptr, {{"user_id", "CN=a \"b\",O=\xc3\xa9"}, {"raw", "bad\xff"}});
  EXPECT_EQ(*WithId("{}", &policy),
            R"({"user_id": "CN=a \"b\",O=\u00e9", "raw": "bad\ufffd", "request_id": "req-1"})");
}

TEST(BuildContextTest, ASetRequestIdWinsOverTheGatewaysId) {
  const ContextPolicy policy = Policy(nullptr, {{"request_id", "fixed"}});
  EXPECT_EQ(*WithId(R"({"request_id": "mine"})", &policy), R"({"request_id": "fixed"})");
}

TEST(BuildContextTest, DenyIsJudgedOnWhatTheCallerSentBeforeSetKeysApply) {
  const std::vector<std::string> deny = {"user_id"};
  const ContextPolicy policy = Policy(&deny, {{"user_id", "scheduler"}});
  EXPECT_EQ(WithId(R"({"user_id": "root"})", &policy).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*WithId("{}", &policy), R"({"user_id": "scheduler", "request_id": "req-1"})");
}

}  // namespace
}  // namespace cellgw::gateway
