#include "gateway/rpc/request_id.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"

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

}  // namespace cellgw::gateway
