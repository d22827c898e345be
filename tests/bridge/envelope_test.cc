#include "bridge/envelope.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "bridge/remote_failure.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/wire_vector.h"

namespace cellgw::bridge {
namespace {

using ::testing::HasSubstr;

using ::cellgw::testing::LoadWireVector;
using ::cellgw::testing::PythonStyle;
using ::cellgw::testing::WireVector;

// The strings a RequestMessage points at, pulled from a vector's decoded_message.
struct RequestFields {
  std::string method, args, context, namespace_, version, msg_id, reply_q, unique_id;
  std::optional<int64_t> timeout;

  RequestMessage View() const {
    RequestMessage message;
    message.method = method;
    message.args_json = args;
    message.context_json = context;
    message.namespace_ = namespace_;
    message.version = version;
    message.msg_id = msg_id;
    message.reply_q = reply_q;
    message.call_monitor_timeout_s = timeout;
    message.unique_id = unique_id;
    return message;
  }
};

RequestFields FieldsFromVector(const WireVector& vector) {
  RequestFields fields;
  fields.context = "{";
  for (const auto& [key, raw] : vector.decoded) {
    if (absl::StartsWith(key, "_context_")) {
      if (fields.context.size() > 1) fields.context += ",\n";
      EXPECT_TRUE(json::AppendQuoted(key.substr(9), &fields.context).ok());
      absl::StrAppend(&fields.context, ":", raw);
    }
  }
  fields.context += "}";
  fields.method = vector.String("method");
  fields.args = vector.Raw("args");
  if (vector.Has("namespace")) fields.namespace_ = vector.String("namespace");
  if (vector.Has("version")) fields.version = vector.String("version");
  if (vector.Has("_msg_id")) {
    fields.msg_id = vector.String("_msg_id");
    fields.reply_q = vector.String("_reply_q");
    const std::string timeout = vector.Raw("_timeout");
    if (timeout != "null") {
      int64_t seconds = 0;
      EXPECT_TRUE(absl::SimpleAtoi(timeout, &seconds)) << timeout;
      fields.timeout = seconds;
    }
  }
  fields.unique_id = vector.String("_unique_id");
  return fields;
}

const char* const kRequestVectors[] = {
    "cast",
    "cast_server",
    "fanout_cast",
    "call_request",
    "call_request_server",
    "call_request_namespace",
    "call_request_bigint_unicode",
    "call_request_version_9",
    "call_request_call_monitor",
};

const char* const kReplyVectors[] = {
    "call_reply_bigint_unicode",
    "call_reply_dict",
    "call_reply_server",
    "call_reply_string",
    "reply_heartbeat",
    "reply_failure_custom_kwargs",
    "reply_failure_expected_exception",
    "reply_failure_nosuchmethod",
    "reply_failure_unsupportedversion",
    "reply_failure_valueerror",
    "reply_failure_wrong_namespace",
    "legacy_v1_call_reply",
};

// ---------------------------------------------------------------------------------------------
// EncodeRequest

class RequestVectorTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RequestVectorTest, EncodeRequestIsByteIdenticalToOslo) {
  const WireVector vector = LoadWireVector(GetParam());
  const RequestFields fields = FieldsFromVector(vector);
  const absl::StatusOr<std::string> body = EncodeRequest(fields.View());
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, vector.body);
}

TEST_P(RequestVectorTest, DecodeRequestReadsWhatOsloSent) {
  const WireVector vector = LoadWireVector(GetParam());
  const RequestFields fields = FieldsFromVector(vector);
  const absl::StatusOr<DecodedRequest> request = DecodeRequest(vector.body);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, fields.method);
  EXPECT_EQ(PythonStyle(request->args_json), PythonStyle(fields.args));
  EXPECT_EQ(PythonStyle(request->context_json), PythonStyle(fields.context));
  EXPECT_EQ(request->namespace_.has_value(), vector.Has("namespace"));
  EXPECT_EQ(request->namespace_.value_or(""), fields.namespace_);
  EXPECT_EQ(request->version.value_or(""), fields.version);
  EXPECT_EQ(request->msg_id, fields.msg_id);
  EXPECT_EQ(request->reply_q, fields.reply_q);
  EXPECT_EQ(request->timeout_json.has_value(), vector.Has("_timeout"));
  if (vector.Has("_timeout")) {
    EXPECT_EQ(*request->timeout_json, vector.Raw("_timeout"));
  }
  EXPECT_EQ(request->unique_id, fields.unique_id);
}

