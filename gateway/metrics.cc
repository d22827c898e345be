#include "gateway/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace cellgw::gateway {

struct GatewayMetrics::Families {
  prometheus::Family<prometheus::Counter>* requests;
  prometheus::Family<prometheus::Histogram>* duration;
  prometheus::Family<prometheus::Gauge>* in_flight;
  prometheus::Family<prometheus::Gauge>* connection_up;
  prometheus::Family<prometheus::Counter>* reconnects;
  prometheus::Family<prometheus::Counter>* connect_failures;
  prometheus::Family<prometheus::Counter>* published;
  prometheus::Family<prometheus::Counter>* confirmed;
  prometheus::Family<prometheus::Counter>* returned;
  prometheus::Family<prometheus::Counter>* dropped;
  prometheus::Family<prometheus::Gauge>* build_info;
};

namespace {

// 100 us to 60 s: a call through a local broker takes a few hundred microseconds, a slow
// remote method up to the 60 s default timeout.
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return *buckets;
}

}  // namespace

GatewayMetrics::GatewayMetrics(const std::vector<std::string>& cells)
    : cells_(cells.begin(), cells.end()),
      registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>()) {
  auto& r = *registry_;
  families_->requests = &prometheus::BuildCounter()
                             .Name("cellgw_requests_total")
                             .Help("gRPC requests handled, by RPC kind, cell and gRPC status code")
                             .Register(r);
  families_->duration = &prometheus::BuildHistogram()
                             .Name("cellgw_request_duration_seconds")
                             .Help("Time from receiving a request to finishing it")
                             .Register(r);
  families_->in_flight = &prometheus::BuildGauge()
                              .Name("cellgw_requests_in_flight")
                              .Help("Requests received and not yet finished")
                              .Register(r);
  families_->connection_up = &prometheus::BuildGauge()
                                  .Name("cellgw_amqp_connection_up")
                                  .Help("1 while the AMQP connection is up, else 0")
                                  .Register(r);
  families_->reconnects = &prometheus::BuildCounter()
                               .Name("cellgw_amqp_reconnects_total")
                               .Help("AMQP connections re-established after a loss")
                               .Register(r);
  families_->connect_failures = &prometheus::BuildCounter()
                                     .Name("cellgw_amqp_connect_failures_total")
                                     .Help("Failed AMQP connection attempts")
                                     .Register(r);
  families_->published = &prometheus::BuildCounter()
                              .Name("cellgw_amqp_messages_published_total")
                              .Help("Messages published to the broker")
                              .Register(r);
  families_->confirmed = &prometheus::BuildCounter()
                              .Name("cellgw_amqp_messages_confirmed_total")
                              .Help("Publisher confirms received, by result (ack or nack)")
                              .Register(r);
  families_->returned = &prometheus::BuildCounter()
                             .Name("cellgw_amqp_messages_returned_total")
                             .Help("Mandatory publishes the broker returned (no queue bound)")
                             .Register(r);
  families_->dropped = &prometheus::BuildCounter()
                            .Name("cellgw_replies_dropped_total")
                            .Help("Replies dropped instead of answering a call, by reason")
                            .Register(r);
  families_->build_info = &prometheus::BuildGauge()
                               .Name("cellgw_build_info")
                               .Help("cellgw build information; always 1")
                               .Register(r);
  families_->build_info->Add({{"version", std::string(kCellgwVersion)}}).Set(1);
  // Series that should exist before the first event, so dashboards show zeros, not gaps.
  for (const std::string& cell : cells_) {
    families_->reconnects->Add({{"cell", cell}});
    families_->connect_failures->Add({{"cell", cell}});
    families_->published->Add({{"cell", cell}});
    families_->returned->Add({{"cell", cell}});
    for (const char* result : {"ack", "nack"}) {
      families_->confirmed->Add({{"cell", cell}, {"result", result}});
    }
    for (auto reason : {bridge::DropReason::kLate, bridge::DropReason::kDuplicate,
                        bridge::DropReason::kUnknown, bridge::DropReason::kMalformed,
                        bridge::DropReason::kOversized}) {
      families_->dropped->Add(
          {{"cell", cell}, {"reason", std::string(bridge::DropReasonName(reason))}});
    }
  }
}

GatewayMetrics::~GatewayMetrics() = default;

absl::Status GatewayMetrics::Serve(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: cannot serve on '", listen, "': ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

int GatewayMetrics::port() const {
  if (exposer_ == nullptr) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::string GatewayMetrics::Scrape() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::string GatewayMetrics::CellLabel(absl::string_view cell) const {
  if (cells_.contains(cell)) return std::string(cell);
  return "unknown";
}

void GatewayMetrics::RequestStarted(absl::string_view kind, absl::string_view cell) {
  families_->in_flight->Add({{"kind", std::string(kind)}, {"cell", CellLabel(cell)}}).Increment();
}

void GatewayMetrics::RequestFinished(absl::string_view kind, absl::string_view cell,
                                     absl::string_view code, absl::Duration elapsed) {
  const std::string cell_label = CellLabel(cell);
  const std::string kind_label(kind);
  families_->in_flight->Add({{"kind", kind_label}, {"cell", cell_label}}).Decrement();
  families_->requests->Add({{"kind", kind_label}, {"cell", cell_label}, {"code", std::string(code)}})
      .Increment();
  families_->duration->Add({{"kind", kind_label}, {"cell", cell_label}}, DurationBuckets())
      .Observe(absl::ToDoubleSeconds(elapsed));
}

void GatewayMetrics::OnConnectionState(absl::string_view cell, int connection_index, bool up) {
  families_->connection_up
      ->Add({{"cell", CellLabel(cell)}, {"connection", absl::StrCat(connection_index)}})
      .Set(up ? 1 : 0);
}

void GatewayMetrics::OnConnectFailed(absl::string_view cell, const absl::Status&) {
  families_->connect_failures->Add({{"cell", CellLabel(cell)}}).Increment();
}

void GatewayMetrics::OnReconnect(absl::string_view cell) {
  families_->reconnects->Add({{"cell", CellLabel(cell)}}).Increment();
}

void GatewayMetrics::OnPublished(absl::string_view cell) {
  families_->published->Add({{"cell", CellLabel(cell)}}).Increment();
}

void GatewayMetrics::OnConfirmed(absl::string_view cell, bool ack) {
  families_->confirmed->Add({{"cell", CellLabel(cell)}, {"result", ack ? "ack" : "nack"}})
      .Increment();
}

void GatewayMetrics::OnReturned(absl::string_view cell) {
  families_->returned->Add({{"cell", CellLabel(cell)}}).Increment();
}

void GatewayMetrics::OnReplyDropped(absl::string_view cell, bridge::DropReason reason) {
  families_->dropped
      ->Add({{"cell", CellLabel(cell)}, {"reason", std::string(bridge::DropReasonName(reason))}})
      .Increment();
}

}  // namespace cellgw::gateway
