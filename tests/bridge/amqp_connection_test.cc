// AmqpConnection against a real RabbitMQ (a private node, tests/support/rabbitmq_node.h): the
// transport contract of bridge/amqp_transport.h that the fakes of the other tests in this
// folder assume. Above all: a refused exchange declare never disturbs publishes.
#include "bridge/amqp_connection.h"

#include <poll.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;
using bridge::AmqpConnection;
using bridge::ExchangeSpec;
using bridge::InboundMessage;

constexpr uint64_t kMaxBody = 1 << 20;

// What ReadAvailable dispatched.
struct Collector : bridge::AmqpTransport::Handler {
  struct Confirm {
    uint64_t seq;
    bool multiple;
    bool ack;
  };
  void OnMessage(InboundMessage message) override { messages.push_back(std::move(message)); }
  void OnConfirm(uint64_t seq, bool multiple, bool ack) override {
    confirms.push_back({seq, multiple, ack});
  }
  void OnPublishChannelReset(const absl::Status& why) override { resets.push_back(why); }
  void OnConsumerCancelled() override { ++cancels; }

  // Whether a confirm (single or multiple) acknowledged `seq`.
  bool Acked(uint64_t seq) const {
    for (const Confirm& c : confirms) {
      if (c.ack && (c.seq == seq || (c.multiple && c.seq >= seq))) return true;
    }
    return false;
  }

  std::vector<InboundMessage> messages;
  std::vector<Confirm> confirms;
  std::vector<absl::Status> resets;
  int cancels = 0;
};

class AmqpConnectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto node = RabbitMqNode::Start(TestTmpDir() + "/amqp_connection_rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
  }
  static void TearDownTestSuite() {
    delete node_;  // stops the broker and its epmd, by PID
    node_ = nullptr;
  }

  static bridge::AmqpEndpoint Endpoint() {
    bridge::AmqpEndpoint endpoint;
    endpoint.host = "127.0.0.1";
    endpoint.port = static_cast<uint16_t>(node_->amqp_port());
    endpoint.heartbeat = absl::Seconds(7);
    endpoint.connection_name = "amqp_connection_test";
    return endpoint;
  }

  std::unique_ptr<AmqpConnection> Open() {
    absl::StatusOr<std::unique_ptr<AmqpConnection>> conn = AmqpConnection::Open(Endpoint());
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  // A fresh queue for this test, declared and (unless `consume` is false) consumed.
  std::string Queue(AmqpConnection& conn, bool consume = true) {
    const std::string name =
        absl::StrCat("q_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    bridge::QueueSpec spec;
    spec.name = name;
    spec.auto_delete = false;
    EXPECT_TRUE(conn.DeclareQueue(spec, /*passive=*/false).ok());
    if (consume) {
      EXPECT_TRUE(conn.Consume(name).ok());
    }
    return name;
  }

  static absl::StatusOr<uint64_t> PublishTo(AmqpConnection& conn, absl::string_view exchange,
                                            absl::string_view routing_key,
                                            absl::string_view body = R"({"n": 1})",
                                            bool mandatory = false) {
    bridge::PublishSpec spec;
    spec.exchange = exchange;
    spec.routing_key = routing_key;
    spec.body = body;
    spec.mandatory = mandatory;
    return conn.Publish(spec);
  }

  // Reads until `done()`, waiting on the socket; fails after 30 s.
  static absl::Status ReadUntil(AmqpConnection& conn, Collector& collector,
                                const std::function<bool()>& done,
                                uint64_t max_body = kMaxBody) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!done()) {
      if (absl::Now() > deadline) return absl::DeadlineExceededError("nothing came");
      if (!conn.HasBufferedInput()) {
        pollfd poller{conn.fd(), POLLIN, 0};
        poll(&poller, 1, 100);
      }
      absl::Status status = conn.ReadAvailable(collector, max_body);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  static RabbitMqNode* node_;
};

RabbitMqNode* AmqpConnectionTest::node_ = nullptr;

TEST_F(AmqpConnectionTest, PublishedMessageIsConsumedWithOslosPropertiesAndConfirmed) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  EXPECT_GE(conn->fd(), 0);
  EXPECT_EQ(conn->negotiated_heartbeat_seconds(), 7);
  const std::string queue = Queue(*conn);
  absl::StatusOr<uint64_t> seq = PublishTo(*conn, "", queue, R"({"hello": "world"})");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
  Collector collector;
  ASSERT_TRUE(ReadUntil(*conn, collector, [&] {
                return !collector.messages.empty() && collector.Acked(1);
              }).ok());
  const InboundMessage& message = collector.messages[0];
  EXPECT_EQ(message.kind, InboundMessage::Kind::kDelivery);
  EXPECT_EQ(message.body, R"({"hello": "world"})");
  EXPECT_EQ(message.content_type, "application/json");
  EXPECT_EQ(message.routing_key, queue);
  EXPECT_TRUE(collector.resets.empty());
}

