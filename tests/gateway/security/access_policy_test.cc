#include "gateway/security/access_policy.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

Grant SchedulerGrant() {
  Grant grant;
  grant.identity = "scheduler";
  grant.cells = {"cell*"};
  grant.topics = {"compute"};
  grant.methods = {"get_*", "resize_instance"};
  grant.kinds = {RequestKind::kCall, RequestKind::kCast};
  return grant;
}

const Caller kScheduler{Caller::Source::kToken, "scheduler"};

AccessRequest Request(RequestKind kind, absl::string_view cell, absl::string_view topic,
                      absl::string_view method, absl::string_view exchange = "",
                      absl::string_view server = "", absl::string_view namespace_ = "") {
  AccessRequest request;
  request.kind = kind;
  request.cell = cell;
  request.exchange = exchange;
  request.control_exchange = "nova";
  request.topic = topic;
  request.method = method;
  request.server = server;
  request.namespace_ = namespace_;
  return request;
}

struct PolicyCase {
  std::string name;
  AccessRequest request;
  bool allowed;
};

TEST(AccessPolicy, AllowsOnlyWhatEveryListOfAGrantMatches) {
  const AccessPolicy policy({SchedulerGrant()});
  const std::vector<PolicyCase> cases = {
      {"call of a granted method", Request(RequestKind::kCall, "cell1", "compute", "get_info"),
       true},
      {"cast of an exact method",
       Request(RequestKind::kCast, "cell2", "compute", "resize_instance"), true},
      {"method not granted", Request(RequestKind::kCall, "cell1", "compute", "delete_instance"),
       false},
      {"topic not granted", Request(RequestKind::kCall, "cell1", "conductor", "get_info"), false},
      {"cell not granted", Request(RequestKind::kCall, "api", "compute", "get_info"), false},
      {"kind not granted", Request(RequestKind::kFanout, "cell1", "compute", "get_info"), false},
      {"control exchange named explicitly",
       Request(RequestKind::kCall, "cell1", "compute", "get_info", "nova"), true},
      {"another exchange", Request(RequestKind::kCall, "cell1", "compute", "get_info", "neutron"),
       false},
  };
  for (const PolicyCase& c : cases) {
    EXPECT_EQ(policy.Allows(kScheduler, c.request), c.allowed) << c.name;
  }
}

TEST(AccessPolicy, GrantsApplyOnlyToTheirOwnCaller) {
  const AccessPolicy policy({SchedulerGrant()});
  const AccessRequest request = Request(RequestKind::kCall, "cell1", "compute", "get_info");
  EXPECT_TRUE(policy.Allows(kScheduler, request));
  EXPECT_FALSE(policy.Allows({Caller::Source::kToken, "conductor"}, request));
  EXPECT_FALSE(policy.Allows({Caller::Source::kToken, "Scheduler"}, request));
  // A certificate whose subject spells a token identity gets nothing from its grants.
  EXPECT_FALSE(policy.Allows({Caller::Source::kCertificate, "scheduler"}, request));
}

TEST(AccessPolicy, SubjectGrantsApplyToCertificatesOnly) {
  Grant grant = SchedulerGrant();
  grant.identity.clear();
  grant.subject = "CN=scheduler,O=cellgw";
  const AccessPolicy policy({grant});
  const AccessRequest request = Request(RequestKind::kCall, "cell1", "compute", "get_info");
  EXPECT_TRUE(policy.Allows({Caller::Source::kCertificate, "CN=scheduler,O=cellgw"}, request));
  EXPECT_FALSE(policy.Allows({Caller::Source::kToken, "CN=scheduler,O=cellgw"}, request));
  EXPECT_FALSE(policy.Allows({Caller::Source::kCertificate, "CN=scheduler,O=other"}, request));
}

TEST(AccessPolicy, ExchangePatternsReplaceTheControlExchangeDefault) {
  Grant grant = SchedulerGrant();
  grant.exchanges = {"neutron"};
  const AccessPolicy policy({grant});
  EXPECT_TRUE(policy.Allows(
      kScheduler, Request(RequestKind::kCall, "cell1", "compute", "get_info", "neutron")));
  EXPECT_FALSE(
      policy.Allows(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "get_info")));
}

