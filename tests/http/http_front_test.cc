// The HTTP/JSON front (gateway/http/http_front) inside a real GatewayServer, without a
// broker: the cell's transport URL points at a closed loopback port, so every request that
// passes authentication and validation ends with UNAVAILABLE (503) in the bridge. Requests
// are raw HTTP/1.1 sent with civetweb's client (mg_download), so bodies, headers and
// framing are exactly what each test writes.
#include "gateway/http/http_front.h"

#include <civetweb.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gateway/config/config.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway::http {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The value of header `name` (lower case), "" when absent.
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends `raw` (a whole HTTP request) to 127.0.0.1:`port` and reads the response.
HttpResult Send(int port, const std::string& raw) {
  char error[256] = "";
  mg_connection* connection =
      mg_download("127.0.0.1", port, 0, error, sizeof(error), "%s", raw.c_str());
  HttpResult result;
  if (connection == nullptr) {
    ADD_FAILURE() << "no HTTP response: " << error;
    return result;
  }
  const mg_response_info* info = mg_get_response_info(connection);
  result.status = info->status_code;
  for (int i = 0; i < info->num_headers; ++i) {
    result.headers[absl::AsciiStrToLower(info->http_headers[i].name)] =
        info->http_headers[i].value;
  }
  char buffer[4096];
  int n;
  while ((n = mg_read(connection, buffer, sizeof(buffer))) > 0) result.body.append(buffer, n);
  mg_close_connection(connection);
  return result;
}

std::string Post(const std::string& path, const std::string& body,
                 const std::string& extra_headers = "") {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n",
                      "Content-Type: application/json\r\nContent-Length: ", body.size(),
                      "\r\n", extra_headers, "\r\n", body);
}

std::string Get(const std::string& path, const std::string& extra_headers = "") {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n",
                      extra_headers, "\r\n");
}

constexpr char kCallBody[] = R"({"cell": "cell1", "topic": "compute", "method": "echo"})";
constexpr int kMaxMessageBytes = 2048;

// A gateway from YAML, `$DIR` replaced by the test's temp directory.
std::unique_ptr<GatewayServer> StartGateway(const std::string& yaml) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrReplaceAll(yaml, {{"$DIR", tmp != nullptr ? tmp : "/tmp"}}));
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<GatewayServer>> server = GatewayServer::Start(*config);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  return *std::move(server);
}

constexpr char kOpenGateway[] = R"(listen: 127.0.0.1:0
http_listen: 127.0.0.1:0
cells:
  - name: cell1
    transport_url: rabbit://guest:s3cr3t@127.0.0.1:1/
    control_exchange: nova
    max_message_bytes: 2048
)";

class HttpFrontTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = StartGateway(kOpenGateway).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static int port() { return server_->http_port(); }
  static GatewayServer* server_;
};

GatewayServer* HttpFrontTest::server_ = nullptr;

TEST_F(HttpFrontTest, ListensOnItsOwnPort) {
  EXPECT_GT(port(), 0);
  EXPECT_NE(port(), server_->port());
}

TEST_F(HttpFrontTest, CellsListsTheCellWithItsPasswordRedacted) {
  const HttpResult result = Send(port(), Get("/v1/cells"));
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.Header("content-type"), "application/json");
  EXPECT_EQ(result.body,
            "{\"cells\": [{\"name\": \"cell1\", \"connected\": false, \"transport_url\": "
            "\"rabbit://guest:***@127.0.0.1:1/\", \"control_exchange\": \"nova\"}]}\n");
}

TEST_F(HttpFrontTest, CallerRequestIdComesBackInTheResponse) {
  const HttpResult result =
      Send(port(), Post("/v1/call", kCallBody, "X-Request-Id: req-http-front-1\r\n"));
  EXPECT_EQ(result.Header("x-request-id"), "req-http-front-1");
}

