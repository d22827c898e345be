#include "gateway/observability/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace cellgw::gateway {

namespace {

// 100 us to 60 s: a call through a local broker takes a few hundred microseconds, a slow
// remote method up to the 60 s default timeout.
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return *buckets;
}

constexpr std::array<bridge::NotificationDropReason, 2> kNotificationDropReasons = {
    bridge::NotificationDropReason::kMalformed, bridge::NotificationDropReason::kOversized};

constexpr std::array<bridge::DropReason, 5> kDropReasons = {
    bridge::DropReason::kLate, bridge::DropReason::kDuplicate, bridge::DropReason::kUnknown,
    bridge::DropReason::kMalformed, bridge::DropReason::kOversized};

void Increment(prometheus::Counter* counter) {
  if (counter != nullptr) counter->Increment();
}

}  // namespace

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
  prometheus::Family<prometheus::Counter>* http_requests;
  prometheus::Family<prometheus::Histogram>* http_duration;
  prometheus::Family<prometheus::Gauge>* http_in_flight;
  prometheus::Family<prometheus::Counter>* notifications_published;
  prometheus::Family<prometheus::Counter>* notifications_delivered;
  prometheus::Family<prometheus::Counter>* notifications_redelivered;
  prometheus::Family<prometheus::Counter>* notifications_acknowledged;
  prometheus::Family<prometheus::Counter>* notifications_filtered;
  prometheus::Family<prometheus::Counter>* notifications_dropped;
  prometheus::Family<prometheus::Gauge>* notification_subscribers;
};

class GatewayMetrics::RequestSeries {
 public:
  RequestSeries(Families& families, const std::string& kind, const std::string& cell)
      : kind_(kind),
        cell_(cell),
        requests_(families.requests),
        in_flight(&families.in_flight->Add({{"kind", kind}, {"cell", cell}})),
        duration(&families.duration->Add({{"kind", kind}, {"cell", cell}}, DurationBuckets())) {}

  // The requests_total series of `code`, created on first use: a handful of codes per series
  // at most, so a short list beats a hash map.
  prometheus::Counter& Requests(absl::string_view code) {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, counter] : by_code_) {
      if (name == code) return *counter;
    }
    prometheus::Counter& counter =
        requests_->Add({{"kind", kind_}, {"cell", cell_}, {"code", std::string(code)}});
    by_code_.emplace_back(std::string(code), &counter);
    return counter;
  }

 private:
  const std::string kind_;
  const std::string cell_;
  prometheus::Family<prometheus::Counter>* const requests_;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, prometheus::Counter*>> by_code_ ABSL_GUARDED_BY(mu_);

 public:
  prometheus::Gauge* const in_flight;
  prometheus::Histogram* const duration;
};

class GatewayMetrics::HttpSeries {
 public:
  HttpSeries(Families& families, const std::string& route)
      : route(route),
        requests_(families.http_requests),
        in_flight(&families.http_in_flight->Add({{"route", route}})),
        duration(&families.http_duration->Add({{"route", route}}, DurationBuckets())) {}

  // The requests_total series of an HTTP status, created on first use (the front answers
  // with about a dozen statuses).
  prometheus::Counter& Requests(int http_status) {
    absl::MutexLock lock(&mu_);
    prometheus::Counter*& counter = by_status_[http_status];
    if (counter == nullptr) {
      counter = &requests_->Add({{"route", route}, {"code", absl::StrCat(http_status)}});
    }
    return *counter;
  }

  const std::string route;

 private:
  prometheus::Family<prometheus::Counter>* const requests_;
  absl::Mutex mu_;
  absl::flat_hash_map<int, prometheus::Counter*> by_status_ ABSL_GUARDED_BY(mu_);

 public:
  prometheus::Gauge* const in_flight;
  prometheus::Histogram* const duration;
};

struct GatewayMetrics::CellSeries {
  std::string label;
  // Bridge counters; null for "unknown" (see the constructor).
  prometheus::Counter* reconnects = nullptr;
  prometheus::Counter* connect_failures = nullptr;
  prometheus::Counter* published = nullptr;
  prometheus::Counter* returned = nullptr;
  prometheus::Counter* confirmed_ack = nullptr;
  prometheus::Counter* confirmed_nack = nullptr;
  std::array<prometheus::Counter*, kDropReasons.size()> dropped{};  // by DropReason
  // Notification series; null for "unknown", as the bridge counters.
  prometheus::Counter* notifications_published = nullptr;
  prometheus::Counter* notifications_delivered = nullptr;
  prometheus::Counter* notifications_redelivered = nullptr;
  prometheus::Counter* notifications_acknowledged = nullptr;
  prometheus::Counter* notifications_filtered = nullptr;
  std::array<prometheus::Counter*, kNotificationDropReasons.size()> notifications_dropped{};
  prometheus::Gauge* notification_subscribers = nullptr;