TEST(AccessPolicy, FanoutsAreGovernedByTopicNotExchange) {
  Grant grant = SchedulerGrant();
  grant.kinds = {RequestKind::kFanout};
  const AccessPolicy policy({grant});
  // oslo sends a fanout to "<topic>_fanout" whatever exchange the target names.
  EXPECT_TRUE(policy.Allows(
      kScheduler, Request(RequestKind::kFanout, "cell1", "compute", "get_info", "neutron")));
  EXPECT_FALSE(policy.Allows(
      kScheduler, Request(RequestKind::kFanout, "cell1", "network", "get_info", "nova")));
}

TEST(AccessPolicy, KindsDefaultToTheRpcKindsAndGrantsAddUp) {
  Grant all_kinds = SchedulerGrant();
  all_kinds.kinds.clear();
  all_kinds.methods = {"get_info"};
  Grant fanout = SchedulerGrant();
  fanout.kinds = {RequestKind::kFanout};
  fanout.methods = {"refresh"};
  const AccessPolicy policy({all_kinds, fanout});
  EXPECT_TRUE(
      policy.Allows(kScheduler, Request(RequestKind::kFanout, "cell1", "compute", "get_info")));
  EXPECT_TRUE(
      policy.Allows(kScheduler, Request(RequestKind::kFanout, "cell1", "compute", "refresh")));
  EXPECT_FALSE(
      policy.Allows(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "refresh")));
}

TEST(AccessPolicy, AbsentServersAndNamespacesAllowAnyValueSetOrNot) {
  const AccessPolicy policy({SchedulerGrant()});
  for (const auto& [server, namespace_] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"host1", ""}, {"", "admin"}, {"host7", "baremetal"}}) {
    EXPECT_TRUE(policy.Allows(kScheduler, Request(RequestKind::kCall, "cell1", "compute",
                                                  "get_info", "", server, namespace_)))
        << server << "/" << namespace_;
  }
}

TEST(AccessPolicy, ServerPatternsLimitTheServerAndMatchAnUnsetOneAsEmpty) {
  Grant grant = SchedulerGrant();
  grant.servers = {"compute-*"};
  const AccessPolicy policy({grant});
  auto call = [](absl::string_view server) {
    return Request(RequestKind::kCall, "cell1", "compute", "get_info", "", server);
  };
  EXPECT_TRUE(policy.Allows(kScheduler, call("compute-2")));
  EXPECT_FALSE(policy.Allows(kScheduler, call("db-1")));
  // No server: round robin over every server of the topic, which the grant does not cover.
  EXPECT_FALSE(policy.Allows(kScheduler, call("")));
  grant.servers = {"", "compute-*"};
  EXPECT_TRUE(AccessPolicy({grant}).Allows(kScheduler, call("")));
  grant.servers = {"*"};
  EXPECT_TRUE(AccessPolicy({grant}).Allows(kScheduler, call("")));
}

TEST(AccessPolicy, AFanoutReachesEveryServerSoOnlyServersStarAllowsIt) {
  Grant grant = SchedulerGrant();
  grant.kinds = {RequestKind::kFanout};
  grant.servers = {"compute-*"};
  const AccessRequest fanout =
      Request(RequestKind::kFanout, "cell1", "compute", "get_info", "", "compute-1");
  EXPECT_FALSE(AccessPolicy({grant}).Allows(kScheduler, fanout));
  grant.servers = {"compute-*", "*"};
  EXPECT_TRUE(AccessPolicy({grant}).Allows(kScheduler, fanout));
}

TEST(AccessPolicy, NamespacePatternsLimitTheNamespaceAndEmptyMeansTheDefault) {
  Grant grant = SchedulerGrant();
  grant.namespaces = {""};
  const AccessPolicy default_only({grant});
  auto call = [](absl::string_view namespace_) {
    return Request(RequestKind::kCall, "cell1", "compute", "get_info", "", "", namespace_);
  };
  EXPECT_TRUE(default_only.Allows(kScheduler, call("")));
  EXPECT_FALSE(default_only.Allows(kScheduler, call("admin")));
  grant.namespaces = {"", "bare*"};
  const AccessPolicy some({grant});
  EXPECT_TRUE(some.Allows(kScheduler, call("baremetal")));
  EXPECT_FALSE(some.Allows(kScheduler, call("admin")));
}

TEST(AccessPolicy, FindReturnsTheFirstGrantThatAllowsTheRequest) {
  Grant strict = SchedulerGrant();
  strict.methods = {"get_secret"};
  strict.context.deny = {"is_admin"};
  Grant broad = SchedulerGrant();
  broad.methods = {"get_*"};
  const AccessPolicy policy({strict, broad});
  const Grant* secret =
      policy.Find(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "get_secret"));
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret, &policy.grants()[0]);
  EXPECT_EQ(secret->context.deny, std::vector<std::string>{"is_admin"});
  const Grant* info =
      policy.Find(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "get_info"));
  EXPECT_EQ(info, &policy.grants()[1]);
  EXPECT_EQ(policy.Find(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "put")),
            nullptr);
}