TEST_F(HttpFrontTest, WithoutAUsableRequestIdOneIsGenerated) {
  const std::string generated = "req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";
  EXPECT_THAT(Send(port(), Get("/v1/cells")).Header("x-request-id"), MatchesRegex(generated));
  const std::string too_long(129, 'r');
  EXPECT_THAT(Send(port(), Get("/v1/cells", "X-Request-Id: " + too_long + "\r\n"))
                  .Header("x-request-id"),
              MatchesRegex(generated));
  // Refused before the service too.
  EXPECT_THAT(Send(port(), Get("/nowhere")).Header("x-request-id"), MatchesRegex(generated));
}

TEST_F(HttpFrontTest, BrokerDownIsServiceUnavailable) {
  const HttpResult result = Send(port(), Post("/v1/call", kCallBody));
  EXPECT_EQ(result.status, 503);
  EXPECT_THAT(result.body, StartsWith("{\"code\": \"UNAVAILABLE\", \"message\": \"cell 'cell1'"));
}

TEST_F(HttpFrontTest, UnknownCellIsNotFoundNamingTheMember) {
  const HttpResult result = Send(
      port(), Post("/v1/cast", R"({"cell": "cell9", "topic": "compute", "method": "m"})"));
  EXPECT_EQ(result.status, 404);
  EXPECT_EQ(result.body,
            "{\"code\": \"NOT_FOUND\", \"message\": \"cell: unknown cell 'cell9'\"}\n");
}

TEST_F(HttpFrontTest, ServiceValidationErrorsNameTheBodyMember) {
  const HttpResult result = Send(port(), Post("/v1/fanout", R"({"method": "m"})"));
  EXPECT_EQ(result.status, 400);
  EXPECT_EQ(result.body, "{\"code\": \"INVALID_ARGUMENT\", \"message\": \"topic: required\"}\n");
}

TEST_F(HttpFrontTest, BodyThatIsNotJsonIsBadRequest) {
  const HttpResult result = Send(port(), Post("/v1/call", "cell=cell1&topic=compute"));
  EXPECT_EQ(result.status, 400);
  EXPECT_THAT(result.body, StartsWith("{\"code\": \"INVALID_ARGUMENT\", \"message\": \"body: "
                                      "not valid JSON"));
}

TEST_F(HttpFrontTest, BodyOverTheLargestMessageSizeIsRefusedUnread) {
  const std::string big(kMaxMessageBytes + 1, ' ');
  const HttpResult result = Send(port(), Post("/v1/call", big));
  EXPECT_EQ(result.status, 413);
  EXPECT_EQ(result.Header("connection"), "close");
  EXPECT_THAT(result.body, HasSubstr("limit of 2048 bytes"));
  // Exactly at the limit the body is read (and judged as JSON).
  EXPECT_EQ(Send(port(), Post("/v1/call", std::string(kMaxMessageBytes, ' '))).status, 400);
}

TEST_F(HttpFrontTest, ChunkedBodyOverTheLimitIsRefused) {
  std::string chunks;
  for (int i = 0; i < 3; ++i) chunks += absl::StrCat("400\r\n", std::string(1024, ' '), "\r\n");
  const HttpResult result =
      Send(port(), absl::StrCat("POST /v1/call HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n",
                                chunks, "0\r\n\r\n"));
  EXPECT_EQ(result.status, 413);
}

TEST_F(HttpFrontTest, ChunkedBodyIsRead) {
  const std::string body = kCallBody;
  const HttpResult result = Send(
      port(), absl::StrCat("POST /v1/call HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n",
                           absl::Hex(10), "\r\n", body.substr(0, 10), "\r\n",
                           absl::Hex(body.size() - 10), "\r\n", body.substr(10), "\r\n0\r\n\r\n"));
  EXPECT_EQ(result.status, 503);  // reached the bridge: the body was whole
}

TEST_F(HttpFrontTest, UnknownPathAndWrongMethodAreRefused) {
  EXPECT_EQ(Send(port(), Get("/metrics")).status, 404);
  const HttpResult result = Send(port(), Get("/v1/cast"));
  EXPECT_EQ(result.status, 405);
  EXPECT_EQ(result.Header("allow"), "POST");
}

