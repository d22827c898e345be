#include "gateway/config/yaml_values.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::gateway::yaml {
namespace {

using ::testing::ElementsAre;

// The message of a failed result, or "OK" so that a wrong success shows in the failure.
template <typename T>
std::string MessageOf(const absl::StatusOr<T>& result) {
  if (result.ok()) return "OK";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

std::vector<std::string> Keys(const std::vector<std::pair<std::string, YAML::Node>>& entries) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : entries) keys.push_back(key);
  return keys;
}

TEST(YamlValuesTest, ErrorIsInvalidArgumentNamingThePath) {
  const absl::Status error = Error("cells[0].name", "must not be empty");
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(error.message(), "cells[0].name: must not be empty");
}

TEST(YamlValuesTest, DisplayKeyEscapesAndCutsShort) {
  EXPECT_EQ(DisplayKey("listen"), "listen");
  EXPECT_EQ(DisplayKey("a\nb\x01\"c"), "a\\nb\\x01\\\"c");
  EXPECT_EQ(DisplayKey(std::string(100, 'k')), std::string(100, 'k'));
  EXPECT_EQ(DisplayKey(std::string(101, 'k')), std::string(100, 'k') + "...");
  // The cut is made before escaping: 100 bytes may show as up to 400 characters.
  std::string escaped;
  for (int i = 0; i < 100; ++i) escaped += "\\n";
  EXPECT_EQ(DisplayKey(std::string(101, '\n')), escaped + "...");
}

TEST(YamlValuesTest, ChildAndIndexBuildPaths) {
  EXPECT_EQ(Child("", "listen"), "listen");
  EXPECT_EQ(Child("cells[0]", "name"), "cells[0].name");
  EXPECT_EQ(Child("security", "a\tb"), "security.a\\tb");
  EXPECT_EQ(Child("x", std::string(150, 'k')), "x." + std::string(100, 'k') + "...");
  EXPECT_EQ(Index("cells", 0), "cells[0]");
  EXPECT_EQ(Index("security.policy[2].methods", 12), "security.policy[2].methods[12]");
}

TEST(YamlValuesTest, KindOfNamesEachKind) {
  EXPECT_EQ(KindOf(YAML::Load("~")), "null");
  EXPECT_EQ(KindOf(YAML::Load("[1]")), "a list");
  EXPECT_EQ(KindOf(YAML::Load("{a: 1}")), "a map");
  EXPECT_EQ(KindOf(YAML::Load("text")), "a string");
  EXPECT_EQ(KindOf(YAML::Load("12")), "a string");
  EXPECT_EQ(KindOf(YAML::Node(YAML::NodeType::Undefined)), "undefined");
}

TEST(YamlValuesTest, MapEntriesKeepsDocumentOrder) {
  absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> entries =
      MapEntries(YAML::Load("{b: 1, a: 2, c: 3}"), "x", "settings", {"a", "b", "c"});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Keys(*entries), ElementsAre("b", "a", "c"));
  EXPECT_EQ((*entries)[0].second.Scalar(), "1");
}

