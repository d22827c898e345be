#include "gateway/rpc/serve_validator.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

TEST(ToServeRegistration, FillsDefaultsAndKeepsEndpointsInOrder) {
  v1::ServeRequest first;
  v1::Registration* r = first.mutable_register_();
  r->set_cell("cell1");
  r->set_topic("compute");
  r->set_server("w1");
  v1::Endpoint* plain = r->add_endpoints();
  plain->add_methods("echo");
  v1::Endpoint* admin = r->add_endpoints();
  admin->set_namespace_("admin");
  admin->set_version("2.0");
  admin->add_methods("ns_only");
  absl::StatusOr<bridge::ServeRegistration> out = ToServeRegistration(first);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->cell, "cell1");
  EXPECT_EQ(out->exchange, "");
  EXPECT_EQ(out->topic, "compute");
  EXPECT_EQ(out->server, "w1");
  EXPECT_EQ(out->max_in_flight, 16u);
  ASSERT_EQ(out->endpoints.size(), 2u);
  EXPECT_FALSE(out->endpoints[0].namespace_.has_value());  // oslo's None
  EXPECT_EQ(out->endpoints[0].version, "");                // read as "1.0" by the dispatcher
  EXPECT_EQ(out->endpoints[0].methods, std::vector<std::string>{"echo"});
  EXPECT_EQ(out->endpoints[1].namespace_, "admin");
  EXPECT_EQ(out->endpoints[1].version, "2.0");
}

TEST(ToServeRegistration, RefusesAFirstMessageThatIsNotARegistration) {
  v1::ServeRequest first;
  first.mutable_reply()->set_id(1);
  absl::StatusOr<bridge::ServeRegistration> out = ToServeRegistration(first);
  ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(out.status().message(), "register: ")) << out.status();
}

TEST(ToServeAnswer, ResultAndEmptyResult) {
  v1::ServeRequest request;
  request.mutable_reply()->set_id(7);
  request.mutable_reply()->set_result_json(R"({"a": 1})");
  absl::StatusOr<ServeAnswer> out = ToServeAnswer(request);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->id, 7u);
  EXPECT_EQ(out->answer.result_json, R"({"a": 1})");
  EXPECT_FALSE(out->answer.failure.has_value());

  v1::ServeRequest bare;
  bare.mutable_reply()->set_id(8);  // a cast's reply: only the id
  out = ToServeAnswer(bare);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->answer.result_json, "");
}

TEST(ToServeAnswer, ErrorBecomesARemoteFailureWithDefaults) {
  v1::ServeRequest request;
  v1::RemoteError* error = request.mutable_reply()->mutable_error();
  error->set_exception_class("ValueError");
  error->set_exception_module("builtins");
  error->set_message("bad");
  error->add_traceback("ValueError: bad\n");
  absl::StatusOr<ServeAnswer> out = ToServeAnswer(request);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->answer.failure.has_value());
  EXPECT_EQ(out->answer.failure->exception_class, "ValueError");
  EXPECT_EQ(out->answer.failure->exception_module, "builtins");
  EXPECT_EQ(out->answer.failure->message, "bad");
  EXPECT_EQ(out->answer.failure->traceback, std::vector<std::string>{"ValueError: bad\n"});
  EXPECT_EQ(out->answer.failure->args_json, "[]");
  EXPECT_EQ(out->answer.failure->kwargs_json, "{}");
}

TEST(ToServeAnswer, MalformedMessagesNameTheField) {
  struct Case {
    std::string name;
    v1::ServeRequest request;
    std::string field;
  };
  std::vector<Case> cases(6);
  cases[0] = {"second registration", {}, "register: "};
  cases[0].request.mutable_register_()->set_topic("t");
  cases[1] = {"empty", {}, "reply: "};
  cases[2] = {"no class", {}, "reply.error.exception_class: "};
  cases[2].request.mutable_reply()->mutable_error()->set_message("m");
  cases[3] = {"args not an array", {}, "reply.error.args_json: "};
  cases[3].request.mutable_reply()->mutable_error()->set_exception_class("E");
  cases[3].request.mutable_reply()->mutable_error()->set_args_json("{}");
  cases[4] = {"kwargs not an object", {}, "reply.error.kwargs_json: "};
  cases[4].request.mutable_reply()->mutable_error()->set_exception_class("E");
  cases[4].request.mutable_reply()->mutable_error()->set_kwargs_json("[]");
  cases[5] = {"args not JSON", {}, "reply.error.args_json: "};
  cases[5].request.mutable_reply()->mutable_error()->set_exception_class("E");
  cases[5].request.mutable_reply()->mutable_error()->set_args_json("[1,");
  for (const Case& c : cases) {
    absl::StatusOr<ServeAnswer> out = ToServeAnswer(c.request);
    ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(absl::StartsWith(out.status().message(), c.field)) << out.status();
  }
}

TEST(ToIncomingProto, CarriesKindAndFieldsAndLeavesAbsentOnesEmpty) {
  bridge::IncomingRequest request;
  request.id = 3;
  request.kind = bridge::IncomingKind::kFanout;
  request.method = "note";
  request.args_json = R"({"big": 18446744073709551615})";
  request.context_json = R"({"user_id": "u"})";
  v1::Incoming out = ToIncomingProto(request);
  EXPECT_EQ(out.id(), 3u);
  EXPECT_EQ(out.kind(), v1::Incoming::FANOUT);
  EXPECT_EQ(out.method(), "note");
  EXPECT_EQ(out.args_json(), R"({"big": 18446744073709551615})");
  EXPECT_EQ(out.context_json(), R"({"user_id": "u"})");
  EXPECT_EQ(out.namespace_(), "");
  EXPECT_EQ(out.version(), "");
  EXPECT_FALSE(out.has_deadline());

  request.kind = bridge::IncomingKind::kCall;
  request.namespace_ = "admin";
  request.version = "2.0";
  out = ToIncomingProto(request);
  EXPECT_EQ(out.kind(), v1::Incoming::CALL);
  EXPECT_EQ(out.namespace_(), "admin");
  EXPECT_EQ(out.version(), "2.0");
  request.kind = bridge::IncomingKind::kCast;
  EXPECT_EQ(ToIncomingProto(request).kind(), v1::Incoming::CAST);
}

TEST(ToIncomingProto, DeadlineBecomesATimestampWithNonNegativeNanos) {
  bridge::IncomingRequest request;
  request.kind = bridge::IncomingKind::kCall;
  request.deadline = absl::FromUnixMillis(1764870000250);
  v1::Incoming out = ToIncomingProto(request);
  ASSERT_TRUE(out.has_deadline());
  EXPECT_EQ(out.deadline().seconds(), 1764870000);
  EXPECT_EQ(out.deadline().nanos(), 250000000);
  request.deadline = absl::UnixEpoch() - absl::Milliseconds(1500);  // before 1970: floored
  out = ToIncomingProto(request);
  EXPECT_EQ(out.deadline().seconds(), -2);
  EXPECT_EQ(out.deadline().nanos(), 500000000);
}

}  // namespace
}  // namespace cellgw::gateway
