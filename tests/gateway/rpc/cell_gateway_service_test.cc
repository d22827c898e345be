// The gRPC surface without a broker: bad input, unknown cells, and what happens while a
// cell's broker is unreachable. A real GatewayServer on loopback, a real gRPC client; the
// cell's transport URL points at a closed loopback port.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cellgw_client.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace cellgw::gateway