TEST(YamlValuesTest, MapEntriesWithNoAllowedKeysAcceptsAnyKey) {
  absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> entries =
      MapEntries(YAML::Load("{compute: '5.0', conductor: '6.0'}"), "x", "strings", {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Keys(*entries), ElementsAre("compute", "conductor"));
}

TEST(YamlValuesTest, MapEntriesAcceptsAnEmptyMap) {
  absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> entries =
      MapEntries(YAML::Load("{}"), "x", "settings", {"a"});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_TRUE(entries->empty());
}

struct MapCase {
  const char* yaml;
  const char* path;
  const char* what;
  const char* error;
};

TEST(YamlValuesTest, MapEntriesRefusesNonMapsAndKeysThatAreNotStrings) {
  const MapCase cases[] = {
      {"[a]", "cells[0]", "cell settings", "cells[0]: must be a map of cell settings, not a list"},
      {"~", "security", "security settings",
       "security: must be a map of security settings, not null"},
      {"a", "x", "strings", "x: must be a map of strings, not a string"},
      {"{{a: 1}: 2}", "x", "settings", "x: a key is a map; keys must be strings"},
      {"{[a]: 2}", "x", "settings", "x: a key is a list; keys must be strings"},
      {"{~: 2}", "x", "settings", "x: a key is null; keys must be strings"},
      // The root has no path of its own; messages call it "config".
      {"- a", "", "settings", "config: must be a map of settings, not a list"},
      {"{[1]: 2}", "", "settings", "config: a key is a list; keys must be strings"},
  };
  for (const MapCase& c : cases) {
    EXPECT_EQ(MessageOf(MapEntries(YAML::Load(c.yaml), c.path, c.what, {})), c.error) << c.yaml;
  }
}

TEST(YamlValuesTest, MapEntriesNamesRootKeysWithoutAPrefix) {
  EXPECT_EQ(MessageOf(MapEntries(YAML::Load("{listn: 1}"), "", "settings", {"listen"})),
            "listn: unknown key");
}

TEST(YamlValuesTest, MapEntriesWordsUnknownKeysAsAsked) {
  const YAML::Node node = YAML::Load("{tls: {}, tsl: 1}");
  EXPECT_EQ(MessageOf(MapEntries(node, "security", "security settings",
                                 {"tls", "tokens_file", "policy"})),
            "security.tsl: unknown key");
  EXPECT_EQ(MessageOf(MapEntries(node, "security", "security settings",
                                 {"tls", "tokens_file", "policy"}, UnknownKeyMessage::kPlain)),
            "security.tsl: unknown key");
  EXPECT_EQ(
      MessageOf(MapEntries(node, "security", "security settings", {"tls", "tokens_file", "policy"},
                           UnknownKeyMessage::kListAllowed)),
      "security.tsl: unknown key (expected one of tls, tokens_file, policy)");
}

TEST(YamlValuesTest, MapEntriesEscapesUnknownKeys) {
  EXPECT_EQ(MessageOf(MapEntries(YAML::Load("{\"a\\x01\": 1}"), "x", "settings", {"b"})),
            "x.a\\x01: unknown key");
}

TEST(YamlValuesTest, MapEntriesRefusesRepeatedKeys) {
  EXPECT_EQ(MessageOf(MapEntries(YAML::Load("{a: 1, b: 2, a: 3}"), "x", "settings", {"a", "b"})),
            "x.a: key appears more than once");
  // Also when any key is allowed.
  EXPECT_EQ(MessageOf(MapEntries(YAML::Load("{a: 1, a: 1}"), "x", "strings", {})),
            "x.a: key appears more than once");
}

TEST(YamlValuesTest, ReadStringReadsScalarsAsWritten) {
  absl::StatusOr<std::string> text = ReadString(YAML::Load("127.0.0.1:50051"), "listen");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "127.0.0.1:50051");
  EXPECT_EQ(*ReadString(YAML::Load("0x10"), "k"), "0x10");
  EXPECT_EQ(*ReadString(YAML::Load("yes"), "k"), "yes");
  EXPECT_EQ(*ReadString(YAML::Load("\"\""), "k"), "");
}

TEST(YamlValuesTest, ReadStringRefusesOtherKinds) {
  EXPECT_EQ(MessageOf(ReadString(YAML::Load("~"), "k")), "k: has no value");
  EXPECT_EQ(MessageOf(ReadString(YAML::Load("~"), "k", "write \"\" for an empty string")),
            "k: has no value (write \"\" for an empty string)");
  EXPECT_EQ(MessageOf(ReadString(YAML::Load("[a]"), "k")), "k: must be a string, not a list");
  EXPECT_EQ(MessageOf(ReadString(YAML::Load("{a: b}"), "k", "hint")),
            "k: must be a string, not a map");
  EXPECT_EQ(MessageOf(ReadString(YAML::Node(YAML::NodeType::Undefined), "k")),
            "k: must be a string, not undefined");
}

TEST(YamlValuesTest, ReadBoolTakesYaml12BooleansOnly) {
  for (const char* yes : {"true", "True", "TRUE"}) {
    absl::StatusOr<bool> value = ReadBool(YAML::Load(yes), "k");
    ASSERT_TRUE(value.ok()) << yes << ": " << value.status();
    EXPECT_TRUE(*value) << yes;
  }
  for (const char* no : {"false", "False", "FALSE"}) {
    absl::StatusOr<bool> value = ReadBool(YAML::Load(no), "k");
    ASSERT_TRUE(value.ok()) << no << ": " << value.status();
    EXPECT_FALSE(*value) << no;
  }
  for (const char* other : {"yes", "no", "on", "off", "1", "0", "tRUE", "\"\"", "maybe"}) {
    EXPECT_EQ(MessageOf(ReadBool(YAML::Load(other), "k")), "k: must be true or false") << other;
  }
}

TEST(YamlValuesTest, ReadBoolRefusesOtherKinds) {
  EXPECT_EQ(MessageOf(ReadBool(YAML::Load("[true]"), "k")), "k: must be true or false, not a list");
  EXPECT_EQ(MessageOf(ReadBool(YAML::Load("{a: b}"), "k", "hint")),
            "k: must be true or false, not a map");
}

TEST(YamlValuesTest, ReadBoolReportsNullAsAKindUnlessGivenAHint) {
  EXPECT_EQ(MessageOf(ReadBool(YAML::Load("~"), "k")), "k: must be true or false, not null");
  EXPECT_EQ(MessageOf(ReadBool(YAML::Load("~"), "k", "leave the key out")),
            "k: has no value (leave the key out)");
}

}  // namespace
}  // namespace cellgw::gateway::yaml
