// kill -9 of the broker during steady traffic, then a restart on the same ports and data
// (issue 5): the gateway recovers by itself; every call ends by its own deadline with OK,
// UNAVAILABLE or DEADLINE_EXCEEDED; and, with durable queues, every cast that returned OK is
// delivered to the server after the restart ("a message confirmed is a message kept").
//
// One private broker; one real oslo.messaging server with amqp_durable_queues (its topic
// queue and exchange survive the restart, with the persistent messages in them); one
// in-process gateway whose cell has amqp_durable_queues too. A TrafficDriver sends a cast and
// a call every 50 ms through the gRPC async API during the whole episode.
#include <algorithm>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/resilience/resilience_support.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"

namespace cellgw::testing {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(2);
// A call ended by the gateway at its deadline may be reported this much later.
constexpr absl::Duration kSlack = absl::Milliseconds(500);

TEST(BrokerKillTest, GatewayRecoversAfterKillNineAndRestartAndNoConfirmedDurableCastIsLost) {
  auto node = RabbitMqNode::Start(TestTmpDir() + "/kill_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  const OsloServerOptions options = ComputeServer((*node)->Url());
  auto server = StartOsloServer(options, {"--durable"});
  ASSERT_TRUE(server.ok()) << server.status();
  bridge::CellOptions cell = Cell("durable", (*node)->Url(), "nova");
  cell.amqp_durable_queues = true;
  auto gateway = StartGateway({cell});
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto health = std::make_unique<HealthWatcher>(gateway->address, "cell/durable");
  ASSERT_TRUE(health->WaitFor(true, absl::InfinitePast(), absl::Seconds(10)).ok());

  TrafficOptions traffic_options;
  traffic_options.target.set_cell("durable");
  traffic_options.target.set_topic("compute");
  traffic_options.marker = Marker("kill");
  traffic_options.call_timeout = kCallTimeout;
  TrafficDriver traffic(gateway->client.get(), traffic_options);
  traffic.Start();
  ASSERT_TRUE(traffic.WaitForOkCalls(20, absl::Seconds(30)).ok());

  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE((*node)->KillHard().ok());
  auto down = health->WaitFor(false, killed_at, absl::Seconds(10));
  ASSERT_TRUE(down.ok()) << down.status();
  ASSERT_TRUE((*node)->Restart().ok());
  const absl::Time restarted_at = absl::Now();
  auto up = health->WaitFor(true, *down, absl::Seconds(60));
  ASSERT_TRUE(up.ok()) << up.status();
  // Recovered: a call sent after the broker was back succeeded (the oslo server reconnects
  // on its own schedule; until then calls queue in its durable queue).
  auto recovered = traffic.WaitForCallOkSentAfter(restarted_at, absl::Seconds(60));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  // Some more steady traffic after recovery, then stop and let everything end.
  const int ok_so_far = [&] {
    int ok = 0;
    for (const TrafficRecord& r : traffic.Records()) {
      ok += r.is_call && r.outcome.code == grpc::StatusCode::OK ? 1 : 0;
    }
    return ok;
  }();
  ASSERT_TRUE(traffic.WaitForOkCalls(ok_so_far + 20, absl::Seconds(30)).ok());
  ASSERT_TRUE(traffic.Stop().ok());

  int calls = 0, calls_ok = 0, calls_unavailable = 0, calls_deadline = 0;
  int casts = 0, casts_unavailable = 0;
  absl::Duration worst_call = absl::ZeroDuration();
  absl::Duration worst_cast = absl::ZeroDuration();
  std::set<int> confirmed;
  std::set<int> unconfirmed;
  for (const TrafficRecord& r : traffic.Records()) {
    const grpc::StatusCode code = r.outcome.code;
    if (r.is_call) {
      ++calls;
      calls_ok += code == grpc::StatusCode::OK ? 1 : 0;
      calls_unavailable += code == grpc::StatusCode::UNAVAILABLE ? 1 : 0;
      calls_deadline += code == grpc::StatusCode::DEADLINE_EXCEEDED ? 1 : 0;
      worst_call = std::max(worst_call, r.outcome.elapsed);
      EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::UNAVAILABLE ||
                  code == grpc::StatusCode::DEADLINE_EXCEEDED)
          << "call " << r.seq << ": " << code << " " << r.outcome.message;
      EXPECT_LE(r.outcome.elapsed, kCallTimeout + kSlack)
          << "call " << r.seq << " ended after its deadline: " << r.outcome.message;
    } else {
      ++casts;
      worst_cast = std::max(worst_cast, r.outcome.elapsed);
      if (code == grpc::StatusCode::OK) {
        confirmed.insert(r.seq);
      } else {
        unconfirmed.insert(r.seq);
        casts_unavailable += code == grpc::StatusCode::UNAVAILABLE ? 1 : 0;
        EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE)
            << "cast " << r.seq << ": " << r.outcome.message;
      }
    }
  }
  // No cast confirmed by the broker is missing at the server.
  const absl::Status delivered =
      AwaitCasts(**server, traffic_options.marker, confirmed, absl::Seconds(30));
  const std::multiset<int> seen = CastSeqsSeen(**server, traffic_options.marker);
  int confirmed_delivered = 0, unconfirmed_delivered = 0, duplicates = 0;
  for (int seq : confirmed) confirmed_delivered += seen.count(seq) > 0 ? 1 : 0;
  for (int seq : unconfirmed) unconfirmed_delivered += seen.count(seq) > 0 ? 1 : 0;
  for (int seq : std::set<int>(seen.begin(), seen.end())) {
    duplicates += static_cast<int>(seen.count(seq)) - 1;
  }

