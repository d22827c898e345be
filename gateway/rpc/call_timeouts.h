// How long a call may wait for its reply, per cell: the operator's bound on
// CallRequest.timeout. Part of the path of one Call (gateway/rpc): CellGatewayService asks it
// after validation and hands the result to the bridge as CallOptions::timeout.
//
// A call ends at the earliest of
//   * the caller's gRPC deadline, and
//   * its timeout: CallRequest.timeout when set (non-zero), else the cell's
//     rpc_response_timeout; in either case at most the cell's max_call_timeout (default:
//     rpc_response_timeout, so by default a caller can shorten a call but not lengthen it).
// The same time is the request's AMQP expiration (the bridge sets it, as oslo does).
#ifndef CELLGW_GATEWAY_RPC_CALL_TIMEOUTS_H_
#define CELLGW_GATEWAY_RPC_CALL_TIMEOUTS_H_

#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cellgw::gateway {

class CallTimeouts {
 public:
  struct Cell {
    absl::Duration rpc_response_timeout;
    absl::Duration max_call_timeout;  // at least rpc_response_timeout (the config checks it)
  };

  // No cells: every requested timeout passes unchanged (the bridge's own default applies).
  CallTimeouts() = default;
  explicit CallTimeouts(std::map<std::string, Cell, std::less<>> cells)
      : cells_(std::move(cells)) {}

  // The timeout of a call to `cell` (already resolved to the only cell when the target named
  // none) whose CallRequest.timeout is `requested` (zero: unset), as described above. A cell
  // this object does not know gets `requested` back: the bridge refuses such a call with
  // NOT_FOUND before any timeout matters. Thread-safe (const).
  absl::Duration For(absl::string_view cell, absl::Duration requested) const;

 private:
  std::map<std::string, Cell, std::less<>> cells_;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_CALL_TIMEOUTS_H_