TEST_P(RequestVectorTest, EncodeThenDecodeRequestRoundTrips) {
  const RequestFields fields = FieldsFromVector(LoadWireVector(GetParam()));
  const absl::StatusOr<std::string> body = EncodeRequest(fields.View());
  ASSERT_TRUE(body.ok()) << body.status();
  const absl::StatusOr<DecodedRequest> request = DecodeRequest(*body);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, fields.method);
  // Encoded values are already Python style, so they come back verbatim.
  EXPECT_EQ(request->args_json, PythonStyle(fields.args));
  EXPECT_EQ(request->context_json, PythonStyle(fields.context));
  EXPECT_EQ(request->version.value_or(""), fields.version);
  EXPECT_EQ(request->msg_id, fields.msg_id);
  EXPECT_EQ(request->reply_q, fields.reply_q);
  EXPECT_EQ(request->unique_id, fields.unique_id);
}

INSTANTIATE_TEST_SUITE_P(WireVectors, RequestVectorTest, ::testing::ValuesIn(kRequestVectors),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST(EncodeRequestTest, KeepsBigIntegersAndEscapesUnicode) {
  // The decoded args of call_request_bigint_unicode hold raw UTF-8 and 2**64-1.
  const WireVector vector = LoadWireVector("call_request_bigint_unicode");
  const absl::StatusOr<std::string> body = EncodeRequest(FieldsFromVector(vector).View());
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("18446744073709551615"));
  EXPECT_THAT(*body, HasSubstr("caf\\\\u00e9 \\\\ud83d\\\\ude00"));
  for (char c : *body) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

TEST(EncodeRequestTest, MinimalCastHasOnlyMethodArgsAndUniqueId) {
  RequestMessage message;
  message.method = "ping";
  message.unique_id = "u1";
  const absl::StatusOr<std::string> body = EncodeRequest(message);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body,
            "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"method\\\": \\\"ping\\\", "
            "\\\"args\\\": {}, \\\"_unique_id\\\": \\\"u1\\\"}\"}");
}

TEST(EncodeRequestTest, CallCarriesTimeoutAndContextInOsloOrder) {
  RequestMessage message;
  message.method = "m";
  message.args_json = "{\"x\":2.50}";
  message.context_json = "{\"caf\xc3\xa9\":null,\"a\":1,\"caf\xc3\xa9\":{\"d\":[]}}";
  message.namespace_ = "ns";
  message.version = "1.2";
  message.msg_id = "id";
  message.reply_q = "reply_q1";
  message.call_monitor_timeout_s = 30;
  message.unique_id = "u";
  const absl::StatusOr<std::string> body = EncodeRequest(message);
  ASSERT_TRUE(body.ok()) << body.status();
  const absl::StatusOr<std::string> inner = UnwrapEnvelope(*body);
  ASSERT_TRUE(inner.ok()) << inner.status();
  // Duplicate context keys collapse like a Python dict; numbers are copied verbatim.
  EXPECT_EQ(*inner,
            "{\"method\": \"m\", \"args\": {\"x\": 2.50}, \"namespace\": \"ns\", \"version\": "
            "\"1.2\", \"_msg_id\": \"id\", \"_reply_q\": \"reply_q1\", \"_timeout\": 30, "
            "\"_unique_id\": \"u\", \"_context_caf\\u00e9\": {\"d\": []}, \"_context_a\": 1}");
}

struct BadRequestCase {
  std::string name;
  std::string method = "m";
  std::string args_json;
  std::string context_json;
  std::string version;
  std::string msg_id;
  std::string reply_q;
  std::string field;  // named in the error
};

