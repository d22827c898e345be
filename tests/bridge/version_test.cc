#include "bridge/version.h"

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::bridge {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct ParseCase {
  std::string text;
  uint32_t major;
  uint32_t minor;
  uint32_t revision;
};

class ParseVersionValidTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseVersionValidTest, ParsesAllParts) {
  const ParseCase& c = GetParam();
  absl::StatusOr<Version> version = ParseVersion(c.text);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->major, c.major);
  EXPECT_EQ(version->minor, c.minor);
  EXPECT_EQ(version->revision, c.revision);
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseVersionValidTest,
                         ::testing::Values(ParseCase{"1.0", 1, 0, 0},
                                           ParseCase{"1.10", 1, 10, 0},
                                           ParseCase{"5.0.3", 5, 0, 3},
                                           ParseCase{"01.02", 1, 2, 0},
                                           ParseCase{"4294967295.0.4294967295", 4294967295u,
                                                     0, 4294967295u}));

class ParseVersionMalformedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseVersionMalformedTest, IsInvalidArgumentQuotingTheText) {
  absl::StatusOr<Version> version = ParseVersion(GetParam());
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(version.status().message()), StartsWith("version \""));
  EXPECT_THAT(std::string(version.status().message()), HasSubstr("is malformed"));
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseVersionMalformedTest,
                         ::testing::Values("", "1", "1.", ".1", "1..2", "1.2.3.4", "a.b",
                                           "1.x", "+1.0", "-1.0", " 1.0", "1.0 ", "1. 0",
                                           "1,0", "\xd9\xa1.0", "4294967296.0",
                                           "1.99999999999999999999999"));

TEST(ParseVersionTest, MalformedMessageHasTheDocumentedWording) {
  EXPECT_EQ(ParseVersion("1").status().message(),
            "version \"1\" is malformed: expected X.Y or X.Y.Z of decimal digits");
}

TEST(ParseVersionTest, OverflowIsReportedAsTooLarge) {
  EXPECT_THAT(std::string(ParseVersion("1.4294967296").status().message()),
              HasSubstr("larger than 4294967295"));
}

TEST(ParseVersionTest, HugeInputIsQuotedOnlyInPart) {
  const std::string text(100000, '9');
  absl::StatusOr<Version> version = ParseVersion(text);
  ASSERT_FALSE(version.ok());
  EXPECT_LT(version.status().message().size(), 300u);
}

struct CompatCase {
  std::string available;
  std::string requested;
  bool compatible;
};

class IsCompatibleTest : public ::testing::TestWithParam<CompatCase> {};

TEST_P(IsCompatibleTest, FollowsOslosRule) {
  const CompatCase& c = GetParam();
  absl::StatusOr<Version> available = ParseVersion(c.available);
  absl::StatusOr<Version> requested = ParseVersion(c.requested);
  ASSERT_TRUE(available.ok() && requested.ok());
  EXPECT_EQ(IsCompatible(*available, *requested), c.compatible)
      << c.requested << " against " << c.available;
}

// The spec's measurements against an endpoint at 1.3, plus the revision edge.
INSTANTIATE_TEST_SUITE_P(
    Cases, IsCompatibleTest,
    ::testing::Values(CompatCase{"1.3", "1.0", true}, CompatCase{"1.3", "1.1", true},
                      CompatCase{"1.3", "1.2.9", true}, CompatCase{"1.3", "1.3", true},
                      CompatCase{"1.3", "1.4", false}, CompatCase{"1.3", "1.3.1", false},
                      CompatCase{"1.3", "2.0", false}, CompatCase{"1.3", "9.0", false},
                      CompatCase{"2.0", "1.0", false}, CompatCase{"1.3.2", "1.3.2", true},
                      CompatCase{"1.3.2", "1.3.1", true}, CompatCase{"1.10", "1.9", true},
                      CompatCase{"1.9", "1.10", false}));

absl::StatusOr<VersionCaps> MakeCaps(std::map<std::string, std::string> levels,
                                     std::map<std::string, std::string> aliases = {}) {
  return VersionCaps::Create(levels, aliases);
}

TEST(VersionCapsTest, DefaultHasNoCapsAndPassesEverything) {
  VersionCaps caps;
  EXPECT_TRUE(caps.Check("compute", "99.0").ok());
  EXPECT_TRUE(caps.Check("compute", "").ok());
  EXPECT_EQ(caps.CapFor("compute"), std::nullopt);
}

