// TLS to brokers (amqps): a private RabbitMQ node with a TLS listener that requires client
// certificates, a real oslo.messaging server on the node's plain listener, and gateways
// whose cell reaches the node over TLS with the right CA, another CA, a host name the
// certificate does not name, or no client certificate. Only the first may connect; the others
// leave the cell disconnected and requests fail with UNAVAILABLE.
//
//   broker-ca   signs the node's certificate (DNS:localhost only) and the gateway's client
//               certificate; the node trusts it for client certificates
//   rogue-ca    signs nothing the node uses
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gateway/config/config.h"
#include "gateway/gateway_server.h"
#include "gtest/gtest.h"
#include "tests/security/test_pki.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/subprocess.h"

namespace cellgw::testing {
namespace {

constexpr char kBrokerPassword[] = "Amqps-Pa55-7d21f9";

class AmqpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = TestTmpDir() + "/pki";
    absl::StatusOr<TestCa> broker_ca = TestCa::Create(dir, "broker-ca");
    ASSERT_TRUE(broker_ca.ok()) << broker_ca.status();
    absl::StatusOr<TestCa> rogue_ca = TestCa::Create(dir, "rogue-ca");
    ASSERT_TRUE(rogue_ca.ok()) << rogue_ca.status();
    files_ = new Files;
    files_->ca = broker_ca->ca_file();
    files_->rogue_ca = rogue_ca->ca_file();
    absl::StatusOr<IssuedCertificate> broker =
        broker_ca->Issue("broker", "/CN=localhost", {"DNS:localhost"});
    ASSERT_TRUE(broker.ok()) << broker.status();
    absl::StatusOr<IssuedCertificate> client =
        broker_ca->Issue("gateway", "/O=cellgw test/CN=cellgw");
    ASSERT_TRUE(client.ok()) << client.status();
    files_->client = *client;

    RabbitMqTlsOptions tls;
    tls.ca_file = files_->ca;
    tls.cert_file = broker->cert_file;
    tls.key_file = broker->key_file;
    tls.require_client_cert = true;
    absl::StatusOr<std::unique_ptr<RabbitMqNode>> node =
        RabbitMqNode::Start(TestTmpDir() + "/rmq", tls);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    ASSERT_GT(node_->amqps_port(), 0);
    ASSERT_TRUE(node_->Ctl({"add_user", "cellgw", kBrokerPassword}).ok());
    ASSERT_TRUE(node_->Ctl({"set_permissions", "-p", "/", "cellgw", ".*", ".*", ".*"}).ok());

    // The plain listener: only the gateway uses TLS.
    const OsloServerOptions options = ComputeServer(node_->Url());
    absl::StatusOr<std::unique_ptr<OsloProcess>> server = OsloProcess::StartServer(options);
    ASSERT_TRUE(server.ok()) << server.status();
    oslo_ = server->release();
  }

  static void TearDownTestSuite() {
    delete oslo_;
    oslo_ = nullptr;
    delete node_;
    node_ = nullptr;
    delete files_;
    files_ = nullptr;
  }

  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Seconds(5));
  }

  // A cell "cell1" on the node's TLS listener at `host`, verified with `ca_file`, with the
  // gateway's client certificate when `client_certificate`.
  static bridge::CellOptions TlsCell(const std::string& host, const std::string& ca_file,
                                     bool client_certificate) {
    bridge::CellOptions cell;
    cell.name = "cell1";
    cell.transport_url =
        absl::StrCat("rabbit://cellgw:", kBrokerPassword, "@", host, ":", node_->amqps_port(), "/");
    cell.control_exchange = "nova";
    cell.ssl = true;
    cell.ssl_ca_file = ca_file;
    if (client_certificate) {
      cell.ssl_cert_file = files_->client.cert_file;
      cell.ssl_key_file = files_->client.key_file;
    }
    return cell;
  }

  // Starts a gateway (plaintext gRPC on loopback) for `cell`; returns whether the cell's
  // first connection attempt succeeded.
  bool StartGateway(const bridge::CellOptions& cell) {
    gateway::GatewayConfig config;
    config.listen = "127.0.0.1:0";
    config.cells = {cell};
    absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
        gateway::GatewayServer::Start(config);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return false;
    gateway_ = *std::move(server);
    stub_ = v1::CellGateway::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", gateway_->port()), grpc::InsecureChannelCredentials()));
    return gateway_->WaitForCells(absl::Seconds(30));
  }

  grpc::Status CallEcho(std::string* marker) {
    *marker = absl::StrCat("m-", NewUuidHex().substr(0, 16));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::CallRequest request;
    request.mutable_target()->set_cell("cell1");
    request.mutable_target()->set_topic("compute");
    request.set_method("echo");
    request.set_args_json(absl::StrCat(R"({"marker": ")", *marker, R"("})"));
    v1::CallResponse response;
    return stub_->Call(&context, request, &response);
  }

  v1::CellInfo OnlyCell() {
    grpc::ClientContext context;
    v1::ListCellsResponse response;
    const grpc::Status status = stub_->ListCells(&context, v1::ListCellsRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.cells_size(), 1);
    return response.cells_size() == 1 ? response.cells(0) : v1::CellInfo();
  }

  // A refused broker: the cell stays disconnected and a call fails at once with UNAVAILABLE
  // without reaching the oslo server.
  void ExpectRefusedBroker(const bridge::CellOptions& cell) {
    EXPECT_FALSE(StartGateway(cell));
    EXPECT_FALSE(OnlyCell().connected());
    std::string marker;
    const grpc::Status status = CallEcho(&marker);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_FALSE(absl::StrContains(status.error_message(), kBrokerPassword));
    for (const std::string& line : oslo_->Lines()) {
      EXPECT_FALSE(absl::StrContains(line, marker));
    }
  }

  struct Files {
    std::string ca;
    std::string rogue_ca;
    IssuedCertificate client;
  };
  static Files* files_;
  static RabbitMqNode* node_;
  static OsloProcess* oslo_;
  std::unique_ptr<gateway::GatewayServer> gateway_;
  std::unique_ptr<v1::CellGateway::Stub> stub_;
};

