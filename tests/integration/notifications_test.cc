// Notifications through the gateway against real oslo.messaging 14 (Debian's
// python3-oslo.messaging under /usr/bin/python3) on a private RabbitMQ node: a real Notifier
// (tests/support/oslo_notifier.py) feeding Subscribe, Notify feeding a real
// NotificationListener (tests/support/oslo_listener.py), pools, and the at-least-once and
// flow-control promises of Subscribe.
//
// One broker and one gateway (cell "cell1", control exchange "openstack") for the whole
// binary. Each test uses topics of its own (a fresh marker), so tests never see each other's
// queues.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/cli_notifications.h"
#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kPriorities[][9] = {"audit", "debug", "info", "warn", "error", "critical", "sample"};

// A Subscribe stream from the test's side: synchronous reads with the stream's deadline as
// the bound, so a missing notification fails the test instead of hanging it.
struct Subscription {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::Notification>> stream;

  // Reads `n` notifications; fewer when the stream ends first (the test then fails on it).
  std::vector<v1::Notification> Read(size_t n) {
    std::vector<v1::Notification> got;
    v1::Notification notification;
    while (got.size() < n && stream->Read(&notification)) got.push_back(notification);
    EXPECT_EQ(got.size(), n) << "the stream ended early";
    return got;
  }

  void Ack(const std::vector<v1::Notification>& notifications) {
    v1::SubscribeRequest ack;
    for (const v1::Notification& n : notifications) ack.add_ack_ids(n.ack_id());
    ASSERT_TRUE(stream->Write(ack));
  }

  // Half-closes and returns the final status (the gateway finishes with OK).
  grpc::Status Close() {
    stream->WritesDone();
    v1::Notification ignored;
    while (stream->Read(&ignored)) {
    }
    return stream->Finish();
  }
};

// A JSON object's members in order, as written.
std::vector<std::pair<std::string, std::string>> OrderedMembers(const std::string& json_text) {
  std::vector<std::pair<std::string, std::string>> members;
  absl::StatusOr<std::vector<json::Member>> parsed = json::ObjectMembers(json_text);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << " in " << json_text;
  if (!parsed.ok()) return members;
  for (const json::Member& m : *parsed) members.emplace_back(m.key, std::string(m.value));
  return members;
}

std::string Unquoted(const std::string& literal) {
  absl::StatusOr<std::string> text = json::Unquote(literal);
  EXPECT_TRUE(text.ok()) << literal;
  return text.ok() ? *text : "";
}

std::string PythonStyle(absl::string_view json_text) {
  std::string out;
  EXPECT_TRUE(json::AppendPythonStyle(json_text, &out).ok()) << json_text;
  return out;
}

class NotificationsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto node = RabbitMqNode::Start(TestTmpDir() + "/notifications_rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    auto gateway = StartGateway({Cell("cell1", node_->Url())});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete node_;  // stops the broker and its epmd, by PID
    node_ = nullptr;
  }

  // Opens a subscription and waits until the gateway says it is consuming.
  static std::unique_ptr<Subscription> Subscribe(const v1::SubscribeRequest& request) {
    auto sub = std::make_unique<Subscription>();
    sub->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    sub->stream = gateway_->client->Subscribe(&sub->context, request);
    sub->stream->WaitForInitialMetadata();
    EXPECT_EQ(sub->context.GetServerInitialMetadata().count("x-cellgw-subscription"), 1u)
        << "the subscription was refused";
    return sub;
  }

  static v1::SubscribeRequest Topic(const std::string& topic, uint32_t max_unacked = 0) {
    v1::SubscribeRequest request;
    request.add_topics(topic);
    request.set_max_unacked(max_unacked);
    return request;
  }

  static grpc::Status Notify(const std::string& topic, const std::string& event_type,
                             const std::string& payload, v1::NotifyResponse* response,
                             const std::string& priority = "info",
                             const std::string& context = "") {
    v1::NotifyRequest request;
    request.set_topic(topic);
    request.set_publisher_id("gateway.test");
    request.set_event_type(event_type);
    request.set_priority(priority);
    request.set_payload_json(payload);
    request.set_context_json(context);
    return gateway_->client->Notify(request, response, absl::Now() + absl::Seconds(30));
  }

  // `count` notifications {"seq": i} on `topic`, each confirmed; returns their message ids.
  static std::vector<std::string> NotifySeq(const std::string& topic, int count,
                                            const std::string& event_type = "test.seq") {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      v1::NotifyResponse response;
      const grpc::Status status =
          Notify(topic, event_type, absl::StrCat("{\"seq\": ", i, "}"), &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      ids.push_back(response.message_id());
    }
    return ids;
  }

  // messages_ready and messages_unacknowledged of `queue`, as the broker counts them.
  static std::pair<int, int> QueueCounts(const std::string& queue) {
    absl::StatusOr<std::string> out =
        node_->Ctl({"list_queues", "name", "messages_ready", "messages_unacknowledged"});
    EXPECT_TRUE(out.ok()) << out.status();
    for (absl::string_view line : absl::StrSplit(out.ok() ? *out : "", '\n')) {
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      int ready = 0, unacked = 0;
      if (fields.size() == 3 && fields[0] == queue && absl::SimpleAtoi(fields[1], &ready) &&
          absl::SimpleAtoi(fields[2], &unacked)) {
        return {ready, unacked};
      }
    }
    ADD_FAILURE() << "no queue " << queue;
    return {-1, -1};
  }

  // Waits until the broker reports exactly these counts for `queue`.
  static void AwaitQueueCounts(const std::string& queue, int ready, int unacked) {
    const absl::Time deadline = absl::Now() + kWait;
    std::pair<int, int> counts;
    while (absl::Now() < deadline) {
      counts = QueueCounts(queue);
      if (counts == std::make_pair(ready, unacked)) return;
    }
    ADD_FAILURE() << queue << ": ready/unacked " << counts.first << "/" << counts.second
                  << ", expected " << ready << "/" << unacked;
  }

  // A cell1 counter of the gateway's /metrics, e.g. "cellgw_notifications_filtered_total".
  static double Metric(const std::string& name) {
    const std::string prefix = absl::StrCat(name, "{cell=\"cell1\"} ");
    for (absl::string_view line : absl::StrSplit(gateway_->server->metrics().Scrape(), '\n')) {
      double value = 0;
      if (absl::ConsumePrefix(&line, prefix) && absl::SimpleAtod(line, &value)) return value;
    }
    ADD_FAILURE() << "no metric " << prefix;
    return -1;
  }

  // Runs oslo_notifier.py with `args` to completion; returns the messages it reports sent.
  static std::vector<std::string> RunNotifier(std::vector<std::string> args) {
    args.insert(args.begin(), {RunfilePath("tests/support/oslo_notifier.py"), "--url",
                               node_->Url()});
    auto notifier = OsloProcess::Run(args);
    EXPECT_TRUE(notifier.ok()) << notifier.status();
    if (!notifier.ok()) return {};
    absl::StatusOr<int> code = (*notifier)->Wait(absl::Seconds(60));
    EXPECT_TRUE(code.ok() && *code == 0) << (*notifier)->StderrTail();
    std::vector<std::string> sent;
    for (const std::string& line : (*notifier)->Lines()) {
      if (absl::StrContains(line, R"("event": "sent")")) sent.push_back(Member(line, "message"));
    }
    return sent;
  }

  static std::unique_ptr<OsloProcess> StartListener(const std::string& topic,
                                                    const std::string& pool = "") {
    std::vector<std::string> args = {RunfilePath("tests/support/oslo_listener.py"), "--url",
                                     node_->Url(), "--topic", topic};
    if (!pool.empty()) args.insert(args.end(), {"--pool", pool});
    auto listener = OsloProcess::Run(args);
    EXPECT_TRUE(listener.ok()) << listener.status();
    if (!listener.ok()) return nullptr;
    auto ready = (*listener)->WaitForLine(
        [](const std::string& line) { return absl::StrContains(line, R"("event": "ready")"); },
        kWait);
    EXPECT_TRUE(ready.ok()) << ready.status();
    return *std::move(listener);
  }

  // Every field of `got` against the message the real Notifier reported sending.
  static void ExpectSameNotification(const std::string& sent, const std::string& topic,
                                     const v1::Notification& got) {
    std::string context = "{";
    std::string payload;
    for (const auto& [key, raw] : OrderedMembers(sent)) {
      if (absl::StartsWith(key, "_context_")) {
        if (context.size() > 1) context.append(", ");
        absl::StrAppend(&context, "\"", key.substr(9), "\": ", raw);
      } else if (key == "payload") {
        payload = raw;
      }
    }
    context.push_back('}');
    EXPECT_EQ(got.message_id(), Unquoted(Member(sent, "message_id")));
    EXPECT_EQ(got.publisher_id(), Unquoted(Member(sent, "publisher_id")));
    EXPECT_EQ(got.event_type(), Unquoted(Member(sent, "event_type")));
    EXPECT_EQ(got.priority(), absl::AsciiStrToLower(Unquoted(Member(sent, "priority"))));
    // The notifier's report is json.dumps of the same dict: the same text as on the wire.
    EXPECT_EQ(got.payload_json(), payload);
    EXPECT_EQ(got.context_json(), context);
    EXPECT_EQ(got.timestamp(), Unquoted(Member(sent, "timestamp")));
    EXPECT_EQ(got.topic(), topic);
    EXPECT_FALSE(got.ack_id().empty());
  }

  // One notification of every priority, with big integers and unicode in payload and context.
  static std::string EveryPriorityBatch() {
    std::string batch = "[";
    for (const char* priority : kPriorities) {
      if (batch.size() > 1) batch.append(", ");
      absl::StrAppend(
          &batch, R"({"priority": ")", priority, R"(", "event_type": "compute.)", priority,
          R"(.end", "payload": {"u64max": 18446744073709551615, "big70": 1180591620717411303424, )",
          R"("neg": -9223372036854775808, "text": "caf\u00e9 \u2603 \ud83d\ude00 \"q\" \\ /", )",
          R"("nested": [[[[]]], {"a": [null, true, false, 1.5]}]}, "context": {"user_id": "u-1", )",
          R"("project_id": "p-1", "user_name": "J\u00fcrgen", "roles": ["member"], )",
          R"("is_admin": false, "auth_token": "SECRET"}})");
    }
    return batch + "]";
  }

  static RabbitMqNode* node_;
  static RunningGateway* gateway_;
};

