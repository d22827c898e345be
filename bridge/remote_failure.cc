#include "bridge/remote_failure.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Reads a string member into *out. A null leaves *out unchanged when `null_ok`.
absl::Status ReadString(const json::Member& member, absl::string_view field, bool null_ok,
                        std::string* out) {
  const json::Kind kind = json::KindOfValid(member.value);
  if (kind == json::Kind::kNull && null_ok) return absl::OkStatus();
  if (kind != json::Kind::kString) return FieldError(field, "must be a string");
  absl::StatusOr<std::string> decoded = json::Unquote(member.value);
  if (!decoded.ok()) return FieldError(field, decoded.status().message());
  *out = *std::move(decoded);
  return absl::OkStatus();
}

// Appends `raw` re-emitted Python-style when it is valid JSON whose first byte is `open`
// ('[' or '{'), else `fallback`.
void AppendContainerOr(absl::string_view raw, char open, absl::string_view fallback,
                       std::string* out) {
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(raw);
  if (!trimmed.empty() && trimmed.front() == open && json::AppendPythonStyle(raw, out).ok()) {
    return;
  }
  out->append(fallback.data(), fallback.size());
}

}  // namespace

absl::StatusOr<RemoteFailure> ParseRemoteFailure(absl::string_view failure_json) {
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(failure_json);
  if (!members.ok()) return FieldError("failure", members.status().message());
  json::CollapseDuplicateKeys(&*members);

  RemoteFailure failure;
  for (const json::Member& member : *members) {
    if (member.key == "class") {
      CELLGW_RETURN_IF_ERROR(
          ReadString(member, "failure.class", /*null_ok=*/true, &failure.exception_class));
    } else if (member.key == "module") {
      CELLGW_RETURN_IF_ERROR(
          ReadString(member, "failure.module", /*null_ok=*/true, &failure.exception_module));
    } else if (member.key == "message") {
      // oslo's client concatenates the message with "\n": a null there raises TypeError.
      CELLGW_RETURN_IF_ERROR(
          ReadString(member, "failure.message", /*null_ok=*/false, &failure.message));
    } else if (member.key == "tb") {
      const json::Kind kind = json::KindOfValid(member.value);
      if (kind == json::Kind::kNull) continue;
      if (kind != json::Kind::kArray) return FieldError("failure.tb", "must be a list of strings");
      CELLGW_ASSIGN_OR_RETURN(std::vector<absl::string_view> entries,
                              json::ArrayElements(member.value));
      failure.traceback.reserve(entries.size());
      for (absl::string_view entry : entries) {
        if (json::KindOfValid(entry) != json::Kind::kString) {
          return FieldError("failure.tb", "must be a list of strings");
        }
        absl::StatusOr<std::string> line = json::Unquote(entry);
        if (!line.ok()) return FieldError("failure.tb", line.status().message());
        failure.traceback.push_back(*std::move(line));
      }
    } else if (member.key == "args") {
      const json::Kind kind = json::KindOfValid(member.value);
      if (kind == json::Kind::kNull) continue;
      if (kind != json::Kind::kArray) return FieldError("failure.args", "must be an array");
      failure.args_json = std::string(member.value);
    } else if (member.key == "kwargs") {
      const json::Kind kind = json::KindOfValid(member.value);
      if (kind == json::Kind::kNull) continue;
      if (kind != json::Kind::kObject) return FieldError("failure.kwargs", "must be an object");
      failure.kwargs_json = std::string(member.value);
    }
  }
  return failure;
}

std::string SerializeRemoteFailure(const RemoteFailure& failure) {
  size_t estimate = 96 + failure.exception_class.size() + failure.exception_module.size() +
                    failure.message.size() + failure.args_json.size() + failure.kwargs_json.size();
  for (const std::string& line : failure.traceback) estimate += line.size() + line.size() / 8 + 4;
  std::string out;
  out.reserve(estimate);
  out.append("{\"class\": ");
  json::AppendQuotedLossy(failure.exception_class, &out);
  out.append(", \"module\": ");
  json::AppendQuotedLossy(failure.exception_module, &out);
  out.append(", \"message\": ");
  json::AppendQuotedLossy(failure.message, &out);
  out.append(", \"tb\": [");
  for (size_t i = 0; i < failure.traceback.size(); ++i) {
    if (i > 0) out.append(", ");
    json::AppendQuotedLossy(failure.traceback[i], &out);
  }
  out.append("], \"args\": ");
  AppendContainerOr(failure.args_json, '[', "[]", &out);
  out.append(", \"kwargs\": ");
  AppendContainerOr(failure.kwargs_json, '{', "{}", &out);
  out.push_back('}');
  return out;
}

}  // namespace cellgw::bridge
