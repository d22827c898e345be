// End-to-end security of the gRPC side: TLS, mutual TLS, bearer tokens and the policy, each
// allowed and refused, against a real RabbitMQ node and a real oslo.messaging server.
//
//   broker        one private node; cells "cell1" and "api" both use its vhost "/" with a
//                 user whose password is kBrokerPassword (so a leak can be looked for)
//   oslo server   topic "compute", server "host1", exchange "nova"
//   certificates  "trusted-ca" signs the gateway's certificate and the clients
//                 "CN=scheduler,O=cellgw test" and "CN=intruder,O=cellgw test"; "rogue-ca"
//                 signs another "CN=scheduler,O=cellgw test" that must not get in
//   tokens        scheduler, conductor (see kTokensFile)
//
// A refused request must not reach the broker: every refusal is checked against the
// gateway's cellgw_amqp_messages_published_total (unchanged) and, for the cases the server
// would otherwise have seen, against the oslo server's output (its marker never appears).
// The process's stderr (cellgw's JSON log) is captured to a file, so the last test can look
// for secrets in everything cellgw logged; the file is copied to stderr at the end.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "gateway/config/config.h"
#include "gateway/gateway_server.h"
#include "gateway/config/security_config.h"
#include "gtest/gtest.h"
#include "tests/security/test_pki.h"
#include "tests/support/oslo_process.h"
#include "tests/support/rabbitmq_node.h"
#include "tests/support/subprocess.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::testing {
namespace {

constexpr char kSchedulerToken[] = "sched-TOKEN-4f9cTz8u1mVb0kQ3q2w7";
constexpr char kConductorToken[] = "cond-TOKEN-Zx1c9vPq0LmN4rT7yU2w";
// Differs from kSchedulerToken in its last byte only.
constexpr char kWrongToken[] = "sched-TOKEN-4f9cTz8u1mVb0kQ3q2w8";
constexpr char kBrokerPassword[] = "Broker-Pa55-e8b1c0";
constexpr char kSchedulerSubject[] = "CN=scheduler,O=cellgw test";

std::string ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

struct ClientCredentials {
  bool tls = false;
  std::string root_ca_file;  // trusted by the client
  std::string cert_file;     // "" = no client certificate
  std::string key_file;
};

// What one request sends: the routing fields, the kind, the context and any authorization
// headers.
struct Attempt {
  std::string kind = "call";  // call | cast | fanout
  std::string cell = "cell1";
  std::string exchange;
  std::string topic = "compute";
  std::string method = "echo";
  std::vector<std::string> authorization;
  std::string server;
  std::string namespace_;
  std::string version;
  std::string context_json;
};

class GatewaySecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_path_ = new std::string(TestTmpDir() + "/cellgw_stderr.log");
    const int log_fd = open(log_path_->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    ASSERT_GE(log_fd, 0);
    saved_stderr_ = dup(2);
    dup2(log_fd, 2);
    close(log_fd);

    const std::string dir = TestTmpDir() + "/pki";
    absl::StatusOr<TestCa> trusted = TestCa::Create(dir, "trusted-ca");
    ASSERT_TRUE(trusted.ok()) << trusted.status();
    absl::StatusOr<TestCa> rogue = TestCa::Create(dir, "rogue-ca");
    ASSERT_TRUE(rogue.ok()) << rogue.status();
    pki_ = new Pki;
    pki_->ca = trusted->ca_file();
    pki_->rogue_ca = rogue->ca_file();
    pki_->server =
        *trusted->Issue("gateway", "/CN=cellgw gateway", {"DNS:localhost", "IP:127.0.0.1"});
    pki_->scheduler = *trusted->Issue("scheduler", "/O=cellgw test/CN=scheduler");
    pki_->intruder = *trusted->Issue("intruder", "/O=cellgw test/CN=intruder");
    pki_->rogue_scheduler = *rogue->Issue("scheduler", "/O=cellgw test/CN=scheduler");
    pki_->tokens = dir + "/tokens";
    ASSERT_TRUE(WriteFile(pki_->tokens,
                          absl::StrCat("# test tokens\nscheduler ", kSchedulerToken, "\nconductor ",
                                       kConductorToken, "\n"),
                          0600)
                    .ok());

    absl::StatusOr<std::unique_ptr<RabbitMqNode>> node = RabbitMqNode::Start(TestTmpDir() + "/rmq");
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = node->release();
    ASSERT_TRUE(node_->Ctl({"add_user", "cellgw", kBrokerPassword}).ok());
    ASSERT_TRUE(node_->Ctl({"set_permissions", "-p", "/", "cellgw", ".*", ".*", ".*"}).ok());

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
    delete pki_;
    pki_ = nullptr;
    if (saved_stderr_ >= 0) {
      dup2(saved_stderr_, 2);
      close(saved_stderr_);
      saved_stderr_ = -1;
      // Everything that went to stderr meanwhile (cellgw's log, sanitizer reports) belongs
      // in the test's log too.
      const std::string captured = ReadWholeFile(*log_path_);
      if (write(2, captured.data(), captured.size()) < 0) perror("stderr");
    }
    delete log_path_;
    log_path_ = nullptr;
  }

  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Seconds(5));
    gateway_.reset();
  }

  // The broker URL with the test user's credentials.
  static std::string BrokerUrl() {
    return absl::StrCat("rabbit://cellgw:", kBrokerPassword, "@127.0.0.1:", node_->amqp_port(),
                        "/");
  }

  // `yaml` with $CA, $CERT, $KEY and $TOKENS replaced by the suite's files.
  static std::string Expand(const std::string& yaml) {
    return absl::StrReplaceAll(yaml, {{"$CA", pki_->ca},
                                      {"$CERT", pki_->server.cert_file},
                                      {"$KEY", pki_->server.key_file},
                                      {"$TOKENS", pki_->tokens}});
  }

  // Starts a gateway for cells "cell1" and "api" (control exchange "nova") secured by the
  // `security:` YAML given, parsed by the real config code, and waits for its cells.
  void StartGateway(const std::string& security_yaml) {
    const YAML::Node root = YAML::Load(Expand(security_yaml));
    absl::StatusOr<gateway::SecurityConfig> security =
        gateway::ParseSecurityConfig(root["security"], "security");
    ASSERT_TRUE(security.ok()) << security.status();
    gateway::GatewayConfig config;
    config.listen = "127.0.0.1:0";
    for (const char* name : {"cell1", "api"}) {
      bridge::CellOptions cell;
      cell.name = name;
      cell.transport_url = BrokerUrl();
      cell.control_exchange = "nova";
      config.cells.push_back(cell);
    }
    absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
        gateway::GatewayServer::Start(config, *security);
    ASSERT_TRUE(server.ok()) << server.status();
    gateway_ = *std::move(server);
    ASSERT_TRUE(gateway_->WaitForCells(absl::Seconds(30)));
  }

  std::unique_ptr<v1::CellGateway::Stub> Stub(const ClientCredentials& credentials) {
    std::shared_ptr<grpc::ChannelCredentials> channel_credentials =
        grpc::InsecureChannelCredentials();
    if (credentials.tls) {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = ReadWholeFile(credentials.root_ca_file);
      if (!credentials.cert_file.empty()) {
        options.pem_cert_chain = ReadWholeFile(credentials.cert_file);
        options.pem_private_key = ReadWholeFile(credentials.key_file);
      }
      channel_credentials = grpc::SslCredentials(options);
    }
    grpc::ChannelArguments arguments;
    // A connection of its own: no reuse of another test's handshake.
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::CellGateway::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", gateway_->port()), channel_credentials, arguments));
  }

  static ClientCredentials Plaintext() { return {}; }
  static ClientCredentials Tls() { return {true, pki_->ca, "", ""}; }
  static ClientCredentials TlsWith(const IssuedCertificate& certificate) {
    return {true, pki_->ca, certificate.cert_file, certificate.key_file};
  }

  // Sends `attempt` with a fresh marker in its kwargs; the marker is returned in `marker`,
  // a call's result_json in `result` (when not null).
  grpc::Status Send(v1::CellGateway::Stub& stub, const Attempt& attempt, std::string* marker,
                    std::string* result = nullptr) {
    *marker = absl::StrCat("m-", NewUuidHex().substr(0, 16));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    for (const std::string& value : attempt.authorization) {
      context.AddMetadata("authorization", value);
    }
    v1::Target target;
    target.set_cell(attempt.cell);
    target.set_exchange(attempt.exchange);
    target.set_topic(attempt.topic);
    target.set_server(attempt.server);
    target.set_namespace_(attempt.namespace_);
    target.set_version(attempt.version);
    // ns_only (namespace "admin") takes no arguments.
    const std::string args =
        attempt.method == "ns_only" ? "{}" : absl::StrCat(R"({"marker": ")", *marker, R"("})");
    grpc::Status status;
    if (attempt.kind == "call") {
      v1::CallRequest request;
      *request.mutable_target() = target;
      request.set_method(attempt.method);
      request.set_args_json(args);
      request.set_context_json(attempt.context_json);
      v1::CallResponse response;
      status = stub.Call(&context, request, &response);
      if (result != nullptr) *result = response.result_json();
    } else if (attempt.kind == "cast") {
      v1::CastRequest request;
      *request.mutable_target() = target;
      request.set_method(attempt.method);
      request.set_args_json(args);
      request.set_context_json(attempt.context_json);
      v1::CastResponse response;
      status = stub.Cast(&context, request, &response);
    } else {
      v1::FanoutRequest request;
      *request.mutable_target() = target;
      request.set_method(attempt.method);
      request.set_args_json(args);
      request.set_context_json(attempt.context_json);
      v1::FanoutResponse response;
      status = stub.Fanout(&context, request, &response);
    }
    errors_.push_back(status.error_message());
    return status;
  }

  grpc::Status ListCells(v1::CellGateway::Stub& stub, const std::vector<std::string>& auth,
                         v1::ListCellsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    for (const std::string& value : auth) context.AddMetadata("authorization", value);
    grpc::Status status = stub.ListCells(&context, v1::ListCellsRequest(), response);
    errors_.push_back(status.error_message());
    return status;
  }

  // Sum of cellgw_amqp_messages_published_total over the cells.
  int64_t Published() {
    int64_t total = 0;
    for (absl::string_view line : absl::StrSplit(gateway_->metrics().Scrape(), '\n')) {
      if (!absl::StartsWith(line, "cellgw_amqp_messages_published_total{")) continue;
      double value = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
        total += static_cast<int64_t>(value);
      }
    }
    return total;
  }

  // Waits until the oslo server reports an invocation carrying `marker`.
  void ExpectServerSaw(const std::string& marker) {
    absl::StatusOr<std::string> line = oslo_->WaitForLine(
        [&](const std::string& l) { return absl::StrContains(l, marker); }, absl::Seconds(20));
    EXPECT_TRUE(line.ok()) << "the oslo server never saw " << marker << ": " << line.status();
  }

  // True when the oslo server has printed `marker` so far.
  static bool ServerHasSeen(const std::string& marker) {
    for (const std::string& line : oslo_->Lines()) {
      if (absl::StrContains(line, marker)) return true;
    }
    return false;
  }

  // Sends `attempt` and expects `code`; for a refusal, that nothing was published and, once
  // a later allowed request has reached the server, that the refused one never did.
  void ExpectRefused(v1::CellGateway::Stub& stub, const Attempt& attempt, grpc::StatusCode code,
                     const std::string& description) {
    const int64_t published = Published();
    std::string marker;
    const grpc::Status status = Send(stub, attempt, &marker);
    EXPECT_EQ(status.error_code(), code) << description << ": " << status.error_message();
    EXPECT_EQ(Published(), published) << description << ": a refused request was published";
    refused_markers_.push_back(marker);
  }

  // Checks that no refused marker reached the oslo server, after an allowed call (sent with
  // `stub` and `authorization`, to `server` when not empty) has made the round trip through
  // the same queue.
  void ExpectNoRefusedRequestReachedTheServer(v1::CellGateway::Stub& stub,
                                              const std::vector<std::string>& authorization,
                                              const std::string& server = "") {
    Attempt sentinel;
    sentinel.authorization = authorization;
    sentinel.server = server;
    std::string marker;
    const grpc::Status status = Send(stub, sentinel, &marker);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectServerSaw(marker);
    for (const std::string& refused : refused_markers_) {
      EXPECT_FALSE(ServerHasSeen(refused)) << refused << " reached the oslo server";
    }
  }

  struct Pki {
    std::string ca;
    std::string rogue_ca;
    IssuedCertificate server;
    IssuedCertificate scheduler;
    IssuedCertificate intruder;
    IssuedCertificate rogue_scheduler;
    std::string tokens;
  };

  static Pki* pki_;
  static RabbitMqNode* node_;
  static OsloProcess* oslo_;
  static std::string* log_path_;
  static int saved_stderr_;
  std::unique_ptr<gateway::GatewayServer> gateway_;
  std::vector<std::string> errors_;  // every error message a client received
  std::vector<std::string> refused_markers_;
};

