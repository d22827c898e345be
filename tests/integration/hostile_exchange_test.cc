// One caller cannot hurt another (issue 10, item 2): while eight callers send ordinary casts,
// calls and fanouts through the gateway, hostile callers name every exchange a broker refuses
// for a cast or call (amq.direct, amq.headers, amq.fanout, amq.topic, amq.match, the internal
// amq.rabbitmq.trace, the topic's own <topic>_fanout), thousands of exchanges that do not exist,
// and fanouts to thousands of topics nobody serves. Everything real: a private RabbitMQ node, a
// real oslo.messaging server, the gateway in-process with no `security:` section (any caller
// may name any exchange), all requests of the cell on one AMQP connection.
//
// What must hold: no innocent request fails; every request naming a bad or missing exchange
// fails alone with FAILED_PRECONDITION naming that exchange; fanouts to topics nobody serves
// succeed; and the broker ends with exactly the exchanges it started with (the gateway creates
// nothing a caller names, so nothing grows on the broker, and what the gateway remembers as
// checked is limited to exchanges that exist: exchange_registry.h, whose bound
// tests/bridge/exchange_registry_test.cc checks).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

constexpr int kInnocentCallers = 8;
constexpr int kMinimumPerInnocentCaller = 300;
constexpr int kHostileCallers = 2;
constexpr int kRandomExchanges = 3000;
constexpr int kRandomFanoutTopics = 500;
constexpr int kRoundsOfNamedExchanges = 20;

// Exchanges every RabbitMQ vhost has that a cast or call (a topic exchange with the cell's
// flags, not durable here) must not be published to, and the topic's fanout exchange, which
// the oslo server declared.
const char* const kRefusedExchanges[] = {
    "amq.direct", "amq.headers", "amq.fanout", "amq.topic",
    "amq.match",  "amq.rabbitmq.trace", "compute_fanout",
};

enum class Kind { kCast, kCall, kFanout };

struct HostileRequest {
  Kind kind;
  std::string exchange;  // casts and calls
  std::string topic;
};

// Exchange names nobody declared: plain, reserved-looking, unicode, punctuation, a NUL byte,
// and the longest a name may be. Deterministic, so that a failure can be reproduced.
std::vector<std::string> RandomExchangeNames(int count) {
  std::mt19937 random(20240611);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    std::string word;
    for (int j = 0; j < 8; ++j) word.push_back(static_cast<char>(letter(random)));
    switch (i % 6) {
      case 0: names.push_back(absl::StrCat("x-", word)); break;
      case 1: names.push_back(absl::StrCat("amq.", word)); break;
      case 2: names.push_back(absl::StrCat("\xc3\xa9\xe4\xba\xa4\xe6\x8d\xa2-", word)); break;
      case 3: names.push_back(absl::StrCat("a b/c#d?e*", word)); break;
      case 4: names.push_back(absl::StrCat(word, std::string(1, '\0'), "nul")); break;
      default: names.push_back(absl::StrCat(word, std::string(247, 'y'))); break;  // 255 bytes
    }
  }
  return names;
}

class HostileExchangeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto node = RabbitMqNode::Start(TestTmpDir() + "/hostile_exchange_rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    auto server = OsloProcess::StartServer(ComputeServer(node_->Url()));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    auto gateway = StartGateway({Cell("cell1", node_->Url(), "nova")});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = new RunningGateway(*std::move(gateway));
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete node_;  // stops the broker and its epmd, by PID
    node_ = nullptr;
  }

  static std::set<std::string> BrokerExchanges() {
    absl::StatusOr<std::string> out = node_->Ctl({"list_exchanges", "-p", "/", "name"});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return {};
    std::vector<std::string> lines = absl::StrSplit(*out, '\n', absl::SkipEmpty());
    return std::set<std::string>(lines.begin(), lines.end());
  }

  static v1::Target Target(const std::string& exchange, const std::string& topic) {
    v1::Target target;
    target.set_cell("cell1");
    target.set_exchange(exchange);
    target.set_topic(topic);
    return target;
  }

  // Sends one request and returns how it ended; a call's result goes to `result_json`.
  static grpc::Status Send(Kind kind, const v1::Target& target, const std::string& args,
                           std::string* result_json = nullptr) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    switch (kind) {
      case Kind::kCast: {
        v1::CastRequest request;
        *request.mutable_target() = target;
        request.set_method("note");
        request.set_args_json(args);
        v1::CastResponse response;
        return gateway_->client->Cast(request, &response, deadline);
      }
      case Kind::kCall: {
        v1::CallRequest request;
        *request.mutable_target() = target;
        request.set_method("echo");
        request.set_args_json(args);
        v1::CallResponse response;
        grpc::Status status = gateway_->client->Call(request, &response, deadline);
        if (result_json != nullptr) *result_json = response.result_json();
        return status;
      }
      case Kind::kFanout: {
        v1::FanoutRequest request;
        *request.mutable_target() = target;
        request.set_method("note");
        request.set_args_json(args);
        v1::FanoutResponse response;
        return gateway_->client->Fanout(request, &response, deadline);
      }
    }
    return grpc::Status(grpc::StatusCode::INTERNAL, "unknown kind");
  }

  static RabbitMqNode* node_;
  static OsloProcess* server_;
  static RunningGateway* gateway_;
};

