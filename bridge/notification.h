// oslo.messaging notification bodies (//bridge), byte for byte as oslo.messaging 14's Notifier
// writes them: the `messagingv2` driver's 2.0 envelope around the message of wire spec §12, and
// the legacy `messaging` driver's 1.0 form (no envelope) on the receiving side. The vectors in
// tests/testdata/wire/notification*.json are real captures of both.
//
// The inner message, in oslo's key order:
//   message_id    uuid4, dashed ("8e50bc1b-1b33-4102-8550-8bc322b1e183")
//   publisher_id  e.g. "compute.host1"
//   event_type    e.g. "compute.instance.create.end"
//   priority      upper-case on the wire ("INFO", "WARN", ...); the routing key has it lower-case
//   payload       any JSON
//   timestamp     Python's str(datetime.utcnow()): "2026-11-22 23:16:25.746123", no zone, the
//                 fraction left out when the microseconds are 0
//   _unique_id    uuid4 hex
//   _context_<k>  one per context entry, after the context was filtered to oslo's safe keys
//
// JSON values (payload, context values) are spliced as text, never converted: integers of any
// size and unicode survive exactly (re-emitted in Python's ensure_ascii style when encoding,
// handed on as the publisher wrote them when decoding).
//
// All functions are pure and thread-compatible.
#ifndef CELLGW_BRIDGE_NOTIFICATION_H_
#define CELLGW_BRIDGE_NOTIFICATION_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cellgw::bridge {

// The seven priorities of oslo's Notifier and NotificationListener, lower-case, in the order
// oslo lists them (oslo_messaging.notify.listener PRIORITIES).
inline constexpr std::array<absl::string_view, 7> kNotificationPriorities = {
    "audit", "debug", "info", "warn", "error", "critical", "sample"};

// The priority named by `text` in any case ("WARN", "warn", "Warn"), lower-case. INVALID_ARGUMENT
// "priority: ..." listing the seven when it is none of them ("warning" included: oslo's
// Notifier.warning() sends WARN).
absl::StatusOr<std::string> CanonicalPriority(absl::string_view text);

// The routing key (and, without a listener pool, the queue name) of `topic` at `priority`
// (lower-case): "<topic>.<priority>".
std::string NotificationRoutingKey(absl::string_view topic, absl::string_view priority);

// `time` as Python's str() of a naive UTC datetime: "YYYY-MM-DD HH:MM:SS.ffffff", or without
// ".ffffff" when the microseconds are 0 (what oslo's str(timeutils.utcnow()) writes).
std::string OsloTimestamp(absl::Time time);

// What a Notifier sends. The views must outlive the EncodeNotification call.
struct NotificationToSend {
  absl::string_view message_id;
  absl::string_view publisher_id;
  absl::string_view event_type;
  absl::string_view priority;      // a CanonicalPriority() value; written upper-case
  absl::string_view payload_json;  // any JSON value; "" means {}
  absl::string_view timestamp;     // an OsloTimestamp()
  absl::string_view unique_id;
  absl::string_view context_json;  // a JSON object; "" means {}
};

// The exact AMQP body oslo's messagingv2 Notifier publishes for `notification`: the 2.0
// envelope around the inner message above. As oslo's Notifier does, the context keeps only
// the keys on oslo's safe list (user_id, project_id, request_id, roles, is_admin,
// global_request_id, ... ; auth_token and anything unknown are dropped), in the caller's order.
// Duplicate keys in payload_json/context_json collapse as in a Python dict.
// INVALID_ARGUMENT naming the field: "payload_json" when it is not valid JSON, "context_json"
// when it is not a JSON object, "priority" when it is not canonical, "publisher_id" /
// "event_type" / "message_id" / "timestamp" / "unique_id" when not valid UTF-8.
absl::StatusOr<std::string> EncodeNotification(const NotificationToSend& notification);

// A notification as a NotificationListener hands it to its endpoint.
struct ReceivedNotification {
  std::string message_id;     // "" when missing or null (so for the rest of the strings)
  std::string publisher_id;
  std::string event_type;
  std::string priority;       // lower-case, one of kNotificationPriorities
  std::string payload_json = "null";  // raw JSON text as the publisher wrote it
  std::string context_json = "{}";    // the _context_* keys without the prefix, values raw
  std::string timestamp;
  std::string unique_id;
};

// Decodes a notification body in the 2.0 envelope or the 1.0 form (the rules of wire spec §6:
// an object holding both "oslo.version" and "oslo.message" is an envelope, whose version must
// be accepted). Read as oslo's NotificationDispatcher reads it; with duplicate keys the last
// one counts. Errors (the listener would not dispatch the message either): what
// UnwrapEnvelope returns; INVALID_ARGUMENT naming the key when "message_id", "publisher_id",
// "event_type", "priority", "timestamp" or "_unique_id" is neither a string nor null, or when
// "priority" names none of the seven (oslo's dispatcher drops those as "Unknown priority").
absl::StatusOr<ReceivedNotification> DecodeNotification(absl::string_view body);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_NOTIFICATION_H_
