// cellgw's Prometheus metrics, declared in one place (prometheus-cpp), and their HTTP endpoint.
//
// Where it sits: CellGatewayService reports each request's start and end; the bridge reports
// AMQP events through the BridgeObserver interface, which this class implements. Labels have
// bounded cardinality only: RPC kind, configured cell names (a request naming an unknown cell
// is counted under cell="unknown"), gRPC code names, fixed reasons. Never ids or free text.
//
// Metrics (README "Metrics" has the same table):
//   cellgw_requests_total{kind,cell,code}               counter
//   cellgw_request_duration_seconds{kind,cell}          histogram, 100 us .. 60 s
//   cellgw_requests_in_flight{kind,cell}                gauge
//   cellgw_amqp_connection_up{cell,connection}          gauge 0/1
//   cellgw_amqp_reconnects_total{cell}                  counter
//   cellgw_amqp_connect_failures_total{cell}            counter
//   cellgw_amqp_messages_published_total{cell}          counter
//   cellgw_amqp_messages_confirmed_total{cell,result}   counter, result = ack | nack
//   cellgw_amqp_messages_returned_total{cell}           counter (mandatory publish, no queue)
//   cellgw_replies_dropped_total{cell,reason}           counter, reason = late | duplicate |
//                                                       unknown | malformed | oversized
//   cellgw_build_info{version}                          gauge 1
//   cellgw_http_requests_total{route,code}              counter (HTTP/JSON front; code is
//                                                       the HTTP status, e.g. "200")
//   cellgw_http_request_duration_seconds{route}         histogram, 100 us .. 60 s
//   cellgw_http_requests_in_flight{route}               gauge
//
// HTTP requests that reach the gRPC service (gateway/http calls it in-process) are also
// counted in the cellgw_requests_* series, like any gRPC request.
// Notifications (NotificationObserver), per configured cell:
//   cellgw_notifications_published_total{cell}          counter: Notify confirmed by the broker
//   cellgw_notifications_delivered_total{cell}          counter: handed to a subscriber's stream
//   cellgw_notifications_redelivered_total{cell}        counter: of those, delivered before and
//                                                       not acknowledged then
//   cellgw_notifications_acknowledged_total{cell}       counter: acknowledged for a subscriber
//   cellgw_notifications_filtered_total{cell}           counter: acknowledged by the gateway,
//                                                       event_type filtered out
//   cellgw_notifications_dropped_total{cell,reason}     counter, reason = malformed | oversized
//   cellgw_notification_subscribers{cell}               gauge: live subscriptions
//
// Thread-safety: every method may be called from any thread. prometheus-cpp throws on bad
// names and on a failed bind; the constructor and Serve() catch that and report a status.
#ifndef CELLGW_GATEWAY_OBSERVABILITY_METRICS_H_
#define CELLGW_GATEWAY_OBSERVABILITY_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/bridge_observer.h"
#include "bridge/notification_observer.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace cellgw::gateway {

inline constexpr absl::string_view kCellgwVersion = "0.1.0";

class GatewayMetrics : public bridge::BridgeObserver, public bridge::NotificationObserver {
 public:
  // `cells` are the configured cell names: the only values the cell label takes besides
  // "unknown".
  explicit GatewayMetrics(const std::vector<std::string>& cells);
  ~GatewayMetrics() override;

  // Serves /metrics on `listen` ("host:port"; port 0 picks a free one). INVALID_ARGUMENT
  // naming metrics_listen when the address cannot be bound.
  absl::Status Serve(const std::string& listen);
  // The port Serve() bound, 0 when not serving.
  int port() const;

  // The text exposition of every metric, as /metrics serves it (for tests and debugging).
  std::string Scrape() const;

  // The series of one (kind, cell) pair, looked up once per request so that finishing it
  // costs no label-map building or hashing (that was ~12% of a call's instructions).
  class RequestSeries;

  // Counts a request as in flight and returns the series to pass to RequestFinished. `cell` is
  // mapped to "unknown" unless it is configured. The pointer stays valid as long as this object.
  RequestSeries* RequestStarted(absl::string_view kind, absl::string_view cell);
  // `code` is the gRPC status code name ("OK", "UNAVAILABLE", ...).
  void RequestFinished(RequestSeries* series, absl::string_view code, absl::Duration elapsed);

  // The series of one HTTP route of the HTTP/JSON front (gateway/http), looked up once per
  // request like RequestSeries.
  class HttpSeries;

  // Counts an HTTP request as in flight. `route` must come from a small fixed set (the
  // front's routes and "other"); the pointer stays valid as long as this object.
  HttpSeries* HttpRequestStarted(absl::string_view route);
  // `http_status` is the status answered (200, 404, ...).
  void HttpRequestFinished(HttpSeries* series, int http_status, absl::Duration elapsed);

  // bridge::BridgeObserver
  void OnConnectionState(absl::string_view cell, int connection_index, bool up) override;
  void OnConnectFailed(absl::string_view cell, const absl::Status& why) override;
  void OnReconnect(absl::string_view cell) override;
  void OnPublished(absl::string_view cell) override;
  void OnConfirmed(absl::string_view cell, bool ack) override;
  void OnReturned(absl::string_view cell) override;
  void OnReplyDropped(absl::string_view cell, bridge::DropReason reason) override;

  // bridge::NotificationObserver
  void OnNotificationPublished(absl::string_view cell) override;
  void OnNotificationDelivered(absl::string_view cell, bool redelivered) override;
  void OnNotificationAcknowledged(absl::string_view cell) override;
  void OnNotificationFiltered(absl::string_view cell) override;
  void OnNotificationDropped(absl::string_view cell,
                             bridge::NotificationDropReason reason) override;
  void OnSubscribersChanged(absl::string_view cell, int delta) override;

  // The registry /metrics exposes, for the families of other modules (serve_metrics.h).
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  struct Families;
  struct CellSeries;
  // The series of `cell`, or of "unknown" when it is not configured.
  CellSeries& SeriesOf(absl::string_view cell) const;

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  // Built in the constructor, read-only afterwards: every configured cell and "unknown".
  absl::flat_hash_map<std::string, std::unique_ptr<CellSeries>> cells_;
  CellSeries* unknown_cell_ = nullptr;
  absl::Mutex http_mu_;
  std::vector<std::unique_ptr<HttpSeries>> http_routes_ ABSL_GUARDED_BY(http_mu_);
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_OBSERVABILITY_METRICS_H_
