// The `http_listen` config key and its CELLGW_HTTP_LISTEN override (gateway/config/config),
// including the refusal to serve plain HTTP beside a TLS gRPC port.
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gateway/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/security/test_pki.h"

namespace cellgw::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kCells[] = R"(cells:
  - name: cell1
    transport_url: rabbit://guest:guest@127.0.0.1:5672/cell1
)";

Getenv Environment(const std::map<std::string, std::string>* values) {
  return [values](const char* name) -> const char* {
    auto it = values->find(name);
    return it == values->end() ? nullptr : it->second.c_str();
  };
}

TEST(HttpListenConfigTest, OffByDefault) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(kCells);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_listen, "");
}

TEST(HttpListenConfigTest, HostPortIsRead) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("http_listen: 127.0.0.1:8080\n", kCells));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_listen, "127.0.0.1:8080");
}

TEST(HttpListenConfigTest, MalformedAddressIsRefusedNamingTheKey) {
  for (const char* value : {"8080", "127.0.0.1", "127.0.0.1:99999", "unix:/tmp/x", "[::1"}) {
    SCOPED_TRACE(value);
    absl::StatusOr<GatewayConfig> config =
        ParseConfig(absl::StrCat("http_listen: \"", value, "\"\n", kCells));
    ASSERT_FALSE(config.ok());
    EXPECT_THAT(std::string(config.status().message()), StartsWith("http_listen: "));
  }
}

TEST(HttpListenConfigTest, EnvironmentVariableOverridesAndCanTurnItOff) {
  // allow_insecure: the variable below opens the HTTP API to other hosts without security.
  const std::string yaml =
      absl::StrCat("allow_insecure: true\nhttp_listen: 127.0.0.1:8080\n", kCells);
  std::map<std::string, std::string> env = {{"CELLGW_HTTP_LISTEN", "0.0.0.0:9000"}};
  absl::StatusOr<GatewayConfig> config = ParseConfigWithEnvironment(yaml, Environment(&env));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_listen, "0.0.0.0:9000");

  env = {{"CELLGW_HTTP_LISTEN", ""}};
  config = ParseConfigWithEnvironment(yaml, Environment(&env));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_listen, "");

  env = {{"CELLGW_HTTP_LISTEN", "nope"}};
  config = ParseConfigWithEnvironment(yaml, Environment(&env));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), StartsWith("CELLGW_HTTP_LISTEN: "));
}

class HttpListenWithTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create(tmp, "http-listen-ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    absl::StatusOr<testing::IssuedCertificate> server =
        ca->Issue("server", "/CN=cellgw", {"IP:127.0.0.1"});
    ASSERT_TRUE(server.ok()) << server.status();
    security_ = absl::StrReplaceAll(
        "security:\n  tls: {cert_file: \"$CERT\", key_file: \"$KEY\"}\n",
        {{"$CERT", server->cert_file}, {"$KEY", server->key_file}});
  }
  std::string security_;
};

TEST_F(HttpListenWithTlsTest, TlsAloneIsAccepted) {
  absl::StatusOr<GatewayConfig> config = ParseConfig(absl::StrCat(security_, kCells));
  ASSERT_TRUE(config.ok()) << config.status();
}

TEST_F(HttpListenWithTlsTest, HttpListenBesideTlsIsRefused) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig(absl::StrCat("http_listen: 127.0.0.1:8080\n", security_, kCells));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith("http_listen: "));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("security.tls"));
}

TEST_F(HttpListenWithTlsTest, HttpListenFromTheEnvironmentBesideTlsIsRefused) {
  const std::map<std::string, std::string> env = {{"CELLGW_HTTP_LISTEN", "127.0.0.1:8080"}};
  absl::StatusOr<GatewayConfig> config =
      ParseConfigWithEnvironment(absl::StrCat(security_, kCells), Environment(&env));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("http_listen: "));
}

}  // namespace
}  // namespace cellgw::gateway
