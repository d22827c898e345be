#include "gateway/security/glob.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

struct GlobCase {
  std::string pattern;
  std::string text;
  bool matches;
};

class GlobMatchTest : public ::testing::TestWithParam<GlobCase> {};

TEST_P(GlobMatchTest, MatchesWholeStringWithStarAndQuestionMark) {
  const GlobCase& c = GetParam();
  EXPECT_EQ(GlobMatch(c.pattern, c.text), c.matches)
      << "pattern '" << c.pattern << "' text '" << c.text << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Table, GlobMatchTest,
    ::testing::Values(
        GlobCase{"compute", "compute", true},
        GlobCase{"compute", "compute2", false},  // whole string, not a prefix
        GlobCase{"compute", "xcompute", false},  // nor a suffix
        GlobCase{"compute", "Compute", false},   // case-sensitive
        GlobCase{"*", "", true},                 // star matches the empty run
        GlobCase{"*", "anything at all", true}, GlobCase{"", "", true}, GlobCase{"", "x", false},
        GlobCase{"get_*", "get_", true}, GlobCase{"get_*", "get_instance", true},
        GlobCase{"get_*", "set_instance", false}, GlobCase{"cell?", "cell1", true},
        GlobCase{"cell?", "cell", false},  // ? needs exactly one byte
        GlobCase{"cell?", "cell12", false}, GlobCase{"*_instance", "resize_instance", true},
        GlobCase{"a*b*c", "abc", true}, GlobCase{"a*b*c", "aXbYbZc", true},  // needs backtracking
        GlobCase{"a*b*c", "aXbYcZ", false}, GlobCase{"**", "x", true}, GlobCase{"*?", "", false},
        GlobCase{"[ab]", "a", false},  // no character classes
        GlobCase{"[ab]", "[ab]", true},
        GlobCase{"\\*", "\\x", true}));  // no escapes: '\' is literal

TEST(GlobMatch, ManyStarsAgainstALongTextGiveTheRightAnswer) {
  // The matcher is iterative: a long text cannot exhaust the stack.
  const std::string text(100000, 'a');
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*a*a*", text));
}

TEST(AnyGlobMatches, NeedsOnePatternToMatchAndNoneMatchesNothing) {
  EXPECT_TRUE(AnyGlobMatches({"a*", "b*"}, "bx"));
  EXPECT_FALSE(AnyGlobMatches({"a*", "b*"}, "cx"));
  EXPECT_FALSE(AnyGlobMatches({}, ""));
}

}  // namespace
}  // namespace cellgw::gateway