GatewaySecurityTest::Pki* GatewaySecurityTest::pki_ = nullptr;
RabbitMqNode* GatewaySecurityTest::node_ = nullptr;
OsloProcess* GatewaySecurityTest::oslo_ = nullptr;
std::string* GatewaySecurityTest::log_path_ = nullptr;
int GatewaySecurityTest::saved_stderr_ = -1;

const std::vector<std::string> kScheduler = {absl::StrCat("Bearer ", kSchedulerToken)};
const std::vector<std::string> kConductor = {absl::StrCat("Bearer ", kConductorToken)};

// scheduler: calls and casts of echo/note* on compute in cell*; conductor: conductor only.
constexpr char kTokenPolicy[] = R"(
  tokens_file: $TOKENS
  policy:
    - identity: scheduler
      cells: ["cell*"]
      topics: [compute]
      methods: [echo, "no*"]
      kinds: [call, cast]
    - identity: conductor
      cells: ["*"]
      topics: [conductor]
      methods: ["*"]
)";

TEST_F(GatewaySecurityTest, TlsServesClientsThatTrustItsCa) {
  StartGateway(
      absl::StrCat("security:\n  tls: {cert_file: $CERT, key_file: $KEY}\n", kTokenPolicy));
  auto stub = Stub(Tls());
  Attempt attempt;
  attempt.authorization = kScheduler;
  std::string marker;
  const grpc::Status status = Send(*stub, attempt, &marker);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectServerSaw(marker);
}

