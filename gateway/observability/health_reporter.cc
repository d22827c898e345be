#include "gateway/observability/health_reporter.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/observability/json_log.h"

namespace cellgw::gateway {

std::string CellHealthName(absl::string_view cell) { return absl::StrCat("cell/", cell); }

void HealthReporter::Attach(std::vector<grpc::HealthCheckServiceInterface*> health,
                            const bridge::RpcBridge* bridge) {
  {
    absl::MutexLock lock(&mu_);
    health_ = std::move(health);
    bridge_ = bridge;
    for (grpc::HealthCheckServiceInterface* service : health_) {
      service->SetServingStatus(std::string(kLivenessName), true);
    }
  }
  Refresh();
}

void HealthReporter::BeginShutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  // The default health service's Shutdown() sets every entry, present and future, to
  // NOT_SERVING and ignores later updates: exactly the promise made above.
  for (grpc::HealthCheckServiceInterface* service : health_) service->Shutdown();
}

void HealthReporter::Refresh() {
  absl::MutexLock lock(&mu_);
  if (health_.empty() || shutting_down_) return;
  bool any = false;
  const std::vector<bridge::CellStatus> cells = bridge_->ListCells();
  for (const bridge::CellStatus& cell : cells) any = any || cell.connected;
  for (grpc::HealthCheckServiceInterface* service : health_) {
    for (const bridge::CellStatus& cell : cells) {
      service->SetServingStatus(CellHealthName(cell.name), cell.connected);
    }
    service->SetServingStatus("", any);
    service->SetServingStatus(std::string(kServiceName), any);
  }
}

void HealthReporter::OnConnectionState(absl::string_view cell, int connection_index, bool up) {
  Log(up ? LogLevel::kInfo : LogLevel::kWarning,
      up ? "broker connection up" : "broker connection down",
      {{"cell", cell}, {"connection", connection_index}});
  Refresh();
  if (next_ != nullptr) next_->OnConnectionState(cell, connection_index, up);
}

void HealthReporter::OnConnectFailed(absl::string_view cell, const absl::Status& why) {
  Log(LogLevel::kWarning, "broker connection attempt failed",
      {{"cell", cell}, {"error", why.message()}});
  if (next_ != nullptr) next_->OnConnectFailed(cell, why);
}

void HealthReporter::OnReconnect(absl::string_view cell) {
  if (next_ != nullptr) next_->OnReconnect(cell);
}
void HealthReporter::OnPublished(absl::string_view cell) {
  if (next_ != nullptr) next_->OnPublished(cell);
}
void HealthReporter::OnConfirmed(absl::string_view cell, bool ack) {
  if (next_ != nullptr) next_->OnConfirmed(cell, ack);
}
void HealthReporter::OnReturned(absl::string_view cell) {
  if (next_ != nullptr) next_->OnReturned(cell);
}
void HealthReporter::OnReplyDropped(absl::string_view cell, bridge::DropReason reason) {
  if (next_ != nullptr) next_->OnReplyDropped(cell, reason);
}

}  // namespace cellgw::gateway
