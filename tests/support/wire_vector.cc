#include "tests/support/wire_vector.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "gtest/gtest.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {

bool WireVector::Has(absl::string_view key) const {
  for (const auto& [k, v] : decoded) {
    if (k == key) return true;
  }
  return false;
}

std::string WireVector::Raw(absl::string_view key) const {
  for (const auto& [k, v] : decoded) {
    if (k == key) return v;
  }
  ADD_FAILURE() << "vector has no decoded_message." << key;
  return "";
}

std::string WireVector::String(absl::string_view key) const {
  const absl::StatusOr<std::string> value = json::Unquote(Raw(key));
  EXPECT_TRUE(value.ok()) << key << ": " << value.status();
  return value.ok() ? *value : "";
}

WireVector LoadWireVector(absl::string_view name) {
  WireVector vector;
  const absl::StatusOr<std::string> file =
      ReadRunfile(absl::StrCat("tests/testdata/wire/", name, ".json"));
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return vector;
  const absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(*file);
  EXPECT_TRUE(members.ok()) << members.status();
  if (!members.ok()) return vector;
  for (const json::Member& member : *members) {
    if (member.key == "body" || member.key == "routing_key") {
      const absl::StatusOr<std::string> text = json::Unquote(member.value);
      EXPECT_TRUE(text.ok()) << text.status();
      if (text.ok()) (member.key == "body" ? vector.body : vector.routing_key) = *text;
    } else if (member.key == "decoded_message") {
      const absl::StatusOr<std::vector<json::Member>> decoded = json::ObjectMembers(member.value);
      EXPECT_TRUE(decoded.ok()) << decoded.status();
      if (!decoded.ok()) continue;
      for (const json::Member& field : *decoded) {
        vector.decoded.emplace_back(field.key, std::string(field.value));
      }
    }
  }
  EXPECT_FALSE(vector.body.empty()) << name;
  return vector;
}

std::string PythonStyle(absl::string_view json_text) {
  std::string out;
  const absl::Status status = json::AppendPythonStyle(json_text, &out);
  EXPECT_TRUE(status.ok()) << status << " in " << json_text;
  return out;
}

}  // namespace cellgw::testing