TEST(AccessPolicy, EmptyPolicyAllowsNothing) {
  EXPECT_FALSE(
      AccessPolicy().Allows(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "x")));
}

TEST(AccessPolicy, NotifyAndSubscribeAreGrantedOnCellExchangeAndTopicWithoutMethods) {
  Grant grant = SchedulerGrant();
  grant.topics = {"notifications"};
  grant.methods = {};  // never consulted for these kinds
  grant.kinds = {RequestKind::kNotify, RequestKind::kSubscribe};
  const AccessPolicy policy({grant});
  for (RequestKind kind : {RequestKind::kNotify, RequestKind::kSubscribe}) {
    EXPECT_TRUE(policy.Allows(kScheduler, Request(kind, "cell1", "notifications", "")));
    EXPECT_TRUE(policy.Allows(kScheduler, Request(kind, "cell1", "notifications", "anything")));
    EXPECT_FALSE(policy.Allows(kScheduler, Request(kind, "cell1", "audit_log", "")));
    EXPECT_FALSE(policy.Allows(kScheduler, Request(kind, "other", "notifications", "")));
    // Like calls and casts: without `exchanges`, only the cell's control exchange.
    EXPECT_FALSE(
        policy.Allows(kScheduler, Request(kind, "cell1", "notifications", "", "neutron")));
  }
  EXPECT_FALSE(
      policy.Allows(kScheduler, Request(RequestKind::kCast, "cell1", "notifications", "x")));
}

TEST(AccessPolicy, GrantsWithoutKindsDoNotAllowNotifyOrSubscribe) {
  Grant grant = SchedulerGrant();
  grant.kinds.clear();
  grant.topics = {"*"};
  grant.methods = {"*"};
  const AccessPolicy policy({grant});
  EXPECT_TRUE(policy.Allows(kScheduler, Request(RequestKind::kCast, "cell1", "notifications", "x")));
  EXPECT_FALSE(
      policy.Allows(kScheduler, Request(RequestKind::kNotify, "cell1", "notifications", "")));
  EXPECT_FALSE(
      policy.Allows(kScheduler, Request(RequestKind::kSubscribe, "cell1", "notifications", "")));
}

TEST(AccessPolicy, ServeIsGrantedOnCellExchangeAndTopicAndOnlyWhenNamed) {
  Grant grant = SchedulerGrant();
  grant.topics = {"compute"};
  grant.methods = {};  // never consulted for serve
  grant.kinds = {RequestKind::kServe};
  const AccessPolicy policy({grant});
  EXPECT_TRUE(policy.Allows(kScheduler, Request(RequestKind::kServe, "cell1", "compute", "")));
  EXPECT_FALSE(policy.Allows(kScheduler, Request(RequestKind::kServe, "cell1", "network", "")));
  EXPECT_FALSE(policy.Allows(kScheduler, Request(RequestKind::kServe, "other", "compute", "")));
  EXPECT_FALSE(
      policy.Allows(kScheduler, Request(RequestKind::kServe, "cell1", "compute", "", "neutron")));
  EXPECT_FALSE(policy.Allows(kScheduler, Request(RequestKind::kCall, "cell1", "compute", "x")));
  // A grant written before serve existed (no kinds) does not allow it.
  Grant old = SchedulerGrant();
  old.kinds.clear();
  old.topics = {"*"};
  old.methods = {"*"};
  EXPECT_FALSE(AccessPolicy({old}).Allows(
      kScheduler, Request(RequestKind::kServe, "cell1", "compute", "")));
}

TEST(RequestKind, NamesRoundTripAndListCellsIsNotAKind) {
  for (RequestKind kind : {RequestKind::kCall, RequestKind::kCast, RequestKind::kFanout,
                           RequestKind::kNotify, RequestKind::kSubscribe, RequestKind::kServe}) {
    EXPECT_EQ(ParseRequestKind(RequestKindName(kind)), kind);
  }
  EXPECT_FALSE(ParseRequestKind("list_cells").has_value());
  EXPECT_FALSE(ParseRequestKind("Call").has_value());
}

}  // namespace
}  // namespace cellgw::gateway
