// The context a service receives: the caller's context_json, read once, with what the gateway
// adds or enforces. Part of the path of one request (gateway/rpc): request_validator calls
// BuildContext while turning a gRPC request into a bridge request; the bridge then encodes the
// result as the message's `_context_<key>` entries.
//
// In order:
//  1. context_json must be a JSON object ("" or blanks count as {}).
//  2. With a ContextPolicy (the grant that allowed the request, security on): a key that a
//     context_deny pattern matches refuses the request with PERMISSION_DENIED. Keys are
//     compared decoded ("is_\u0061dmin" is "is_admin"), and duplicates count.
//  3. Every context_set key replaces whatever the caller sent under it, every occurrence;
//     its value is the expanded template, as a JSON string.
//  4. "request_id" with the gateway's request id is added when no key of that name is left
//     (so a caller's own request_id, or one context_set gives, is kept).
// The caller's other members are kept as written, in order. Nothing changes, and the text is
// returned as sent, when there is nothing to add or replace.
#ifndef CELLGW_GATEWAY_RPC_REQUEST_CONTEXT_H_
#define CELLGW_GATEWAY_RPC_REQUEST_CONTEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/security/context_rules.h"

namespace cellgw::gateway {

struct ContextEdits {
  // The request's id (gateway/rpc/request_id.h), added as "request_id" when absent.
  absl::string_view request_id;
  // The applied grant's context rules for the caller; null when callers are not
  // authenticated (nothing is denied or set).
  const ContextPolicy* policy = nullptr;
};

// The context to send, as described above. Parses `context_json` exactly once.
// INVALID_ARGUMENT "context_json: ..." when it is not a JSON object; PERMISSION_DENIED
// "context_json: <caller> may not set key '<key>' (context_deny)".
absl::StatusOr<std::string> BuildContext(const std::string& context_json,
                                         const ContextEdits& edits);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_REQUEST_CONTEXT_H_
