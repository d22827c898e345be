// gRPC outcome -> HTTP status and JSON body (gateway/http/json_response): the status table,
// the error body with and without a remote exception (made by the real status_mapper), the
// success bodies, and that server JSON is embedded as sent.
#include "gateway/http/json_response.h"

#include <string>
#include <utility>
#include <vector>

#include "bridge/remote_failure.h"
#include "common/json_text.h"
#include "gateway/rpc/status_mapper.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway::http {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Pair;

// The gRPC status the real status_mapper makes of a remote exception.
grpc::Status RemoteStatus(const std::string& cls, const std::string& module,
                          const std::string& message) {
  bridge::RemoteFailure failure;
  failure.exception_class = cls;
  failure.exception_module = module;
  failure.message = message;
  return RemoteFailureToGrpcStatus(failure);
}

TEST(JsonResponseTest, HttpStatusOfEachGrpcCode) {
  const std::vector<std::pair<grpc::StatusCode, int>> table = {
      {grpc::StatusCode::OK, 200},
      {grpc::StatusCode::INVALID_ARGUMENT, 400},
      {grpc::StatusCode::NOT_FOUND, 404},
      {grpc::StatusCode::FAILED_PRECONDITION, 400},
      {grpc::StatusCode::UNIMPLEMENTED, 501},
      {grpc::StatusCode::UNKNOWN, 500},
      {grpc::StatusCode::DEADLINE_EXCEEDED, 504},
      {grpc::StatusCode::UNAVAILABLE, 503},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
      {grpc::StatusCode::UNAUTHENTICATED, 401},
      {grpc::StatusCode::PERMISSION_DENIED, 403},
      {grpc::StatusCode::CANCELLED, 499},
      {grpc::StatusCode::ALREADY_EXISTS, 409},
      {grpc::StatusCode::ABORTED, 409},
      {grpc::StatusCode::OUT_OF_RANGE, 400},
      {grpc::StatusCode::INTERNAL, 500},
      {grpc::StatusCode::DATA_LOSS, 500},
      // A code gRPC may add later (17: within the enum's range, so no UB to hold it).
      {static_cast<grpc::StatusCode>(17), 500},
  };
  for (const auto& [code, http_status] : table) {
    SCOPED_TRACE(static_cast<int>(code));
    EXPECT_EQ(HttpStatusOf(code), http_status);
  }
}

TEST(JsonResponseTest, OwnErrorIsCodeAndMessageWithoutRemoteError) {
  const HttpReply reply =
      ErrorReply(grpc::Status(grpc::StatusCode::UNAVAILABLE, "cell 'c': not \"connected\""));
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body,
            "{\"code\": \"UNAVAILABLE\", \"message\": \"cell 'c': not \\\"connected\\\"\"}\n");
  EXPECT_THAT(reply.headers, IsEmpty());
}

TEST(JsonResponseTest, ErrorMessagesNameTheBodyMembersInsteadOfGrpcFields) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"target.topic: required", "topic: required"},
      {"target.cell: unknown cell 'x'", "cell: unknown cell 'x'"},
      {"target.server: `<topic>.<server>` is 300 bytes", "server: `<topic>.<server>` is 300 bytes"},
      {"target.version: must be X.Y", "version: must be X.Y"},
      {"args_json: not a JSON object", "args: not a JSON object"},
      {"context_json: nesting too deep", "context: nesting too deep"},
      {"timeout: must not be negative", "timeout_ms: must not be negative"},
      {"call_monitor_timeout: too short", "call_monitor_timeout_ms: too short"},
      {"method: required", "method: required"},
      // Only a whole field name followed by ':' is renamed.
      {"timeouts are over", "timeouts are over"},
      {"target.topicx: y", "target.topicx: y"},
  };
  for (const auto& [grpc_message, http_message] : cases) {
    const HttpReply reply =
        ErrorReply(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, grpc_message));
    std::string expected = "{\"code\": \"INVALID_ARGUMENT\", \"message\": ";
    ASSERT_TRUE(json::AppendQuoted(http_message, &expected).ok());
    expected += "}\n";
    EXPECT_EQ(reply.body, expected);
    EXPECT_EQ(reply.status, 400);
  }
}

