#include "bridge/notification.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/json_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/wire_vector.h"

namespace cellgw::bridge {
namespace {

using ::cellgw::testing::LoadWireVector;
using ::cellgw::testing::PythonStyle;
using ::cellgw::testing::WireVector;
using ::testing::HasSubstr;

// The captured messagingv2 (2.0 envelope) notifications.
const char* const kEnvelopedVectors[] = {
    "notification",                   "notification_priority_audit",
    "notification_priority_debug",    "notification_priority_info",
    "notification_priority_warn",     "notification_priority_error",
    "notification_priority_critical", "notification_priority_sample",
    "notification_bigint_unicode",    "notification_second_topic",
};
// The captured messaging (1.0 form) notifications.
const char* const kLegacyVectors[] = {"notification_v1", "notification_v1_bigint_unicode"};

// The _context_* members of a vector's decoded_message as the object a listener sees, in
// Python style.
std::string ExpectedContext(const WireVector& vector) {
  std::string context = "{";
  for (const auto& [key, raw] : vector.decoded) {
    if (key.rfind("_context_", 0) != 0) continue;
    if (context.size() > 1) context.append(", ");
    json::AppendQuoted(key.substr(9), &context).IgnoreError();
    absl::StrAppend(&context, ": ", PythonStyle(raw));
  }
  return context + "}";
}

void ExpectFieldsOf(const WireVector& vector, const ReceivedNotification& got) {
  EXPECT_EQ(got.message_id, vector.String("message_id"));
  EXPECT_EQ(got.publisher_id, vector.String("publisher_id"));
  EXPECT_EQ(got.event_type, vector.String("event_type"));
  EXPECT_EQ(got.priority, absl::AsciiStrToLower(vector.String("priority")));
  // As the publisher wrote it: the body's own text, which is what Python style prints.
  EXPECT_EQ(got.payload_json, PythonStyle(vector.Raw("payload")));
  EXPECT_EQ(got.timestamp, vector.String("timestamp"));
  EXPECT_EQ(got.unique_id, vector.String("_unique_id"));
  EXPECT_EQ(PythonStyle(got.context_json), ExpectedContext(vector));
}

// What a Notifier would send to produce `fields` (the views point into `fields`).
NotificationToSend SendFrom(const ReceivedNotification& fields) {
  NotificationToSend send;
  send.message_id = fields.message_id;
  send.publisher_id = fields.publisher_id;
  send.event_type = fields.event_type;
  send.priority = fields.priority;
  send.payload_json = fields.payload_json;
  send.timestamp = fields.timestamp;
  send.unique_id = fields.unique_id;
  send.context_json = fields.context_json;
  return send;
}

class EnvelopedVectorTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EnvelopedVectorTest, DecodesEveryFieldExactly) {
  const WireVector vector = LoadWireVector(GetParam());
  absl::StatusOr<ReceivedNotification> got = DecodeNotification(vector.body);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectFieldsOf(vector, *got);
}

TEST_P(EnvelopedVectorTest, EncodesTheSameFieldsToTheCapturedBodyByteForByte) {
  const WireVector vector = LoadWireVector(GetParam());
  absl::StatusOr<ReceivedNotification> fields = DecodeNotification(vector.body);
  ASSERT_TRUE(fields.ok()) << fields.status();
  absl::StatusOr<std::string> body = EncodeNotification(SendFrom(*fields));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, vector.body);
}

TEST_P(EnvelopedVectorTest, RoutingKeyIsTopicDotLowerCasePriority) {
  const WireVector vector = LoadWireVector(GetParam());
  absl::StatusOr<ReceivedNotification> got = DecodeNotification(vector.body);
  ASSERT_TRUE(got.ok()) << got.status();
  const std::string topic = vector.routing_key.substr(0, vector.routing_key.rfind('.'));
  EXPECT_EQ(NotificationRoutingKey(topic, got->priority), vector.routing_key);
}

INSTANTIATE_TEST_SUITE_P(Captured, EnvelopedVectorTest, ::testing::ValuesIn(kEnvelopedVectors));

class LegacyVectorTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LegacyVectorTest, DecodesEveryFieldOfTheUnenvelopedFormExactly) {
  const WireVector vector = LoadWireVector(GetParam());
  absl::StatusOr<ReceivedNotification> got = DecodeNotification(vector.body);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectFieldsOf(vector, *got);
}

INSTANTIATE_TEST_SUITE_P(Captured, LegacyVectorTest, ::testing::ValuesIn(kLegacyVectors));

TEST(EncodeNotificationTest, DropsContextKeysOffOsloSafeListAsTheNotifierDid) {
  // notification.json was sent by a Notifier whose context also held auth_token: "SECRET".
  const WireVector vector = LoadWireVector("notification");
  absl::StatusOr<ReceivedNotification> fields = DecodeNotification(vector.body);
  ASSERT_TRUE(fields.ok()) << fields.status();
  const std::string context =
      R"({"user_id": "u-7e1f", "auth_token": "SECRET", "project_id": "p-42", )"
      R"("request_id": "req-5f0c2f1e-0d8e-4a55-9c5e-3c2b7f6a9b10", "is_admin": false, )"
      R"("custom": {"x": 1}, "roles": ["member", "reader"]})";
  NotificationToSend send = SendFrom(*fields);
  send.payload_json = R"({"instance_id":"i-1","vcpus":2})";  // compact: re-emitted
  send.context_json = context;
  absl::StatusOr<std::string> body = EncodeNotification(send);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, vector.body);
}