class EncodeRequestRefusedTest : public ::testing::TestWithParam<BadRequestCase> {};

TEST_P(EncodeRequestRefusedTest, IsInvalidArgumentNamingTheField) {
  RequestMessage message;
  message.method = GetParam().method;
  message.args_json = GetParam().args_json;
  message.context_json = GetParam().context_json;
  message.version = GetParam().version;
  message.msg_id = GetParam().msg_id;
  message.reply_q = GetParam().reply_q;
  const absl::StatusOr<std::string> body = EncodeRequest(message);
  EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(body.status().message()), HasSubstr(GetParam().field + ": "));
}

BadRequestCase Bad(std::string name, std::string field) {
  BadRequestCase c;
  c.name = std::move(name);
  c.field = std::move(field);
  return c;
}

INSTANTIATE_TEST_SUITE_P(Table, EncodeRequestRefusedTest, ::testing::ValuesIn([] {
                           std::vector<BadRequestCase> cases;
                           BadRequestCase c = Bad("ArgsArray", "args_json");
                           c.args_json = "[1]";
                           cases.push_back(c);
                           c = Bad("ArgsInvalidJson", "args_json");
                           c.args_json = "{\"a\":}";
                           cases.push_back(c);
                           c = Bad("ArgsTrailingGarbage", "args_json");
                           c.args_json = "{} {}";
                           cases.push_back(c);
                           c = Bad("ContextNotObject", "context_json");
                           c.context_json = "\"ctx\"";
                           cases.push_back(c);
                           c = Bad("ContextInvalidJson", "context_json");
                           c.context_json = "{\"a\":1,}";
                           cases.push_back(c);
                           c = Bad("MethodNotUtf8", "method");
                           c.method = "bad\xff";
                           cases.push_back(c);
                           c = Bad("VersionNotUtf8", "version");
                           c.version = "1.\xc3";
                           cases.push_back(c);
                           c = Bad("CallWithoutReplyQueue", "reply_q");
                           c.msg_id = "id";
                           cases.push_back(c);
                           return cases;
                         }()),
                         [](const ::testing::TestParamInfo<BadRequestCase>& info) {
                           return info.param.name;
                         });

// ---------------------------------------------------------------------------------------------
// DecodeRequest (legacy form and oddities)

TEST(DecodeRequestTest, AcceptsTheLegacyUnenvelopedForm) {
  const WireVector vector = LoadWireVector("legacy_v1_call_request");
  const absl::StatusOr<DecodedRequest> request = DecodeRequest(vector.body);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, "echo");
  EXPECT_EQ(request->args_json, "{\"legacy\": true}");
  EXPECT_EQ(request->context_json, "{\"request_id\": \"req-legacy\"}");
  EXPECT_FALSE(request->namespace_.has_value());
  EXPECT_EQ(request->version, std::optional<std::string>("1.0"));
  EXPECT_EQ(request->msg_id, "9b07b5ea1ac04a1c9bfa02595b7a7652");
  EXPECT_EQ(request->reply_q, "reply_97b74419d12a4c3eaf22e1cb948686d4");
  EXPECT_EQ(request->timeout_json, std::optional<std::string>("null"));
  EXPECT_EQ(request->unique_id, "66ab60ad2a98426aa37d8a21fef2e682");
}

TEST(DecodeRequestTest, CastHasNoMsgIdAndNoTimeout) {
  const absl::StatusOr<DecodedRequest> request = DecodeRequest(LoadWireVector("cast").body);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->msg_id, "");
  EXPECT_EQ(request->reply_q, "");
  EXPECT_FALSE(request->timeout_json.has_value());
  EXPECT_EQ(request->context_json,
            "{\"user_id\": \"u-7e1f\", \"project_id\": \"p-42\", \"request_id\": "
            "\"req-5f0c2f1e-0d8e-4a55-9c5e-3c2b7f6a9b10\", \"is_admin\": false, \"roles\": "
            "[\"member\", \"reader\"], \"auth_token\": null}");
}

