// GatewayMetrics on its own: what each report does to the scrape, the label rules (configured
// cells, "unknown", no AMQP series for "unknown"), and concurrent reports from many threads.
#include "gateway/observability/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the series whose exposition line starts with `series` ("name{labels}"), or -1.
double Value(const std::string& scrape, const std::string& series) {
  const std::string prefix = series + " ";
  size_t pos = 0;
  while ((pos = scrape.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || scrape[pos - 1] == '\n') return std::stod(scrape.substr(pos + prefix.size()));
    pos += prefix.size();
  }
  return -1;
}

TEST(GatewayMetrics, RequestCountsByKindCellAndCode) {
  GatewayMetrics metrics({"cell1", "cell2"});
  GatewayMetrics::RequestSeries* a = metrics.RequestStarted("call", "cell1");
  GatewayMetrics::RequestSeries* b = metrics.RequestStarted("call", "cell1");
  GatewayMetrics::RequestSeries* c = metrics.RequestStarted("cast", "cell2");
  std::string scrape = metrics.Scrape();
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_in_flight{cell="cell1",kind="call"})"), 2);
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_in_flight{cell="cell2",kind="cast"})"), 1);

  metrics.RequestFinished(a, "OK", absl::Milliseconds(2));
  metrics.RequestFinished(b, "UNAVAILABLE", absl::Seconds(3));
  scrape = metrics.Scrape();
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_in_flight{cell="cell1",kind="call"})"), 0);
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_in_flight{cell="cell2",kind="cast"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_total{cell="cell1",code="OK",kind="call"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_total{cell="cell1",code="UNAVAILABLE",kind="call"})"),
            1);
  EXPECT_EQ(Value(scrape, R"(cellgw_request_duration_seconds_count{cell="cell1",kind="call"})"), 2);
  EXPECT_EQ(
      Value(scrape,
            R"(cellgw_request_duration_seconds_bucket{cell="cell1",kind="call",le="0.0025"})"),
      1);
  EXPECT_DOUBLE_EQ(
      Value(scrape, R"(cellgw_request_duration_seconds_sum{cell="cell1",kind="call"})"), 3.002);

  metrics.RequestFinished(c, "OK", absl::Microseconds(50));
  EXPECT_EQ(Value(metrics.Scrape(), R"(cellgw_requests_total{cell="cell2",code="OK",kind="cast"})"),
            1);
}

TEST(GatewayMetrics, UnconfiguredCellIsCountedAsUnknown) {
  GatewayMetrics metrics({"cell1"});
  metrics.RequestFinished(metrics.RequestStarted("call", "attacker-chosen-name"), "NOT_FOUND",
                          absl::Milliseconds(1));
  const std::string scrape = metrics.Scrape();
  EXPECT_EQ(Value(scrape, R"(cellgw_requests_total{cell="unknown",code="NOT_FOUND",kind="call"})"),
            1);
  EXPECT_THAT(scrape, Not(HasSubstr("attacker-chosen-name")));
}

