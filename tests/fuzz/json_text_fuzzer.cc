// libFuzzer target for bridge/json_text (tests/fuzz). The input is any byte string; the
// module's functions must agree with each other and with what its header promises:
//  * Validate, ValidateAndKind, AppendPythonStyle, ObjectMembers and ArrayElements accept the
//    same texts (the splitters only of their own kind, ObjectMembers not with a lone-surrogate
//    key), and every error is INVALID_ARGUMENT;
//  * AppendPythonStyle writes printable ASCII that validates as the same kind and is a fixed
//    point (re-emitting it gives it back), and on error leaves `out` as it found it;
//  * the members and elements are views into the input that validate, and putting them back
//    together re-emits exactly like the input, before and after CollapseDuplicateKeys (which
//    must keep one of each key, at its first position, with its last value);
//  * AppendQuoted succeeds exactly on valid UTF-8 and Unquote gives the input back;
//    AppendQuotedLossy always writes a valid literal; Unquote agrees with AppendPythonStyle.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/json_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace cellgw::fuzz {
namespace {

namespace json = ::cellgw::json;

constexpr absl::string_view kPrefix = "prefix:";

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool Within(absl::string_view inner, absl::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// AppendPythonStyle into a fresh string; the status must be OK.
std::string PythonStyle(absl::string_view text) {
  std::string out;
  const absl::Status status = json::AppendPythonStyle(text, &out);
  CELLGW_FUZZ_CHECK(status.ok(), "text ", Show(text), ": ", status.ToString());
  return out;
}

void CheckErrorCode(const absl::Status& status, absl::string_view what, absl::string_view text) {
  CELLGW_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, what, " of ",
                    Show(text), ": ", status.ToString());
}

// A valid value as ObjectMembers/ArrayElements return it: non-empty, valid, inside the input,
// no whitespace around it.
void CheckRawValue(absl::string_view value, absl::string_view text) {
  CELLGW_FUZZ_CHECK(!value.empty() && Within(value, text), "value view ", Show(value));
  CELLGW_FUZZ_CHECK(!IsJsonWhitespace(value.front()) && !IsJsonWhitespace(value.back()),
                    "value has whitespace around it: ", Show(value));
  const absl::Status valid = json::Validate(value);
  CELLGW_FUZZ_CHECK(valid.ok(), "value ", Show(value), ": ", valid.ToString());
}

std::string JoinMembers(const std::vector<json::Member>& members) {
  std::string text = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) text.push_back(',');
    absl::StrAppend(&text, members[i].raw_key, ":", members[i].value);
  }
  text.push_back('}');
  return text;
}

void CheckObject(absl::string_view text, const std::vector<json::Member>& members,
                 const std::string& emitted) {
  for (const json::Member& member : members) {
    CELLGW_FUZZ_CHECK(Within(member.raw_key, text), "raw_key view ", Show(member.raw_key));
    const absl::StatusOr<std::string> key = json::Unquote(member.raw_key);
    CELLGW_FUZZ_CHECK(key.ok() && *key == member.key, "raw_key ", Show(member.raw_key),
                      " decodes to ", key.ok() ? Show(*key) : key.status().ToString(),
                      ", member.key is ", Show(member.key));
    CheckRawValue(member.value, text);
  }
  // Whitespace and duplicates aside, the members are the object.
  CELLGW_FUZZ_CHECK(PythonStyle(JoinMembers(members)) == emitted, "members of ", Show(text));

  std::vector<json::Member> collapsed = members;
  json::CollapseDuplicateKeys(&collapsed);
  absl::flat_hash_map<std::string, size_t> last;  // key -> index of its last occurrence
  std::vector<size_t> firsts;                     // index of each key's first occurrence
  for (size_t i = 0; i < members.size(); ++i) {
    if (!last.contains(members[i].key)) firsts.push_back(i);
    last[members[i].key] = i;
  }
  CELLGW_FUZZ_CHECK(collapsed.size() == firsts.size(), "collapsed ", collapsed.size(),
                    " members, ", firsts.size(), " distinct keys in ", Show(text));
  for (size_t i = 0; i < collapsed.size(); ++i) {
    const json::Member& first = members[firsts[i]];
    CELLGW_FUZZ_CHECK(collapsed[i].key == first.key && collapsed[i].raw_key == first.raw_key,
                      "collapsed member ", i, " is ", Show(collapsed[i].key), ", expected ",
                      Show(first.key));
    const absl::string_view last_value = members[last[first.key]].value;
    CELLGW_FUZZ_CHECK(collapsed[i].value.data() == last_value.data() &&
                          collapsed[i].value.size() == last_value.size(),
                      "collapsed key ", Show(first.key), " has value ",
                      Show(collapsed[i].value), ", its last value is ", Show(last_value));
  }
  // CollapseDuplicateKeys (decoded keys) and AppendPythonStyle (re-emitted keys) must resolve
  // duplicates the same way, as a Python dict does.
  CELLGW_FUZZ_CHECK(PythonStyle(JoinMembers(collapsed)) == emitted, "collapsed members of ",
                    Show(text));
}

void CheckArray(absl::string_view text, const std::vector<absl::string_view>& elements,
                const std::string& emitted) {
  std::string joined = "[";
  for (size_t i = 0; i < elements.size(); ++i) {
    CheckRawValue(elements[i], text);
    if (i > 0) joined.push_back(',');
    absl::StrAppend(&joined, elements[i]);
  }
  joined.push_back(']');
  CELLGW_FUZZ_CHECK(PythonStyle(joined) == emitted, "elements of ", Show(text));
}

