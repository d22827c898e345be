#include "gateway/rpc/status_mapper.h"

#include "client/cellgw_client.h"
#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

bridge::RemoteFailure Failure(const std::string& cls, const std::string& module) {
  bridge::RemoteFailure failure;
  failure.exception_class = cls;
  failure.exception_module = module;
  failure.message = "boom";
  failure.traceback = {"Traceback (most recent call last):\n", "X: boom\n"};
  failure.args_json = R"(["boom"])";
  failure.kwargs_json = R"({"resource": "cores", "requested": 8})";
  return failure;
}

TEST(StatusMapperTest, OwnErrorsKeepTheirCodeAndMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  const grpc::Status status = ToGrpcStatus(absl::InvalidArgumentError("target.topic: required"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "target.topic: required");
  EXPECT_EQ(ToGrpcStatus(absl::DeadlineExceededError("t")).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("u")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(StatusMapperTest, RemoteExceptionCodes) {
  const std::string dispatcher = "oslo_messaging.rpc.dispatcher";
  EXPECT_EQ(RemoteFailureCode(Failure("NoSuchMethod", dispatcher)),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(RemoteFailureCode(Failure("UnsupportedVersion", dispatcher)),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(RemoteFailureCode(Failure("ValueError", "builtins")), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(RemoteFailureCode(Failure("CellQuotaExceeded", "nova.exception")),
            grpc::StatusCode::UNKNOWN);
  // A same-named class from another module is not oslo's dispatcher error.
  EXPECT_EQ(RemoteFailureCode(Failure("NoSuchMethod", "myapp.errors")), grpc::StatusCode::UNKNOWN);
}

TEST(StatusMapperTest, RemoteErrorTravelsInTheStatusDetails) {
  const grpc::Status status =
      RemoteFailureToGrpcStatus(Failure("CellQuotaExceeded", "nova.exception"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message(), "nova.exception.CellQuotaExceeded: boom");
  std::optional<v1::RemoteError> remote = client::RemoteErrorOf(status);
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->exception_class(), "CellQuotaExceeded");
  EXPECT_EQ(remote->exception_module(), "nova.exception");
  EXPECT_EQ(remote->message(), "boom");
  ASSERT_EQ(remote->traceback_size(), 2);
  EXPECT_EQ(remote->traceback(1), "X: boom\n");
  EXPECT_EQ(remote->args_json(), R"(["boom"])");
  EXPECT_EQ(remote->kwargs_json(), R"({"resource": "cores", "requested": 8})");
}

TEST(StatusMapperTest, BuiltinExceptionMessageHasNoModulePrefix) {
  EXPECT_EQ(RemoteFailureToGrpcStatus(Failure("ValueError", "builtins")).error_message(),
            "ValueError: boom");
}

TEST(StatusMapperTest, CodeNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace cellgw::gateway