  // Request series by RPC kind, created on first use (a few kinds).
  absl::Mutex mu;
  std::vector<std::unique_ptr<RequestSeries>> by_kind ABSL_GUARDED_BY(mu);
  std::vector<std::string> kinds ABSL_GUARDED_BY(mu);
};

GatewayMetrics::GatewayMetrics(const std::vector<std::string>& cells)
    : registry_(std::make_shared<prometheus::Registry>()), families_(std::make_unique<Families>()) {
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
  families_->http_requests =
      &prometheus::BuildCounter()
           .Name("cellgw_http_requests_total")
           .Help("HTTP/JSON requests answered, by route and HTTP status code")
           .Register(r);
  families_->http_duration = &prometheus::BuildHistogram()
                                  .Name("cellgw_http_request_duration_seconds")
                                  .Help("Time from reading an HTTP request to having its answer")
                                  .Register(r);
  families_->http_in_flight = &prometheus::BuildGauge()
                                   .Name("cellgw_http_requests_in_flight")
                                   .Help("HTTP requests read and not yet answered")
                                   .Register(r);
  families_->notifications_published =
      &prometheus::BuildCounter()
           .Name("cellgw_notifications_published_total")
           .Help("Notifications published by Notify and confirmed by the broker")
           .Register(r);
  families_->notifications_delivered =
      &prometheus::BuildCounter()
           .Name("cellgw_notifications_delivered_total")
           .Help("Notifications handed to a subscriber's stream")
           .Register(r);
  families_->notifications_redelivered =
      &prometheus::BuildCounter()
           .Name("cellgw_notifications_redelivered_total")
           .Help("Delivered notifications the broker had delivered before, unacknowledged")
           .Register(r);
  families_->notifications_acknowledged =
      &prometheus::BuildCounter()
           .Name("cellgw_notifications_acknowledged_total")
           .Help("Notifications acknowledged to the broker for a subscriber")
           .Register(r);
  families_->notifications_filtered =
      &prometheus::BuildCounter()
           .Name("cellgw_notifications_filtered_total")
           .Help("Notifications acknowledged by the gateway because no event_types pattern "
                 "matched")
           .Register(r);
  families_->notifications_dropped =
      &prometheus::BuildCounter()
           .Name("cellgw_notifications_dropped_total")
           .Help("Consumed notifications dropped (rejected), by reason")
           .Register(r);
  families_->notification_subscribers = &prometheus::BuildGauge()
                                             .Name("cellgw_notification_subscribers")
                                             .Help("Live notification subscriptions")
                                             .Register(r);
  // Every cell's series exist before the first event, so dashboards show zeros, not gaps.
  std::vector<std::string> labels(cells.begin(), cells.end());
  labels.push_back("unknown");
  for (const std::string& cell : labels) {
    if (cells_.contains(cell)) continue;
    auto series = std::make_unique<CellSeries>();
    series->label = cell;
    cells_.emplace(cell, std::move(series));
  }
  unknown_cell_ = cells_.at("unknown").get();
  // Bridge series only for configured cells: the bridge never reports another one, and a
  // cell="unknown" series of AMQP counters would only puzzle whoever reads the scrape.
  for (const std::string& cell : cells) {
    CellSeries* series = cells_.at(cell).get();
    series->reconnects = &families_->reconnects->Add({{"cell", cell}});
    series->connect_failures = &families_->connect_failures->Add({{"cell", cell}});
    series->published = &families_->published->Add({{"cell", cell}});
    series->returned = &families_->returned->Add({{"cell", cell}});
    series->confirmed_ack = &families_->confirmed->Add({{"cell", cell}, {"result", "ack"}});
    series->confirmed_nack = &families_->confirmed->Add({{"cell", cell}, {"result", "nack"}});
    for (auto reason : kDropReasons) {
      series->dropped[static_cast<size_t>(reason)] = &families_->dropped->Add(
          {{"cell", cell}, {"reason", std::string(bridge::DropReasonName(reason))}});
    }
    series->notifications_published = &families_->notifications_published->Add({{"cell", cell}});
    series->notifications_delivered = &families_->notifications_delivered->Add({{"cell", cell}});
    series->notifications_redelivered =
        &families_->notifications_redelivered->Add({{"cell", cell}});
    series->notifications_acknowledged =
        &families_->notifications_acknowledged->Add({{"cell", cell}});
    series->notifications_filtered = &families_->notifications_filtered->Add({{"cell", cell}});
    for (auto reason : kNotificationDropReasons) {
      series->notifications_dropped[static_cast<size_t>(reason)] =
          &families_->notifications_dropped->Add(
              {{"cell", cell},
               {"reason", std::string(bridge::NotificationDropReasonName(reason))}});
    }
    series->notification_subscribers = &families_->notification_subscribers->Add({{"cell", cell}});
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

GatewayMetrics::CellSeries& GatewayMetrics::SeriesOf(absl::string_view cell) const {
  auto it = cells_.find(cell);
  return it == cells_.end() ? *unknown_cell_ : *it->second;
}

GatewayMetrics::RequestSeries* GatewayMetrics::RequestStarted(absl::string_view kind,
                                                              absl::string_view cell) {
  CellSeries& series = SeriesOf(cell);
  RequestSeries* request_series = nullptr;
  {
    absl::MutexLock lock(&series.mu);
    for (size_t i = 0; i < series.kinds.size(); ++i) {
      if (series.kinds[i] == kind) request_series = series.by_kind[i].get();
    }
    if (request_series == nullptr) {
      series.kinds.emplace_back(kind);
      series.by_kind.push_back(
          std::make_unique<RequestSeries>(*families_, std::string(kind), series.label));
      request_series = series.by_kind.back().get();
    }
  }
  request_series->in_flight->Increment();
  return request_series;
}

void GatewayMetrics::RequestFinished(RequestSeries* series, absl::string_view code,
                                     absl::Duration elapsed) {
  series->in_flight->Decrement();
  series->Requests(code).Increment();
  series->duration->Observe(absl::ToDoubleSeconds(elapsed));
}

GatewayMetrics::HttpSeries* GatewayMetrics::HttpRequestStarted(absl::string_view route) {
  HttpSeries* series = nullptr;
  {
    absl::MutexLock lock(&http_mu_);
    for (const auto& known : http_routes_) {
      if (known->route == route) series = known.get();
    }
    if (series == nullptr) {
      http_routes_.push_back(std::make_unique<HttpSeries>(*families_, std::string(route)));
      series = http_routes_.back().get();
    }
  }
  series->in_flight->Increment();
  return series;
}

void GatewayMetrics::HttpRequestFinished(HttpSeries* series, int http_status,
                                         absl::Duration elapsed) {
  series->in_flight->Decrement();
  series->Requests(http_status).Increment();
  series->duration->Observe(absl::ToDoubleSeconds(elapsed));
}

void GatewayMetrics::OnConnectionState(absl::string_view cell, int connection_index, bool up) {
  // Rare (connects and losses): no cache.
  families_->connection_up
      ->Add({{"cell", SeriesOf(cell).label}, {"connection", absl::StrCat(connection_index)}})
      .Set(up ? 1 : 0);
}

void GatewayMetrics::OnConnectFailed(absl::string_view cell, const absl::Status&) {
  Increment(SeriesOf(cell).connect_failures);
}

void GatewayMetrics::OnReconnect(absl::string_view cell) { Increment(SeriesOf(cell).reconnects); }

void GatewayMetrics::OnPublished(absl::string_view cell) { Increment(SeriesOf(cell).published); }

void GatewayMetrics::OnConfirmed(absl::string_view cell, bool ack) {
  CellSeries& series = SeriesOf(cell);
  Increment(ack ? series.confirmed_ack : series.confirmed_nack);
}

void GatewayMetrics::OnReturned(absl::string_view cell) { Increment(SeriesOf(cell).returned); }

void GatewayMetrics::OnReplyDropped(absl::string_view cell, bridge::DropReason reason) {
  Increment(SeriesOf(cell).dropped[static_cast<size_t>(reason)]);
}

void GatewayMetrics::OnNotificationPublished(absl::string_view cell) {
  Increment(SeriesOf(cell).notifications_published);
}

void GatewayMetrics::OnNotificationDelivered(absl::string_view cell, bool redelivered) {
  CellSeries& series = SeriesOf(cell);
  Increment(series.notifications_delivered);
  if (redelivered) Increment(series.notifications_redelivered);
}

void GatewayMetrics::OnNotificationAcknowledged(absl::string_view cell) {
  Increment(SeriesOf(cell).notifications_acknowledged);
}

void GatewayMetrics::OnNotificationFiltered(absl::string_view cell) {
  Increment(SeriesOf(cell).notifications_filtered);
}

void GatewayMetrics::OnNotificationDropped(absl::string_view cell,
                                           bridge::NotificationDropReason reason) {
  Increment(SeriesOf(cell).notifications_dropped[static_cast<size_t>(reason)]);
}

void GatewayMetrics::OnSubscribersChanged(absl::string_view cell, int delta) {
  prometheus::Gauge* gauge = SeriesOf(cell).notification_subscribers;
  if (gauge != nullptr) gauge->Increment(delta);
}

}  // namespace cellgw::gateway