RabbitMqNode* NotificationsTest::node_ = nullptr;
RunningGateway* NotificationsTest::gateway_ = nullptr;

// A real Notifier with each driver: messagingv2 (the 2.0 envelope) and messaging (the 1.0
// form, no envelope).
class OsloNotifierTest : public NotificationsTest,
                         public ::testing::WithParamInterface<const char*> {};

TEST_P(OsloNotifierTest, NotificationsOfEveryPriorityArriveWithEveryFieldExact) {
  const std::string topic = Marker(GetParam());
  auto sub = Subscribe(Topic(topic, 100));
  const std::vector<std::string> sent =
      RunNotifier({"--topic", topic, "--driver", GetParam(), "batch", EveryPriorityBatch()});
  ASSERT_EQ(sent.size(), 7u);
  std::map<std::string, v1::Notification> by_id;
  for (const v1::Notification& n : sub->Read(7)) by_id[n.message_id()] = n;
  for (const std::string& message : sent) {
    const std::string id = Unquoted(Member(message, "message_id"));
    ASSERT_EQ(by_id.count(id), 1u) << message;
    ExpectSameNotification(message, topic, by_id[id]);
    EXPECT_THAT(by_id[id].context_json(), Not(HasSubstr("SECRET")));
  }
  EXPECT_TRUE(sub->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Drivers, OsloNotifierTest,
                         ::testing::Values("messagingv2", "messaging"));

// Notify against a real listener: each field as the listener's endpoint receives it.
void ExpectListenerGot(OsloProcess& listener, const std::string& message_id,
                       const std::string& priority, const std::string& payload,
                       const std::string& context) {
  auto line = listener.WaitForLine(
      [&](const std::string& l) { return absl::StrContains(l, message_id); }, kWait);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(Unquoted(Member(*line, "priority")), priority);
  EXPECT_EQ(Unquoted(Member(*line, "publisher_id")), "gateway.test");
  EXPECT_EQ(Unquoted(Member(*line, "event_type")), "compute." + priority);
  EXPECT_THAT(Unquoted(Member(*line, "timestamp")),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
                           "(\\.[0-9]{6})?"));
  EXPECT_EQ(Unquoted(Member(*line, "payload_json")), PythonStyle(payload));
  EXPECT_EQ(Unquoted(Member(*line, "ctxt_json")), context);
}