TEST_F(AmqpConnectionTest, RefusedExchangeDeclaresLeaveUnconfirmedPublishesAlone) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  const std::string queue = Queue(*conn, /*consume=*/false);
  ASSERT_TRUE(PublishTo(*conn, "", queue).ok());  // seq 1, not confirmed yet
  const absl::Status inequivalent =
      conn->DeclareExchange({"amq.direct", "topic", false, false}, /*passive=*/false);
  EXPECT_TRUE(absl::IsFailedPrecondition(inequivalent)) << inequivalent;
  EXPECT_THAT(inequivalent.message(), HasSubstr("declaring exchange 'amq.direct'"));
  EXPECT_THAT(inequivalent.message(), HasSubstr("PRECONDITION_FAILED"));
  const absl::Status reserved =
      conn->DeclareExchange({"amq.cellgw", "topic", false, false}, /*passive=*/false);
  EXPECT_TRUE(absl::IsFailedPrecondition(reserved)) << reserved;
  EXPECT_THAT(reserved.message(), HasSubstr("ACCESS_REFUSED"));
  // The publish made before the refusals is confirmed, and the numbering goes on.
  absl::StatusOr<uint64_t> next = PublishTo(*conn, "", queue);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 2u);
  Collector collector;
  ASSERT_TRUE(ReadUntil(*conn, collector, [&] { return collector.Acked(2); }).ok());
  EXPECT_TRUE(collector.Acked(1));
  EXPECT_TRUE(collector.resets.empty());
}

TEST_F(AmqpConnectionTest, PassiveDeclareOfAMissingExchangeIsNotFoundAndCreatesNothing) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  const ExchangeSpec spec{"cellgw_test_exchange", "topic", false, false};
  const absl::Status missing = conn->DeclareExchange(spec, /*passive=*/true);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_THAT(missing.message(), HasSubstr("cellgw_test_exchange"));
  // The declaring channel was reopened: it declares, checks and refuses again.
  EXPECT_TRUE(conn->DeclareExchange(spec, /*passive=*/false).ok());
  EXPECT_TRUE(conn->DeclareExchange(spec, /*passive=*/true).ok());
  EXPECT_TRUE(conn->DeclareExchange(spec, /*passive=*/false).ok()) << "equivalent: no error";
  const absl::Status other_type =
      conn->DeclareExchange({"cellgw_test_exchange", "fanout", false, false}, false);
  EXPECT_TRUE(absl::IsFailedPrecondition(other_type)) << other_type;
  EXPECT_THAT(other_type.message(), HasSubstr("inequivalent arg 'type'"));
}

TEST_F(AmqpConnectionTest, PublishToAMissingExchangeResetsOnlyThePublishingChannel) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  const std::string queue = Queue(*conn);
  ASSERT_TRUE(PublishTo(*conn, "cellgw_vanished", "x").ok());
  Collector collector;
  ASSERT_TRUE(ReadUntil(*conn, collector, [&] { return !collector.resets.empty(); }).ok());
  EXPECT_THAT(collector.resets[0].message(), HasSubstr("404"));
  // Confirms restart at 1 on the reopened channel, and the consumer still runs.
  absl::StatusOr<uint64_t> seq = PublishTo(*conn, "", queue);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 1u);
  ASSERT_TRUE(ReadUntil(*conn, collector, [&] {
                return !collector.messages.empty() && collector.Acked(1);
              }).ok());
  EXPECT_EQ(collector.cancels, 0);
}