TEST_F(HttpFrontTest, AnswersAreCountedInTheHttpAndTheRequestSeries) {
  Send(port(), Get("/v1/cells"));
  Send(port(), Post("/v1/call", kCallBody));
  Send(port(), Get("/nowhere"));
  const std::string scrape = server_->metrics().Scrape();
  EXPECT_THAT(scrape, HasSubstr("cellgw_http_requests_total{code=\"200\",route=\"/v1/cells\"}"));
  EXPECT_THAT(scrape, HasSubstr("cellgw_http_requests_total{code=\"503\",route=\"/v1/call\"}"));
  EXPECT_THAT(scrape, HasSubstr("cellgw_http_requests_total{code=\"404\",route=\"other\"}"));
  EXPECT_THAT(scrape, HasSubstr("cellgw_http_request_duration_seconds_count{route=\"/v1/call\"}"));
  EXPECT_THAT(scrape, HasSubstr("cellgw_http_requests_in_flight{route=\"/v1/call\"} 0"));
  // The in-process RPC is a request of the gRPC service like any other.
  EXPECT_THAT(scrape, HasSubstr(
                          "cellgw_requests_total{cell=\"cell1\",code=\"UNAVAILABLE\",kind=\"call\"}"));
}

// Tokens and a policy, as for gRPC callers: "scheduler" may call echo on compute.
constexpr char kSecuredGateway[] = R"(listen: 127.0.0.1:0
http_listen: 127.0.0.1:0
cells:
  - name: cell1
    transport_url: rabbit://guest:s3cr3t@127.0.0.1:1/
security:
  tokens_file: $DIR/http_front_tokens
  policy:
    - identity: scheduler
      cells: [cell1]
      topics: [compute]
      methods: [echo]
)";
constexpr char kSchedulerToken[] = "http-front-scheduler-token-0123456789";

TEST(HttpFrontSecurityTest, BearerTokensAndThePolicyDecideAsForGrpc) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmp, nullptr);
  std::ofstream(absl::StrCat(tmp, "/http_front_tokens"))
      << "scheduler " << kSchedulerToken << "\n";
  std::unique_ptr<GatewayServer> server = StartGateway(kSecuredGateway);
  ASSERT_NE(server, nullptr);
  const int port = server->http_port();
  const std::string bearer = absl::StrCat("Authorization: Bearer ", kSchedulerToken, "\r\n");

  HttpResult result = Send(port, Post("/v1/call", kCallBody));
  EXPECT_EQ(result.status, 401);
  EXPECT_EQ(result.Header("www-authenticate"), "Bearer");
  EXPECT_THAT(result.body, StartsWith("{\"code\": \"UNAUTHENTICATED\""));

  result = Send(port, Post("/v1/call", kCallBody, "Authorization: Bearer wrong-token-0123456789\r\n"));
  EXPECT_EQ(result.status, 401);
  EXPECT_EQ(Send(port, Get("/v1/cells")).status, 401);

  result = Send(port, Post("/v1/call", R"({"topic": "compute", "method": "reboot"})", bearer));
  EXPECT_EQ(result.status, 403);
  EXPECT_THAT(result.body, StartsWith("{\"code\": \"PERMISSION_DENIED\""));

  // Allowed: it gets as far as the bridge, whose broker is down.
  EXPECT_EQ(Send(port, Post("/v1/call", kCallBody, bearer)).status, 503);
  EXPECT_EQ(Send(port, Get("/v1/cells", bearer)).status, 200);
}

TEST(HttpFrontShutdownTest, ShutdownStopsTheHttpListener) {
  std::unique_ptr<GatewayServer> server = StartGateway(kOpenGateway);
  ASSERT_NE(server, nullptr);
  const int port = server->http_port();
  EXPECT_EQ(Send(port, Get("/v1/cells")).status, 200);
  EXPECT_TRUE(server->Shutdown(absl::Seconds(5)));
  EXPECT_EQ(server->http_port(), 0);
  char error[256] = "";
  mg_connection* connection =
      mg_download("127.0.0.1", port, 0, error, sizeof(error), "%s", Get("/v1/cells").c_str());
  EXPECT_EQ(connection, nullptr) << "the HTTP port still answers after shutdown";
  if (connection != nullptr) mg_close_connection(connection);
}

}  // namespace
}  // namespace cellgw::gateway::http
