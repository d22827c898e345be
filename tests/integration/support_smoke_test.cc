// Smoke test of the integration-test support layer (tests/support): a private RabbitMQ node,
// a real oslo.messaging RPC server and client talking through it, and a stop path that
// leaves no process behind.
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/subprocess.h"

namespace cellgw::testing {
namespace {

constexpr absl::Duration kLineTimeout = absl::Seconds(30);

// True when no process has `pid` any more: it exited and was reaped by its parent.
bool ProcessGone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

bool Contains(const std::string& needle, const std::string& line) {
  return absl::StrContains(line, needle);
}

TEST(SupportSmokeTest, ClientCallReachesServerOnPrivateVhostAndPrintsResult) {
  auto node = RabbitMqNode::Start(TestTmpDir() + "/call_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE((*node)->AddVhost("smoke cell").ok());
  const std::string url = (*node)->Url("smoke cell");
  EXPECT_EQ(url,
            absl::StrCat("rabbit://guest:guest@127.0.0.1:", (*node)->amqp_port(), "/smoke%20cell"));

  OsloServerOptions options;
  options.url = url;
  options.topic = "smoke";
  options.server = "host1";
  options.exchange = "nova";
  auto server = OsloProcess::StartServer(options);
  ASSERT_TRUE(server.ok()) << server.status();

  auto client = OsloProcess::RunClient({"--url", url, "--topic", "smoke", "--exchange", "nova",
                                        "call", "echo", R"({"x": 1})", R"({"user_id": "u1"})"});
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<int> exit_code = (*client)->Wait();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << (*client)->StderrTail();

  // The server saw the call, with the arguments and context the client sent...
  absl::StatusOr<std::string> invoked = (*server)->WaitForLine(
      [](const std::string& line) {
        return Contains(R"("event": "invoked")", line) && Contains(R"("method": "echo")", line) &&
               Contains(R"("kw": {"x": 1})", line);
      },
      kLineTimeout);
  ASSERT_TRUE(invoked.ok()) << invoked.status();
  EXPECT_TRUE(Contains(R"("user_id": "u1")", *invoked)) << *invoked;
  EXPECT_TRUE(Contains(R"("server": "host1")", *invoked)) << *invoked;

  // ...and the client printed the server's reply as one JSON line.
  ASSERT_EQ((*client)->Lines().size(), 1u);
  const std::string result = (*client)->Lines()[0];
  EXPECT_TRUE(Contains(R"("kw": {"x": 1})", result)) << result;
  EXPECT_TRUE(Contains(R"("server": "host1")", result)) << result;
  EXPECT_TRUE(Contains(R"("user_id": "u1")", result)) << result;

  // A remote exception comes back as data: its class, module and message, and exit code 1.
  auto failing = OsloProcess::RunClient(
      {"--url", url, "--topic", "smoke", "--exchange", "nova", "call", "fail_custom", "{}"});
  ASSERT_TRUE(failing.ok()) << failing.status();
  absl::StatusOr<int> failing_exit = (*failing)->Wait();
  ASSERT_TRUE(failing_exit.ok()) << failing_exit.status();
  EXPECT_EQ(*failing_exit, 1) << (*failing)->StderrTail();
  EXPECT_EQ((*failing)->Lines(),
            std::vector<std::string>{
                R"({"exception": "CellQuotaExceeded", "message": "Quota exceeded for cores: )"
                R"(requested 8", "module": "cellgw_test_exc"})"});

  // The server's queues are bound on the exchange it was given.
  absl::StatusOr<std::string> bindings =
      (*node)->Ctl({"list_bindings", "-p", "smoke cell", "source_name", "routing_key"});
  ASSERT_TRUE(bindings.ok()) << bindings.status();
  EXPECT_TRUE(Contains("nova\tsmoke.host1", *bindings)) << *bindings;
}

TEST(SupportSmokeTest, StoppingLeavesNoBrokerEpmdOrOsloProcessRunning) {
  auto node = RabbitMqNode::Start(TestTmpDir() + "/stop_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  const pid_t broker_pid = (*node)->pid();
  const pid_t beam_pid = (*node)->beam_pid();
  const pid_t epmd_pid = (*node)->epmd_pid();
  ASSERT_GT(broker_pid, 0);
  ASSERT_GT(beam_pid, 0);
  ASSERT_GT(epmd_pid, 0);

  OsloServerOptions options;
  options.url = (*node)->Url();
  options.topic = "smoke";
  auto server = OsloProcess::StartServer(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const pid_t server_pid = (*server)->pid();

  ASSERT_TRUE((*server)->Stop().ok());
  absl::StatusOr<int> server_exit = (*server)->Wait();
  ASSERT_TRUE(server_exit.ok()) << server_exit.status();
  EXPECT_EQ(*server_exit, 0) << (*server)->StderrTail();
  EXPECT_EQ((*server)->Lines().back(), R"({"event": "stopped"})");
  EXPECT_TRUE(ProcessGone(server_pid));

  ASSERT_TRUE((*node)->Stop().ok());
  EXPECT_TRUE(ProcessGone(broker_pid)) << "rabbitmq-server pid " << broker_pid;
  EXPECT_TRUE(ProcessGone(beam_pid)) << "beam.smp pid " << beam_pid;
  EXPECT_TRUE(ProcessGone(epmd_pid)) << "epmd pid " << epmd_pid;
  EXPECT_EQ((*node)->pid(), -1);
}

TEST(SupportSmokeTest, RestartAfterKillHardKeepsPortsAndVhosts) {
  auto node = RabbitMqNode::Start(TestTmpDir() + "/restart_rmq");
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE((*node)->AddVhost("kept").ok());
  const int port = (*node)->amqp_port();
  const pid_t killed_pid = (*node)->pid();
  const pid_t epmd_pid = (*node)->epmd_pid();

  ASSERT_TRUE((*node)->KillHard().ok());
  EXPECT_TRUE(ProcessGone(killed_pid));
  EXPECT_FALSE((*node)->Ctl({"list_vhosts"}).ok());

  absl::Status restarted = (*node)->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ((*node)->amqp_port(), port);
  EXPECT_EQ((*node)->epmd_pid(), epmd_pid);  // epmd survived the crash
  absl::StatusOr<std::string> vhosts = (*node)->Ctl({"list_vhosts", "name"});
  ASSERT_TRUE(vhosts.ok()) << vhosts.status();
  EXPECT_TRUE(Contains("kept", *vhosts)) << *vhosts;
}

TEST(SupportSmokeTest, WaitForLineCountsEarlierLinesAndFailsFastOnExitWithoutMatch) {
  auto process = OsloProcess::Run({"-c", "print('first'); print('second')"});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> exit_code = (*process)->Wait();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_EQ((*process)->Lines(), (std::vector<std::string>{"first", "second"}));

  absl::StatusOr<std::string> earlier = (*process)->WaitForLine(
      [](const std::string& line) { return line == "first"; }, absl::ZeroDuration());
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_EQ(*earlier, "first");

  // Far shorter than the timeout: the closed stdout ends the wait, not the clock.
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> missing = (*process)->WaitForLine(
      [](const std::string& line) { return line == "never"; }, absl::Minutes(5));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_LT(absl::Now() - start, absl::Minutes(1));
}

}  // namespace
}  // namespace cellgw::testing
