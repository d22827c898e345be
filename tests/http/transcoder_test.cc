// The transcoder (gateway/http/transcoder) against a fake CellGateway service on a real
// in-process gRPC channel: routing, what reaches the service (request, metadata, deadline),
// and how its answers come back, including a RemoteError in the status details.
#include "gateway/http/transcoder.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/remote_failure.h"
#include "gateway/rpc/status_mapper.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::gateway::http {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// Records what each RPC received and answers with `status` (and fixed responses).
class FakeGateway final : public v1::CellGateway::Service {
 public:
  struct Seen {
    std::string rpc;
    std::string request;  // the request proto, text-serialised
    std::multimap<std::string, std::string> metadata;
    absl::Duration deadline_in;  // deadline minus the time the RPC arrived
  };

  grpc::Status Call(grpc::ServerContext* context, const v1::CallRequest* request,
                    v1::CallResponse* response) override {
    Record("Call", context, request->DebugString());
    response->set_result_json("{\"n\": 18446744073709551615}");
    response->set_msg_id("msg-1");
    return Answer();
  }
  grpc::Status Cast(grpc::ServerContext* context, const v1::CastRequest* request,
                    v1::CastResponse* response) override {
    Record("Cast", context, request->DebugString());
    response->set_unique_id("cast-1");
    return Answer();
  }
  grpc::Status Fanout(grpc::ServerContext* context, const v1::FanoutRequest* request,
                      v1::FanoutResponse* response) override {
    Record("Fanout", context, request->DebugString());
    response->set_unique_id("fanout-1");
    return Answer();
  }
  grpc::Status ListCells(grpc::ServerContext* context, const v1::ListCellsRequest*,
                         v1::ListCellsResponse* response) override {
    Record("ListCells", context, "");
    response->add_cells()->set_name("cell1");
    return Answer();
  }

  void AnswerWith(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  void Record(const std::string& rpc, grpc::ServerContext* context, std::string request) {
    Seen seen{rpc, std::move(request), {}, absl::FromChrono(context->deadline()) - absl::Now()};
    for (const auto& [key, value] : context->client_metadata()) {
      seen.metadata.emplace(std::string(key.data(), key.size()),
                            std::string(value.data(), value.size()));
    }
    absl::MutexLock lock(&mu_);
    seen_.push_back(std::move(seen));
  }
  grpc::Status Answer() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_) = grpc::Status::OK;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

constexpr absl::Duration kDefaultDeadline = absl::Seconds(42);
// Deadlines are checked to within this: the time between the transcoder setting one and
// the fake reading it on a loaded machine, and gRPC's clock conversions (the server may see
// a little more time than was set). It is well under kDeadlineMargin, so a deadline with
// and without the margin cannot be confused.
constexpr absl::Duration kSlack = absl::Seconds(2);

void ExpectNear(absl::Duration actual, absl::Duration expected) {
  EXPECT_LT(absl::AbsDuration(actual - expected), kSlack)
      << "deadline in " << actual << ", expected " << expected;
}

class TranscoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    transcoder_ = std::make_unique<Transcoder>(
        server_->InProcessChannel(grpc::ChannelArguments()), kDefaultDeadline);
  }
  void TearDown() override { server_->Shutdown(); }

  Transcoder::Outcome Handle(absl::string_view method, absl::string_view path,
                             absl::string_view body,
                             std::vector<std::string> authorization = {}) {
    Transcoder::Request request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.authorization = std::move(authorization);
    request.request_id = "req-test-1";
    return transcoder_->Handle(request);
  }

  FakeGateway service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Transcoder> transcoder_;
};

TEST_F(TranscoderTest, RoutesAreTheFourApiPaths) {
  EXPECT_EQ(RouteOf("/v1/call"), Route::kCall);
  EXPECT_EQ(RouteOf("/v1/cast"), Route::kCast);
  EXPECT_EQ(RouteOf("/v1/fanout"), Route::kFanout);
  EXPECT_EQ(RouteOf("/v1/cells"), Route::kCells);
  EXPECT_EQ(RouteOf("/v1/call/"), Route::kOther);
  EXPECT_EQ(RouteOf("/V1/CALL"), Route::kOther);
  EXPECT_EQ(RouteOf("/"), Route::kOther);
  EXPECT_EQ(RouteLabel(Route::kOther), "other");
  EXPECT_EQ(RouteLabel(Route::kFanout), "/v1/fanout");
}