TEST(JsonResponseTest, RemoteExceptionBodyCarriesEveryRemoteErrorField) {
  bridge::RemoteFailure failure;
  failure.exception_class = "CellQuotaExceeded";
  failure.exception_module = "nova.exception";
  failure.message = "Quota exceeded: caf\xc3\xa9";
  failure.traceback = {"Traceback (most recent call last):\n", "  File \"x.py\"\n"};
  failure.args_json = "[\"Quota exceeded\", 18446744073709551615]";
  failure.kwargs_json = "{\"resource\": \"cores\", \"requested\": 1180591620717411303424}";
  const HttpReply reply = ErrorReply(RemoteFailureToGrpcStatus(failure));
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.body,
            "{\"code\": \"UNKNOWN\", "
            "\"message\": \"nova.exception.CellQuotaExceeded: Quota exceeded: caf\\u00e9\", "
            "\"remote_error\": {\"exception_class\": \"CellQuotaExceeded\", "
            "\"exception_module\": \"nova.exception\", "
            "\"message\": \"Quota exceeded: caf\\u00e9\", "
            "\"traceback\": [\"Traceback (most recent call last):\\n\", "
            "\"  File \\\"x.py\\\"\\n\"], "
            "\"args\": [\"Quota exceeded\", 18446744073709551615], "
            "\"kwargs\": {\"resource\": \"cores\", \"requested\": 1180591620717411303424}}}\n");
  EXPECT_TRUE(json::Validate(reply.body).ok());
}

TEST(JsonResponseTest, RemoteErrorMessageIsNotRenamedEvenWhenItLooksLikeAField) {
  const HttpReply reply = ErrorReply(RemoteStatus("timeout", "builtins", "x"));
  EXPECT_THAT(reply.body, ::testing::HasSubstr("\"message\": \"timeout: x\""));
}

TEST(JsonResponseTest, NoSuchMethodIsNotImplemented) {
  const HttpReply reply = ErrorReply(RemoteStatus(
      "NoSuchMethod", "oslo_messaging.rpc.dispatcher", "Endpoint does not support RPC method"));
  EXPECT_EQ(reply.status, 501);
  EXPECT_THAT(reply.body, ::testing::StartsWith("{\"code\": \"UNIMPLEMENTED\""));
  EXPECT_THAT(reply.body, ::testing::HasSubstr("\"args\": [], \"kwargs\": {}}"));
}

TEST(JsonResponseTest, RemoteErrorOfReadsTheDetailsAndIgnoresPlainStatuses) {
  std::optional<v1::RemoteError> remote =
      RemoteErrorOf(RemoteStatus("ValueError", "builtins", "bad"));
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->exception_class(), "ValueError");
  EXPECT_FALSE(RemoteErrorOf(grpc::Status(grpc::StatusCode::UNKNOWN, "x")).has_value());
  EXPECT_FALSE(
      RemoteErrorOf(grpc::Status(grpc::StatusCode::UNKNOWN, "x", "not a proto")).has_value());
}

TEST(JsonResponseTest, UnauthenticatedAsksForABearerToken) {
  const HttpReply reply =
      ErrorReply(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no credentials"));
  EXPECT_EQ(reply.status, 401);
  EXPECT_THAT(reply.headers, Contains(Pair("WWW-Authenticate", "Bearer")));
  EXPECT_THAT(ErrorReply(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no")).headers,
              IsEmpty());
}

TEST(JsonResponseTest, CallBodyEmbedsTheResultAsTheServerSentIt) {
  v1::CallResponse response;
  response.set_result_json(
      "{\"u64\": 18446744073709551615, \"f\": 1.50, \"t\": \"h\\u00e9\", \"n\": [null]}");
  response.set_msg_id("0123abcd");
  const HttpReply reply = CallReply(response);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body,
            "{\"result\": {\"u64\": 18446744073709551615, \"f\": 1.50, \"t\": \"h\\u00e9\", "
            "\"n\": [null]}, \"msg_id\": \"0123abcd\"}\n");
}

TEST(JsonResponseTest, CallBodyOfAnEmptyResultIsNull) {
  v1::CallResponse response;
  response.set_msg_id("m");
  EXPECT_EQ(CallReply(response).body, "{\"result\": null, \"msg_id\": \"m\"}\n");
}

TEST(JsonResponseTest, CastAndFanoutBodyIsTheUniqueId) {
  const HttpReply reply = UniqueIdReply("5f0e");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "{\"unique_id\": \"5f0e\"}\n");
}

TEST(JsonResponseTest, CellsBodyListsEveryCell) {
  v1::ListCellsResponse response;
  v1::CellInfo* a = response.add_cells();
  a->set_name("cell1");
  a->set_connected(true);
  a->set_transport_url("rabbit://u:***@h:5672/v");
  a->set_control_exchange("nova");
  v1::CellInfo* b = response.add_cells();
  b->set_name("cell2");
  b->set_control_exchange("openstack");
  EXPECT_EQ(CellsReply(response).body,
            "{\"cells\": [{\"name\": \"cell1\", \"connected\": true, "
            "\"transport_url\": \"rabbit://u:***@h:5672/v\", \"control_exchange\": \"nova\"}, "
            "{\"name\": \"cell2\", \"connected\": false, \"transport_url\": \"\", "
            "\"control_exchange\": \"openstack\"}]}\n");
  EXPECT_EQ(CellsReply(v1::ListCellsResponse()).body, "{\"cells\": []}\n");
}

}  // namespace
}  // namespace cellgw::gateway::http
