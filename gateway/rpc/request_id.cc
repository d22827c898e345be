#include "gateway/rpc/request_id.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/json_text.h"

namespace cellgw::gateway {

std::string ChooseRequestId(absl::string_view from_caller) {
  bool usable = !from_caller.empty() && from_caller.size() <= 128;
  for (char c : from_caller) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) usable = false;
  }
  if (usable) return std::string(from_caller);
  return absl::StrCat("req-", NewUuidDashed());
}

std::string RequestIdOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(std::string(kRequestIdHeader));
  if (it == metadata.end()) return ChooseRequestId("");
  return ChooseRequestId(absl::string_view(it->second.data(), it->second.size()));
}

std::string WithRequestId(const std::string& context_json, absl::string_view request_id) {
  std::string quoted;
  if (!json::AppendQuoted(request_id, &quoted).ok()) return context_json;
  if (absl::StripAsciiWhitespace(context_json).empty()) {
    return absl::StrCat("{\"request_id\": ", quoted, "}");
  }
  absl::StatusOr<std::vector<json::Member>> members =
      json::ObjectMembers(context_json);
  if (!members.ok()) return context_json;
  for (const auto& member : *members) {
    if (member.key == "request_id") return context_json;
  }
  // Splice before the closing brace; the caller's members stay byte for byte as sent.
  const size_t close = context_json.find_last_of('}');
  return absl::StrCat(context_json.substr(0, close), members->empty() ? "" : ", ",
                      "\"request_id\": ", quoted, context_json.substr(close));
}

}  // namespace cellgw::gateway
