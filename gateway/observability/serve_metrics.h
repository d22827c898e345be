// Prometheus series of Serve (gRPC workers serving oslo topics), per configured cell:
//   cellgw_serve_workers{cell}                      gauge: registered Serve streams
//   cellgw_serve_requests_total{cell,outcome}       counter, outcome =
//       handed_out   an Incoming written to a worker's stream
//       answered     a Reply with a result (calls: sent to the caller)
//       failed       a Reply with an error (calls: the caller's exception; casts/fanouts:
//                    only counted and logged)
//       abandoned    a call the worker held when it went (answered by the gateway with
//                    ConnectionAbortedError)
//       timed_out    a Reply (result or error) to a call that came after the call's deadline
//                    (Incoming.deadline): still sent, but its caller had given up. Counted
//                    instead of answered/failed, so handed_out = answered + failed +
//                    timed_out + abandoned + what workers hold now
// Labels are bounded: a cell that is not configured counts as "unknown"; topics and server
// names are not labels (they are the worker's choice), see health for those.
//
// Thread-safety: every method may be called from any thread.
#ifndef CELLGW_GATEWAY_OBSERVABILITY_SERVE_METRICS_H_
#define CELLGW_GATEWAY_OBSERVABILITY_SERVE_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "gateway/observability/metrics.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace cellgw::gateway {

class ServeMetrics {
 public:
  enum class Outcome { kHandedOut, kAnswered, kFailed, kAbandoned, kTimedOut };

  // Registers the families on `metrics`' registry, with every series of `cells` (and
  // "unknown") at zero.
  ServeMetrics(GatewayMetrics& metrics, const std::vector<std::string>& cells);

  void WorkersChanged(absl::string_view cell, int delta);
  void Count(absl::string_view cell, Outcome outcome, uint64_t n = 1);

 private:
  struct CellSeries {
    prometheus::Gauge* workers;
    prometheus::Counter* outcomes[5];  // by Outcome
  };
  const CellSeries& SeriesOf(absl::string_view cell) const;

  absl::flat_hash_map<std::string, CellSeries> cells_;  // read-only after construction
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_OBSERVABILITY_SERVE_METRICS_H_
