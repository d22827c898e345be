#include "bridge/target.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {
namespace {

// Error text for a field that is too long on its own. The value is not quoted: it can be
// megabytes long when it comes from a gRPC request.
absl::Status FieldTooLong(absl::string_view field, size_t bytes) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": is ", bytes,
                                                 " bytes long; the limit is ",
                                                 kMaxAmqpNameBytes));
}

// Error text for a derived name that is too long. Its parts have already passed their own
// length checks, so quoting it stays bounded; escaping keeps control bytes out of logs.
absl::Status DerivedNameTooLong(absl::string_view field, absl::string_view what,
                                absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": ", what, " \"", absl::CHexEscape(name), "\" is ", name.size(),
      " bytes long; the limit is ", kMaxAmqpNameBytes));
}

}  // namespace

absl::Status ValidateTarget(const Target& target, absl::string_view control_exchange,
                            SendKind kind) {
  if (target.topic.empty()) {
    return absl::InvalidArgumentError("target.topic: must not be empty");
  }
  if (target.topic.size() > kMaxAmqpNameBytes) {
    return FieldTooLong("target.topic", target.topic.size());
  }

  if (kind == SendKind::kFanout) {
    const std::string fanout_exchange = FanoutExchange(target);
    if (fanout_exchange.size() > kMaxAmqpNameBytes) {
      return DerivedNameTooLong("target.topic", "fanout exchange", fanout_exchange);
    }
    return absl::OkStatus();
  }

  if (target.exchange.size() > kMaxAmqpNameBytes) {
    return FieldTooLong("target.exchange", target.exchange.size());
  }
  if (target.exchange.empty()) {
    // An empty exchange would mean AMQP's default exchange, which routes by queue name and
    // cannot be declared (403), so the request would never reach a topic queue the oslo way.
    if (control_exchange.empty()) {
      return absl::InvalidArgumentError(
          "target.exchange: not set, and the cell has no control_exchange to fall back on");
    }
    if (control_exchange.size() > kMaxAmqpNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target.exchange: not set, and the cell's control_exchange is ",
          control_exchange.size(), " bytes long; the limit is ", kMaxAmqpNameBytes));
    }
  }

  if (target.server.size() > kMaxAmqpNameBytes) {
    return FieldTooLong("target.server", target.server.size());
  }
  if (!target.server.empty()) {
    const std::string routing_key = RoutingKey(target);
    if (routing_key.size() > kMaxAmqpNameBytes) {
      return DerivedNameTooLong("target.server", "AMQP routing key", routing_key);
    }
  }
  return absl::OkStatus();
}

std::string TopicExchange(const Target& target, absl::string_view control_exchange) {
  return target.exchange.empty() ? std::string(control_exchange) : target.exchange;
}

std::string RoutingKey(const Target& target) {
  if (target.server.empty()) return target.topic;
  return absl::StrCat(target.topic, ".", target.server);
}

std::string FanoutExchange(const Target& target) {
  return absl::StrCat(target.topic, "_fanout");
}

}  // namespace cellgw::bridge
