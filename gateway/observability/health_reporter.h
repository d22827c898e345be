// Keeps the standard grpc.health.v1.Health service in step with the bridge.
//
// Entries: "" and "cellgw.v1.CellGateway" are SERVING while the gateway accepts requests and
// at least one cell is connected; "cell/<name>" is SERVING while that cell has a live broker
// connection; "cellgw.liveness" is SERVING while the process serves gRPC at all, whatever
// the brokers do (a restart cannot fix a broker outage, so liveness probes use this one).
// Everything turns NOT_SERVING for good once shutdown begins.
//
// It sits in the bridge's observer chain: connection state changes update health at once and
// every event is passed on to `next` (the metrics), so neither knows about the other.
#ifndef CELLGW_GATEWAY_OBSERVABILITY_HEALTH_REPORTER_H_
#define CELLGW_GATEWAY_OBSERVABILITY_HEALTH_REPORTER_H_

#include <grpcpp/health_check_service_interface.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bridge/bridge_observer.h"
#include "bridge/rpc_bridge.h"

namespace cellgw::gateway {

inline constexpr absl::string_view kServiceName = "cellgw.v1.CellGateway";
inline constexpr absl::string_view kLivenessName = "cellgw.liveness";

// The health entry name of a cell.
std::string CellHealthName(absl::string_view cell);

class HealthReporter : public bridge::BridgeObserver {
 public:
  // `next` may be null. Attach() must be called before events matter.
  explicit HealthReporter(bridge::BridgeObserver* next) : next_(next) {}

  // Starts reporting into every service of `health` (the gRPC port's, and the health
  // listener's when there is one: both show the same entries) for the cells of `bridge`.
  // All must outlive this object.
  void Attach(std::vector<grpc::HealthCheckServiceInterface*> health,
              const bridge::RpcBridge* bridge);
  // The same, for one health service.
  void Attach(grpc::HealthCheckServiceInterface* health, const bridge::RpcBridge* bridge) {
    Attach(std::vector<grpc::HealthCheckServiceInterface*>{health}, bridge);
  }
  // Turns every entry NOT_SERVING; later connection events change nothing.
  void BeginShutdown();

  void OnConnectionState(absl::string_view cell, int connection_index, bool up) override;
  void OnConnectFailed(absl::string_view cell, const absl::Status& why) override;
  void OnReconnect(absl::string_view cell) override;
  void OnPublished(absl::string_view cell) override;
  void OnConfirmed(absl::string_view cell, bool ack) override;
  void OnReturned(absl::string_view cell) override;
  void OnReplyDropped(absl::string_view cell, bridge::DropReason reason) override;

 private:
  void Refresh();

  bridge::BridgeObserver* next_;
  absl::Mutex mu_;
  std::vector<grpc::HealthCheckServiceInterface*> health_ ABSL_GUARDED_BY(mu_);
  const bridge::RpcBridge* bridge_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_OBSERVABILITY_HEALTH_REPORTER_H_
