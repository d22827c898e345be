// Turns the gRPC messages of Notify and Subscribe into bridge requests and back, refusing
// malformed ones with INVALID_ARGUMENT that names the field.
//
// Where it sits: the first step of Notify (CellGatewayService) and of each message a
// Subscribe stream reads (SubscribeReactor). It checks what is about the gRPC messages
// themselves: the stream's message roles, counts, defaults, the event_type patterns. What
// depends on the cell (names, lengths, priorities, JSON) is checked by the bridge
// (bridge/notification_bridge.h), which reads those fields anyway.
#ifndef CELLGW_GATEWAY_RPC_NOTIFICATION_VALIDATOR_H_
#define CELLGW_GATEWAY_RPC_NOTIFICATION_VALIDATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/notification_bridge.h"
#include "cellgw/v1/gateway.pb.h"

namespace cellgw::gateway {

// Most ack_ids one SubscribeRequest may carry.
inline constexpr int kMaxAckIdsPerMessage = 10000;

// The checks every unary request passes before it is authorised (CheckBounds in
// request_validator.h), with Notify's field names: INVALID_ARGUMENT "cell: ...",
// "exchange: ...", "topic: ..." when longer than kMaxFieldBytes, "publisher_id: required",
// "event_type: required" or longer than kMaxFieldBytes.
absl::Status CheckNotifyBounds(const v1::NotifyRequest& request);

// The request as the bridge takes it (no check here: every other field is the bridge's).
bridge::NotifyRequest ToNotifyRequest(const v1::NotifyRequest& request);

// The topic Notify publishes to: the request's, or "notifications" (what the policy checks).
std::string EffectiveTopic(const v1::NotifyRequest& request);
// The topics a subscription reads: the request's, or {"notifications"}.
std::vector<std::string> EffectiveTopics(const v1::SubscribeRequest& first);

// Most topics, priorities and event_types patterns one subscription may list.
inline constexpr int kMaxSubscriptionListSize = 64;

// What the stream's first message must pass before it is authorised, the Subscribe side of
// CheckBounds: INVALID_ARGUMENT "cell: ...", "exchange: ...", "pool: ...", "topics[<i>]: ...",
// "event_types[<i>]: ..." when longer than kMaxFieldBytes, or "topics: ...",
// "priorities: ...", "event_types: ..." when listing more than kMaxSubscriptionListSize.
absl::Status CheckSubscriptionBounds(const v1::SubscribeRequest& first);

// The stream's first message, the subscription. max_unacked 0 becomes 64; event_types become
// the bridge's filter (whole-string globs, '*' and '?', as the policy's patterns).
// INVALID_ARGUMENT: "ack_ids: ..." (the first message acknowledges nothing),
// "event_types[<i>]: must not be empty".
absl::StatusOr<bridge::SubscribeRequest> ToSubscribeRequest(const v1::SubscribeRequest& first);

// A later message of the stream: only ack_ids. INVALID_ARGUMENT naming the first subscription
// field that is set ("cell: only the stream's first message ..."), or "ack_ids: at most
// 10000 per message".
absl::Status CheckAcknowledgement(const v1::SubscribeRequest& later);

v1::Notification ToNotificationProto(bridge::DeliveredNotification notification);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_NOTIFICATION_VALIDATOR_H_
