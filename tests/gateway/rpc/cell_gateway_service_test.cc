// The gRPC surface without a broker: bad input, unknown cells, and what happens while a
// cell's broker is unreachable. A real GatewayServer on loopback, a real gRPC client; the
// cell's transport URL points at a closed loopback port.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/cellgw_client.h"
#include "gateway/gateway_server.h"
#include "gateway/observability/json_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;

// Everything written to fd 2 (where the JSON log goes) while one of these lives.
class CapturedStderr {
 public:
  CapturedStderr() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    path_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/captured_stderr_", counter_++);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    saved_ = dup(2);
    dup2(fd, 2);
    close(fd);
  }
  ~CapturedStderr() { Restore(); }
  // Stops capturing; returns the "request finished" lines written meanwhile.
  std::vector<std::string> RequestLines() {
    Restore();
    std::ifstream file(path_);
    std::stringstream text;
    text << file.rdbuf();
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(text.str(), '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, "\"request finished\"")) lines.emplace_back(line);
    }
    return lines;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  static int counter_;
  std::string path_;
  int saved_ = -1;
};
int CapturedStderr::counter_ = 0;

class CellGatewayServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GatewayConfig config;
    config.listen = "127.0.0.1:0";
    bridge::CellOptions cell;
    cell.name = "cell1";
    // Port 1 on loopback: nothing listens, connections are refused at once.
    cell.transport_url = "rabbit://guest:s3cr3t@127.0.0.1:1/";
    cell.control_exchange = "nova";
    cell.max_message_bytes = 2048;
    config.cells.push_back(cell);
    auto server = GatewayServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    server_->WaitForCells(absl::Seconds(10));
    client_ = new client::CellgwClient(
        client::CellgwClient::Connect(absl::StrCat("127.0.0.1:", server_->port())));
  }
  static void TearDownTestSuite() {
    delete client_;
    delete server_;
  }

  static grpc::Status Call(const v1::CallRequest& request) {
    v1::CallResponse response;
    return client_->Call(request, &response, absl::Now() + absl::Seconds(10));
  }

  static v1::CallRequest ValidCall() {
    v1::CallRequest request;
    request.mutable_target()->set_cell("cell1");
    request.mutable_target()->set_topic("compute");
    request.set_method("echo");
    request.set_args_json(R"({"a": 1})");
    request.set_context_json(R"({"user_id": "u"})");
    return request;
  }

  static GatewayServer* server_;
  static client::CellgwClient* client_;
};

GatewayServer* CellGatewayServiceTest::server_ = nullptr;
client::CellgwClient* CellGatewayServiceTest::client_ = nullptr;

struct BadInput {
  std::string name;
  std::function<void(v1::CallRequest*)> mutate;
  std::string field;  // the error message must name it
};

