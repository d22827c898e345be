// Health entries of Serve: "serve/<cell>/<topic>.<server>" is SERVING while at least one
// worker registered for that cell, topic and server is consuming its queues (registered, and
// not interrupted by a broker outage), NOT_SERVING otherwise (after its last worker went, or
// while the broker is unreachable). An entry appears with the first worker that registers it.
// Once the gateway's health service shuts down (HealthReporter::BeginShutdown) every entry
// stays NOT_SERVING.
//
// Thread-safety: every method may be called from any thread.
#ifndef CELLGW_GATEWAY_OBSERVABILITY_SERVE_HEALTH_H_
#define CELLGW_GATEWAY_OBSERVABILITY_SERVE_HEALTH_H_

#include <grpcpp/health_check_service_interface.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cellgw::gateway {

// "serve/<cell>/<topic>.<server>".
std::string ServeHealthName(absl::string_view cell, absl::string_view topic,
                            absl::string_view server);

class ServeHealth {
 public:
  // The health services to keep current (the gRPC port's, and the health listener's when
  // there is one). Events before Attach are remembered and applied then.
  void Attach(std::vector<grpc::HealthCheckServiceInterface*> health);
  // One more (+1) or one fewer (-1) worker of `name` consuming.
  void Consuming(const std::string& name, int delta);

 private:
  absl::Mutex mu_;
  std::vector<grpc::HealthCheckServiceInterface*> health_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> consuming_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_OBSERVABILITY_SERVE_HEALTH_H_