void CheckDocument(absl::string_view text) {
  const absl::Status valid = json::Validate(text);
  if (!valid.ok()) CheckErrorCode(valid, "Validate", text);
  const absl::StatusOr<json::Kind> kind = json::ValidateAndKind(text);
  CELLGW_FUZZ_CHECK(kind.ok() == valid.ok(), "Validate and ValidateAndKind disagree on ",
                    Show(text));
  if (kind.ok()) {
    CELLGW_FUZZ_CHECK(*kind == json::KindOfValid(text), "kind of ", Show(text));
  }

  std::string out(kPrefix);
  const absl::Status appended = json::AppendPythonStyle(text, &out);
  CELLGW_FUZZ_CHECK(appended.ok() == valid.ok(), "AppendPythonStyle says ", appended.ToString(),
                    ", Validate says ", valid.ToString(), " for ", Show(text));
  if (!appended.ok()) {
    CheckErrorCode(appended, "AppendPythonStyle", text);
    CELLGW_FUZZ_CHECK(out == kPrefix, "AppendPythonStyle left ", Show(out), " after an error");
  }
  CELLGW_FUZZ_CHECK(absl::StartsWith(out, kPrefix), "AppendPythonStyle changed what it had");
  const std::string emitted = out.substr(kPrefix.size());

  if (appended.ok()) {
    CELLGW_FUZZ_CHECK(IsPrintableAscii(emitted), "not printable ASCII: ", Show(emitted));
    const absl::StatusOr<json::Kind> emitted_kind = json::ValidateAndKind(emitted);
    CELLGW_FUZZ_CHECK(emitted_kind.ok() && *emitted_kind == *kind, "re-emitted ", Show(text),
                      " as ", Show(emitted));
    CELLGW_FUZZ_CHECK(PythonStyle(emitted) == emitted, "not a fixed point: ", Show(emitted));
  }

  const absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(text);
  if (members.ok()) {
    CELLGW_FUZZ_CHECK(kind.ok() && *kind == json::Kind::kObject,
                      "ObjectMembers accepted a non-object ", Show(text));
    CheckObject(text, *members, emitted);
  } else {
    CheckErrorCode(members.status(), "ObjectMembers", text);
    // The one valid object ObjectMembers may refuse: a key it cannot decode to UTF-8.
    CELLGW_FUZZ_CHECK(!kind.ok() || *kind != json::Kind::kObject ||
                          absl::StrContains(members.status().message(), "lone surrogate"),
                      "ObjectMembers refused the object ", Show(text), ": ",
                      members.status().ToString());
  }

  const absl::StatusOr<std::vector<absl::string_view>> elements = json::ArrayElements(text);
  CELLGW_FUZZ_CHECK(elements.ok() == (kind.ok() && *kind == json::Kind::kArray),
                    "ArrayElements says ", elements.status().ToString(), " for ", Show(text));
  if (elements.ok()) {
    CheckArray(text, *elements, emitted);
  } else {
    CheckErrorCode(elements.status(), "ArrayElements", text);
  }
}

void CheckStrings(absl::string_view bytes) {
  const bool utf8 = IsValidUtf8(bytes);
  std::string quoted(kPrefix);
  const absl::Status status = json::AppendQuoted(bytes, &quoted);
  CELLGW_FUZZ_CHECK(status.ok() == utf8, "AppendQuoted says ", status.ToString(), " for ",
                    Show(bytes));
  std::string lossy;
  json::AppendQuotedLossy(bytes, &lossy);
  const absl::StatusOr<std::string> lossy_back = json::Unquote(lossy);
  CELLGW_FUZZ_CHECK(lossy_back.ok() && IsPrintableAscii(lossy), "AppendQuotedLossy wrote ",
                    Show(lossy), " for ", Show(bytes));
  if (status.ok()) {
    const std::string literal = quoted.substr(kPrefix.size());
    CELLGW_FUZZ_CHECK(literal == lossy, "AppendQuoted ", Show(literal), " and Lossy ",
                      Show(lossy), " differ on valid UTF-8");
    CELLGW_FUZZ_CHECK(*lossy_back == bytes, "Unquote(AppendQuoted(x)) != x for ", Show(bytes));
    CELLGW_FUZZ_CHECK(PythonStyle(literal) == literal, "quoted literal is not Python style: ",
                      Show(literal));
  } else {
    CheckErrorCode(status, "AppendQuoted", bytes);
    CELLGW_FUZZ_CHECK(quoted == kPrefix, "AppendQuoted left ", Show(quoted), " after an error");
    CELLGW_FUZZ_CHECK(absl::StrContains(lossy, "\\ufffd"), "lossy ", Show(lossy),
                      " has no replacement character for ", Show(bytes));
  }

  // The input as a string literal.
  const absl::StatusOr<std::string> decoded = json::Unquote(bytes);
  if (!decoded.ok()) {
    CheckErrorCode(decoded.status(), "Unquote", bytes);
    return;
  }
  CELLGW_FUZZ_CHECK(IsValidUtf8(*decoded), "Unquote produced invalid UTF-8 from ", Show(bytes));
  const absl::StatusOr<json::Kind> kind = json::ValidateAndKind(bytes);
  CELLGW_FUZZ_CHECK(kind.ok() && *kind == json::Kind::kString,
                    "Unquote accepted what is not a string literal: ", Show(bytes));
  std::string requoted;
  CELLGW_FUZZ_CHECK(json::AppendQuoted(*decoded, &requoted).ok(), "requote ", Show(*decoded));
  CELLGW_FUZZ_CHECK(requoted == PythonStyle(bytes), "AppendQuoted(Unquote(x)) ",
                    Show(requoted), " != AppendPythonStyle(x) for ", Show(bytes));
}

}  // namespace
}  // namespace cellgw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  cellgw::fuzz::CheckDocument(input);
  cellgw::fuzz::CheckStrings(input);
  return 0;
}
