#include "gateway/security/authorizer.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

constexpr char kSchedulerToken[] = "sched-TOKEN-0123456789abcdef";
constexpr char kConductorToken[] = "cond-TOKEN-0123456789abcdef";
const std::string kScheduler = std::string("Bearer ") + kSchedulerToken;
const std::string kConductor = std::string("Bearer ") + kConductorToken;
constexpr char kSubject[] = "CN=scheduler,O=cellgw test";

Grant SchedulerGrant() {
  Grant grant;
  grant.identity = "scheduler";
  grant.cells = {"cell*"};
  grant.topics = {"compute"};
  grant.methods = {"get_*"};
  grant.servers = {"", "host*"};
  grant.context.deny = {"is_admin"};
  grant.context.set.emplace_back("user_id", *ContextTemplate::Parse("{identity}"));
  return grant;
}

// Tokens for scheduler and conductor; client certificates too when `certificates`.
SecurityConfig Config(bool tokens, bool certificates) {
  SecurityConfig config;
  config.enabled = true;
  if (tokens) {
    config.tokens_file = "/etc/cellgw/tokens";  // only its being set matters here
    config.tokens = *TokenAuthenticator::Parse(absl::StrCat("scheduler ", kSchedulerToken,
                                                            "\nconductor ", kConductorToken));
  }
  if (certificates) {
    config.tls.emplace();
    config.tls->client_ca_file = "/etc/cellgw/tls/ca.pem";
  }
  Grant subject_grant = SchedulerGrant();
  subject_grant.identity.clear();
  subject_grant.subject = kSubject;
  config.policy = {SchedulerGrant(), subject_grant};
  return config;
}

const std::map<std::string, std::string> kControlExchanges = {{"cell1", "nova"},
                                                              {"cell2", "nova"}};

RequestTarget Target(absl::string_view method = "get_info", absl::string_view server = "",
                     absl::string_view namespace_ = "", absl::string_view exchange = "") {
  RequestTarget target;
  target.cell = "cell1";
  target.exchange = exchange;
  target.topic = "compute";
  target.namespace_ = namespace_;
  target.server = server;
  target.method = method;
  return target;
}

using Views = std::vector<absl::string_view>;

TEST(AuthorizerAuthenticate, TokensIdentifyCallersAndBadOnesAreUnauthenticated) {
  const Authorizer authorizer(Config(true, false), kControlExchanges);
  absl::StatusOr<Caller> caller = authorizer.Authenticate({kScheduler}, std::nullopt);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(DescribeCaller(*caller), "token:scheduler");
  struct Case {
    Views authorization;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "no credentials: send \"authorization: Bearer <token>\" metadata"},
           {{"Bearer not-a-known-token-at-all"}, "the bearer token is not valid"},
           {{kSchedulerToken}, "authorization metadata must be \"Bearer <token>\""},
           {{kScheduler, kScheduler}, "more than one authorization metadata entry"},
       }) {
    absl::StatusOr<Caller> refused = authorizer.Authenticate(c.authorization, std::nullopt);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(refused.status().message(), c.message);
    EXPECT_EQ(std::string(refused.status().message()).find(kSchedulerToken), std::string::npos);
  }
}

TEST(AuthorizerAuthenticate, CertificatesCountOnlyWhenClientCertificatesAreConfigured) {
  const Authorizer tokens_only(Config(true, false), kControlExchanges);
  EXPECT_EQ(tokens_only.Authenticate({}, std::string(kSubject)).status().code(),
            absl::StatusCode::kUnauthenticated);
  const Authorizer both(Config(true, true), kControlExchanges);
  absl::StatusOr<Caller> by_certificate = both.Authenticate({}, std::string(kSubject));
  ASSERT_TRUE(by_certificate.ok()) << by_certificate.status();
  EXPECT_EQ(DescribeCaller(*by_certificate), std::string("cert:") + kSubject);
  // A token, when sent, decides.
  absl::StatusOr<Caller> by_token = both.Authenticate({kConductor}, std::string(kSubject));
  ASSERT_TRUE(by_token.ok());
  EXPECT_EQ(DescribeCaller(*by_token), "token:conductor");
  const Authorizer certificates_only(Config(false, true), kControlExchanges);
  EXPECT_EQ(certificates_only.Authenticate({kScheduler}, std::string(kSubject)).status().message(),
            "this gateway accepts no bearer tokens");
}