TEST_F(GatewaySecurityTest, TlsRefusesPlaintextClientsAndClientsTrustingAnotherCa) {
  StartGateway(
      absl::StrCat("security:\n  tls: {cert_file: $CERT, key_file: $KEY}\n", kTokenPolicy));
  Attempt attempt;
  attempt.authorization = kScheduler;
  auto plaintext = Stub(Plaintext());
  ExpectRefused(*plaintext, attempt, grpc::StatusCode::UNAVAILABLE, "plaintext client");
  auto rogue = Stub({true, pki_->rogue_ca, "", ""});
  ExpectRefused(*rogue, attempt, grpc::StatusCode::UNAVAILABLE, "client trusting rogue CA");
  auto good = Stub(Tls());
  ExpectNoRefusedRequestReachedTheServer(*good, kScheduler);
}

constexpr char kMutualTls[] = R"(security:
  tls: {cert_file: $CERT, key_file: $KEY, client_ca_file: $CA}
  policy:
    - subject: "CN=scheduler,O=cellgw test"
      cells: ["cell*"]
      topics: [compute]
      methods: [echo]
)";

TEST_F(GatewaySecurityTest, MutualTlsServesACertificateOfTheClientCaWithAGrant) {
  StartGateway(kMutualTls);
  auto stub = Stub(TlsWith(pki_->scheduler));
  std::string marker;
  const grpc::Status status = Send(*stub, Attempt(), &marker);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectServerSaw(marker);
  v1::ListCellsResponse cells;
  EXPECT_TRUE(ListCells(*stub, {}, &cells).ok());
  EXPECT_EQ(cells.cells_size(), 2);
}

