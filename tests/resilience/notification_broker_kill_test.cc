// kill -9 of the broker during a Subscribe stream, then a restart on the same ports and data
// (issue 15): the subscription resumes by itself with its stream still open, and, with
// durable queues, every notification that Notify returned OK for reaches the subscriber
// (at least once: a notification delivered but not yet acknowledged at the kill comes again).
//
// One private broker; one in-process gateway whose cell has amqp_durable_queues, so the
// exchange and the "<topic>.info" queue survive the restart with the persistent messages in
// them. A publisher thread calls Notify in a loop during the whole episode; a subscriber
// thread reads the stream and acknowledges each notification.
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/resilience/resilience_support.h"
#include "tests/support/rabbitmq_node.h"

namespace cellgw::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);
// Between two Notify calls, so a broker outage is not met with a busy loop of refusals.
constexpr absl::Duration kPublishPace = absl::Milliseconds(20);

// What the publisher and subscriber threads saw, and the conditions the test waits for.
class Episode {
 public:
  void Published(int seq, bool ok) {
    absl::MutexLock lock(&mu_);
    (ok ? confirmed_ : failed_).insert(seq);
    if (ok && broker_restarted_) ++confirmed_after_restart_;
  }
  void Received(int seq) {
    absl::MutexLock lock(&mu_);
    if (!received_.insert(seq).second) ++duplicates_;
  }
  void StreamEnded(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    stream_ended_ = true;
    end_status_ = status;
  }
  void BrokerRestarted() {
    absl::MutexLock lock(&mu_);
    broker_restarted_ = true;
  }
  // While held, the subscriber reads nothing: what is published piles up in the queue.
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  void AwaitNotHeld() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](bool* hold) { return !*hold; }, &hold_));
  }
  void StopPublishing() {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  bool stop() {
    absl::MutexLock lock(&mu_);
    return stop_;
  }

  bool AwaitConfirmed(size_t n) {
    return Await([this, n] { return confirmed_.size() >= n; });
  }
  bool AwaitFailure() {
    return Await([this] { return !failed_.empty(); });
  }
  bool AwaitConfirmedAfterRestart(int n) {
    return Await([this, n] { return confirmed_after_restart_ >= n; });
  }
  // Waits until every confirmed seq was received (or the stream ended).
  bool AwaitAllConfirmedReceived() {
    return Await([this] {
      if (stream_ended_) return true;
      for (int seq : confirmed_) {
        if (received_.count(seq) == 0) return false;
      }
      return true;
    });
  }

  struct Figures {
    std::set<int> confirmed, failed, received;
    int duplicates;
    bool stream_ended;
    grpc::Status end_status;
  };
  Figures Snapshot() {
    absl::MutexLock lock(&mu_);
    return Figures{confirmed_, failed_, received_, duplicates_, stream_ended_, end_status_};
  }

 private:
  // Blocks until `done` (run under mu_ whenever the state changes) holds, or kWait passes.
  bool Await(std::function<bool()> done) {
    absl::MutexLock lock(&mu_);
    done_ = std::move(done);
    return mu_.AwaitWithTimeout(absl::Condition(this, &Episode::Done), kWait);
  }
  bool Done() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_(); }

  absl::Mutex mu_;
  std::set<int> confirmed_ ABSL_GUARDED_BY(mu_);
  std::set<int> failed_ ABSL_GUARDED_BY(mu_);
  std::set<int> received_ ABSL_GUARDED_BY(mu_);
  int duplicates_ ABSL_GUARDED_BY(mu_) = 0;
  int confirmed_after_restart_ ABSL_GUARDED_BY(mu_) = 0;
  // What Await() waits for; evaluated under mu_.
  std::function<bool()> done_ ABSL_GUARDED_BY(mu_);
  bool broker_restarted_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
};

