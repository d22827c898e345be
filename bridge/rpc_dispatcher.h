// oslo.messaging's RPCDispatcher decision, without the Python: which endpoint of an RPC
// server takes an incoming request, or which exception the server answers with instead.
//
// Where it sits: a server that cellgw runs on behalf of a gRPC worker (Serve) decodes each
// request (envelope.h DecodeRequest) and asks its dispatcher. A request no endpoint can take
// is answered by the gateway itself with the failure returned here (EncodeReply), exactly as
// an oslo server with the same endpoints would answer, so the worker only ever sees requests
// it declared.
//
// The rules are oslo 14's (rpc/dispatcher.py, dispatch()), in endpoint order:
//   - an endpoint is compatible when its namespace equals the request's (a missing or null
//     namespace is oslo's default namespace, None) and its version is compatible with the
//     request's (same major, requested minor/revision not above; a request without a version
//     asks for "1.0", an endpoint without one offers "1.0");
//   - the first compatible endpoint that exposes the method takes the request; methods whose
//     name starts with "_" are never exposed (oslo's DefaultRPCAccessPolicy);
//   - otherwise NoSuchMethod when some endpoint was compatible, UnsupportedVersion when none was.
// Requests oslo itself would fail on before deciding (a version that int() cannot read) get
// the Python exception oslo's server sends back: ValueError or IndexError (module builtins).
//
// Immutable after Create: a const RpcDispatcher is safe to share between threads.
#ifndef CELLGW_BRIDGE_RPC_DISPATCHER_H_
#define CELLGW_BRIDGE_RPC_DISPATCHER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/remote_failure.h"
#include "bridge/version.h"

namespace cellgw::bridge {

// One endpoint of the server, as oslo's endpoint object with its `target`.
struct RpcEndpoint {
  std::optional<std::string> namespace_;  // nullopt: the default namespace (None)
  std::string version;                    // "X.Y" or "X.Y.Z"; "" means "1.0"
  std::vector<std::string> methods;       // the methods the endpoint exposes
};

struct DispatchDecision {
  // The index (in Create's list) of the endpoint that takes the request; nullopt when the
  // request is refused with `failure`.
  std::optional<size_t> endpoint;
  RemoteFailure failure;
};

class RpcDispatcher {
 public:
  // INVALID_ARGUMENT naming the field ("endpoints", "endpoints[i].version",
  // "endpoints[i].namespace", "endpoints[i].methods[j]") when there is no endpoint, a version
  // is malformed, a namespace is empty (oslo's None is written as nullopt), or a method name
  // is empty, listed twice in one endpoint, or "target" (an oslo endpoint's Target attribute,
  // never a method).
  static absl::StatusOr<RpcDispatcher> Create(std::vector<RpcEndpoint> endpoints);

  // The decision for a request with these fields as decoded from the wire (DecodedRequest):
  // `namespace_` nullopt for a missing or null key, `version` nullopt for a missing one.
  DispatchDecision Dispatch(absl::string_view method,
                            const std::optional<std::string>& namespace_,
                            const std::optional<std::string>& version) const;

  size_t endpoint_count() const { return endpoints_.size(); }

 private:
  struct Entry {
    std::optional<std::string> namespace_;
    Version version;
    absl::flat_hash_set<std::string> methods;
  };
  explicit RpcDispatcher(std::vector<Entry> endpoints) : endpoints_(std::move(endpoints)) {}

  std::vector<Entry> endpoints_;
};

// The failure oslo's server sends for an exception raised while dispatching: class, module,
// message, args [message], kwargs {} and a traceback whose last line names the exception as
// Python prints it. For the gateway's own answers; exposed for tests.
RemoteFailure DispatcherFailure(absl::string_view exception_class,
                                absl::string_view exception_module, absl::string_view message);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_RPC_DISPATCHER_H_
