// oslo.messaging Target: the address of an RPC message inside one cell, and the AMQP names
// the rabbit driver derives from it (topic exchange, routing key, fanout exchange). Part of
// //bridge; the gateway picks the cell first and hands the bridge a Target for that cell.
//
// Every derived name is an AMQP short string, so it is limited to 255 bytes; ValidateTarget
// refuses a Target whose names would not fit before anything reaches the broker, because
// rabbitmq-c would otherwise truncate or the broker would close the channel.
#ifndef CELLGW_BRIDGE_TARGET_H_
#define CELLGW_BRIDGE_TARGET_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {

// oslo's Target, minus `fanout` (that is SendKind::kFanout) and minus the cell (the gateway
// routes on it before the bridge sees the message). Empty strings mean "not set", as None
// does in oslo.
struct Target {
  std::string exchange;    // topic exchange; empty = the cell's control_exchange
  std::string topic;       // required
  std::string namespace_;  // RPC namespace; empty = oslo's None
  std::string version;     // "X.Y[.Z]"; empty = not given (oslo then sends none)
  std::string server;      // empty = any server of the topic (round-robin)
};

// AMQP 0-9-1 shortstr limit, which bounds exchange names, queue names and routing keys.
inline constexpr size_t kMaxAmqpNameBytes = 255;

enum class SendKind { kCast, kCall, kFanout };

// Checks that `target` can be sent as `kind` in a cell whose control exchange is
// `control_exchange`: topic non-empty; every name oslo derives for this kind fits in
// kMaxAmqpNameBytes bytes (not characters); and a topic exchange can be named at all.
// For kFanout, target.exchange and target.server are ignored, as oslo ignores them.
// Version syntax is version.h's job and is not checked here.
// Returns OK, or INVALID_ARGUMENT whose message starts with the offending field
// ("target.topic: ...", "target.exchange: ...", "target.server: ...").
absl::Status ValidateTarget(const Target& target, absl::string_view control_exchange,
                            SendKind kind);

// The topic exchange a cast or call goes to: target.exchange, else `control_exchange`.
std::string TopicExchange(const Target& target, absl::string_view control_exchange);

// Routing key of a cast or call on the topic exchange: "<topic>", or "<topic>.<server>"
// when a server is set. (Fanout casts use the empty routing key, not this.)
std::string RoutingKey(const Target& target);

// The fanout exchange of the topic: "<topic>_fanout".
std::string FanoutExchange(const Target& target);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_TARGET_H_