TEST(DecodeRequestTest, MissingOrNullFieldsTakeOsloDefaults) {
  const absl::StatusOr<DecodedRequest> request =
      DecodeRequest("{\"method\": null, \"namespace\": null, \"_msg_id\": null}");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, "");
  EXPECT_EQ(request->args_json, "{}");
  EXPECT_EQ(request->context_json, "{}");
  EXPECT_FALSE(request->namespace_.has_value());
  EXPECT_FALSE(request->version.has_value());
  EXPECT_EQ(request->msg_id, "");
}

TEST(DecodeRequestTest, WrongTypesAreInvalidArgumentNamingTheKey) {
  const struct {
    const char* body;
    const char* key;
  } cases[] = {
      {"{\"method\": 1}", "method"},        {"{\"args\": []}", "args"},
      {"{\"args\": null}", "args"},         {"{\"version\": 1.1}", "version"},
      {"{\"namespace\": {}}", "namespace"}, {"{\"_msg_id\": 7}", "_msg_id"},
      {"{\"_reply_q\": true}", "_reply_q"}, {"{\"_unique_id\": []}", "_unique_id"},
  };
  for (const auto& c : cases) {
    const absl::StatusOr<DecodedRequest> request = DecodeRequest(c.body);
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(std::string(request.status().message()), HasSubstr(absl::StrCat(c.key, ": ")))
        << c.body;
  }
}

// ---------------------------------------------------------------------------------------------
// DecodeReply / EncodeReply against the captured replies

struct ReplyExpectation {
  const char* vector;
  bool ending;
  const char* failure_class;  // nullptr: no failure
  const char* failure_module;
  const char* failure_message;
  const char* failure_kwargs;
  const char* last_traceback_line;
};

const ReplyExpectation kReplyExpectations[] = {
    {"call_reply_bigint_unicode", true},
    {"call_reply_dict", true},
    {"call_reply_server", true},
    {"call_reply_string", true},
    {"reply_heartbeat", false},
    {"legacy_v1_call_reply", true},
    {"reply_failure_custom_kwargs", true, "CellQuotaExceeded", "wirespec_exc",
     "Quota exceeded for cores: requested 8", "{\"resource\": \"cores\", \"requested\": 8}",
     "wirespec_exc.CellQuotaExceeded: Quota exceeded for cores: requested 8\n"},
    {"reply_failure_expected_exception", true, "KeyError", "builtins", "'missing-key'", "{}",
     "KeyError: 'missing-key'\n"},
    {"reply_failure_nosuchmethod", true, "NoSuchMethod", "oslo_messaging.rpc.dispatcher",
     "Endpoint does not support RPC method no_such", "{}",
     "oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method "
     "no_such\n"},
    {"reply_failure_unsupportedversion", true, "UnsupportedVersion",
     "oslo_messaging.rpc.dispatcher",
     "Endpoint does not support RPC version 9.0. Attempted method: echo", "{}",
     "oslo_messaging.rpc.dispatcher.UnsupportedVersion: Endpoint does not support RPC version "
     "9.0. Attempted method: echo\n"},
    {"reply_failure_valueerror", true, "ValueError", "builtins", "invalid value: bad", "{}",
     "ValueError: invalid value: bad\n"},
    {"reply_failure_wrong_namespace", true, "UnsupportedVersion", "oslo_messaging.rpc.dispatcher",
     "Endpoint does not support RPC version 1.1. Attempted method: echo", "{}",
     "oslo_messaging.rpc.dispatcher.UnsupportedVersion: Endpoint does not support RPC version "
     "1.1. Attempted method: echo\n"},
};

TEST(ReplyVectorListTest, EveryReplyVectorHasAnExpectation) {
  std::vector<std::string> expected;
  for (const ReplyExpectation& e : kReplyExpectations) expected.push_back(e.vector);
  EXPECT_THAT(expected, ::testing::UnorderedElementsAreArray(kReplyVectors));
}

class ReplyVectorTest : public ::testing::TestWithParam<ReplyExpectation> {};