TEST(VersionCapsTest, UncappedTopicPassesEvenWithoutVersion) {
  absl::StatusOr<VersionCaps> caps = MakeCaps({{"compute", "1.4"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_TRUE(caps->Check("conductor", "").ok());
  EXPECT_TRUE(caps->Check("conductor", "7.0").ok());
}

TEST(VersionCapsTest, CompatibleVersionPasses) {
  absl::StatusOr<VersionCaps> caps = MakeCaps({{"compute", "1.4"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_TRUE(caps->Check("compute", "1.4").ok());
  EXPECT_TRUE(caps->Check("compute", "1.0").ok());
}

TEST(VersionCapsTest, IncompatibleVersionFailsWithOslosExactText) {
  absl::StatusOr<VersionCaps> caps = MakeCaps({{"compute", "1.4"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  const absl::Status status = caps->Check("compute", "1.5");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "Requested message version, 1.5 is incompatible.  It needs to be equal in major "
            "version and less than or equal in minor version as the specified version cap "
            "1.4.");
}

TEST(VersionCapsTest, MissingVersionOnCappedTopicFails) {
  absl::StatusOr<VersionCaps> caps = MakeCaps({{"compute", "1.4"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  const absl::Status status = caps->Check("compute", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("no version given for capped topic \"compute\""));
}

TEST(VersionCapsTest, MalformedRequestedVersionIsInvalidArgumentNamingTargetVersion) {
  absl::StatusOr<VersionCaps> caps = MakeCaps({{"compute", "1.4"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  const absl::Status status = caps->Check("compute", "1.x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("target.version: version \"1.x\""));
}

TEST(VersionCapsTest, AliasResolvesToItsVersion) {
  absl::StatusOr<VersionCaps> caps =
      MakeCaps({{"compute", "grizzly"}}, {{"grizzly", "2.0"}, {"havana", "3.0"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_EQ(caps->CapFor("compute"), "2.0");
  EXPECT_TRUE(caps->Check("compute", "2.0").ok());
  EXPECT_EQ(caps->Check("compute", "3.0").code(), absl::StatusCode::kFailedPrecondition);
}

TEST(VersionCapsTest, CapKeepsItsWrittenSpelling) {
  absl::StatusOr<VersionCaps> caps = MakeCaps({{"compute", "1.10"}});
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_EQ(caps->CapFor("compute"), "1.10");
  // 1.9 < 1.10: minor versions compare as numbers, not as decimals.
  EXPECT_TRUE(caps->Check("compute", "1.9").ok());
  EXPECT_THAT(std::string(caps->Check("compute", "1.11").message()),
              HasSubstr("version cap 1.10."));
}

struct BadCapsCase {
  std::string name;
  std::map<std::string, std::string> levels;
  std::map<std::string, std::string> aliases;
  std::string message_prefix;
};

class VersionCapsCreateErrorTest : public ::testing::TestWithParam<BadCapsCase> {};

TEST_P(VersionCapsCreateErrorTest, IsInvalidArgumentNamingTheEntry) {
  const BadCapsCase& c = GetParam();
  absl::StatusOr<VersionCaps> caps = VersionCaps::Create(c.levels, c.aliases);
  ASSERT_FALSE(caps.ok());
  EXPECT_EQ(caps.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(caps.status().message()), StartsWith(c.message_prefix));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VersionCapsCreateErrorTest,
    ::testing::Values(
        BadCapsCase{"MalformedLevel", {{"compute", "1.x"}}, {},
                    "upgrade_levels.compute: version \"1.x\" is malformed"},
        BadCapsCase{"NumericLookingMalformedLevel", {{"compute", "1"}}, {},
                    "upgrade_levels.compute: version \"1\" is malformed"},
        BadCapsCase{"UnknownAlias", {{"compute", "icehouse"}}, {{"grizzly", "1.0"}},
                    "upgrade_levels.compute: \"icehouse\" is neither a version"},
        BadCapsCase{"AutoIsNotSupported", {{"compute", "auto"}}, {},
                    "upgrade_levels.compute: \"auto\" is not supported"},
        BadCapsCase{"EmptyLevel", {{"compute", ""}}, {},
                    "upgrade_levels.compute: must not be empty"},
        BadCapsCase{"EmptyTopic", {{"", "1.0"}}, {}, "upgrade_levels: "},
        BadCapsCase{"MalformedAliasEvenIfUnused", {}, {{"grizzly", "one"}},
                    "version_aliases.grizzly: version \"one\" is malformed"},
        BadCapsCase{"AliasToMalformedVersion", {{"compute", "grizzly"}},
                    {{"grizzly", "1.0.0.0"}}, "version_aliases.grizzly: "},
        BadCapsCase{"EmptyAliasValue", {}, {{"grizzly", ""}},
                    "version_aliases.grizzly: must not be empty"},
        BadCapsCase{"EmptyAliasName", {}, {{"", "1.0"}}, "version_aliases: "}),
    [](const ::testing::TestParamInfo<BadCapsCase>& info) { return info.param.name; });

}  // namespace
}  // namespace cellgw::bridge