TEST(GatewayMetrics, BridgeEventsCountPerConfiguredCellAndNeverUnderUnknown) {
  GatewayMetrics metrics({"cell1"});
  std::string scrape = metrics.Scrape();
  // Zeros from the start, so dashboards show no gaps.
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_messages_published_total{cell="cell1"})"), 0);
  EXPECT_EQ(Value(scrape, R"(cellgw_replies_dropped_total{cell="cell1",reason="oversized"})"), 0);

  metrics.OnPublished("cell1");
  metrics.OnPublished("cell1");
  metrics.OnConfirmed("cell1", true);
  metrics.OnConfirmed("cell1", false);
  metrics.OnReturned("cell1");
  metrics.OnReconnect("cell1");
  metrics.OnConnectFailed("cell1", absl::UnavailableError("refused"));
  metrics.OnReplyDropped("cell1", bridge::DropReason::kDuplicate);
  metrics.OnConnectionState("cell1", 0, true);
  // An unconfigured name is not a crash and creates nothing.
  metrics.OnPublished("nope");
  metrics.OnReplyDropped("nope", bridge::DropReason::kLate);

  scrape = metrics.Scrape();
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_messages_published_total{cell="cell1"})"), 2);
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_messages_confirmed_total{cell="cell1",result="ack"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_messages_confirmed_total{cell="cell1",result="nack"})"),
            1);
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_messages_returned_total{cell="cell1"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_reconnects_total{cell="cell1"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_connect_failures_total{cell="cell1"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_replies_dropped_total{cell="cell1",reason="duplicate"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_replies_dropped_total{cell="cell1",reason="late"})"), 0);
  EXPECT_EQ(Value(scrape, R"(cellgw_amqp_connection_up{cell="cell1",connection="0"})"), 1);
  EXPECT_THAT(scrape, Not(HasSubstr(R"(cellgw_amqp_messages_published_total{cell="unknown"})")));
  EXPECT_THAT(scrape, Not(HasSubstr("nope")));
}

TEST(GatewayMetrics, NotificationEventsCountPerConfiguredCell) {
  GatewayMetrics metrics({"cell1"});
  std::string scrape = metrics.Scrape();
  EXPECT_EQ(Value(scrape, R"(cellgw_notifications_delivered_total{cell="cell1"})"), 0);
  EXPECT_EQ(Value(scrape, R"(cellgw_notification_subscribers{cell="cell1"})"), 0);

  metrics.OnNotificationPublished("cell1");
  metrics.OnNotificationDelivered("cell1", false);
  metrics.OnNotificationDelivered("cell1", true);
  metrics.OnNotificationAcknowledged("cell1");
  metrics.OnNotificationFiltered("cell1");
  metrics.OnNotificationFiltered("cell1");
  metrics.OnNotificationDropped("cell1", bridge::NotificationDropReason::kMalformed);
  metrics.OnSubscribersChanged("cell1", +1);
  metrics.OnSubscribersChanged("cell1", +1);
  metrics.OnSubscribersChanged("cell1", -1);
  metrics.OnNotificationDelivered("nope", false);

  scrape = metrics.Scrape();
  EXPECT_EQ(Value(scrape, R"(cellgw_notifications_published_total{cell="cell1"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_notifications_delivered_total{cell="cell1"})"), 2);
  EXPECT_EQ(Value(scrape, R"(cellgw_notifications_redelivered_total{cell="cell1"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_notifications_acknowledged_total{cell="cell1"})"), 1);
  EXPECT_EQ(Value(scrape, R"(cellgw_notifications_filtered_total{cell="cell1"})"), 2);
  EXPECT_EQ(
      Value(scrape, R"(cellgw_notifications_dropped_total{cell="cell1",reason="malformed"})"), 1);
  EXPECT_EQ(
      Value(scrape, R"(cellgw_notifications_dropped_total{cell="cell1",reason="oversized"})"), 0);
  EXPECT_EQ(Value(scrape, R"(cellgw_notification_subscribers{cell="cell1"})"), 1);
  EXPECT_THAT(scrape, Not(HasSubstr("nope")));
}

TEST(GatewayMetrics, ConcurrentReportsAreAllCounted) {
  GatewayMetrics metrics({"cell1", "cell2"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      const std::string cell = t % 2 == 0 ? "cell1" : "cell2";
      // Each thread also creates series of its own kind and code, racing the others.
      const std::string kind = absl::StrCat("kind", t % 4);
      for (int i = 0; i < kPerThread; ++i) {
        metrics.RequestFinished(metrics.RequestStarted(kind, cell), i % 3 == 0 ? "OK" : "ABORTED",
                                absl::Microseconds(i));
        metrics.OnPublished(cell);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string scrape = metrics.Scrape();
  double total = 0;
  for (const char* cell : {"cell1", "cell2"}) {
    EXPECT_EQ(Value(scrape,
                    absl::StrCat(R"(cellgw_amqp_messages_published_total{cell=")", cell, R"("})")),
              kThreads / 2 * kPerThread);
    for (int k = 0; k < 4; ++k) {
      for (const char* code : {"OK", "ABORTED"}) {
        const double v =
            Value(scrape, absl::StrCat(R"(cellgw_requests_total{cell=")", cell, R"(",code=")", code,
                                       R"(",kind="kind)", k, R"("})"));
        if (v > 0) total += v;
      }
      const double in_flight = Value(scrape, absl::StrCat(R"(cellgw_requests_in_flight{cell=")",
                                                          cell, R"(",kind="kind)", k, R"("})"));
      if (in_flight >= 0) {
        EXPECT_EQ(in_flight, 0);
      }
    }
  }
  EXPECT_EQ(total, kThreads * kPerThread);
}

}  // namespace
}  // namespace cellgw::gateway