TEST_F(NotificationsTest, NotifyReachesARealNotificationListenerWithEveryFieldExact) {
  const std::string topic = Marker("listen");
  std::unique_ptr<OsloProcess> listener = StartListener(topic);
  ASSERT_NE(listener, nullptr);
  const std::string payload =
      R"({"u64max":18446744073709551615,"big70":1180591620717411303424,)"
      R"("text":"caf\u00e9 😀 \"q\" \\ /","nested":[[[[]]],{"a":[null,true,false,1.5]}]})";
  // auth_token and unknown keys are dropped, as oslo's Notifier drops them; the listener's
  // context gains client_timeout: null, as for every oslo message without a _timeout.
  const std::string context =
      R"({"user_id": "u-1", "auth_token": "SECRET", "request_id": "req-test", "x": 1, )"
      R"("roles": ["admin"]})";
  const std::string expected_context =
      R"({"user_id": "u-1", "request_id": "req-test", "roles": ["admin"], )"
      R"("client_timeout": null})";
  for (const char* priority : kPriorities) {
    v1::NotifyResponse response;
    const grpc::Status status =
        Notify(topic, absl::StrCat("compute.", priority), payload, &response,
               absl::AsciiStrToUpper(priority), context);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(response.message_id(),
                MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
    ExpectListenerGot(*listener, response.message_id(), priority, payload, expected_context);
  }
  EXPECT_TRUE(listener->Stop().ok());
}

TEST_F(NotificationsTest, NotifyReachesARealListenerInAPool) {
  const std::string topic = Marker("listenpool");
  std::unique_ptr<OsloProcess> listener = StartListener(topic, Marker("pool"));
  ASSERT_NE(listener, nullptr);
  v1::NotifyResponse response;
  ASSERT_TRUE(
      Notify(topic, "compute.error", R"({"n": 1})", &response, "error", R"({"request_id": "r"})")
          .ok());
  ExpectListenerGot(*listener, response.message_id(), "error", R"({"n": 1})",
                    R"({"request_id": "r", "client_timeout": null})");
  EXPECT_TRUE(listener->Stop().ok());
}

TEST_F(NotificationsTest, SubscriptionDeclaresTheTopologyOfARealListener) {
  // A real listener in pool A and the gateway in pool B on the same topic: the broker must
  // show the same queue flags and the same bindings for both pools.
  const std::string topic = Marker("topo");
  const std::string oslo_pool = Marker("oslo");
  const std::string our_pool = Marker("ours");
  std::unique_ptr<OsloProcess> listener = StartListener(topic, oslo_pool);
  ASSERT_NE(listener, nullptr);
  v1::SubscribeRequest request = Topic(topic);
  request.set_pool(our_pool);
  auto sub = Subscribe(request);

  absl::StatusOr<std::string> queues =
      node_->Ctl({"list_queues", "name", "durable", "auto_delete", "exclusive", "arguments"});
  ASSERT_TRUE(queues.ok()) << queues.status();
  std::string oslo_flags, our_flags;
  for (absl::string_view line : absl::StrSplit(*queues, '\n')) {
    if (absl::StartsWith(line, oslo_pool + "\t")) oslo_flags = std::string(line.substr(oslo_pool.size()));
    if (absl::StartsWith(line, our_pool + "\t")) our_flags = std::string(line.substr(our_pool.size()));
  }
  EXPECT_FALSE(oslo_flags.empty());
  EXPECT_EQ(our_flags, oslo_flags);

  absl::StatusOr<std::string> bindings = node_->Ctl(
      {"list_bindings", "source_name", "destination_name", "routing_key"});
  ASSERT_TRUE(bindings.ok()) << bindings.status();
  std::set<std::string> oslo_keys, our_keys;
  for (absl::string_view line : absl::StrSplit(*bindings, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() != 3 || f[0].empty()) continue;  // the default exchange's implicit bindings
    if (f[1] == oslo_pool) oslo_keys.insert(f[0] + " " + f[2]);
    if (f[1] == our_pool) our_keys.insert(f[0] + " " + f[2]);
  }
  EXPECT_EQ(oslo_keys.size(), 7u);
  EXPECT_EQ(our_keys, oslo_keys);
  EXPECT_TRUE(sub->Close().ok());
  EXPECT_TRUE(listener->Stop().ok());
}