TEST_P(ReplyVectorTest, DecodeReplyReadsWhatOsloSent) {
  const ReplyExpectation& expect = GetParam();
  const WireVector vector = LoadWireVector(expect.vector);
  const absl::StatusOr<Reply> reply = DecodeReply(vector.body);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->msg_id, vector.String("_msg_id"));
  EXPECT_EQ(PythonStyle(reply->result_json), PythonStyle(vector.Raw("result")));
  EXPECT_EQ(reply->ending, expect.ending);
  EXPECT_EQ(reply->IsHeartbeat(), std::string(expect.vector) == "reply_heartbeat");
  if (expect.failure_class == nullptr) {
    EXPECT_FALSE(reply->failure.has_value());
    return;
  }
  ASSERT_TRUE(reply->failure.has_value());
  EXPECT_EQ(reply->result_json, "null");
  EXPECT_EQ(reply->failure->exception_class, expect.failure_class);
  EXPECT_EQ(reply->failure->exception_module, expect.failure_module);
  EXPECT_EQ(reply->failure->message, expect.failure_message);
  EXPECT_EQ(reply->failure->kwargs_json, expect.failure_kwargs);
  EXPECT_EQ(reply->failure->args_json,
            absl::StrCat("[\"",
                         expect.failure_class == std::string("KeyError") ? "missing-key"
                                                                         : expect.failure_message,
                         "\"]"));
  ASSERT_FALSE(reply->failure->traceback.empty());
  EXPECT_EQ(reply->failure->traceback.front(), "Traceback (most recent call last):\n");
  EXPECT_EQ(reply->failure->traceback.back(), expect.last_traceback_line);
}

TEST_P(ReplyVectorTest, EncodeReplyIsByteIdenticalToOslo) {
  const WireVector vector = LoadWireVector(GetParam().vector);
  std::optional<RemoteFailure> failure;
  if (vector.Raw("failure") != "null") {
    const absl::StatusOr<RemoteFailure> parsed = ParseRemoteFailure(vector.String("failure"));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    failure = *parsed;
  }
  const absl::StatusOr<std::string> body = EncodeReply(
      vector.String("_msg_id"), vector.Raw("result"), failure.has_value() ? &*failure : nullptr,
      vector.Raw("ending") == "true", vector.String("_unique_id"));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, vector.body);
}

TEST_P(ReplyVectorTest, EncodeThenDecodeReplyRoundTrips) {
  const absl::StatusOr<Reply> original = DecodeReply(LoadWireVector(GetParam().vector).body);
  ASSERT_TRUE(original.ok()) << original.status();
  const absl::StatusOr<std::string> body =
      EncodeReply(original->msg_id, original->result_json,
                  original->failure.has_value() ? &*original->failure : nullptr, original->ending,
                  "fresh-unique-id");
  ASSERT_TRUE(body.ok()) << body.status();
  const absl::StatusOr<Reply> again = DecodeReply(*body);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->msg_id, original->msg_id);
  EXPECT_EQ(again->result_json, original->result_json);  // oslo's text is already Python style
  EXPECT_EQ(again->ending, original->ending);
  ASSERT_EQ(again->failure.has_value(), original->failure.has_value());
  if (again->failure.has_value()) {
    EXPECT_EQ(SerializeRemoteFailure(*again->failure), SerializeRemoteFailure(*original->failure));
  }
}

INSTANTIATE_TEST_SUITE_P(WireVectors, ReplyVectorTest, ::testing::ValuesIn(kReplyExpectations),
                         [](const ::testing::TestParamInfo<ReplyExpectation>& info) {
                           return std::string(info.param.vector);
                         });

TEST(DecodeReplyTest, KeepsBigIntegersAndEscapesExactly) {
  const absl::StatusOr<Reply> reply = DecodeReply(LoadWireVector("call_reply_bigint_unicode").body);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->result_json,
            "{\"big\": 9223372036854775807, \"neg\": -9223372036854775808, \"u64max\": "
            "18446744073709551615, \"text\": \"h\\u00e9llo \\u2603 \\ud83d\\ude00 \\\"q\\\" \\\\ "
            "/\", \"nested\": [1, [2, [3, [4]]], {\"a\": [null, true, false, 1.5]}]}");
}