TEST(AuthorizerDecide, AllowedRequestCarriesTheGrantsContextPolicyForTheCaller) {
  const Authorizer authorizer(Config(true, true), kControlExchanges);
  Authorizer::Decision decision = authorizer.Decide({kScheduler}, std::nullopt, "call", Target());
  ASSERT_TRUE(decision.status.ok()) << decision.status.error_message();
  EXPECT_EQ(decision.caller, "token:scheduler");
  ASSERT_NE(decision.context.deny, nullptr);
  EXPECT_EQ(*decision.context.deny, std::vector<std::string>{"is_admin"});
  ASSERT_EQ(decision.context.set.size(), 1u);
  EXPECT_EQ(decision.context.set[0].first, "user_id");
  EXPECT_EQ(decision.context.set[0].second, "scheduler");
  EXPECT_EQ(decision.context.caller, "token:scheduler");

  // The same grant for a certificate: {identity} is its subject.
  decision = authorizer.Decide({}, std::string(kSubject), "cast", Target("get_info", "host1"));
  ASSERT_TRUE(decision.status.ok()) << decision.status.error_message();
  EXPECT_EQ(decision.context.set[0].second, kSubject);
}

TEST(AuthorizerDecide, RefusalsArePermissionDeniedNamingTheRequestsFields) {
  const Authorizer authorizer(Config(true, false), kControlExchanges);
  struct Case {
    std::string kind;
    RequestTarget target;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"call", Target("put_info"),
            "token:scheduler may not call method 'put_info' on topic 'compute', exchange (the "
            "control exchange), cell 'cell1'"},
           {"call", Target("get_info", "db-1"),
            "token:scheduler may not call method 'get_info' on topic 'compute', exchange (the "
            "control exchange), cell 'cell1', server 'db-1'"},
           {"call", Target("get_info", "", "admin", "neutron"),
            "token:scheduler may not call method 'get_info' on topic 'compute', exchange "
            "'neutron', cell 'cell1', namespace 'admin'"},
           // servers is ["", "host*"]: a fanout reaches every server, which it does not cover.
           {"fanout", Target(),
            "token:scheduler may not fanout method 'get_info' on topic 'compute', exchange (the "
            "control exchange), cell 'cell1'"},
           {"stream", Target(), "no policy covers 'stream' requests"},
       }) {
    const Authorizer::Decision decision =
        authorizer.Decide({kScheduler}, std::nullopt, c.kind, c.target);
    EXPECT_EQ(decision.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << c.message;
    EXPECT_EQ(decision.status.error_message(), c.message);
    EXPECT_EQ(decision.caller, "token:scheduler");
    EXPECT_TRUE(decision.context.set.empty());
  }
}

TEST(AuthorizerDecide, ListCellsNeedsAuthenticationOnly) {
  const Authorizer authorizer(Config(true, false), kControlExchanges);
  Authorizer::Decision decision =
      authorizer.Decide({kConductor}, std::nullopt, "list_cells", RequestTarget());
  EXPECT_TRUE(decision.status.ok());
  EXPECT_EQ(decision.caller, "token:conductor");
  decision = authorizer.Decide({}, std::nullopt, "list_cells", RequestTarget());
  EXPECT_EQ(decision.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(decision.caller, "");
}

TEST(AuthorizerDecide, GrantsWithoutExchangesAllowOnlyTheCellsControlExchange) {
  const Authorizer authorizer(Config(true, false), kControlExchanges);
  EXPECT_TRUE(authorizer.Decide({kScheduler}, std::nullopt, "call",
                                Target("get_info", "", "", "nova"))
                  .status.ok());
  EXPECT_EQ(authorizer.Decide({kScheduler}, std::nullopt, "call",
                              Target("get_info", "", "", "openstack"))
                .status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace cellgw::gateway