TEST_F(NotificationsTest, TwoPoolsBothGetEveryNotificationAndOnePoolSharesItsOwnWithoutDuplicates) {
  const std::string topic = Marker("pools");
  v1::SubscribeRequest pool_a = Topic(topic, 5);
  pool_a.set_pool(Marker("a"));
  v1::SubscribeRequest pool_b = Topic(topic, 100);
  pool_b.set_pool(Marker("b"));
  auto a1 = Subscribe(pool_a);
  auto a2 = Subscribe(pool_a);
  auto b = Subscribe(pool_b);
  const std::vector<std::string> ids = NotifySeq(topic, 40);
  const std::set<std::string> all(ids.begin(), ids.end());

  std::set<std::string> got_b;
  for (const v1::Notification& n : b->Read(40)) got_b.insert(n.message_id());
  EXPECT_EQ(got_b, all);

  // Pool a: two subscribers sharing its queue, each with a window of 5. The broker fills
  // both windows and refills a window as it is acknowledged, so reading a full window from
  // each in turn, acknowledging it, takes the 40 in four rounds.
  std::map<std::string, int> seen;
  int from_a1 = 0, from_a2 = 0;
  for (int round = 0; round < 4; ++round) {
    for (Subscription* sub : {a1.get(), a2.get()}) {
      const std::vector<v1::Notification> window = sub->Read(5);
      sub->Ack(window);
      for (const auto& n : window) ++seen[n.message_id()];
      (sub == a1.get() ? from_a1 : from_a2) += static_cast<int>(window.size());
    }
  }
  EXPECT_EQ(seen.size(), 40u);
  for (const auto& [id, times] : seen) {
    EXPECT_EQ(times, 1) << id << " delivered " << times << " times within pool a";
    EXPECT_EQ(all.count(id), 1u);
  }
  EXPECT_GT(from_a1, 0);
  EXPECT_GT(from_a2, 0);
  EXPECT_TRUE(a1->Close().ok());
  EXPECT_TRUE(a2->Close().ok());
  EXPECT_TRUE(b->Close().ok());
}

TEST_F(NotificationsTest, SubscriberThatLeavesMidStreamLosesNothing) {
  const std::string topic = Marker("leave");
  auto first = Subscribe(Topic(topic, 10));
  const std::vector<std::string> ids = NotifySeq(topic, 30);
  const double redelivered_before = Metric("cellgw_notifications_redelivered_total");

  // Acknowledge the first 10 in one message, read 5 more (the window only lets them come once
  // the acknowledgements reached the broker), then leave without acknowledging those.
  const std::vector<v1::Notification> acked = first->Read(10);
  first->Ack(acked);
  const std::vector<v1::Notification> unacked = first->Read(5);
  first->context.TryCancel();
  first.reset();

  std::set<std::string> acked_ids;
  for (const auto& n : acked) acked_ids.insert(n.message_id());
  std::set<std::string> expected;
  for (const std::string& id : ids) {
    if (acked_ids.count(id) == 0) expected.insert(id);
  }
  ASSERT_EQ(expected.size(), 20u);

  auto second = Subscribe(Topic(topic, 100));
  const std::vector<v1::Notification> received = second->Read(20);
  second->Ack(received);
  std::set<std::string> got;
  for (const auto& n : received) got.insert(n.message_id());
  EXPECT_EQ(got, expected);
  // Nothing else comes: a marker published now is the next notification.
  v1::NotifyResponse sentinel;
  ASSERT_TRUE(Notify(topic, "test.sentinel", "{}", &sentinel).ok());
  const std::vector<v1::Notification> next = second->Read(1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].message_id(), sentinel.message_id());
  // At least the 5 read and not acknowledged came again as redeliveries.
  EXPECT_GE(Metric("cellgw_notifications_redelivered_total") - redelivered_before, 5);
  for (const auto& n : unacked) EXPECT_EQ(got.count(n.message_id()), 1u);
  EXPECT_TRUE(second->Close().ok());
}

