// Cast, Call and Fanout to oslo.messaging services, over each cell's AMQP connections.
//
// Where it sits: the gateway validates a gRPC request, turns it into an RpcRequest and calls
// one of these methods; the bridge checks the target against the cell's rules (names, version
// cap), encodes the oslo message on the calling thread (CPU only, no I/O) and hands it to one
// of the cell's CellConnections, whose loop thread publishes it and later runs `done`.
//
// Threading: every method is thread-safe and returns without blocking on I/O. `done` runs
// exactly once: inline (on the caller's thread) when the request is refused before anything
// is sent, otherwise later on a connection thread. `done` must not block.
//
// Status codes passed to `done`:
//   INVALID_ARGUMENT     a field is malformed; the message names it (target.topic, args_json, ...)
//   NOT_FOUND            target.cell names no configured cell
//   FAILED_PRECONDITION  the version is over the topic's cap (nothing sent); or the exchange
//                        cannot take the message (nothing sent, nothing else disturbed): the
//                        broker refused it (the control exchange's flags disagree with the
//                        services, another type, a reserved or internal exchange), or a
//                        target.exchange other than the control exchange does not exist
//   UNAVAILABLE          no broker connection, no queue bound for the topic (the broker returned
//                        the message), a nack, the connection lost before the confirm, or shutdown
//   DEADLINE_EXCEEDED    no reply by the deadline (calls); or the caller's deadline passed
//                        before the message was published (nothing sent)
//   CANCELLED            the caller cancelled before the bridge took the request (nothing sent)
//   RESOURCE_EXHAUSTED   the cell already has max_in_flight requests in flight, or the encoded
//                        message exceeds max_message_bytes (nothing sent)
// A remote exception is not an error here: Call succeeds with CallResult::failure set.
// A request whose caller withdraws it (options.cancellation, cancellation.h) frees its
// in-flight slot at once and is not published if it was not yet; `done` then never runs.
// A fanout whose `<topic>_fanout` exchange does not exist (no server of the topic runs) reaches
// nobody and succeeds without being published.
#ifndef CELLGW_BRIDGE_RPC_BRIDGE_H_
#define CELLGW_BRIDGE_RPC_BRIDGE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/bridge_observer.h"
#include "bridge/cancellation.h"
#include "bridge/cell_options.h"
#include "bridge/clock.h"
#include "bridge/connection_env.h"
#include "bridge/outbound.h"
#include "bridge/remote_failure.h"
#include "bridge/target.h"

namespace cellgw::bridge {

class CellConnection;

struct RpcRequest {
  // "" routes to the only cell when exactly one is configured.
  std::string cell;
  Target target;
  std::string method;
  std::string args_json;     // a JSON object; "" means {}
  std::string context_json;  // a JSON object; "" means {}
};

struct SendOptions {
  // The caller's own deadline (e.g. the gRPC deadline); InfiniteFuture when none. A cast or
  // fanout not yet published by then is not published.
  absl::Time deadline = absl::InfiniteFuture();
  // Lets the caller withdraw the request; null when it cannot.
  std::shared_ptr<Cancellation> cancellation;
};

struct CallOptions {
  // The caller's own deadline (e.g. the gRPC deadline); InfiniteFuture when none.
  absl::Time deadline = absl::InfiniteFuture();
  // Lets the caller withdraw the request; null when it cannot.
  std::shared_ptr<Cancellation> cancellation;
  // Zero: the cell's rpc_response_timeout. The call ends at the earliest of the two.
  absl::Duration timeout = absl::ZeroDuration();
  // oslo's call_monitor_timeout; zero = off. Sent as whole seconds (`_timeout`).
  absl::Duration call_monitor_timeout = absl::ZeroDuration();
};

struct SendResult {
  std::string unique_id;  // the published message's `_unique_id`
};

struct CallResult {
  std::string msg_id;
  std::string result_json = "null";    // the method's return value, as the server encoded it
  std::optional<RemoteFailure> failure;  // set when the method raised
};

struct CellStatus {
  std::string name;
  bool connected = false;
  std::string redacted_transport_url;  // passwords replaced by ***
  std::string control_exchange;
};

class RpcBridge {
 public:
  using SendCallback = std::function<void(absl::StatusOr<SendResult>)>;
  using CallCallback = std::function<void(absl::StatusOr<CallResult>)>;

  // Checks every cell's options (transport URL, caps) without connecting. INVALID_ARGUMENT
  // naming the cell and field. `observer` may be null and must outlive the bridge. `env`
  // replaces the broker connector, clock and random numbers (tests); its clock and random
  // source, when set, must outlive the bridge.
  static absl::StatusOr<std::unique_ptr<RpcBridge>> Create(std::vector<CellOptions> cells,
                                                           BridgeObserver* observer,
                                                           ConnectionEnv env = {});
  ~RpcBridge();  // Stop()

  // Starts every connection's loop; they connect in the background.
  void Start();
  // Waits until every connection made its first attempt, or `timeout`. True when all are up.
  bool WaitForConnections(absl::Duration timeout);
  // Ends everything in flight with UNAVAILABLE and closes the connections. Idempotent.
  void Stop();

  void Cast(const RpcRequest& request, const SendOptions& options, SendCallback done);
  void Fanout(const RpcRequest& request, const SendOptions& options, SendCallback done);
  void Cast(const RpcRequest& request, SendCallback done) { Cast(request, {}, std::move(done)); }
  void Fanout(const RpcRequest& request, SendCallback done) {
    Fanout(request, {}, std::move(done));
  }
  void Call(const RpcRequest& request, const CallOptions& options, CallCallback done);

  std::vector<CellStatus> ListCells() const;
  // Whether the named cell has a live connection; NOT_FOUND for an unknown cell.
  absl::StatusOr<bool> CellConnected(absl::string_view cell) const;

 private:
  struct Cell;
  // A request ready for its connection: the message (callbacks not set yet) and where it goes.
  struct Prepared {
    Cell* cell = nullptr;
    CellConnection* connection = nullptr;
    Outbound message;
  };
  RpcBridge(std::vector<std::unique_ptr<Cell>> cells, BridgeObserver* observer, Clock* clock);
  // The cell a request routes to; NOT_FOUND / INVALID_ARGUMENT naming target.cell.
  absl::StatusOr<Cell*> Route(const RpcRequest& request) const;
  // What every kind of request goes through before a connection takes it: route, check the
  // target, pick the connection, encode the message once, check its size, take one of the
  // cell's in-flight slots (last, so a refusal costs none) and attach the caller's
  // cancellation. The timeouts of `call` matter for kCall only; its deadline and cancellation
  // for every kind. Fails with the codes listed above, before anything is sent.
  absl::StatusOr<Prepared> Prepare(const RpcRequest& request, SendKind kind,
                                   const CallOptions& call) const;
  void Send(const RpcRequest& request, SendKind kind, const SendOptions& options,
            SendCallback done);

  std::vector<std::unique_ptr<Cell>> cells_;
  BridgeObserver* observer_;
  Clock* clock_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_RPC_BRIDGE_H_