TEST_F(TranscoderTest, UnknownPathIsNotFoundWithoutReachingTheService) {
  const Transcoder::Outcome outcome = Handle("POST", "/v1/calls", "{}");
  EXPECT_EQ(outcome.reply.status, 404);
  EXPECT_THAT(outcome.reply.body, StartsWith("{\"code\": \"NOT_FOUND\""));
  EXPECT_TRUE(outcome.refusal.has_value());
  EXPECT_TRUE(service_.seen().empty());
}

TEST_F(TranscoderTest, WrongMethodIsMethodNotAllowedNamingTheAllowedOne) {
  Transcoder::Outcome outcome = Handle("GET", "/v1/call", "");
  EXPECT_EQ(outcome.reply.status, 405);
  EXPECT_THAT(outcome.reply.headers, Contains(Pair("Allow", "POST")));
  outcome = Handle("POST", "/v1/cells", "{}");
  EXPECT_EQ(outcome.reply.status, 405);
  EXPECT_THAT(outcome.reply.headers, Contains(Pair("Allow", "GET")));
  EXPECT_TRUE(service_.seen().empty());
}

TEST_F(TranscoderTest, BadBodyIsRefusedWithoutReachingTheService) {
  const Transcoder::Outcome outcome =
      Handle("POST", "/v1/cast", R"({"topic": "t", "method": ["m"]})");
  EXPECT_EQ(outcome.reply.status, 400);
  EXPECT_THAT(outcome.reply.body, HasSubstr("\"message\": \"method: must be a string"));
  ASSERT_TRUE(outcome.refusal.has_value());
  EXPECT_THAT(*outcome.refusal, StartsWith("method: "));
  EXPECT_TRUE(service_.seen().empty());
}

TEST_F(TranscoderTest, CallReachesTheServiceAsACallRequestAndAnswersItsResult) {
  const Transcoder::Outcome outcome =
      Handle("POST", "/v1/call",
             R"({"cell": "c1", "topic": "compute", "method": "echo",
                 "args": {"n": 1180591620717411303424}, "context": {"u": "v"}})");
  EXPECT_EQ(outcome.reply.status, 200);
  EXPECT_EQ(outcome.reply.body,
            "{\"result\": {\"n\": 18446744073709551615}, \"msg_id\": \"msg-1\"}\n");
  EXPECT_FALSE(outcome.refusal.has_value());
  const std::vector<FakeGateway::Seen> seen = service_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].rpc, "Call");
  v1::CallRequest expected;
  expected.mutable_target()->set_cell("c1");
  expected.mutable_target()->set_topic("compute");
  expected.set_method("echo");
  expected.set_args_json(R"({"n": 1180591620717411303424})");
  expected.set_context_json(R"({"u": "v"})");
  EXPECT_EQ(seen[0].request, expected.DebugString());
}

TEST_F(TranscoderTest, CastFanoutAndCellsReachTheirRpcs) {
  EXPECT_EQ(Handle("POST", "/v1/cast", R"({"topic": "t", "method": "m"})").reply.body,
            "{\"unique_id\": \"cast-1\"}\n");
  EXPECT_EQ(Handle("POST", "/v1/fanout", R"({"topic": "t", "method": "m"})").reply.body,
            "{\"unique_id\": \"fanout-1\"}\n");
  EXPECT_THAT(Handle("GET", "/v1/cells", "").reply.body,
              StartsWith("{\"cells\": [{\"name\": \"cell1\""));
  const std::vector<FakeGateway::Seen> seen = service_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].rpc, "Cast");
  EXPECT_EQ(seen[1].rpc, "Fanout");
  EXPECT_EQ(seen[2].rpc, "ListCells");
}