TEST(NotificationBrokerKillTest,
     SubscriptionResumesAfterKillNineAndNoConfirmedDurableNotificationIsLost) {
  auto node = RabbitMqNode::Start(TestTmpDir() + "/notify_kill_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  bridge::CellOptions cell = Cell("durable", (*node)->Url());
  cell.amqp_durable_queues = true;
  auto gateway = StartGateway({cell});
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const std::string topic = Marker("kill");

  Episode episode;
  grpc::ClientContext context;
  v1::SubscribeRequest subscription;
  subscription.add_topics(topic);
  subscription.add_priorities("info");
  subscription.set_max_unacked(16);
  auto stream = gateway->client->Subscribe(&context, subscription);
  stream->WaitForInitialMetadata();
  ASSERT_EQ(context.GetServerInitialMetadata().count("x-cellgw-subscription"), 1u);
  std::thread subscriber([&] {
    v1::Notification notification;
    for (episode.AwaitNotHeld(); stream->Read(&notification); episode.AwaitNotHeld()) {
      int seq = -1;
      EXPECT_TRUE(absl::SimpleAtoi(Member(notification.payload_json(), "seq"), &seq));
      episode.Received(seq);
      v1::SubscribeRequest ack;
      ack.add_ack_ids(notification.ack_id());
      if (!stream->Write(ack)) break;
    }
    episode.StreamEnded(stream->Finish());
  });
  std::thread publisher([&] {
    for (int seq = 0; !episode.stop(); ++seq) {
      v1::NotifyRequest request;
      request.set_topic(topic);
      request.set_publisher_id("kill.test");
      request.set_event_type("test.kill");
      request.set_payload_json(absl::StrCat("{\"seq\": ", seq, "}"));
      v1::NotifyResponse response;
      const grpc::Status status =
          gateway->client->Notify(request, &response, absl::Now() + absl::Seconds(10));
      EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE)
          << status.error_code() << " " << status.error_message();
      episode.Published(seq, status.ok());
      absl::SleepFor(kPublishPace);
    }
  });

  ASSERT_TRUE(episode.AwaitConfirmed(20));
  // 40 more while the subscriber reads nothing: the gateway holds at most max_unacked of
  // them, the durable queue the rest, persistent, when the broker dies.
  episode.Hold(true);
  ASSERT_TRUE(episode.AwaitConfirmed(60));
  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE((*node)->KillHard().ok());
  ASSERT_TRUE(episode.AwaitFailure()) << "the kill went unnoticed by Notify";
  ASSERT_TRUE((*node)->Restart().ok());
  const absl::Time restarted_at = absl::Now();
  episode.BrokerRestarted();
  episode.Hold(false);
  ASSERT_TRUE(episode.AwaitConfirmedAfterRestart(20));
  const absl::Time recovered_at = absl::Now();
  episode.StopPublishing();
  publisher.join();
  const bool all_received = episode.AwaitAllConfirmedReceived();
  const absl::Time delivered_at = absl::Now();

  const Episode::Figures figures = episode.Snapshot();
  int confirmed_missing = 0, failed_delivered = 0;
  for (int seq : figures.confirmed) confirmed_missing += figures.received.count(seq) == 0;
  for (int seq : figures.failed) failed_delivered += figures.received.count(seq) > 0;
  const std::string scrape = gateway->server->metrics().Scrape();
  const double redelivered =
      MetricValue(scrape, "cellgw_notifications_redelivered_total", {{"cell", "durable"}});
  std::cout << "[figures] notify kill -9: confirmed=" << figures.confirmed.size()
            << " unavailable=" << figures.failed.size()
            << " received=" << figures.received.size() << " confirmed_missing="
            << confirmed_missing << " unconfirmed_delivered=" << failed_delivered << "/"
            << figures.failed.size() << " duplicates=" << figures.duplicates
            << " redelivered=" << redelivered
            << " broker_restart_s=" << Seconds(restarted_at - killed_at)
            << " notify_recovered_s=" << Seconds(recovered_at - restarted_at)
            << " all_delivered_after_s=" << Seconds(delivered_at - recovered_at)
            << " stream_ended=" << figures.stream_ended << std::endl;

  EXPECT_TRUE(all_received) << confirmed_missing << " confirmed notifications never arrived";
  EXPECT_EQ(confirmed_missing, 0);
  EXPECT_FALSE(figures.stream_ended) << "the stream ended: " << figures.end_status.error_code()
                                     << " " << figures.end_status.error_message();
  EXPECT_GT(figures.failed.size(), 0u);

  // A graceful end: the gateway applies the acknowledgements and finishes with OK.
  stream->WritesDone();
  subscriber.join();
  const Episode::Figures end = episode.Snapshot();
  EXPECT_TRUE(end.end_status.ok()) << end.end_status.error_message();
  gateway->server->Shutdown(absl::ZeroDuration());
  EXPECT_TRUE((*node)->Stop().ok());
}

TEST(NotificationBrokerKillTest, StreamEndsWithUnavailableWhenTheCellStaysUnreachable) {
  auto node = RabbitMqNode::Start(TestTmpDir() + "/notify_outage_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  bridge::CellOptions cell = Cell("short", (*node)->Url());
  cell.subscription_outage_timeout = absl::Seconds(2);
  auto gateway = StartGateway({cell});
  ASSERT_TRUE(gateway.ok()) << gateway.status();

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::SubscribeRequest subscription;
  subscription.add_topics(Marker("outage"));
  auto stream = gateway->client->Subscribe(&context, subscription);
  stream->WaitForInitialMetadata();
  ASSERT_EQ(context.GetServerInitialMetadata().count("x-cellgw-subscription"), 1u);

  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE((*node)->KillHard().ok());
  v1::Notification notification;
  EXPECT_FALSE(stream->Read(&notification));
  const grpc::Status status = stream->Finish();
  const absl::Duration ended_after = absl::Now() - killed_at;
  std::cout << "[figures] notify outage: stream_ended_after_s=" << Seconds(ended_after)
            << " limit_s=2" << std::endl;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("subscription_outage_timeout"));
  // Not before the limit, and not much after it (the loop looks at least once a second).
  EXPECT_GE(ended_after, absl::Seconds(2));
  EXPECT_LT(ended_after, absl::Seconds(6));
  gateway->server->Shutdown(absl::ZeroDuration());
  EXPECT_TRUE((*node)->Stop().ok());
}

}  // namespace
}  // namespace cellgw::testing