TEST_F(CellGatewayServiceTest, BadInputIsRefusedWithInvalidArgumentNamingTheField) {
  const std::string b256(256, 'b');
  const std::string e_acute_128 = [] {
    std::string s;
    for (int i = 0; i < 128; ++i) s += "\xc3\xa9";  // 128 characters, 256 bytes
    return s;
  }();
  const std::vector<BadInput> cases = {
      {"args not JSON", [](auto* r) { r->set_args_json("{\"a\": "); }, "args_json"},
      {"args an array", [](auto* r) { r->set_args_json("[1, 2]"); }, "args_json"},
      {"args a string", [](auto* r) { r->set_args_json("\"x\""); }, "args_json"},
      {"args trailing comma", [](auto* r) { r->set_args_json("{\"a\": 1,}"); }, "args_json"},
      {"context not JSON", [](auto* r) { r->set_context_json("{user}"); }, "context_json"},
      {"context a number", [](auto* r) { r->set_context_json("7"); }, "context_json"},
      {"empty topic", [](auto* r) { r->mutable_target()->set_topic(""); }, "target.topic"},
      {"empty method", [](auto* r) { r->set_method(""); }, "method"},
      {"topic over 255 bytes", [&](auto* r) { r->mutable_target()->set_topic(b256); },
       "target.topic"},
      {"topic over 255 bytes in 128 characters",
       [&](auto* r) { r->mutable_target()->set_topic(e_acute_128); }, "target.topic"},
      {"exchange over 255 bytes", [&](auto* r) { r->mutable_target()->set_exchange(b256); },
       "target.exchange"},
      {"server over 255 bytes", [&](auto* r) { r->mutable_target()->set_server(b256); },
       "target.server"},
      {"topic.server over 255 bytes",
       [&](auto* r) {
         r->mutable_target()->set_topic(std::string(200, 't'));
         r->mutable_target()->set_server(std::string(60, 's'));
       },
       "target.server"},
      {"version without minor", [](auto* r) { r->mutable_target()->set_version("1"); },
       "target.version"},
      {"version with letters", [](auto* r) { r->mutable_target()->set_version("1.x"); },
       "target.version"},
      {"version with four parts", [](auto* r) { r->mutable_target()->set_version("1.2.3.4"); },
       "target.version"},
      {"version with a sign", [](auto* r) { r->mutable_target()->set_version("-1.0"); },
       "target.version"},
      {"version with spaces", [](auto* r) { r->mutable_target()->set_version(" 1.0"); },
       "target.version"},
      {"negative timeout", [](auto* r) { r->mutable_timeout()->set_seconds(-1); }, "timeout"},
      {"negative nanos timeout", [](auto* r) { r->mutable_timeout()->set_nanos(-5); },
       "timeout"},
      {"invalid duration", [](auto* r) {
         r->mutable_timeout()->set_seconds(1);
         r->mutable_timeout()->set_nanos(-1);
       }, "timeout"},
      {"negative call monitor timeout",
       [](auto* r) { r->mutable_call_monitor_timeout()->set_seconds(-3); },
       "call_monitor_timeout"},
  };
  for (const BadInput& c : cases) {
    v1::CallRequest request = ValidCall();
    c.mutate(&request);
    grpc::Status status = Call(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(status.error_message(), HasSubstr(c.field)) << c.name;
  }
}

TEST_F(CellGatewayServiceTest, FanoutNameOver255BytesIsRefusedNamingTheTopic) {
  v1::FanoutRequest request;
  request.mutable_target()->set_topic(std::string(250, 'f'));  // + "_fanout" = 257 bytes
  request.set_method("note");
  v1::FanoutResponse response;
  grpc::Status status = client_->Fanout(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("target.topic"));
}

TEST_F(CellGatewayServiceTest, CastBadArgsIsRefusedNamingTheField) {
  v1::CastRequest request;
  request.mutable_target()->set_topic("compute");
  request.set_method("note");
  request.set_args_json("not json");
  v1::CastResponse response;
  grpc::Status status = client_->Cast(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("args_json"));
}

TEST_F(CellGatewayServiceTest, MessageOverMaxMessageBytesIsResourceExhaustedBeforeSending) {
  v1::CallRequest request = ValidCall();
  request.set_args_json(absl::StrCat(R"({"blob": ")", std::string(4096, 'x'), R"("})"));
  grpc::Status status = Call(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("max_message_bytes"));
}

TEST_F(CellGatewayServiceTest, UnknownCellIsNotFound) {
  v1::CallRequest request = ValidCall();
  request.mutable_target()->set_cell("cell9");
  grpc::Status status = Call(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("cell9"));
}

TEST_F(CellGatewayServiceTest, ValidRequestWhileTheBrokerIsDownFailsFastWithUnavailable) {
  const absl::Time start = absl::Now();
  grpc::Status status = Call(ValidCall());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // The password never leaks into errors.
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("s3cr3t")));
}

TEST_F(CellGatewayServiceTest, ListCellsRedactsThePasswordAndShowsDisconnected) {
  v1::ListCellsResponse response;
  ASSERT_TRUE(client_->ListCells(&response).ok());
  ASSERT_EQ(response.cells_size(), 1);
  EXPECT_EQ(response.cells(0).name(), "cell1");
  EXPECT_FALSE(response.cells(0).connected());
  EXPECT_EQ(response.cells(0).transport_url(), "rabbit://guest:***@127.0.0.1:1/");
  EXPECT_EQ(response.cells(0).control_exchange(), "nova");
}