TEST(DecodeReplyTest, AcceptsAnUnenvelopedReplyWithoutUniqueId) {
  const absl::StatusOr<Reply> reply = DecodeReply(
      "{\"result\": 1180591620717411303424, \"failure\": null, \"ending\": true, "
      "\"_msg_id\": \"m\"}");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->msg_id, "m");
  EXPECT_EQ(reply->result_json, "1180591620717411303424");
  EXPECT_TRUE(reply->ending);
}

TEST(DecodeReplyTest, MissingResultAndEndingMeanNullAndFalse) {
  const absl::StatusOr<Reply> reply = DecodeReply("{\"failure\": null, \"_msg_id\": \"m\"}");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->result_json, "null");
  EXPECT_FALSE(reply->ending);
  EXPECT_TRUE(reply->IsHeartbeat());
}

TEST(DecodeReplyTest, EmptyFailureStringMeansNoFailure) {
  const absl::StatusOr<Reply> reply =
      DecodeReply("{\"result\": 5, \"failure\": \"\", \"ending\": true, \"_msg_id\": \"m\"}");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->failure.has_value());
  EXPECT_EQ(reply->result_json, "5");
}

TEST(DecodeReplyTest, OldStyleEndingMessageIsNotAHeartbeat) {
  const absl::StatusOr<Reply> reply =
      DecodeReply("{\"result\": null, \"failure\": null, \"ending\": true, \"_msg_id\": \"m\"}");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->IsHeartbeat());
}

TEST(DecodeReplyTest, BreakingOslosClientRulesIsInvalidArgumentNamingTheKey) {
  const struct {
    const char* body;
    const char* key;
  } cases[] = {
      {"{\"result\": 1, \"failure\": null, \"ending\": true}", "_msg_id"},
      {"{\"failure\": null, \"_msg_id\": 5}", "_msg_id"},
      {"{\"failure\": null, \"_msg_id\": null}", "_msg_id"},
      {"{\"result\": 1, \"ending\": true, \"_msg_id\": \"m\"}", "failure"},
      {"{\"failure\": {\"class\": \"E\"}, \"_msg_id\": \"m\"}", "failure"},
      {"{\"failure\": 1, \"_msg_id\": \"m\"}", "failure"},
      {"{\"failure\": \"not json\", \"_msg_id\": \"m\"}", "failure"},
      {"{\"failure\": \"{\\\"class\\\": 3}\", \"_msg_id\": \"m\"}", "failure.class"},
      {"{\"failure\": null, \"ending\": \"yes\", \"_msg_id\": \"m\"}", "ending"},
      {"[1]", "body"},
      {"not json", "body"},
      {"{\"oslo.version\": \"2.0\", \"oslo.message\": \"[1]\"}", "oslo.message"},
  };
  for (const auto& c : cases) {
    const absl::StatusOr<Reply> reply = DecodeReply(c.body);
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(std::string(reply.status().message()), HasSubstr(absl::StrCat(c.key, ": ")))
        << c.body;
  }
}

TEST(EncodeReplyTest, HeartbeatMatchesOslosHeartbeat) {
  const WireVector vector = LoadWireVector("reply_heartbeat");
  const absl::StatusOr<std::string> body = EncodeReply(
      vector.String("_msg_id"), "null", nullptr, /*ending=*/false, vector.String("_unique_id"));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, vector.body);
}

TEST(EncodeReplyTest, EmptyResultMeansNull) {
  const absl::StatusOr<std::string> body = EncodeReply("m", "", nullptr, true, "u");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body,
            "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"result\\\": null, "
            "\\\"failure\\\": null, \\\"ending\\\": true, \\\"_msg_id\\\": \\\"m\\\", "
            "\\\"_unique_id\\\": \\\"u\\\"}\"}");
}