TEST_F(GatewaySecurityTest, MutualTlsRefusesClientsWithoutATrustedCertificate) {
  StartGateway(kMutualTls);
  auto no_certificate = Stub(Tls());
  ExpectRefused(*no_certificate, Attempt(), grpc::StatusCode::UNAVAILABLE, "no certificate");
  // Same subject, other CA: the handshake fails before the subject is looked at.
  auto rogue = Stub(TlsWith(pki_->rogue_scheduler));
  ExpectRefused(*rogue, Attempt(), grpc::StatusCode::UNAVAILABLE, "rogue CA certificate");
  auto good = Stub(TlsWith(pki_->scheduler));
  ExpectNoRefusedRequestReachedTheServer(*good, {});
}

TEST_F(GatewaySecurityTest, MutualTlsSubjectWithoutAGrantIsDeniedButMayListCells) {
  StartGateway(kMutualTls);
  auto intruder = Stub(TlsWith(pki_->intruder));
  ExpectRefused(*intruder, Attempt(), grpc::StatusCode::PERMISSION_DENIED, "intruder call");
  EXPECT_EQ(errors_.back(),
            "cert:CN=intruder,O=cellgw test may not call method 'echo' on topic 'compute', "
            "exchange (the control exchange), cell 'cell1'");
  v1::ListCellsResponse cells;
  EXPECT_TRUE(ListCells(*intruder, {}, &cells).ok());
  auto good = Stub(TlsWith(pki_->scheduler));
  ExpectNoRefusedRequestReachedTheServer(*good, {});
}