TEST_F(NotificationsTest, SubscriberThatAcknowledgesNothingGetsExactlyMaxUnacked) {
  const std::string topic = Marker("window");
  const std::string queue = topic + ".info";
  auto sub = Subscribe(Topic(topic, 7));
  NotifySeq(topic, 20);
  const std::vector<v1::Notification> got = sub->Read(7);
  ASSERT_EQ(got.size(), 7u);
  // The broker handed the subscription exactly 7 and keeps the other 13.
  AwaitQueueCounts(queue, 13, 7);
  // One acknowledgement lets exactly one more come.
  sub->Ack({got[0]});
  ASSERT_EQ(sub->Read(1).size(), 1u);
  AwaitQueueCounts(queue, 12, 7);
  // Leaving returns the 7 unacknowledged to the queue.
  EXPECT_TRUE(sub->Close().ok());
  AwaitQueueCounts(queue, 19, 0);
}

TEST_F(NotificationsTest, SlowSubscriberLeavesTheBacklogInTheBrokerNotInTheGateway) {
  // 200 notifications of 16 KiB for a subscriber that does not read: the gateway takes
  // max_unacked of them and no more; the rest waits in the broker. Then the subscriber reads
  // everything, acknowledging as it goes.
  const std::string topic = Marker("slow");
  const std::string queue = topic + ".info";
  constexpr int kCount = 200;
  constexpr int kWindow = 5;
  auto sub = Subscribe(Topic(topic, kWindow));
  const double delivered_before = Metric("cellgw_notifications_delivered_total");
  const std::string filler(16 << 10, 'x');
  for (int i = 0; i < kCount; ++i) {
    v1::NotifyResponse response;
    ASSERT_TRUE(Notify(topic, "test.slow",
                       absl::StrCat("{\"seq\": ", i, ", \"filler\": \"", filler, "\"}"),
                       &response)
                    .ok());
  }
  AwaitQueueCounts(queue, kCount - kWindow, kWindow);
  EXPECT_EQ(Metric("cellgw_notifications_delivered_total") - delivered_before, kWindow);

  std::set<std::string> seqs;
  for (int i = 0; i < kCount; ++i) {
    std::vector<v1::Notification> one = sub->Read(1);
    ASSERT_EQ(one.size(), 1u);
    seqs.insert(Member(one[0].payload_json(), "seq"));
    sub->Ack(one);
  }
  EXPECT_EQ(seqs.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(Metric("cellgw_notifications_delivered_total") - delivered_before, kCount);
  EXPECT_TRUE(sub->Close().ok());
}

TEST_F(NotificationsTest, AutoAckAcknowledgesWhatWasWritten) {
  const std::string topic = Marker("auto");
  v1::SubscribeRequest request = Topic(topic, 3);
  request.set_auto_ack(true);
  auto sub = Subscribe(request);
  NotifySeq(topic, 10);
  // No ack_ids at all, yet all ten come through a window of three.
  EXPECT_EQ(sub->Read(10).size(), 10u);
  EXPECT_TRUE(sub->Close().ok());
  AwaitQueueCounts(topic + ".info", 0, 0);
}

TEST_F(NotificationsTest, FilteredEventTypesAreAcknowledgedAndNotSent) {
  const std::string topic = Marker("filter");
  v1::SubscribeRequest request = Topic(topic);
  request.add_event_types("compute.instance.*");
  request.add_event_types("identity.user.?");
  auto sub = Subscribe(request);
  const double filtered_before = Metric("cellgw_notifications_filtered_total");
  for (const char* event_type : {"compute.instance.create", "network.port.update",
                                 "identity.user.x", "identity.user.xy", "compute.instance.end"}) {
    v1::NotifyResponse response;
    ASSERT_TRUE(Notify(topic, event_type, "{}", &response).ok());
  }
  std::vector<std::string> event_types;
  for (const auto& n : sub->Read(3)) event_types.push_back(n.event_type());
  EXPECT_THAT(event_types, ::testing::UnorderedElementsAre("compute.instance.create",
                                                           "identity.user.x",
                                                           "compute.instance.end"));
  EXPECT_EQ(Metric("cellgw_notifications_filtered_total") - filtered_before, 2);
  EXPECT_TRUE(sub->Close().ok());
  // The filtered ones were acknowledged, the others were not: 3 back in the queue.
  AwaitQueueCounts(topic + ".info", 3, 0);
}

TEST_F(NotificationsTest, NamedExchangesMustExistAndOnlyTheControlExchangeIsCreated) {
  // A real listener whose control_exchange is `custom` has that exchange declared: Notify and
  // Subscribe may name it. A name nobody declared is refused and stays undeclared.
  const std::string custom = Marker("custom");
  const std::string topic = Marker("xchg");
  std::unique_ptr<OsloProcess> listener = OsloProcess::Run(
      {RunfilePath("tests/support/oslo_listener.py"), "--url", node_->Url(), "--exchange",
       custom, "--topic", topic})
                                              .value();
  ASSERT_TRUE(listener
                  ->WaitForLine([](const std::string& l) {
                    return absl::StrContains(l, R"("event": "ready")");
                  }, kWait)
                  .ok());
  v1::NotifyRequest request;
  request.set_exchange(custom);
  request.set_topic(topic);
  request.set_publisher_id("p");
  request.set_event_type("compute.custom");
  v1::NotifyResponse response;
  grpc::Status status =
      gateway_->client->Notify(request, &response, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(listener
                  ->WaitForLine([&](const std::string& l) {
                    return absl::StrContains(l, response.message_id());
                  }, kWait)
                  .ok());

  const std::string ghost = Marker("ghost");
  request.set_exchange(ghost);
  status = gateway_->client->Notify(request, &response, absl::Now() + absl::Seconds(30));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("does not exist"));
  v1::SubscribeRequest subscription = Topic(topic);
  subscription.set_exchange(ghost);
  Subscription sub;
  sub.stream = gateway_->client->Subscribe(&sub.context, subscription);
  v1::Notification n;
  EXPECT_FALSE(sub.stream->Read(&n));
  status = sub.stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  absl::StatusOr<std::string> exchanges = node_->Ctl({"list_exchanges", "name"});
  ASSERT_TRUE(exchanges.ok()) << exchanges.status();
  EXPECT_THAT(*exchanges, HasSubstr(custom));
  EXPECT_THAT(*exchanges, Not(HasSubstr(ghost)));
  EXPECT_TRUE(listener->Stop().ok());
}

TEST_F(NotificationsTest, NotifyRefusesBadInputNamingTheField) {
  struct Case {
    v1::NotifyRequest request;
    grpc::StatusCode code;
    std::string message_start;
  };
  std::vector<Case> cases(7);
  for (Case& c : cases) {
    c.request.set_publisher_id("p");
    c.request.set_event_type("e");
    c.code = grpc::StatusCode::INVALID_ARGUMENT;
  }
  cases[0].request.clear_publisher_id();
  cases[0].message_start = "publisher_id:";
  cases[1].request.clear_event_type();
  cases[1].message_start = "event_type:";
  cases[2].request.set_priority("warning");
  cases[2].message_start = "priority:";
  cases[3].request.set_payload_json("{nope");
  cases[3].message_start = "payload_json:";
  cases[4].request.set_context_json("[1]");
  cases[4].message_start = "context_json:";
  cases[5].request.set_cell("nope");
  cases[5].code = grpc::StatusCode::NOT_FOUND;
  cases[5].message_start = "cell:";
  cases[6].request.set_topic(std::string(300, 't'));
  cases[6].message_start = "topic:";
  for (const Case& c : cases) {
    v1::NotifyResponse response;
    const grpc::Status status =
        gateway_->client->Notify(c.request, &response, absl::Now() + absl::Seconds(10));
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_TRUE(absl::StartsWith(status.error_message(), c.message_start))
        << status.error_message();
  }
}

// The status a stream ends with when `later` (if any) follows `first`: the gateway must end
// it without sending anything.
grpc::Status RefusedStream(client::CellgwClient& client, const v1::SubscribeRequest& first,
                           const v1::SubscribeRequest* later = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = client.Subscribe(&context, first);
  if (later != nullptr) stream->Write(*later);
  v1::Notification n;
  EXPECT_FALSE(stream->Read(&n)) << "a notification on a stream that should end";
  return stream->Finish();
}

TEST_F(NotificationsTest, SubscribeRefusesBadMessagesNamingTheField) {
  v1::SubscribeRequest bad_priority = Topic(Marker("refused"));
  bad_priority.add_priorities("info");
  bad_priority.add_priorities("loud");
  v1::SubscribeRequest too_many_topics;
  for (int i = 0; i < 65; ++i) too_many_topics.add_topics(absl::StrCat("t", i));
  v1::SubscribeRequest later_pool;
  later_pool.set_pool("again");
  v1::SubscribeRequest later_bad_ack;
  later_bad_ack.add_ack_ids("1:1");
  later_bad_ack.add_ack_ids("garbage");
  const v1::SubscribeRequest good = Topic(Marker("later"));
  const struct {
    const v1::SubscribeRequest& first;
    const v1::SubscribeRequest* later;
    std::string message_start;
  } cases[] = {
      {bad_priority, nullptr, "priorities[1]:"},
      {too_many_topics, nullptr, "topics: at most 64"},
      {good, &later_pool, "pool:"},
      {good, &later_bad_ack, "ack_ids[1]:"},
  };
  for (const auto& c : cases) {
    const grpc::Status status = RefusedStream(*gateway_->client, c.first, c.later);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.message_start;
    EXPECT_TRUE(absl::StartsWith(status.error_message(), c.message_start))
        << status.error_message();
  }
}

// The text a FILE* got, for the CLI functions' output.
class CapturedFile {
 public:
  CapturedFile() : file_(std::tmpfile()) {}
  ~CapturedFile() { std::fclose(file_); }
  std::FILE* get() { return file_; }
  std::string Text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), file_)) > 0;) text.append(buffer, n);
    return text;
  }

 private:
  std::FILE* file_;
};

