// HealthReporter: which grpc.health.v1 entries it sets from the bridge's cells, what
// shutdown does, and that it passes every event on. The health service is a fake that
// records the entries (the reporter only talks to grpc::HealthCheckServiceInterface); the
// bridge is the real RpcBridge: not started for the unit cases (every cell disconnected), and
// started against a private RabbitMQ node for the transitions (a cell connects, its broker
// dies).
#include "gateway/observability/health_reporter.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/bridge_observer.h"
#include "bridge/cell_options.h"
#include "bridge/rpc_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/subprocess.h"

namespace cellgw::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kBrokerTimeout = absl::Seconds(60);

// Records what the reporter sets, as the default health service would hold it.
class FakeHealthService : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string& service_name, bool serving) override {
    absl::MutexLock lock(&mu_);
    entries_[service_name] = serving;
    ++updates_;
  }
  void SetServingStatus(bool serving) override {
    absl::MutexLock lock(&mu_);
    for (auto& [name, value] : entries_) value = serving;
    ++updates_;
  }
  void Shutdown() override {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }

  std::map<std::string, bool> entries() const {
    absl::MutexLock lock(&mu_);
    return entries_;
  }
  int updates() const {
    absl::MutexLock lock(&mu_);
    return updates_;
  }
  bool shutdown() const {
    absl::MutexLock lock(&mu_);
    return shutdown_;
  }
  // True once entry `name` is `serving`, false after `timeout`.
  bool WaitFor(const std::string& name, bool serving, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      auto it = entries_.find(name);
      return it != entries_.end() && it->second == serving;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, bool> entries_ ABSL_GUARDED_BY(mu_);
  int updates_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

// Writes down every event it is passed, as "<Event> <cell> <details>".
class RecordingObserver : public bridge::BridgeObserver {
 public:
  void OnConnectionState(absl::string_view cell, int index, bool up) override {
    Add(absl::StrCat("ConnectionState ", cell, " ", index, " ", up ? "up" : "down"));
  }
  void OnConnectFailed(absl::string_view cell, const absl::Status& why) override {
    Add(absl::StrCat("ConnectFailed ", cell, " ", why.message()));
  }
  void OnReconnect(absl::string_view cell) override { Add(absl::StrCat("Reconnect ", cell)); }
  void OnPublished(absl::string_view cell) override { Add(absl::StrCat("Published ", cell)); }
  void OnConfirmed(absl::string_view cell, bool ack) override {
    Add(absl::StrCat("Confirmed ", cell, " ", ack ? "ack" : "nack"));
  }
  void OnReturned(absl::string_view cell) override { Add(absl::StrCat("Returned ", cell)); }
  void OnReplyDropped(absl::string_view cell, bridge::DropReason reason) override {
    Add(absl::StrCat("ReplyDropped ", cell, " ", bridge::DropReasonName(reason)));
  }

  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  void Add(std::string event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

bridge::CellOptions Cell(const std::string& name, const std::string& url) {
  bridge::CellOptions cell;
  cell.name = name;
  cell.transport_url = url;
  cell.heartbeat_timeout_threshold = absl::Seconds(2);
  return cell;
}

// A URL whose port refuses connections: the reporter must never see this cell connected.
constexpr char kNowhere[] = "rabbit://guest:guest@127.0.0.1:1/";

std::unique_ptr<bridge::RpcBridge> Bridge(std::vector<bridge::CellOptions> cells,
                                          bridge::BridgeObserver* observer) {
  absl::StatusOr<std::unique_ptr<bridge::RpcBridge>> bridge =
      bridge::RpcBridge::Create(std::move(cells), observer);
  EXPECT_TRUE(bridge.ok()) << bridge.status();
  return bridge.ok() ? std::move(*bridge) : nullptr;
}

// A reporter attached to a fake health service and to an unstarted bridge of one cell, "a",
// whose broker refuses connections.
struct AttachedReporter {
  explicit AttachedReporter(bridge::BridgeObserver* next)
      : reporter(next), bridge(Bridge({Cell("a", kNowhere)}, &reporter)) {
    if (bridge != nullptr) reporter.Attach(&health, bridge.get());
  }
  FakeHealthService health;
  HealthReporter reporter;
  std::unique_ptr<bridge::RpcBridge> bridge;
};

// One of each event the bridge reports, about cell "a".
void SendEveryEvent(bridge::BridgeObserver& observer) {
  observer.OnConnectionState("a", 2, false);
  observer.OnConnectFailed("a", absl::UnavailableError("refused"));
  observer.OnReconnect("a");
  observer.OnPublished("a");
  observer.OnConfirmed("a", true);
  observer.OnConfirmed("a", false);
  observer.OnReturned("a");
  observer.OnReplyDropped("a", bridge::DropReason::kLate);
}

TEST(CellHealthNameTest, IsCellSlashName) { EXPECT_EQ(CellHealthName("cell1"), "cell/cell1"); }

TEST(HealthReporterTest, AttachServesLivenessAndNothingElseWhileNoCellIsConnected) {
  FakeHealthService health;
  HealthReporter reporter(nullptr);
  auto bridge = Bridge({Cell("a", kNowhere), Cell("b", kNowhere)}, &reporter);
  ASSERT_NE(bridge, nullptr);
  reporter.Attach(&health, bridge.get());
  EXPECT_THAT(health.entries(),
              UnorderedElementsAre(Pair("cellgw.liveness", true), Pair("", false),
                                   Pair("cellgw.v1.CellGateway", false), Pair("cell/a", false),
                                   Pair("cell/b", false)));
  EXPECT_FALSE(health.shutdown());
}

TEST(HealthReporterTest, EveryAttachedServiceGetsTheSameEntriesAndTheShutdown) {
  // The gRPC port's health service and the health listener's (health_listen).
  FakeHealthService grpc_port;
  FakeHealthService health_listener;
  HealthReporter reporter(nullptr);
  auto bridge = Bridge({Cell("a", kNowhere)}, &reporter);
  ASSERT_NE(bridge, nullptr);
  reporter.Attach({&grpc_port, &health_listener}, bridge.get());
  EXPECT_THAT(health_listener.entries(),
              UnorderedElementsAre(Pair("cellgw.liveness", true), Pair("", false),
                                   Pair("cellgw.v1.CellGateway", false), Pair("cell/a", false)));
  EXPECT_EQ(health_listener.entries(), grpc_port.entries());
  reporter.BeginShutdown();
  EXPECT_TRUE(grpc_port.shutdown());
  EXPECT_TRUE(health_listener.shutdown());
}

TEST(HealthReporterTest, AnUpEventDoesNotMakeACellServingThatTheBridgeSaysIsDown) {
  // The bridge's state is the truth; the event only says when to look at it again.
  AttachedReporter attached(nullptr);
  ASSERT_NE(attached.bridge, nullptr);
  const int updates = attached.health.updates();
  attached.reporter.OnConnectionState("a", 0, true);
  EXPECT_GT(attached.health.updates(), updates);  // it looked again
  EXPECT_EQ(attached.health.entries().at("cell/a"), false);
  EXPECT_EQ(attached.health.entries().at(""), false);
}

TEST(HealthReporterTest, EventsBeforeAttachArePassedOn) {
  RecordingObserver next;
  HealthReporter reporter(&next);
  reporter.OnConnectionState("a", 0, true);
  EXPECT_THAT(next.events(), ElementsAre("ConnectionState a 0 up"));
}

TEST(HealthReporterTest, BeginShutdownShutsTheServiceDownAndLaterEventsChangeNothing) {
  AttachedReporter attached(nullptr);
  ASSERT_NE(attached.bridge, nullptr);
  attached.reporter.BeginShutdown();
  EXPECT_TRUE(attached.health.shutdown());
  const int updates = attached.health.updates();
  attached.reporter.OnConnectionState("a", 0, true);
  attached.reporter.OnConnectionState("a", 0, false);
  EXPECT_EQ(attached.health.updates(), updates);
}

TEST(HealthReporterTest, EveryEventIsPassedToNextUnchanged) {
  RecordingObserver next;
  AttachedReporter attached(&next);
  ASSERT_NE(attached.bridge, nullptr);
  SendEveryEvent(attached.reporter);
  EXPECT_THAT(next.events(),
              ElementsAre("ConnectionState a 2 down", "ConnectFailed a refused", "Reconnect a",
                          "Published a", "Confirmed a ack", "Confirmed a nack", "Returned a",
                          "ReplyDropped a late"));
}

TEST(HealthReporterTest, WithoutNextEveryEventIsHandledAndHealthStaysAsTheBridgeSays) {
  AttachedReporter attached(nullptr);
  ASSERT_NE(attached.bridge, nullptr);
  const std::map<std::string, bool> before = attached.health.entries();
  SendEveryEvent(attached.reporter);
  EXPECT_EQ(attached.health.entries(), before);
}

TEST(HealthReporterTest, ConnectionEventsFromTheBridgeTurnEntriesServingAndBack) {
  absl::StatusOr<std::unique_ptr<cellgw::testing::RabbitMqNode>> node =
      cellgw::testing::RabbitMqNode::Start(cellgw::testing::TestTmpDir() + "/health_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  FakeHealthService health;
  RecordingObserver next;
  HealthReporter reporter(&next);
  auto bridge = Bridge({Cell("up", (*node)->Url()), Cell("down", kNowhere)}, &reporter);
  ASSERT_NE(bridge, nullptr);
  reporter.Attach(&health, bridge.get());
  bridge->Start();

  // The cell with a broker connects: its entry and the gateway's turn SERVING at once.
  ASSERT_TRUE(health.WaitFor("cell/up", true, kBrokerTimeout)) << cellgw::testing::TestTmpDir();
  EXPECT_TRUE(health.WaitFor("", true, kBrokerTimeout));
  EXPECT_TRUE(health.WaitFor("cellgw.v1.CellGateway", true, kBrokerTimeout));
  EXPECT_EQ(health.entries().at("cell/down"), false);

  // Its broker dies: the entry and the gateway's (no cell left) turn NOT_SERVING; liveness
  // stays SERVING, since a restart of cellgw would not bring the broker back.
  ASSERT_TRUE((*node)->KillHard().ok());
  EXPECT_TRUE(health.WaitFor("cell/up", false, kBrokerTimeout));
  EXPECT_TRUE(health.WaitFor("", false, kBrokerTimeout));
  EXPECT_TRUE(health.WaitFor("cellgw.v1.CellGateway", false, kBrokerTimeout));
  EXPECT_EQ(health.entries().at("cellgw.liveness"), true);

  bridge->Stop();
  EXPECT_THAT(next.events(), ::testing::Contains("ConnectionState up 0 up"));
  EXPECT_THAT(next.events(), ::testing::Contains("ConnectionState up 0 down"));
  EXPECT_TRUE((*node)->Stop().ok());
}

}  // namespace
}  // namespace cellgw::gateway