TEST_F(AmqpConnectionTest, MandatoryPublishThatNothingRoutesComesBackAsAReturn) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(PublishTo(*conn, "", "cellgw_no_such_queue", R"({"r": 1})", /*mandatory=*/true)
                  .ok());
  Collector collector;
  ASSERT_TRUE(ReadUntil(*conn, collector, [&] {
                return !collector.messages.empty() && collector.Acked(1);
              }).ok());
  const InboundMessage& returned = collector.messages[0];
  EXPECT_EQ(returned.kind, InboundMessage::Kind::kReturn);
  EXPECT_EQ(returned.reply_code, 312);
  EXPECT_EQ(returned.routing_key, "cellgw_no_such_queue");
  EXPECT_EQ(returned.body, R"({"r": 1})");
}

TEST_F(AmqpConnectionTest, ConsumerIsCancelledWhenItsQueueIsDeleted) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  const std::string queue = Queue(*conn);
  ASSERT_TRUE(node_->Ctl({"delete_queue", queue}).ok());
  Collector collector;
  ASSERT_TRUE(ReadUntil(*conn, collector, [&] { return collector.cancels > 0; }).ok());
  // The consuming channel still works: the queue can be declared and consumed again.
  bridge::QueueSpec spec;
  spec.name = queue;
  EXPECT_TRUE(conn->DeclareQueue(spec, /*passive=*/false).ok());
  EXPECT_TRUE(conn->Consume(queue).ok());
}

TEST_F(AmqpConnectionTest, PassiveDeclareOfAMissingQueueIsNotFoundAndTheChannelIsReopened) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  bridge::QueueSpec spec;
  spec.name = "cellgw_missing_queue";
  const absl::Status missing = conn->DeclareQueue(spec, /*passive=*/true);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_TRUE(conn->DeclareQueue(spec, /*passive=*/false).ok());
  EXPECT_TRUE(conn->DeclareQueue(spec, /*passive=*/true).ok());
  EXPECT_TRUE(conn->Consume(spec.name).ok());
}

TEST_F(AmqpConnectionTest, BodyOverTheLimitIsReadAndDiscarded) {
  std::unique_ptr<AmqpConnection> conn = Open();
  ASSERT_NE(conn, nullptr);
  const std::string queue = Queue(*conn);
  ASSERT_TRUE(PublishTo(*conn, "", queue, std::string(5000, 'x')).ok());
  ASSERT_TRUE(PublishTo(*conn, "", queue, "small").ok());
  Collector collector;
  ASSERT_TRUE(ReadUntil(
                  *conn, collector, [&] { return collector.messages.size() == 2; },
                  /*max_body=*/100)
                  .ok());
  EXPECT_TRUE(collector.messages[0].oversized);
  EXPECT_TRUE(collector.messages[0].body.empty());
  EXPECT_EQ(collector.messages[0].body_size, 5000u);
  EXPECT_FALSE(collector.messages[1].oversized);
  EXPECT_EQ(collector.messages[1].body, "small");
}

TEST_F(AmqpConnectionTest, NobodyListeningIsUnavailableNamingHostAndPort) {
  bridge::AmqpEndpoint endpoint = Endpoint();
  endpoint.port = 1;
  absl::StatusOr<std::unique_ptr<AmqpConnection>> conn = AmqpConnection::Open(endpoint);
  EXPECT_TRUE(absl::IsUnavailable(conn.status())) << conn.status();
  EXPECT_THAT(conn.status().message(), HasSubstr("cannot connect to 127.0.0.1:1"));
}

TEST_F(AmqpConnectionTest, RefusedLoginIsUnavailableAndNeverShowsThePassword) {
  bridge::AmqpEndpoint endpoint = Endpoint();
  endpoint.password = "s3cret-wrong";
  absl::StatusOr<std::unique_ptr<AmqpConnection>> conn = AmqpConnection::Open(endpoint);
  EXPECT_TRUE(absl::IsUnavailable(conn.status())) << conn.status();
  EXPECT_THAT(conn.status().message(), HasSubstr("as 'guest'"));
  EXPECT_THAT(conn.status().message(), ::testing::Not(HasSubstr("s3cret")));
}

TEST_F(AmqpConnectionTest, ConnectorOpensATransport) {
  absl::StatusOr<std::unique_ptr<bridge::AmqpTransport>> transport =
      AmqpConnection::Connector()(Endpoint());
  ASSERT_TRUE(transport.ok()) << transport.status();
  EXPECT_GE((*transport)->fd(), 0);
}

}  // namespace
}  // namespace cellgw::testing