TEST_F(GatewaySecurityTest, OptionalClientCertificatesLetTokenCallersIn) {
  StartGateway(
      absl::StrCat("security:\n  tls: {cert_file: $CERT, key_file: $KEY, client_ca_file: $CA, "
                   "require_client_cert: false}\n",
                   kTokenPolicy, R"(    - subject: "CN=scheduler,O=cellgw test"
      cells: ["cell*"]
      topics: [compute]
      methods: [echo]
)"));
  auto no_certificate = Stub(Tls());
  Attempt with_token;
  with_token.authorization = kScheduler;
  std::string marker;
  grpc::Status status = Send(*no_certificate, with_token, &marker);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ExpectServerSaw(marker);

  auto with_certificate = Stub(TlsWith(pki_->scheduler));
  status = Send(*with_certificate, Attempt(), &marker);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ExpectServerSaw(marker);

  ExpectRefused(*no_certificate, Attempt(), grpc::StatusCode::UNAUTHENTICATED,
                "neither certificate nor token");
  EXPECT_EQ(errors_.back(),
            "no credentials: send \"authorization: Bearer <token>\" metadata or connect with a "
            "client certificate");
  // A token, when sent, decides even with a certificate: conductor may not call compute.
  Attempt conductor;
  conductor.authorization = kConductor;
  ExpectRefused(*with_certificate, conductor, grpc::StatusCode::PERMISSION_DENIED,
                "conductor token over scheduler certificate");
  ExpectNoRefusedRequestReachedTheServer(*with_certificate, {});
}

struct TokenCase {
  std::string description;
  std::vector<std::string> authorization;
  grpc::StatusCode code;
  std::string error;
};

TEST_F(GatewaySecurityTest, BearerTokensAllowedAndRefused) {
  StartGateway(absl::StrCat("security:", kTokenPolicy));
  auto stub = Stub(Plaintext());
  const std::vector<TokenCase> refused = {
      {"no token",
       {},
       grpc::StatusCode::UNAUTHENTICATED,
       "no credentials: send \"authorization: Bearer <token>\" metadata"},
      {"unknown token",
       {absl::StrCat("Bearer ", kWrongToken)},
       grpc::StatusCode::UNAUTHENTICATED,
       "the bearer token is not valid"},
      {"another scheme",
       {absl::StrCat("Basic ", kSchedulerToken)},
       grpc::StatusCode::UNAUTHENTICATED,
       "authorization metadata must be \"Bearer <token>\""},
      {"token without scheme",
       {kSchedulerToken},
       grpc::StatusCode::UNAUTHENTICATED,
       "authorization metadata must be \"Bearer <token>\""},
      {"two tokens",
       {kScheduler[0], kScheduler[0]},
       grpc::StatusCode::UNAUTHENTICATED,
       "more than one authorization metadata entry"},
  };
  for (const TokenCase& c : refused) {
    Attempt attempt;
    attempt.authorization = c.authorization;
    ExpectRefused(*stub, attempt, c.code, c.description);
    EXPECT_EQ(errors_.back(), c.error) << c.description;
  }
  v1::ListCellsResponse cells;
  EXPECT_EQ(ListCells(*stub, {}, &cells).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListCells(*stub, kConductor, &cells).ok());

  Attempt allowed;
  allowed.authorization = {absl::StrCat("bearer   ", kSchedulerToken)};  // any case, spaces
  std::string marker;
  const grpc::Status status = Send(*stub, allowed, &marker);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ExpectServerSaw(marker);
  ExpectNoRefusedRequestReachedTheServer(*stub, kScheduler);
}

struct PolicyCase {
  std::string description;
  Attempt attempt;
  bool allowed;
};

Attempt Make(const std::string& kind, const std::string& cell, const std::string& exchange,
             const std::string& topic, const std::string& method,
             const std::vector<std::string>& authorization) {
  Attempt attempt;
  attempt.kind = kind;
  attempt.cell = cell;
  attempt.exchange = exchange;
  attempt.topic = topic;
  attempt.method = method;
  attempt.authorization = authorization;
  return attempt;
}

TEST_F(GatewaySecurityTest, PolicyAllowsGrantedRequestsOnlyAndRefusalsNeverReachTheBroker) {
  StartGateway(absl::StrCat("security:", kTokenPolicy));
  auto stub = Stub(Plaintext());
  const std::vector<PolicyCase> cases = {
      {"granted call", Make("call", "cell1", "", "compute", "echo", kScheduler), true},
      {"granted cast by pattern", Make("cast", "cell1", "", "compute", "note", kScheduler), true},
      {"control exchange named", Make("call", "cell1", "nova", "compute", "echo", kScheduler),
       true},
      {"method not granted", Make("call", "cell1", "", "compute", "big", kScheduler), false},
      {"kind not granted", Make("fanout", "cell1", "", "compute", "note", kScheduler), false},
      {"topic not granted", Make("call", "cell1", "", "scheduler", "echo", kScheduler), false},
      {"cell not granted", Make("call", "api", "", "compute", "echo", kScheduler), false},
      {"exchange not granted", Make("call", "cell1", "neutron", "compute", "echo", kScheduler),
       false},
      {"other identity's grant", Make("call", "cell1", "", "compute", "echo", kConductor), false},
  };
  for (const PolicyCase& c : cases) {
    if (c.allowed) {
      std::string marker;
      const grpc::Status status = Send(*stub, c.attempt, &marker);
      EXPECT_TRUE(status.ok()) << c.description << ": " << status.error_message();
      ExpectServerSaw(marker);
    } else {
      ExpectRefused(*stub, c.attempt, grpc::StatusCode::PERMISSION_DENIED, c.description);
    }
  }
  ExpectNoRefusedRequestReachedTheServer(*stub, kScheduler);
}

// scheduler: compute on host1 only, default namespace only, with context rules; conductor:
// the "admin" namespace's ns_only on any server.
constexpr char kContextPolicy[] = R"(security:
  tokens_file: $TOKENS
  policy:
    - identity: scheduler
      cells: ["*"]
      topics: [compute]
      methods: [echo, note]
      servers: [host1]
      namespaces: [""]
      context_deny: [is_admin, "role*"]
      context_set:
        user_id: "{identity}"
        via: "cellgw {caller}"
    - identity: conductor
      cells: ["*"]
      topics: [compute]
      methods: [ns_only]
      servers: ["*"]
      namespaces: [admin]
)";

