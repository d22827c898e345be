#include "gateway/observability/serve_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace cellgw::gateway {

ServeMetrics::ServeMetrics(GatewayMetrics& metrics, const std::vector<std::string>& cells) {
  prometheus::Registry& registry = *metrics.registry();
  auto& workers = prometheus::BuildGauge()
                      .Name("cellgw_serve_workers")
                      .Help("Registered Serve streams (gRPC workers serving oslo topics)")
                      .Register(registry);
  auto& requests = prometheus::BuildCounter()
                       .Name("cellgw_serve_requests_total")
                       .Help("oslo requests of Serve workers, by outcome")
                       .Register(registry);
  std::vector<std::string> labels(cells.begin(), cells.end());
  labels.push_back("unknown");
  for (const std::string& cell : labels) {
    CellSeries series;
    series.workers = &workers.Add({{"cell", cell}});
    const char* names[5] = {"handed_out", "answered", "failed", "abandoned", "timed_out"};
    for (int i = 0; i < 5; ++i) {
      series.outcomes[i] = &requests.Add({{"cell", cell}, {"outcome", names[i]}});
    }
    cells_.emplace(cell, series);
  }
}

const ServeMetrics::CellSeries& ServeMetrics::SeriesOf(absl::string_view cell) const {
  auto it = cells_.find(cell);
  return it != cells_.end() ? it->second : cells_.at("unknown");
}

void ServeMetrics::WorkersChanged(absl::string_view cell, int delta) {
  SeriesOf(cell).workers->Increment(delta);
}

void ServeMetrics::Count(absl::string_view cell, Outcome outcome, uint64_t n) {
  SeriesOf(cell).outcomes[static_cast<int>(outcome)]->Increment(static_cast<double>(n));
}

}  // namespace cellgw::gateway
