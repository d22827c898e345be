#include "gateway/rpc/notification_validator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/rpc/request_validator.h"
#include "gateway/security/access_policy.h"

namespace cellgw::gateway {

absl::Status CheckNotifyBounds(const v1::NotifyRequest& request) {
  const auto too_long = [](absl::string_view value, absl::string_view field) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is ", value.size(),
                                                   " bytes long; the limit is ", kMaxFieldBytes));
  };
  const std::pair<absl::string_view, absl::string_view> fields[] = {
      {request.cell(), "cell"},
      {request.exchange(), "exchange"},
      {request.topic(), "topic"},
      {request.publisher_id(), "publisher_id"},
      {request.event_type(), "event_type"}};
  for (const auto& [value, field] : fields) {
    if (value.size() > kMaxFieldBytes) return too_long(value, field);
  }
  if (request.publisher_id().empty()) return absl::InvalidArgumentError("publisher_id: required");
  if (request.event_type().empty()) return absl::InvalidArgumentError("event_type: required");
  return absl::OkStatus();
}

absl::Status CheckSubscriptionBounds(const v1::SubscribeRequest& first) {
  const auto too_long = [](absl::string_view value, absl::string_view field) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": is ", value.size(),
                                                   " bytes long; the limit is ", kMaxFieldBytes));
  };
  const std::pair<absl::string_view, absl::string_view> fields[] = {
      {first.cell(), "cell"}, {first.exchange(), "exchange"}, {first.pool(), "pool"}};
  for (const auto& [value, field] : fields) {
    if (value.size() > kMaxFieldBytes) return too_long(value, field);
  }
  const std::pair<const google::protobuf::RepeatedPtrField<std::string>*, absl::string_view>
      lists[] = {{&first.topics(), "topics"},
                 {&first.priorities(), "priorities"},
                 {&first.event_types(), "event_types"}};
  for (const auto& [list, field] : lists) {
    if (list->size() > kMaxSubscriptionListSize) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": at most ",
                                                     kMaxSubscriptionListSize, " (got ",
                                                     list->size(), ")"));
    }
    for (int i = 0; i < list->size(); ++i) {
      if (list->Get(i).size() > kMaxFieldBytes) {
        return too_long(list->Get(i), absl::StrCat(field, "[", i, "]"));
      }
    }
  }
  return absl::OkStatus();
}

bridge::NotifyRequest ToNotifyRequest(const v1::NotifyRequest& request) {
  bridge::NotifyRequest out;
  out.cell = request.cell();
  out.exchange = request.exchange();
  out.topic = request.topic();
  out.publisher_id = request.publisher_id();
  out.event_type = request.event_type();
  out.priority = request.priority();
  out.payload_json = request.payload_json();
  out.context_json = request.context_json();
  return out;
}

std::string EffectiveTopic(const v1::NotifyRequest& request) {
  return request.topic().empty() ? std::string(bridge::NotificationBridge::kDefaultTopic)
                                 : request.topic();
}

std::vector<std::string> EffectiveTopics(const v1::SubscribeRequest& first) {
  if (first.topics().empty()) {
    return {std::string(bridge::NotificationBridge::kDefaultTopic)};
  }
  return {first.topics().begin(), first.topics().end()};
}

absl::StatusOr<bridge::SubscribeRequest> ToSubscribeRequest(const v1::SubscribeRequest& first) {
  if (!first.ack_ids().empty()) {
    return absl::InvalidArgumentError(
        "ack_ids: the stream's first message is the subscription and acknowledges nothing");
  }
  bridge::SubscribeRequest out;
  out.cell = first.cell();
  out.exchange = first.exchange();
  out.topics.assign(first.topics().begin(), first.topics().end());
  out.priorities.assign(first.priorities().begin(), first.priorities().end());
  out.pool = first.pool();
  out.max_unacked =
      first.max_unacked() == 0 ? bridge::NotificationBridge::kDefaultMaxUnacked : first.max_unacked();
  std::vector<std::string> patterns;
  for (int i = 0; i < first.event_types_size(); ++i) {
    if (first.event_types(i).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event_types[", i, "]: must not be empty"));
    }
    patterns.push_back(first.event_types(i));
  }
  if (!patterns.empty()) {
    out.accept_event_type = [patterns = std::move(patterns)](absl::string_view event_type) {
      for (const std::string& pattern : patterns) {
        if (GlobMatch(pattern, event_type)) return true;
      }
      return false;
    };
  }
  return out;
}

absl::Status CheckAcknowledgement(const v1::SubscribeRequest& later) {
  const auto only_first = [](absl::string_view field) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": only the stream's first message carries the subscription; "
                            "later ones carry ack_ids alone"));
  };
  if (!later.cell().empty()) return only_first("cell");
  if (!later.exchange().empty()) return only_first("exchange");
  if (!later.topics().empty()) return only_first("topics");
  if (!later.priorities().empty()) return only_first("priorities");
  if (!later.pool().empty()) return only_first("pool");
  if (!later.event_types().empty()) return only_first("event_types");
  if (later.max_unacked() != 0) return only_first("max_unacked");
  if (later.auto_ack()) return only_first("auto_ack");
  if (later.ack_ids_size() > kMaxAckIdsPerMessage) {
    return absl::InvalidArgumentError(absl::StrCat("ack_ids: at most ", kMaxAckIdsPerMessage,
                                                   " per message (got ", later.ack_ids_size(),
                                                   ")"));
  }
  return absl::OkStatus();
}

v1::Notification ToNotificationProto(bridge::DeliveredNotification notification) {
  v1::Notification out;
  bridge::ReceivedNotification& message = notification.message;
  out.set_message_id(std::move(message.message_id));
  out.set_publisher_id(std::move(message.publisher_id));
  out.set_event_type(std::move(message.event_type));
  out.set_priority(std::move(message.priority));
  out.set_payload_json(std::move(message.payload_json));
  out.set_context_json(std::move(message.context_json));
  out.set_timestamp(std::move(message.timestamp));
  out.set_topic(std::move(notification.topic));
  out.set_ack_id(std::move(notification.ack_id));
  return out;
}

}  // namespace cellgw::gateway
