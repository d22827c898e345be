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
#include "gateway/security/access_policy.h"
#include "gateway/config/security_config.h"
#include "gateway/security/token_authenticator.h"

namespace cellgw::gateway {

class Authorizer {
 public:
  // `config` should authenticate (config.authenticates()); otherwise every request is
  // refused with UNAUTHENTICATED. `control_exchanges` maps each configured cell's name to
  // its control_exchange (grants without `exchanges` allow only that one).
  Authorizer(const SecurityConfig& config, std::map<std::string, std::string> control_exchanges);

  struct Decision {
    grpc::Status status;  // OK, UNAUTHENTICATED or PERMISSION_DENIED
    std::string caller;   // DescribeCaller() of the authenticated caller, "" when none
  };

  // Authenticates the caller of `context` and, unless `kind` is "list_cells" (which needs
  // authentication only), checks the policy for a request of that kind ("call", "cast",
  // "fanout"; any other kind is refused with PERMISSION_DENIED) to `cell` (already resolved
  // to the only cell when the target named none), `exchange` (as sent), `topic` and
  // `method`. Thread-safe (const); call it on the RPC's own thread (auth_context() is built
  // lazily).
  Decision Check(const grpc::ServerContextBase& context, absl::string_view kind,
                 absl::string_view cell, absl::string_view exchange, absl::string_view topic,
                 absl::string_view method) const;

  // The authentication step on its own, from the values of every `authorization` metadata
  // entry and the verified client-certificate subject (nullopt when there is none).
  // UNAUTHENTICATED as described above. Thread-safe (const).
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