  v1::ListCellsResponse cells;
  const grpc::Status listed = gateway->client->ListCells(&cells, absl::Now() + absl::Seconds(5));
  const double reconnects = MetricValue(gateway->server->metrics().Scrape(),
                                        "cellgw_amqp_reconnects_total", {{"cell", "durable"}});

  std::cout << "[figures] kill -9: calls attempted=" << calls << " ok=" << calls_ok
            << " failed=" << calls - calls_ok << " (unavailable=" << calls_unavailable
            << " deadline_exceeded=" << calls_deadline << ") slowest_call_s=" << Seconds(worst_call)
            << " casts attempted=" << casts << " confirmed=" << confirmed.size()
            << " unavailable=" << casts_unavailable << " delivered=" << confirmed_delivered << "/"
            << confirmed.size() << " unconfirmed_delivered=" << unconfirmed_delivered << "/"
            << unconfirmed.size() << " duplicates=" << duplicates
            << " slowest_cast_s=" << Seconds(worst_cast)
            << " detect_down_s=" << Seconds(*down - killed_at)
            << " broker_restart_s=" << Seconds(restarted_at - killed_at)
            << " reconnect_s=" << Seconds(*up - restarted_at)
            << " recover_seconds=" << Seconds(*recovered - restarted_at)
            << " reconnects=" << reconnects << std::endl;

  EXPECT_TRUE(delivered.ok()) << delivered;
  EXPECT_GT(calls_ok, 40);
  EXPECT_GT(calls - calls_ok, 0) << "the kill went unnoticed by the traffic";
  EXPECT_GE(reconnects, 1);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(cells.cells_size(), 1);
  EXPECT_TRUE(cells.cells(0).connected());
  // Casts fail fast too: none waited anywhere near its 10 s gRPC deadline.
  EXPECT_LT(worst_cast, absl::Seconds(5));

  health.reset();  // its open Watch stream would hold up the gateway's shutdown
  gateway->server->Shutdown(absl::ZeroDuration());
  EXPECT_TRUE((*server)->Stop().ok());
  EXPECT_TRUE((*node)->Stop().ok());
}

}  // namespace
}  // namespace cellgw::testing