TEST_F(TranscoderTest, AuthorizationHeadersAndRequestIdTravelAsMetadata) {
  Handle("POST", "/v1/cast", R"({"topic": "t", "method": "m"})",
         {"Bearer one", "Bearer two"});
  const std::vector<FakeGateway::Seen> seen = service_.seen();
  ASSERT_EQ(seen.size(), 1u);
  std::vector<std::string> authorization;
  auto [begin, end] = seen[0].metadata.equal_range("authorization");
  for (auto it = begin; it != end; ++it) authorization.push_back(it->second);
  EXPECT_THAT(authorization, ElementsAre("Bearer one", "Bearer two"));
  EXPECT_THAT(seen[0].metadata, Contains(Pair("x-request-id", "req-test-1")));
}

TEST_F(TranscoderTest, AuthorizationThatMetadataCannotCarryIsRefused) {
  const Transcoder::Outcome outcome =
      Handle("GET", "/v1/cells", "", {"Bearer caf\xc3\xa9"});
  EXPECT_EQ(outcome.reply.status, 400);
  EXPECT_THAT(outcome.reply.body, HasSubstr("\"message\": \"Authorization: "));
  EXPECT_TRUE(service_.seen().empty());
}

TEST_F(TranscoderTest, CallTimeoutIsSentAndWaitedForWithTheMargin) {
  Handle("POST", "/v1/call", R"({"topic": "t", "method": "m", "timeout_ms": 3000})");
  const std::vector<FakeGateway::Seen> seen = service_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_THAT(seen[0].request, HasSubstr("timeout {\n  seconds: 3\n}"));
  ExpectNear(seen[0].deadline_in, absl::Seconds(3) + kDeadlineMargin);
}

TEST_F(TranscoderTest, CastTimeoutIsTheDeadline) {
  Handle("POST", "/v1/cast", R"({"topic": "t", "method": "m", "timeout_ms": 3000})");
  const std::vector<FakeGateway::Seen> seen = service_.seen();
  ASSERT_EQ(seen.size(), 1u);
  ExpectNear(seen[0].deadline_in, absl::Seconds(3));
}

TEST_F(TranscoderTest, WithoutTimeoutTheDefaultDeadlineApplies) {
  Handle("POST", "/v1/fanout", R"({"topic": "t", "method": "m"})");
  Handle("POST", "/v1/call", R"({"topic": "t", "method": "m", "timeout_ms": 0})");
  const std::vector<FakeGateway::Seen> seen = service_.seen();
  ASSERT_EQ(seen.size(), 2u);
  for (const FakeGateway::Seen& s : seen) {
    SCOPED_TRACE(s.rpc);
    ExpectNear(s.deadline_in, kDefaultDeadline);
  }
  EXPECT_THAT(seen[1].request, ::testing::Not(HasSubstr("timeout")));
}

TEST_F(TranscoderTest, ServiceErrorsBecomeHttpErrorsWithTheirRemoteError) {
  bridge::RemoteFailure failure;
  failure.exception_class = "CellQuotaExceeded";
  failure.exception_module = "nova.exception";
  failure.message = "over quota";
  failure.kwargs_json = R"({"requested": 8})";
  service_.AnswerWith(RemoteFailureToGrpcStatus(failure));
  Transcoder::Outcome outcome = Handle("POST", "/v1/call", R"({"topic": "t", "method": "m"})");
  EXPECT_EQ(outcome.reply.status, 500);
  EXPECT_THAT(outcome.reply.body,
              HasSubstr("\"remote_error\": {\"exception_class\": \"CellQuotaExceeded\", "
                        "\"exception_module\": \"nova.exception\", \"message\": \"over "
                        "quota\", \"traceback\": [], \"args\": [], \"kwargs\": "
                        "{\"requested\": 8}}"));
  EXPECT_FALSE(outcome.refusal.has_value());

  service_.AnswerWith(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no grant"));
  outcome = Handle("POST", "/v1/cast", R"({"topic": "t", "method": "m"})");
  EXPECT_EQ(outcome.reply.status, 403);
  EXPECT_EQ(outcome.reply.body,
            "{\"code\": \"PERMISSION_DENIED\", \"message\": \"no grant\"}\n");
}

}  // namespace
}  // namespace cellgw::gateway::http
