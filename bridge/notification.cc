#include "bridge/notification.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/envelope.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

// oslo_messaging.notify.notifier._sanitize_context: the context keys a Notifier sends. The
// rest (auth_token above all) never reaches the notification bus.
constexpr absl::string_view kSafeContextKeys[] = {
    "user_id",
    "project_id",
    "domain_id",
    "user_domain_id",
    "project_domain_id",
    "is_admin",
    "request_id",
    "roles",
    "user_name",
    "project_name",
    "domain_name",
    "user_domain_name",
    "project_domain_name",
    "service_user_id",
    "service_user_domain_id",
    "service_user_domain_name",
    "service_project_id",
    "service_project_name",
    "service_project_domain_id",
    "service_project_domain_name",
    "service_roles",
    "global_request_id",
    "system_scope",
    "user",
    "domain",
    "user_domain",
    "project_domain",
};

bool IsSafeContextKey(absl::string_view key) {
  return std::find(std::begin(kSafeContextKeys), std::end(kSafeContextKeys), key) !=
         std::end(kSafeContextKeys);
}

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Appends `, "<key>": "<value>"` (value as a Python-style string literal).
absl::Status AppendStringMember(absl::string_view key, absl::string_view value,
                                std::string* inner) {
  absl::StrAppend(inner, ", \"", key, "\": ");
  const absl::Status status = json::AppendQuoted(value, inner);
  if (!status.ok()) return FieldError(key, status.message());
  return absl::OkStatus();
}

// A string-or-null member read into *out (null leaves it empty).
absl::Status ReadStringOrNull(const json::Member& member, std::string* out) {
  const json::Kind kind = json::KindOfValid(member.value);
  if (kind == json::Kind::kNull) {
    out->clear();
    return absl::OkStatus();
  }
  if (kind != json::Kind::kString) return FieldError(member.key, "must be a string or null");
  absl::StatusOr<std::string> value = json::Unquote(member.value);
  if (!value.ok()) return FieldError(member.key, value.status().message());
  *out = *std::move(value);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CanonicalPriority(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  for (absl::string_view priority : kNotificationPriorities) {
    if (lower == priority) return lower;
  }
  return FieldError("priority", absl::StrCat("must be one of ",
                                             absl::StrJoin(kNotificationPriorities, ", "),
                                             " (any case)"));
}

std::string NotificationRoutingKey(absl::string_view topic, absl::string_view priority) {
  return absl::StrCat(topic, ".", priority);
}

std::string OsloTimestamp(absl::Time time) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond second = absl::ToCivilSecond(time, utc);
  const int64_t micros =
      absl::ToInt64Microseconds(time - absl::FromCivil(second, utc)) % 1000000;
  std::string text = absl::FormatCivilTime(second);  // "2026-11-22T23:16:25"
  text[10] = ' ';
  if (micros != 0) {
    char fraction[16];
    std::snprintf(fraction, sizeof(fraction), ".%06lld", static_cast<long long>(micros));
    text.append(fraction);
  }
  return text;
}

absl::StatusOr<std::string> EncodeNotification(const NotificationToSend& notification) {
  if (absl::StatusOr<std::string> canonical = CanonicalPriority(notification.priority);
      !canonical.ok() || *canonical != notification.priority) {
    return FieldError("priority", "must be one of the seven, lower-case");
  }
  std::string inner;
  inner.reserve(320 + notification.payload_json.size() + notification.payload_json.size() / 8 +
                notification.context_json.size() + notification.context_json.size() / 4);
  inner.append("{\"message_id\": ");
  {
    const absl::Status status = json::AppendQuoted(notification.message_id, &inner);
    if (!status.ok()) return FieldError("message_id", status.message());
  }
  CELLGW_RETURN_IF_ERROR(AppendStringMember("publisher_id", notification.publisher_id, &inner));
  CELLGW_RETURN_IF_ERROR(AppendStringMember("event_type", notification.event_type, &inner));
  CELLGW_RETURN_IF_ERROR(
      AppendStringMember("priority", absl::AsciiStrToUpper(notification.priority), &inner));
  inner.append(", \"payload\": ");
  if (notification.payload_json.empty()) {
    inner.append("{}");
  } else {
    const absl::Status status = json::AppendPythonStyle(notification.payload_json, &inner);
    if (!status.ok()) return FieldError("payload_json", status.message());
  }
  CELLGW_RETURN_IF_ERROR(AppendStringMember("timestamp", notification.timestamp, &inner));
  CELLGW_RETURN_IF_ERROR(AppendStringMember("_unique_id", notification.unique_id, &inner));
  if (!notification.context_json.empty()) {
    absl::StatusOr<std::vector<json::Member>> context =
        json::ObjectMembers(notification.context_json);
    if (!context.ok()) return FieldError("context_json", context.status().message());
    json::CollapseDuplicateKeys(&*context);
    context->erase(std::remove_if(context->begin(), context->end(),
                                  [](const json::Member& m) { return !IsSafeContextKey(m.key); }),
                   context->end());
    CELLGW_RETURN_IF_ERROR(AppendPackedContext(*context, "context_json", &inner));
  }
  inner.push_back('}');
  return WrapEnvelope(inner);
}

absl::StatusOr<ReceivedNotification> DecodeNotification(absl::string_view body) {
  CELLGW_ASSIGN_OR_RETURN(const std::string inner, UnwrapEnvelope(body));
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(inner);
  if (!members.ok()) return FieldError("oslo.message", members.status().message());
  json::CollapseDuplicateKeys(&*members);
  ReceivedNotification notification;
  bool has_priority = false;
  for (const json::Member& member : *members) {
    if (member.key == "message_id") {
      CELLGW_RETURN_IF_ERROR(ReadStringOrNull(member, &notification.message_id));
    } else if (member.key == "publisher_id") {
      CELLGW_RETURN_IF_ERROR(ReadStringOrNull(member, &notification.publisher_id));
    } else if (member.key == "event_type") {
      CELLGW_RETURN_IF_ERROR(ReadStringOrNull(member, &notification.event_type));
    } else if (member.key == "priority") {
      if (json::KindOfValid(member.value) != json::Kind::kString) {
        return FieldError("priority", "must be a string");
      }
      CELLGW_RETURN_IF_ERROR(ReadStringOrNull(member, &notification.priority));
      has_priority = true;
    } else if (member.key == "payload") {
      notification.payload_json = std::string(member.value);
    } else if (member.key == "timestamp") {
      CELLGW_RETURN_IF_ERROR(ReadStringOrNull(member, &notification.timestamp));
    } else if (member.key == "_unique_id") {
      CELLGW_RETURN_IF_ERROR(ReadStringOrNull(member, &notification.unique_id));
    }
  }
  if (!has_priority) return FieldError("priority", "missing");
  // Only ASCII letters are lowered: Python's str.lower() would also lower other letters, but
  // no such spelling names one of the seven either way.
  CELLGW_ASSIGN_OR_RETURN(notification.priority, CanonicalPriority(notification.priority));
  notification.context_json = UnpackContext(*members);
  return notification;
}

}  // namespace cellgw::bridge