// A call within scheduler's grant of kContextPolicy.
Attempt SchedulerOnHost1() {
  Attempt attempt;
  attempt.authorization = kScheduler;
  attempt.server = "host1";
  return attempt;
}

TEST_F(GatewaySecurityTest, ContextSetOverridesWhatARealOsloServerReceives) {
  StartGateway(kContextPolicy);
  auto stub = Stub(Plaintext());
  Attempt attempt = SchedulerOnHost1();
  attempt.context_json = R"({"user_id": "root", "tenant": "t1", "user_id": "admin"})";
  std::string marker;
  std::string result;
  const grpc::Status status = Send(*stub, attempt, &marker, &result);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // What oslo.messaging handed the endpoint, as the server printed it (sort_keys).
  absl::StatusOr<std::string> line = oslo_->WaitForLine(
      [&](const std::string& l) { return absl::StrContains(l, marker); }, absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(absl::StrContains(*line, R"("tenant": "t1")")) << *line;
  EXPECT_TRUE(absl::StrContains(*line, R"("user_id": "scheduler")")) << *line;
  EXPECT_TRUE(absl::StrContains(*line, R"("via": "cellgw token:scheduler")")) << *line;
  EXPECT_FALSE(absl::StrContains(*line, "root")) << *line;
  EXPECT_FALSE(absl::StrContains(*line, R"("user_id": "admin")")) << *line;
  // The echo method returns the context it got: the same, as the caller sees it.
  EXPECT_TRUE(absl::StrContains(result, R"("user_id": "scheduler")")) << result;
}

TEST_F(GatewaySecurityTest, ContextDenyRefusesTheKeyAndNothingIsSent) {
  StartGateway(kContextPolicy);
  auto stub = Stub(Plaintext());
  for (const char* context :
       {R"({"is_admin": true})", R"({"tenant": "t", "roles": ["admin"]})",
        R"({"is_admin": true})"}) {
    for (const char* kind : {"call", "cast"}) {
      Attempt attempt = SchedulerOnHost1();
      attempt.kind = kind;
      attempt.method = std::string(kind) == "cast" ? "note" : "echo";
      attempt.context_json = context;
      ExpectRefused(*stub, attempt, grpc::StatusCode::PERMISSION_DENIED, context);
      const std::string key = absl::StrContains(context, "roles") ? "roles" : "is_admin";
      EXPECT_EQ(errors_.back(), absl::StrCat("context_json: token:scheduler may not set key '",
                                             key, "' (context_deny)"));
    }
  }
  ExpectNoRefusedRequestReachedTheServer(*stub, kScheduler, "host1");
}

TEST_F(GatewaySecurityTest, ServersAndNamespacesLimitWhereAGrantReaches) {
  StartGateway(kContextPolicy);
  auto stub = Stub(Plaintext());
  const Attempt on_host1 = SchedulerOnHost1();
  std::string marker;
  ASSERT_TRUE(Send(*stub, on_host1, &marker).ok()) << errors_.back();
  ExpectServerSaw(marker);

  Attempt other_server = on_host1;
  other_server.server = "host2";
  ExpectRefused(*stub, other_server, grpc::StatusCode::PERMISSION_DENIED, "server host2");
  EXPECT_EQ(errors_.back(),
            "token:scheduler may not call method 'echo' on topic 'compute', exchange (the "
            "control exchange), cell 'cell1', server 'host2'");
  Attempt any_server = on_host1;  // round robin could reach any server
  any_server.server = "";
  ExpectRefused(*stub, any_server, grpc::StatusCode::PERMISSION_DENIED, "no server");
  Attempt admin_namespace = on_host1;
  admin_namespace.namespace_ = "admin";
  ExpectRefused(*stub, admin_namespace, grpc::StatusCode::PERMISSION_DENIED, "namespace");

  // conductor's grant is for the admin namespace, whose endpoint answers.
  Attempt admin = on_host1;
  admin.authorization = kConductor;
  admin.method = "ns_only";
  admin.namespace_ = "admin";
  admin.version = "2.0";
  std::string result;
  const grpc::Status status = Send(*stub, admin, &marker, &result);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(result, R"("from admin namespace")");
  Attempt default_namespace = admin;
  default_namespace.namespace_ = "";
  ExpectRefused(*stub, default_namespace, grpc::StatusCode::PERMISSION_DENIED,
                "conductor outside its namespace");
  ExpectNoRefusedRequestReachedTheServer(*stub, kScheduler, "host1");
}

TEST_F(GatewaySecurityTest, NoSecretInLogsErrorsMetricsOrListCells) {
  StartGateway(
      absl::StrCat("security:\n  tls: {cert_file: $CERT, key_file: $KEY, "
                   "client_ca_file: $CA, require_client_cert: false}\n",
                   kTokenPolicy));
  auto stub = Stub(Tls());
  for (const std::vector<std::string>& authorization :
       {kScheduler, kConductor, std::vector<std::string>{absl::StrCat("Bearer ", kWrongToken)},
        std::vector<std::string>{absl::StrCat("Basic ", kSchedulerToken)},
        std::vector<std::string>{kSchedulerToken}}) {
    Attempt attempt;
    attempt.authorization = authorization;
    std::string marker;
    Send(*stub, attempt, &marker);
  }
  v1::ListCellsResponse cells;
  ASSERT_TRUE(ListCells(*stub, kScheduler, &cells).ok());
  ASSERT_EQ(cells.cells_size(), 2);
  EXPECT_EQ(cells.cells(0).transport_url(),
            absl::StrCat("rabbit://cellgw:***@127.0.0.1:", node_->amqp_port(), "/"));
  const std::string metrics = gateway_->metrics().Scrape();
  gateway_->Shutdown(absl::Seconds(5));  // its last log lines too
  gateway_.reset();
  const std::string log = ReadWholeFile(*log_path_);
  ASSERT_TRUE(absl::StrContains(log, "\"caller\":\"token:scheduler\"")) << "log not captured";

  std::vector<std::string> secrets = {kSchedulerToken, kConductorToken, kWrongToken,
                                      kBrokerPassword};
  for (const std::string& path : {pki_->server.key_file, pki_->scheduler.key_file}) {
    for (absl::string_view line : absl::StrSplit(ReadWholeFile(path), '\n', absl::SkipEmpty())) {
      if (!absl::StartsWith(line, "-----")) secrets.emplace_back(line);
    }
  }
  std::string list_cells;
  for (const v1::CellInfo& cell : cells.cells()) list_cells += cell.DebugString();
  for (const std::string& secret : secrets) {
    EXPECT_FALSE(absl::StrContains(log, secret)) << "log holds a secret";
    EXPECT_FALSE(absl::StrContains(metrics, secret)) << "metrics hold a secret";
    EXPECT_FALSE(absl::StrContains(list_cells, secret)) << "ListCells holds a secret";
    for (const std::string& error : errors_) {
      EXPECT_FALSE(absl::StrContains(error, secret)) << "an error holds a secret: " << error;
    }
  }
}

TEST_F(GatewaySecurityTest, NotifyAndSubscribeNeedGrantsOfTheirOwnKinds) {
  // scheduler may notify and subscribe on "notifications"; conductor's grant (no kinds)
  // covers call, cast and fanout only, on every topic.
  StartGateway(R"(security:
  tokens_file: $TOKENS
  policy:
    - identity: scheduler
      cells: ["cell*"]
      topics: [notifications]
      kinds: [notify, subscribe]
    - identity: conductor
      cells: ["*"]
      topics: ["*"]
      methods: ["*"]
)");
  auto stub = Stub(Plaintext());
  const auto notify = [&](const std::vector<std::string>& auth, const std::string& topic) {
    grpc::ClientContext context;
    for (const std::string& value : auth) context.AddMetadata("authorization", value);
    v1::NotifyRequest request;
    request.set_cell("cell1");
    request.set_topic(topic);
    request.set_publisher_id("security.test");
    request.set_event_type("security.event");
    v1::NotifyResponse response;
    return stub->Notify(&context, request, &response);
  };
  EXPECT_TRUE(notify(kScheduler, "").ok());  // "" is "notifications"
  EXPECT_EQ(notify(kScheduler, "audit_log").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(notify(kConductor, "").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(notify({}, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // A subscription is authorised for each of its topics before anything is declared.
  const auto subscribe = [&](const std::vector<std::string>& auth,
                             const std::vector<std::string>& topics, bool* live) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    for (const std::string& value : auth) context.AddMetadata("authorization", value);
    auto stream = stub->Subscribe(&context);
    v1::SubscribeRequest request;
    request.set_cell("cell1");
    for (const std::string& topic : topics) request.add_topics(topic);
    stream->Write(request);
    stream->WaitForInitialMetadata();
    *live = context.GetServerInitialMetadata().count("x-cellgw-subscription") > 0;
    stream->WritesDone();
    v1::Notification ignored;
    while (stream->Read(&ignored)) {
    }
    return stream->Finish();
  };
  bool live = false;
  EXPECT_TRUE(subscribe(kScheduler, {"notifications"}, &live).ok());
  EXPECT_TRUE(live);
  grpc::Status status = subscribe(kScheduler, {"notifications", "audit_log"}, &live);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_FALSE(live);
  EXPECT_EQ(subscribe(kConductor, {}, &live).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(subscribe({}, {}, &live).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Refused subscriptions declared nothing: only the granted one's queues exist.
  absl::StatusOr<std::string> queues = node_->Ctl({"list_queues", "name"});
  ASSERT_TRUE(queues.ok()) << queues.status();
  EXPECT_EQ(queues->find("audit_log."), std::string::npos) << *queues;
}

}  // namespace
}  // namespace cellgw::testing
