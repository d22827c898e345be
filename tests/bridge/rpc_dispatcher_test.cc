// bridge::RpcDispatcher: endpoint choice, and refusals identical to the failures real oslo
// servers sent in the captured vectors. rpc_dispatcher_oracle_test.py compares it with oslo's
// RPCDispatcher on thousands of generated cases; these are the named, readable ones.
#include "bridge/rpc_dispatcher.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/envelope.h"
#include "common/json_text.h"
#include "gtest/gtest.h"
#include "tests/support/testdata.h"

namespace cellgw::bridge {
namespace {

RemoteFailure FailureFromVector(absl::string_view name) {
  const absl::StatusOr<std::string> file =
      cellgw::testing::ReadRunfile(absl::StrCat("tests/testdata/wire/", name, ".json"));
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return {};
  const absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(*file);
  EXPECT_TRUE(members.ok()) << members.status();
  if (!members.ok()) return {};
  for (const json::Member& member : *members) {
    if (member.key != "body") continue;
    const absl::StatusOr<std::string> body = json::Unquote(member.value);
    EXPECT_TRUE(body.ok()) << body.status();
    if (!body.ok()) return {};
    const absl::StatusOr<Reply> reply = DecodeReply(*body);
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok() || !reply->failure.has_value()) return {};
    return *reply->failure;
  }
  ADD_FAILURE() << name << " has no body";
  return {};
}

// What the caller's oslo reads back; the traceback is the gateway's own.
void ExpectSameException(const RemoteFailure& actual, const RemoteFailure& expected) {
  EXPECT_EQ(actual.exception_class, expected.exception_class);
  EXPECT_EQ(actual.exception_module, expected.exception_module);
  EXPECT_EQ(actual.message, expected.message);
  EXPECT_EQ(actual.args_json, expected.args_json);
  EXPECT_EQ(actual.kwargs_json, expected.kwargs_json);
  ASSERT_FALSE(actual.traceback.empty());
  EXPECT_EQ(actual.traceback.back(), expected.traceback.back());
}

RpcDispatcher Make(std::vector<RpcEndpoint> endpoints) {
  absl::StatusOr<RpcDispatcher> dispatcher = RpcDispatcher::Create(std::move(endpoints));
  EXPECT_TRUE(dispatcher.ok()) << dispatcher.status();
  return *std::move(dispatcher);
}

TEST(RpcDispatcherTest, FirstCompatibleEndpointWithTheMethodTakesTheRequest) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.0", {"other"}},
                                         {std::nullopt, "1.5", {"echo"}},
                                         {std::nullopt, "1.9", {"echo"}}});
  const DispatchDecision decision = dispatcher.Dispatch("echo", std::nullopt, "1.2");
  ASSERT_TRUE(decision.endpoint.has_value());
  EXPECT_EQ(*decision.endpoint, 1u);
}

TEST(RpcDispatcherTest, MissingVersionAsksForOneDotZero) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "2.0", {"echo"}},
                                         {std::nullopt, "", {"echo"}}});
  const DispatchDecision decision = dispatcher.Dispatch("echo", std::nullopt, std::nullopt);
  ASSERT_TRUE(decision.endpoint.has_value());
  EXPECT_EQ(*decision.endpoint, 1u);
}

TEST(RpcDispatcherTest, NamespaceMustMatchExactly) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.0", {"echo"}},
                                         {std::string("admin"), "1.0", {"echo"}}});
  EXPECT_EQ(dispatcher.Dispatch("echo", std::string("admin"), "1.0").endpoint, 1u);
  EXPECT_EQ(dispatcher.Dispatch("echo", std::nullopt, "1.0").endpoint, 0u);
}

TEST(RpcDispatcherTest, UnknownMethodOnCompatibleEndpointIsOslosNoSuchMethod) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.1", {"echo"}}});
  const DispatchDecision decision = dispatcher.Dispatch("no_such", std::nullopt, std::nullopt);
  EXPECT_FALSE(decision.endpoint.has_value());
  ExpectSameException(decision.failure, FailureFromVector("reply_failure_nosuchmethod"));
}

TEST(RpcDispatcherTest, VersionNoEndpointOffersIsOslosUnsupportedVersion) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.1", {"echo"}}});
  const DispatchDecision decision = dispatcher.Dispatch("echo", std::nullopt, "9.0");
  EXPECT_FALSE(decision.endpoint.has_value());
  ExpectSameException(decision.failure, FailureFromVector("reply_failure_unsupportedversion"));
}

TEST(RpcDispatcherTest, NamespaceNoEndpointHasIsUnsupportedVersionNotNoSuchMethod) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.1", {"echo"}}});
  const DispatchDecision decision = dispatcher.Dispatch("echo", std::string("nobody"), "1.1");
  EXPECT_FALSE(decision.endpoint.has_value());
  ExpectSameException(decision.failure, FailureFromVector("reply_failure_wrong_namespace"));
}

TEST(RpcDispatcherTest, PrivateMethodsAreNeverExposed) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.0", {"_secret"}}});
  const DispatchDecision decision = dispatcher.Dispatch("_secret", std::nullopt, "1.0");
  EXPECT_FALSE(decision.endpoint.has_value());
  EXPECT_EQ(decision.failure.exception_class, "NoSuchMethod");
}

TEST(RpcDispatcherTest, UnreadableVersionRaisesWhatOslosIntRaises) {
  const RpcDispatcher dispatcher = Make({{std::nullopt, "1.0", {"echo"}}});
  const DispatchDecision bad = dispatcher.Dispatch("echo", std::nullopt, "x.1");
  EXPECT_EQ(bad.failure.exception_class, "ValueError");
  EXPECT_EQ(bad.failure.exception_module, "builtins");
  EXPECT_EQ(bad.failure.message, "invalid literal for int() with base 10: 'x'");
  EXPECT_EQ(bad.failure.traceback.back(),
            "ValueError: invalid literal for int() with base 10: 'x'\n");
  const DispatchDecision short_version = dispatcher.Dispatch("echo", std::nullopt, "1");
  EXPECT_EQ(short_version.failure.exception_class, "IndexError");
  EXPECT_EQ(short_version.failure.message, "list index out of range");
}

TEST(RpcDispatcherTest, CreateNamesTheBadField) {
  EXPECT_EQ(RpcDispatcher::Create({}).status().message().substr(0, 9), "endpoints");
  const absl::Status version = RpcDispatcher::Create({{std::nullopt, "1.x", {"m"}}}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(version));
  EXPECT_EQ(version.message().substr(0, 21), "endpoints[0].version:");
  const absl::Status twice =
      RpcDispatcher::Create({{std::nullopt, "1.0", {"m"}}, {std::nullopt, "1.0", {"a", "a"}}})
          .status();
  EXPECT_EQ(twice.message().substr(0, 24), "endpoints[1].methods[1]:");
  const absl::Status empty_ns = RpcDispatcher::Create({{std::string(), "1.0", {"m"}}}).status();
  EXPECT_EQ(empty_ns.message().substr(0, 22), "endpoints[0].namespace");
  const absl::Status target = RpcDispatcher::Create({{std::nullopt, "1.0", {"target"}}}).status();
  EXPECT_EQ(target.message().substr(0, 24), "endpoints[0].methods[0]:");
}

}  // namespace
}  // namespace cellgw::bridge
