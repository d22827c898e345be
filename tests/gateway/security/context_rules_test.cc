#include "gateway/security/context_rules.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

std::string Expand(const std::string& text) {
  absl::StatusOr<ContextTemplate> parsed = ContextTemplate::Parse(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return "";
  EXPECT_EQ(parsed->text(), text);
  return parsed->Expand("scheduler", "token:scheduler");
}

TEST(ContextTemplateTest, ExpandsIdentityAndCallerPlaceholders) {
  EXPECT_EQ(Expand("{identity}"), "scheduler");
  EXPECT_EQ(Expand("{caller}"), "token:scheduler");
  EXPECT_EQ(Expand("svc-{identity}@{caller}!"), "svc-scheduler@token:scheduler!");
  EXPECT_EQ(Expand("fixed"), "fixed");
  EXPECT_EQ(Expand(""), "");
}

TEST(ContextTemplateTest, DoubledBracesAreLiteral) {
  EXPECT_EQ(Expand("{{identity}}"), "{identity}");
  EXPECT_EQ(Expand("{{{identity}}}"), "{scheduler}");
}

TEST(ContextTemplateTest, UnknownPlaceholdersAndLoneBracesAreErrors) {
  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"{user}", "unknown placeholder {user} (known: {identity}, {caller}; {{ and }} for "
                      "literal braces)"},
           {"{}", "unknown placeholder {} (known: {identity}, {caller}; {{ and }} for literal "
                  "braces)"},
           {"a{identity", "a '{' at byte 1 is never closed (write {{ for a literal brace)"},
           {"a}b", "a lone '}' at byte 1 (write }} for a literal brace)"},
       }) {
    absl::StatusOr<ContextTemplate> parsed = ContextTemplate::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), c.message);
  }
}

TEST(ContextPolicyTest, FillsInTheCallerAndPointsAtTheGrantsDenyList) {
  ContextRules rules;
  rules.deny = {"is_admin", "role*"};
  rules.set.emplace_back("user_id", *ContextTemplate::Parse("{identity}"));
  rules.set.emplace_back("via", *ContextTemplate::Parse("cellgw/{caller}"));
  const ContextPolicy policy = MakeContextPolicy(rules, "CN=a,O=b", "cert:CN=a,O=b");
  EXPECT_EQ(policy.deny, &rules.deny);
  ASSERT_EQ(policy.set.size(), 2u);
  EXPECT_EQ(policy.set[0], (std::pair<std::string, std::string>("user_id", "CN=a,O=b")));
  EXPECT_EQ(policy.set[1], (std::pair<std::string, std::string>("via", "cellgw/cert:CN=a,O=b")));
  EXPECT_EQ(policy.caller, "cert:CN=a,O=b");
  EXPECT_TRUE(DeniesKey(policy, "is_admin"));
  EXPECT_TRUE(DeniesKey(policy, "roles"));
  EXPECT_FALSE(DeniesKey(policy, "user_id"));
}

TEST(ContextPolicyTest, NoRulesDenyNothingAndSetNothing) {
  const ContextPolicy policy = MakeContextPolicy(ContextRules(), "x", "token:x");
  EXPECT_EQ(policy.deny, nullptr);
  EXPECT_TRUE(policy.set.empty());
  EXPECT_FALSE(DeniesKey(policy, "is_admin"));
  EXPECT_FALSE(DeniesKey(ContextPolicy(), "is_admin"));
}

}  // namespace
}  // namespace cellgw::gateway
