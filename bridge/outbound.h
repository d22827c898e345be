// A message on its way to the broker, with what to do when its fate is known.
//
// Where it sits: RpcBridge builds one per request (the oslo message encoded once) and hands it
// to a CellConnection; the connection core publishes it, keeps it until the broker confirms
// it (publish_tracker.h), and for calls hands its reply callback to the reply correlator.
#ifndef CELLGW_BRIDGE_OUTBOUND_H_
#define CELLGW_BRIDGE_OUTBOUND_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/amqp_transport.h"
#include "bridge/cancellation.h"
#include "bridge/envelope.h"

namespace cellgw::bridge {

// What a connection does when the message's exchange does not exist on the broker. Callers
// name exchanges, so only the exchanges oslo's own services create are ever created
// (exchange_registry.h says why).
enum class MissingExchange {
  // Declare it: the cell's control exchange, which oslo's clients and servers both declare.
  kCreate,
  // Fail the request with FAILED_PRECONDITION: any other topic exchange a caller names.
  kRefuse,
  // Complete OK without publishing: a fanout exchange that does not exist has no server
  // bound to it, so the message would reach nobody (oslo's publish would be dropped too).
  kNobodyListens,
};

struct Outbound {
  // Checked (and, when `if_missing` says so, created) before the first publish to it on a
  // connection.
  ExchangeSpec exchange;
  MissingExchange if_missing = MissingExchange::kRefuse;
  std::string routing_key;
  std::string body;
  bool mandatory = false;
  std::string expiration;  // calls: AMQP per-message TTL in ms
  // The message's `_unique_id`: how a message the broker returns is matched to its sender.
  std::string unique_id;
  // Casts and fanouts: runs once with OK (confirmed) or the reason it was not.
  std::function<void(absl::Status)> on_confirmed;
  // Calls: the correlation id; runs once with the final reply or an error.
  std::string msg_id;
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration monitor = absl::ZeroDuration();
  std::function<void(absl::StatusOr<Reply>)> on_reply;
  // Describes the destination in errors ("topic 'compute' on exchange 'nova'").
  std::string destination;
  // The caller's own deadline: a message still waiting for its connection then is not
  // published and ends with DEADLINE_EXCEEDED (for a call the same time as `deadline`).
  absl::Time publish_by = absl::InfiniteFuture();
  // Set when the caller can withdraw the request: once cancelled it is not published.
  std::shared_ptr<Cancellation> cancellation;

  bool is_call() const { return !msg_id.empty(); }
};

// Runs the message's callback (on_reply for a call, on_confirmed otherwise) with `status`, at
// most once: a callback already run or handed elsewhere is not run again.
void Complete(Outbound& message, const absl::Status& status);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_OUTBOUND_H_
