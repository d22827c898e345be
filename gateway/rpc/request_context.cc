#include "gateway/rpc/request_context.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"

namespace cellgw::gateway {
namespace {

constexpr absl::string_view kRequestIdKey = "request_id";

// A context key in a message: escaped and short (keys are the caller's).
std::string QuoteKey(absl::string_view key) {
  constexpr size_t kMaxBytes = 128;
  if (key.size() <= kMaxBytes) return absl::StrCat("'", absl::CHexEscape(key), "'");
  return absl::StrCat("'", absl::CHexEscape(key.substr(0, kMaxBytes)), "...'");
}

bool IsSetByPolicy(const ContextPolicy* policy, absl::string_view key) {
  if (policy == nullptr) return false;
  for (const auto& [set_key, value] : policy->set) {
    if (set_key == key) return true;
  }
  return false;
}

void AppendMember(absl::string_view key, absl::string_view value, std::string* out) {
  if (out->size() > 1) out->append(", ");
  // Lossy: a certificate subject is not guaranteed UTF-8, and a context value must be sent.
  json::AppendQuotedLossy(key, out);
  out->append(": ");
  json::AppendQuotedLossy(value, out);
}

}  // namespace

absl::StatusOr<std::string> BuildContext(const std::string& context_json,
                                         const ContextEdits& edits) {
  const bool blank = absl::StripAsciiWhitespace(context_json).empty();
  std::vector<json::Member> members;
  if (!blank) {
    absl::StatusOr<std::vector<json::Member>> parsed = json::ObjectMembers(context_json);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("context_json: ", parsed.status().message()));
    }
    members = *std::move(parsed);
  }
  const ContextPolicy* policy = edits.policy;
  if (policy != nullptr) {
    for (const json::Member& member : members) {
      if (DeniesKey(*policy, member.key)) {
        return absl::PermissionDeniedError(absl::StrCat("context_json: ", policy->caller,
                                                        " may not set key ", QuoteKey(member.key),
                                                        " (context_deny)"));
      }
    }
  }

  bool has_request_id = IsSetByPolicy(policy, kRequestIdKey);
  for (const json::Member& member : members) {
    has_request_id = has_request_id || member.key == kRequestIdKey;
  }
  const bool sets = policy != nullptr && !policy->set.empty();
  if (!sets && has_request_id) return context_json;

  std::string out = "{";
  if (!sets && !blank) {
    // Only the request id to add: splice it in before the closing brace, so the caller's
    // members stay byte for byte as sent.
    const size_t close = context_json.find_last_of('}');
    out = context_json.substr(0, close);
    if (!members.empty()) out.append(", ");
    absl::StrAppend(&out, "\"", kRequestIdKey, "\": ");
    json::AppendQuotedLossy(edits.request_id, &out);
    out.append(context_json.substr(close));
    return out;
  }
  for (const json::Member& member : members) {
    if (IsSetByPolicy(policy, member.key)) continue;
    if (out.size() > 1) out.append(", ");
    absl::StrAppend(&out, member.raw_key, ": ", member.value);
  }
  if (policy != nullptr) {
    for (const auto& [key, value] : policy->set) AppendMember(key, value, &out);
  }
  if (!has_request_id) AppendMember(kRequestIdKey, edits.request_id, &out);
  out.push_back('}');
  return out;
}

}  // namespace cellgw::gateway