AmqpsTest::Files* AmqpsTest::files_ = nullptr;
RabbitMqNode* AmqpsTest::node_ = nullptr;
OsloProcess* AmqpsTest::oslo_ = nullptr;

TEST_F(AmqpsTest, ConnectsOverTlsWithTheRightCaAndClientCertificate) {
  ASSERT_TRUE(StartGateway(TlsCell("localhost", files_->ca, /*client_certificate=*/true)));
  const v1::CellInfo cell = OnlyCell();
  EXPECT_TRUE(cell.connected());
  EXPECT_EQ(cell.transport_url(),
            absl::StrCat("rabbit://cellgw:***@localhost:", node_->amqps_port(), "/"));
  std::string marker;
  const grpc::Status status = CallEcho(&marker);
  ASSERT_TRUE(status.ok()) << status.error_message();
  absl::StatusOr<std::string> seen = oslo_->WaitForLine(
      [&](const std::string& line) { return absl::StrContains(line, marker); }, absl::Seconds(20));
  EXPECT_TRUE(seen.ok()) << seen.status();

  // The broker's view: the gateway's connection is a TLS one, on the TLS port.
  absl::StatusOr<std::string> connections =
      node_->Ctl({"list_connections", "client_properties", "ssl", "port"});
  ASSERT_TRUE(connections.ok()) << connections.status();
  bool found = false;
  for (absl::string_view line : absl::StrSplit(*connections, '\n')) {
    if (!absl::StrContains(line, "cellgw:")) continue;
    found = true;
    EXPECT_TRUE(absl::StrContains(line, "\ttrue\t")) << line;
    EXPECT_TRUE(absl::EndsWith(line, absl::StrCat("\t", node_->amqps_port()))) << line;
  }
  EXPECT_TRUE(found) << *connections;
}

TEST_F(AmqpsTest, RefusesABrokerCertificateFromAnotherCa) {
  ExpectRefusedBroker(TlsCell("localhost", files_->rogue_ca, /*client_certificate=*/true));
}

TEST_F(AmqpsTest, RefusesABrokerCertificateThatDoesNotNameTheHost) {
  // The certificate names "localhost" only.
  ExpectRefusedBroker(TlsCell("127.0.0.1", files_->ca, /*client_certificate=*/true));
}

TEST_F(AmqpsTest, BrokerRequiringAClientCertificateRefusesAGatewayWithoutOne) {
  ExpectRefusedBroker(TlsCell("localhost", files_->ca, /*client_certificate=*/false));
}

TEST_F(AmqpsTest, PlainAmqpToTheTlsPortDoesNotConnect) {
  bridge::CellOptions cell = TlsCell("localhost", "", /*client_certificate=*/false);
  cell.ssl = false;
  ExpectRefusedBroker(cell);
}

TEST_F(AmqpsTest, TlsWithoutACaFileIsRefusedAtStart) {
  bridge::CellOptions cell = TlsCell("localhost", "", /*client_certificate=*/false);
  gateway::GatewayConfig config;
  config.listen = "127.0.0.1:0";
  config.cells = {cell};
  absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
      gateway::GatewayServer::Start(config);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message(),
            "cells[cell1].ssl_ca_file: required with ssl (the broker's certificate is always "
            "verified)");
}

}  // namespace
}  // namespace cellgw::testing