RabbitMqNode* HostileExchangeTest::node_ = nullptr;
OsloProcess* HostileExchangeTest::server_ = nullptr;
RunningGateway* HostileExchangeTest::gateway_ = nullptr;

// What a group of callers saw, shared between their threads.
struct Tally {
  absl::Mutex mu;
  int requests ABSL_GUARDED_BY(mu) = 0;
  int unexpected ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> samples ABSL_GUARDED_BY(mu);  // the first unexpected outcomes

  void Add(bool as_expected, const std::string& description) {
    absl::MutexLock lock(&mu);
    ++requests;
    if (as_expected) return;
    ++unexpected;
    if (samples.size() < 5) samples.push_back(description);
  }
};

TEST_F(HostileExchangeTest, BadExchangesFailAloneAndNoInnocentRequestFails) {
  const std::set<std::string> exchanges_before = BrokerExchanges();
  ASSERT_TRUE(exchanges_before.count("nova") && exchanges_before.count("compute_fanout"));

  std::vector<HostileRequest> hostile;
  for (int round = 0; round < kRoundsOfNamedExchanges; ++round) {
    for (const char* exchange : kRefusedExchanges) {
      hostile.push_back({round % 2 == 0 ? Kind::kCast : Kind::kCall, exchange, "compute"});
    }
  }
  int i = 0;
  for (const std::string& name : RandomExchangeNames(kRandomExchanges)) {
    hostile.push_back({i++ % 2 == 0 ? Kind::kCast : Kind::kCall, name, "compute"});
  }
  for (int t = 0; t < kRandomFanoutTopics; ++t) {
    hostile.push_back({Kind::kFanout, "", absl::StrCat("nobody_serves_", t)});
  }
  std::shuffle(hostile.begin(), hostile.end(), std::mt19937(7));

  std::atomic<int> hostile_running{kHostileCallers};
  Tally innocent, refused, fanouts;
  std::vector<std::thread> threads;
  for (int caller = 0; caller < kInnocentCallers; ++caller) {
    threads.emplace_back([&, caller] {
      for (int n = 0; n < kMinimumPerInnocentCaller || hostile_running.load() > 0; ++n) {
        const Kind kind = static_cast<Kind>(n % 3);
        const std::string marker = Marker(absl::StrCat("c", caller));
        const std::string args = absl::StrCat(R"({"innocent": ")", marker, R"("})");
        std::string result;
        const grpc::Status status = Send(kind, Target("", "compute"), args, &result);
        // A call's answer must be its own.
        const bool answered = kind != Kind::kCall || absl::StrContains(result, marker);
        innocent.Add(status.ok() && answered,
                     absl::StrCat("innocent ", static_cast<int>(kind), ": ",
                                  status.error_code(), " ", status.error_message(), " ",
                                  result));
      }
    });
  }
  const absl::Time hostile_start = absl::Now();
  for (int caller = 0; caller < kHostileCallers; ++caller) {
    threads.emplace_back([&, caller] {
      for (size_t n = caller; n < hostile.size(); n += kHostileCallers) {
        const HostileRequest& request = hostile[n];
        const grpc::Status status =
            Send(request.kind, Target(request.exchange, request.topic), R"({"hostile": true})");
        if (request.kind == Kind::kFanout) {
          fanouts.Add(status.ok(), absl::StrCat("fanout to '", request.topic, "': ",
                                                status.error_code(), " ",
                                                status.error_message()));
          continue;
        }
        const bool named = absl::StrContains(status.error_message(),
                                             absl::StrCat("exchange '", request.exchange, "'"));
        refused.Add(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION && named,
                    absl::StrCat("exchange '", request.exchange, "': ", status.error_code(),
                                 " ", status.error_message()));
      }
      hostile_running.fetch_sub(1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const absl::Duration hostile_time = absl::Now() - hostile_start;

  absl::MutexLock a(&innocent.mu), b(&refused.mu), c(&fanouts.mu);
  const std::set<std::string> exchanges_after = BrokerExchanges();
  std::printf("[figures] innocent requests %d (casts, calls, fanouts from %d callers), failed %d; "
              "hostile requests naming bad or missing exchanges %d, not refused as expected "
              "%d; fanouts to topics nobody serves %d, failed %d; exchanges on the broker "
              "before %zu, after %zu; hostile traffic took %s\n",
              innocent.requests, kInnocentCallers, innocent.unexpected, refused.requests,
              refused.unexpected, fanouts.requests, fanouts.unexpected, exchanges_before.size(),
              exchanges_after.size(), absl::FormatDuration(hostile_time).c_str());
  EXPECT_GE(innocent.requests, kInnocentCallers * kMinimumPerInnocentCaller);
  EXPECT_EQ(innocent.unexpected, 0) << "first: " << innocent.samples.front();
  EXPECT_EQ(refused.requests,
            kRoundsOfNamedExchanges * static_cast<int>(std::size(kRefusedExchanges)) +
                kRandomExchanges);
  EXPECT_EQ(refused.unexpected, 0) << "first: " << refused.samples.front();
  EXPECT_EQ(fanouts.requests, kRandomFanoutTopics);
  EXPECT_EQ(fanouts.unexpected, 0) << "first: " << fanouts.samples.front();
  EXPECT_EQ(exchanges_after, exchanges_before) << "a caller's name created an exchange";
}

}  // namespace
}  // namespace cellgw::testing
