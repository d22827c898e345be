// The `notify` and `subscribe` commands of cellgw-cli, as functions that take already parsed
// options (the flag parsing lives with cellgw-cli's main). Depends on the public proto and
// the client library only.
//
//   cellgw-cli notify    [--cell C] [--exchange E] [--topic T] --publisher-id P
//                        [--priority info] [--context JSON] EVENT_TYPE [PAYLOAD_JSON]
//       prints {"message_id": "<uuid>"} once the broker has confirmed the notification.
//   cellgw-cli subscribe [--cell C] [--exchange E] [--topics T1,T2] [--priorities p1,p2]
//                        [--pool P] [--event-types 'compute.*,identity.?'] [--max-unacked N]
//                        [--auto-ack] [--count N]
//       prints one JSON line per notification (see NotificationJsonLine), flushed at once,
//       until interrupted (SIGINT/SIGTERM), or until --count notifications were printed. Each
//       is acknowledged once its line is written (or, with --auto-ack, by the gateway as it
//       sends it), so an interrupted run loses nothing: what it had not printed goes back to
//       the queue.
#ifndef CELLGW_CLIENT_CLI_NOTIFICATIONS_H_
#define CELLGW_CLIENT_CLI_NOTIFICATIONS_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cellgw/v1/gateway.pb.h"
#include "client/cellgw_client.h"

namespace cellgw::client {

// Usage lines for cellgw-cli's help text.
inline constexpr char kNotifyUsage[] =
    "  cellgw-cli [--addr HOST:PORT] notify --publisher-id P [--topic T] [--priority info]\n"
    "             [--context JSON] EVENT_TYPE [PAYLOAD_JSON]\n";
inline constexpr char kSubscribeUsage[] =
    "  cellgw-cli [--addr HOST:PORT] subscribe [--topics T,...] [--priorities p,...] "
    "[--pool P]\n"
    "             [--event-types GLOB,...] [--max-unacked N] [--auto-ack] [--count N]\n";

struct NotifyCommand {
  std::string cell;
  std::string exchange;
  std::string topic;         // "" = notifications
  std::string publisher_id;  // required (the gateway says so otherwise)
  std::string event_type;    // the positional EVENT_TYPE
  std::string priority;      // "" = info
  std::string payload_json;  // the positional PAYLOAD_JSON; "" = {}
  std::string context_json;  // --context
  absl::Time deadline = absl::InfiniteFuture();
  std::string request_id;
};

// Sends one notification. On success prints {"message_id": "<id>"} and a newline on `out` and
// returns 0; otherwise prints DescribeError() on `err` (after "cellgw-cli: ") and returns 1.
int RunNotify(CellgwClient& client, const NotifyCommand& command, std::FILE* out,
              std::FILE* err);

struct SubscribeCommand {
  std::string cell;
  std::string exchange;
  std::vector<std::string> topics;       // empty = notifications
  std::vector<std::string> priorities;   // empty = all seven
  std::string pool;
  std::vector<std::string> event_types;  // glob patterns; empty = all
  uint32_t max_unacked = 0;              // 0 = the gateway's default, 64
  bool auto_ack = false;
  int64_t count = 0;                     // stop after this many; 0 = until interrupted
  std::string request_id;
};

// Runs a subscription as described at the top. While it runs, SIGINT and SIGTERM end it
// (their previous handlers are restored on return). Prints "cellgw-cli: subscribed" on `err`
// once the gateway reports the subscription live. Returns 0 when interrupted or after
// `count` notifications; 1, after printing DescribeError() on `err`, when the gateway ended
// or refused the stream.
int RunSubscribe(CellgwClient& client, const SubscribeCommand& command, std::FILE* out,
                 std::FILE* err);

// The line `subscribe` prints for `notification` (without the newline): a JSON object with
// message_id, publisher_id, event_type, priority, payload (the JSON itself), context (the
// JSON object itself), timestamp and topic, e.g.
// {"message_id": "8e50...", "publisher_id": "compute.host1", "event_type": "compute.x",
//  "priority": "info", "payload": {"n": 1}, "context": {}, "timestamp": "2026-...",
//  "topic": "notifications"}
std::string NotificationJsonLine(const v1::Notification& notification);

}  // namespace cellgw::client

#endif  // CELLGW_CLIENT_CLI_NOTIFICATIONS_H_
