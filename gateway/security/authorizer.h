// Authentication and authorisation of each gRPC request, from the gateway's SecurityConfig.
// Part of //gateway: GatewayServer builds one when the config authenticates callers, and
// CellGatewayService asks it at the start of every RPC (Begin()), before the request is
// validated or handed to the bridge, so a refused request never reaches a broker.
//
// The caller is identified by its `authorization: Bearer <token>` metadata when it sends
// one (gateway/security/token_authenticator.h), otherwise by its verified TLS client certificate's
// subject (only when the server is configured with tls.client_ca_file). Refusals:
//   UNAUTHENTICATED    no token and no certificate; a malformed authorization value, more
//                      than one, a token that is not in the tokens file, or any token when
//                      no tokens_file is configured (a certificate does not make an
//                      unexpected authorization header acceptable: the caller would be
//                      ambiguous).
//   PERMISSION_DENIED  Call/Cast/Fanout that no grant of the caller allows
//                      (gateway/security/access_policy.h). ListCells only needs authentication.
//                      (A context key the applied grant denies is refused later, when the
//                      context is read: gateway/rpc/request_context.h.)
// Messages name the caller and the request's routing fields, never a token.
#ifndef CELLGW_GATEWAY_SECURITY_AUTHORIZER_H_
#define CELLGW_GATEWAY_SECURITY_AUTHORIZER_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/config/security_config.h"
#include "gateway/security/access_policy.h"
#include "gateway/security/context_rules.h"
#include "gateway/security/token_authenticator.h"

namespace cellgw::gateway {

// The routing fields of one request as the caller sent them. Every field is at most 255
// bytes by the time it gets here (CellGatewayService checks lengths first).
struct RequestTarget {
  absl::string_view cell;  // already resolved to the only cell when the target named none
  absl::string_view exchange;
  absl::string_view topic;
  absl::string_view namespace_;
  absl::string_view server;
  absl::string_view method;
};

class Authorizer {
 public:
  // `config` should authenticate (config.authenticates()); otherwise every request is
  // refused with UNAUTHENTICATED. `control_exchanges` maps each configured cell's name to
  // its control_exchange (grants without `exchanges` allow only that one).
  Authorizer(const SecurityConfig& config, std::map<std::string, std::string> control_exchanges);

  struct Decision {
    grpc::Status status;  // OK, UNAUTHENTICATED or PERMISSION_DENIED
    std::string caller;   // DescribeCaller() of the authenticated caller, "" when none
    // When OK for a call, cast or fanout: the context rules of the grant that allowed it,
    // for this caller (gateway/rpc/request_context applies them). Empty for list_cells.
    ContextPolicy context;
  };

  // Authenticates the caller of `context` and decides as Decide() does. Call it on the RPC's
  // own thread (auth_context() is built lazily). Thread-safe (const).
  Decision Check(const grpc::ServerContextBase& context, absl::string_view kind,
                 const RequestTarget& target) const;

  // The decision for a caller presenting `authorization` (the values of every
  // `authorization` metadata entry) and `certificate_subject` (the verified client
  // certificate's subject, nullopt when there is none): authentication as Authenticate();
  // then, unless `kind` is "list_cells" (authentication only), the policy for a request of
  // that kind ("call", "cast", "fanout"; any other kind is PERMISSION_DENIED) to `target`.
  // Thread-safe (const).
  Decision Decide(const std::vector<absl::string_view>& authorization,
                  const std::optional<std::string>& certificate_subject, absl::string_view kind,
                  const RequestTarget& target) const;

  // The authentication step on its own. UNAUTHENTICATED as described above. Thread-safe.
  absl::StatusOr<Caller> Authenticate(const std::vector<absl::string_view>& authorization,
                                      const std::optional<std::string>& certificate_subject) const;

 private:
  TokenAuthenticator tokens_;
  bool accepts_tokens_;
  bool accepts_certificates_;
  AccessPolicy policy_;
  std::map<std::string, std::string> control_exchanges_;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_SECURITY_AUTHORIZER_H_