TEST(EncodeNotificationTest, EmptyPayloadAndContextMeanEmptyObjectAndNoContextKeys) {
  NotificationToSend send;
  send.message_id = "m";
  send.publisher_id = "p";
  send.event_type = "e";
  send.priority = "debug";
  send.timestamp = "t";
  send.unique_id = "u";
  absl::StatusOr<std::string> body = EncodeNotification(send);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body,
            R"({"oslo.version": "2.0", "oslo.message": "{\"message_id\": \"m\", )"
            R"(\"publisher_id\": \"p\", \"event_type\": \"e\", \"priority\": \"DEBUG\", )"
            R"(\"payload\": {}, \"timestamp\": \"t\", \"_unique_id\": \"u\"}"})");
}

TEST(EncodeNotificationTest, PayloadMayBeAnyJsonValue) {
  NotificationToSend send;
  send.priority = "info";
  send.payload_json = "[1, \"two\", 18446744073709551616]";
  absl::StatusOr<std::string> body = EncodeNotification(send);
  ASSERT_TRUE(body.ok()) << body.status();
  absl::StatusOr<ReceivedNotification> back = DecodeNotification(*body);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->payload_json, "[1, \"two\", 18446744073709551616]");
}

TEST(EncodeNotificationTest, RefusesBadInputNamingTheField) {
  struct Case {
    std::string payload, context, priority, publisher, field;
  };
  const std::vector<Case> cases = {
      {"{", "", "info", "p", "payload_json"},
      {"", "[1]", "info", "p", "context_json"},
      {"", "{\"a\": }", "info", "p", "context_json"},
      {"", "", "INFO", "p", "priority"},
      {"", "", "warning", "p", "priority"},
      {"", "", "info", "\xff", "publisher_id"},
  };
  for (const Case& c : cases) {
    NotificationToSend send;
    send.payload_json = c.payload;
    send.context_json = c.context;
    send.priority = c.priority;
    send.publisher_id = c.publisher;
    absl::StatusOr<std::string> body = EncodeNotification(send);
    EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(body.status().message()), ::testing::StartsWith(c.field + ":"));
  }
}

TEST(DecodeNotificationTest, RefusesWhatOsloDispatcherWouldNotDispatch) {
  struct Case {
    std::string body, message_part;
  };
  const std::vector<Case> cases = {
      {"[]", "body"},
      {"{\"priority\": \"INFO\", \"publisher_id\": 7}", "publisher_id"},
      {"{\"event_type\": \"x\"}", "priority: missing"},
      {"{\"priority\": \"LOUD\"}", "priority: must be one of"},
      {"{\"priority\": null}", "priority: must be a string"},
      {R"({"oslo.version": "2.1", "oslo.message": "{\"priority\": \"INFO\"}"})",
       "unsupported envelope version"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ReceivedNotification> got = DecodeNotification(c.body);
    EXPECT_FALSE(got.ok()) << c.body;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.message_part)) << c.body;
  }
}

TEST(DecodeNotificationTest, MissingFieldsAreEmptyAndDuplicatesKeepTheLastValue) {
  absl::StatusOr<ReceivedNotification> got = DecodeNotification(
      R"({"priority": "Error", "event_type": "a", "event_type": "b", "message_id": null})");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->priority, "error");
  EXPECT_EQ(got->event_type, "b");
  EXPECT_EQ(got->message_id, "");
  EXPECT_EQ(got->publisher_id, "");
  EXPECT_EQ(got->payload_json, "null");
  EXPECT_EQ(got->context_json, "{}");
}

TEST(CanonicalPriorityTest, AcceptsTheSevenInAnyCase) {
  EXPECT_EQ(*CanonicalPriority("WARN"), "warn");
  EXPECT_EQ(*CanonicalPriority("Sample"), "sample");
  EXPECT_EQ(*CanonicalPriority("critical"), "critical");
  for (absl::string_view bad : {"", "warning", "info ", "notice"}) {
    absl::StatusOr<std::string> got = CanonicalPriority(bad);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(got.status().message()),
                HasSubstr("audit, debug, info, warn, error, critical, sample"));
  }
}

TEST(OsloTimestampTest, PrintsWhatPythonStrOfADatetimePrints) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 11, 22, 23, 16, 25), utc);
  EXPECT_EQ(OsloTimestamp(t + absl::Microseconds(746123)), "2026-11-22 23:16:25.746123");
  EXPECT_EQ(OsloTimestamp(t + absl::Microseconds(5)), "2026-11-22 23:16:25.000005");
  // Python leaves the fraction out when the microseconds are 0.
  EXPECT_EQ(OsloTimestamp(t), "2026-11-22 23:16:25");
  // Sub-microsecond parts are cut, as datetime cannot hold them.
  EXPECT_EQ(OsloTimestamp(t + absl::Nanoseconds(999)), "2026-11-22 23:16:25");
  EXPECT_EQ(OsloTimestamp(absl::FromCivil(absl::CivilSecond(2026, 1, 2, 3, 4, 5), utc)),
            "2026-01-02 03:04:05");
}

}  // namespace
}  // namespace cellgw::bridge