TEST_F(CellGatewayServiceTest, MetricsCountRequestsByKindCellAndCode) {
  v1::CallRequest request = ValidCall();
  request.mutable_target()->set_cell("no-such-cell-label");
  Call(request);
  const std::string scrape = server_->metrics().Scrape();
  EXPECT_THAT(scrape, HasSubstr(R"(cellgw_requests_total{cell="unknown",code="NOT_FOUND",kind="call"})"));
  // A caller-chosen cell name never becomes a label value.
  EXPECT_THAT(scrape, ::testing::Not(HasSubstr("no-such-cell-label")));
}

TEST_F(CellGatewayServiceTest, WithLogLevelWarningFailedRequestsAreStillLogged) {
  SetLogLevel(LogLevel::kWarning);
  CapturedStderr stderr_capture;
  v1::ListCellsResponse cells;
  ASSERT_TRUE(client_->ListCells(&cells).ok());  // OK: an info line, not written
  v1::CallRequest request = ValidCall();
  request.set_method("");
  EXPECT_EQ(Call(request).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::vector<std::string> lines = stderr_capture.RequestLines();
  SetLogLevel(LogLevel::kInfo);
  ASSERT_EQ(lines.size(), 1u) << absl::StrJoin(lines, "\n");
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(lines[0], HasSubstr("\"outcome\":\"INVALID_ARGUMENT\""));
  EXPECT_THAT(lines[0], HasSubstr("\"kind\":\"call\""));
}

TEST_F(CellGatewayServiceTest, AnOversizedFieldIsLoggedCutShort) {
  CapturedStderr stderr_capture;
  v1::CallRequest request = ValidCall();
  request.set_method(std::string(60000, 'm'));
  const grpc::Status status = Call(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "method: is 60000 bytes long; the limit is 255");
  const std::vector<std::string> lines = stderr_capture.RequestLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(lines[0].size(), 1024u);
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat("\"method\":\"", std::string(256, 'm'),
                                               "...[60000 bytes]\"")));
}

TEST_F(CellGatewayServiceTest, ARequestOverTheReceiveLimitIsRefusedByGrpcBeforeTheService) {
  // The cell's max_message_bytes is 2048: gRPC reads at most 2048 + 64 KiB.
  CapturedStderr stderr_capture;
  v1::CallRequest request = ValidCall();
  request.set_args_json(absl::StrCat(R"({"blob": ")", std::string(2048 + (64 << 10), 'x'),
                                     R"("})"));
  const grpc::Status status = Call(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
  // The service never saw it: no request line, and not counted as a call.
  EXPECT_TRUE(stderr_capture.RequestLines().empty());
}

// A gateway whose callers need a token: bounds are still checked first.
TEST(CellGatewayServiceOrderTest, BoundsAreCheckedBeforeAuthenticationAndGlobMatching) {
  GatewayConfig config;
  config.listen = "127.0.0.1:0";
  bridge::CellOptions cell;
  cell.name = "cell1";
  cell.transport_url = "rabbit://guest:guest@127.0.0.1:1/";
  config.cells.push_back(cell);
  SecurityConfig security;
  security.enabled = true;
  security.tokens_file = "tokens";  // only its being set matters here
  security.tokens = *TokenAuthenticator::Parse("scheduler sched-TOKEN-0123456789abcdef\n");
  Grant grant;
  grant.identity = "scheduler";
  grant.cells = grant.topics = grant.methods = {"*"};
  security.policy = {grant};
  auto server = GatewayServer::Start(config, security);
  ASSERT_TRUE(server.ok()) << server.status();
  client::CellgwClient client =
      client::CellgwClient::Connect(absl::StrCat("127.0.0.1:", (*server)->port()));

  v1::CallRequest request;
  request.mutable_target()->set_topic(std::string(60000, 't'));
  request.set_method("echo");
  v1::CallResponse response;
  grpc::Status status = client.Call(request, &response, absl::Now() + absl::Seconds(10));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "target.topic: is 60000 bytes long; the limit is 255");

  // Within the bounds, the missing token is what counts.
  request.mutable_target()->set_topic("compute");
  status = client.Call(request, &response, absl::Now() + absl::Seconds(10));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  (*server)->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace cellgw::gateway
