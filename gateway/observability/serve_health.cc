#include "gateway/observability/serve_health.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cellgw::gateway {

std::string ServeHealthName(absl::string_view cell, absl::string_view topic,
                            absl::string_view server) {
  return absl::StrCat("serve/", cell, "/", topic, ".", server);
}

void ServeHealth::Attach(std::vector<grpc::HealthCheckServiceInterface*> health) {
  absl::MutexLock lock(&mu_);
  health_ = std::move(health);
  for (grpc::HealthCheckServiceInterface* service : health_) {
    for (const auto& [name, count] : consuming_) service->SetServingStatus(name, count > 0);
  }
}

void ServeHealth::Consuming(const std::string& name, int delta) {
  absl::MutexLock lock(&mu_);
  // Entries stay once created (with 0): a probe then reads NOT_SERVING, not "unknown".
  int& count = consuming_[name];
  count += delta;
  for (grpc::HealthCheckServiceInterface* service : health_) {
    service->SetServingStatus(name, count > 0);
  }
}

}  // namespace cellgw::gateway
