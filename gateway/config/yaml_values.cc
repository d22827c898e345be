#include "gateway/config/yaml_values.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cellgw::gateway::yaml {

absl::Status Error(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

std::string DisplayKey(absl::string_view key) {
  constexpr size_t kMaxKeyBytes = 100;
  if (key.size() <= kMaxKeyBytes) return absl::CHexEscape(key);
  return absl::StrCat(absl::CHexEscape(key.substr(0, kMaxKeyBytes)), "...");
}

std::string Child(absl::string_view path, absl::string_view key) {
  if (path.empty()) return DisplayKey(key);
  return absl::StrCat(path, ".", DisplayKey(key));
}

std::string Index(absl::string_view path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

absl::string_view KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Undefined:
      break;
  }
  return "undefined";
}

absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> MapEntries(
    const YAML::Node& map, absl::string_view path, absl::string_view what,
    std::initializer_list<absl::string_view> allowed, UnknownKeyMessage unknown) {
  // Errors about the map as a whole need a name even at the root.
  const absl::string_view map_path = path.empty() ? "config" : path;
  if (!map.IsMap()) {
    return Error(map_path, absl::StrCat("must be a map of ", what, ", not ", KindOf(map)));
  }
  std::vector<std::pair<std::string, YAML::Node>> entries;
  for (YAML::const_iterator it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      return Error(map_path,
                   absl::StrCat("a key is ", KindOf(it->first), "; keys must be strings"));
    }
    std::string key = it->first.Scalar();
    const std::string key_path = Child(path, key);
    if (allowed.size() > 0) {
      bool known = false;
      for (absl::string_view name : allowed) known = known || name == key;
      if (!known) {
        if (unknown == UnknownKeyMessage::kPlain) return Error(key_path, "unknown key");
        return Error(key_path, absl::StrCat("unknown key (expected one of ",
                                            absl::StrJoin(allowed, ", "), ")"));
      }
    }
    for (const auto& [seen, unused] : entries) {
      if (seen == key) return Error(key_path, "key appears more than once");
    }
    entries.emplace_back(std::move(key), it->second);
  }
  return entries;
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node, absl::string_view path,
                                       absl::string_view null_hint) {
  if (node.IsNull()) {
    if (null_hint.empty()) return Error(path, "has no value");
    return Error(path, absl::StrCat("has no value (", null_hint, ")"));
  }
  if (!node.IsScalar()) return Error(path, absl::StrCat("must be a string, not ", KindOf(node)));
  return node.Scalar();
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node, absl::string_view path,
                              absl::string_view null_hint) {
  if (node.IsNull() && !null_hint.empty()) return ReadString(node, path, null_hint).status();
  if (!node.IsScalar()) {
    return Error(path, absl::StrCat("must be true or false, not ", KindOf(node)));
  }
  const std::string& text = node.Scalar();
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return Error(path, "must be true or false");
}

}  // namespace cellgw::gateway::yaml