TEST_F(NotificationsTest, CliNotifyPrintsTheMessageIdAndSubscribePrintsOneJsonLineEach) {
  const std::string topic = Marker("cli");
  std::vector<std::string> ids;
  for (const char* payload : {R"({"n": 18446744073709551616})", R"(["café"])"}) {
    client::NotifyCommand notify;
    notify.topic = topic;
    notify.publisher_id = "cli.test";
    notify.event_type = "cli.event";
    notify.priority = "warn";
    notify.payload_json = payload;
    notify.context_json = R"({"request_id": "req-cli"})";
    CapturedFile out, err;
    ASSERT_EQ(client::RunNotify(*gateway_->client, notify, out.get(), err.get()), 0) << err.Text();
    const std::string line = out.Text();
    ASSERT_TRUE(absl::EndsWith(line, "}\n")) << line;
    ids.push_back(Unquoted(Member(line, "message_id")));
  }
  // The queue "<topic>.warn" was declared by Notify: the subscription finds both.
  client::SubscribeCommand subscribe;
  subscribe.topics = {topic};
  subscribe.priorities = {"WARN"};
  subscribe.count = 2;
  CapturedFile out, err;
  ASSERT_EQ(client::RunSubscribe(*gateway_->client, subscribe, out.get(), err.get()), 0)
      << err.Text();
  EXPECT_THAT(err.Text(), HasSubstr("cellgw-cli: subscribed"));
  const std::vector<std::string> lines = absl::StrSplit(out.Text(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(Unquoted(Member(lines[i], "message_id")), ids[i]);
    EXPECT_EQ(Unquoted(Member(lines[i], "priority")), "warn");
    EXPECT_EQ(Unquoted(Member(lines[i], "topic")), topic);
    EXPECT_EQ(Member(lines[i], "context"), R"({"request_id": "req-cli"})");
  }
  EXPECT_EQ(Member(lines[0], "payload"), R"({"n": 18446744073709551616})");
  EXPECT_EQ(Member(lines[1], "payload"), R"(["caf\u00e9"])");
  // Both were acknowledged once printed: nothing is left in the queue.
  AwaitQueueCounts(topic + ".warn", 0, 0);
}

}  // namespace
}  // namespace cellgw::testing