TEST(EncodeReplyTest, InvalidInputIsInvalidArgumentNamingTheField) {
  EXPECT_THAT(std::string(EncodeReply("m", "{nope", nullptr, true, "u").status().message()),
              HasSubstr("result_json: "));
  EXPECT_THAT(std::string(EncodeReply("m\xff", "1", nullptr, true, "u").status().message()),
              HasSubstr("msg_id: "));
  EXPECT_EQ(EncodeReply("m", "1 2", nullptr, true, "u").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// UnwrapEnvelope: the envelope version rule (§6.3) and the 1.0 form

struct VersionCase {
  const char* version_json;  // the raw JSON value of "oslo.version"
  absl::StatusCode code;
};

class EnvelopeVersionTest : public ::testing::TestWithParam<VersionCase> {};

TEST_P(EnvelopeVersionTest, AcceptsOnlyWhatOsloAccepts) {
  const std::string body = absl::StrCat("{\"oslo.version\": ", GetParam().version_json,
                                        ", \"oslo.message\": \"{\\\"method\\\": \\\"m\\\"}\"}");
  const absl::StatusOr<std::string> inner = UnwrapEnvelope(body);
  EXPECT_EQ(inner.status().code(), GetParam().code) << GetParam().version_json;
  if (inner.ok()) {
    EXPECT_EQ(*inner, "{\"method\": \"m\"}");
  }
  if (GetParam().code == absl::StatusCode::kFailedPrecondition) {
    EXPECT_THAT(std::string(inner.status().message()), HasSubstr("oslo.version: "));
  }
}

// Outcomes checked against oslo_messaging._utils.version_is_compatible("2.0", v).
INSTANTIATE_TEST_SUITE_P(
    Table, EnvelopeVersionTest,
    ::testing::Values(VersionCase{"\"2.0\"", absl::StatusCode::kOk},
                      VersionCase{"\"2.0.0\"", absl::StatusCode::kOk},
                      VersionCase{"\"02.00.00\"", absl::StatusCode::kOk},
                      VersionCase{"\" 2 . 0 \"", absl::StatusCode::kOk},
                      VersionCase{"\"2.0_0\"", absl::StatusCode::kOk},
                      VersionCase{"\"2.0.-1\"", absl::StatusCode::kOk},
                      VersionCase{"\"2.-1.x\"", absl::StatusCode::kOk},  // rev never parsed
                      VersionCase{"\"2.0.0.7\"", absl::StatusCode::kOk},
                      VersionCase{"\"2\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"x.y\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"2.1\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"3.0\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"1.0\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"2.0.1\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"2.0.x\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"2._0\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"2.\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"\"\"", absl::StatusCode::kFailedPrecondition},
                      VersionCase{"2.0", absl::StatusCode::kInvalidArgument},
                      VersionCase{"null", absl::StatusCode::kInvalidArgument}));

TEST(UnwrapEnvelopeTest, BodyWithOnlyOneEnvelopeKeyIsALegacyMessage) {
  const std::string body = " {\"oslo.message\": \"x\", \"method\": \"m\"} ";
  const absl::StatusOr<std::string> inner = UnwrapEnvelope(body);
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_EQ(*inner, "{\"oslo.message\": \"x\", \"method\": \"m\"}");
}

TEST(UnwrapEnvelopeTest, ReturnsTheInnerMessageOfAVector) {
  const absl::StatusOr<std::string> inner = UnwrapEnvelope(LoadWireVector("reply_heartbeat").body);
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_EQ(*inner,
            "{\"result\": null, \"failure\": null, \"ending\": false, \"_msg_id\": "
            "\"448a8c68f1a5461d8b7e054f93a75db2\", \"_unique_id\": "
            "\"4025d798dd2146f48fa58557c8c65e18\"}");
}

TEST(UnwrapEnvelopeTest, MalformedBodiesAreInvalidArgument) {
  for (const char* body : {"", "nope", "[]", "\"{}\"", "{\"a\": 1",
                           "{\"oslo.version\": \"2.0\", \"oslo.message\": {}}",
                           "{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"a\\\": \"}",
                           "{\"oslo.version\": \"2.0\", \"oslo.message\": \"[]\"}"}) {
    EXPECT_EQ(UnwrapEnvelope(body).status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
}

}  // namespace
}  // namespace cellgw::bridge
