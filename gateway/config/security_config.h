// The `security:` section of the gateway's YAML config (gRPC TLS and mutual TLS, bearer
// tokens, the authorisation policy) and the per-cell keys for TLS to brokers. Part of
// //gateway; gateway/config/config.cc calls ParseSecurityConfig for the top-level `security` key
// and the cell helpers below for each cell, and GatewayServer builds the server credentials
// (gateway/security/server_credentials.h) and the Authorizer (gateway/security/authorizer.h) from the result.
//
// Without a `security:` section cellgw serves plaintext gRPC and lets every caller do
// everything: that is only for a trusted network, so the config refuses it unless `listen`
// is loopback or a unix socket, or `allow_insecure: true` says the network is trusted
// (gateway/config/config.h). With it:
//
//   security:
//     tls:                                 # gRPC over TLS; optional (see below)
//       cert_file: /etc/cellgw/tls/server.pem      # required: certificate chain, leaf first
//       key_file: /etc/cellgw/tls/server.key       # required: its private key, unencrypted
//       client_ca_file: /etc/cellgw/tls/client-ca.pem
//                                          # optional: CA bundle for client certificates;
//                                          # turns on mutual TLS
//       require_client_cert: true          # optional, default true; only with
//                                          # client_ca_file. false: a client certificate
//                                          # is verified when one is sent, and callers
//                                          # without one may use a token instead.
//     tokens_file: /etc/cellgw/tokens      # optional: bearer tokens, "<identity> <token>"
//                                          # per line (gateway/security/token_authenticator.h)
//     policy:                              # required when callers are authenticated
//       - identity: scheduler              # a token identity, or instead
//         # subject: "CN=scheduler,O=Example"  # a client-certificate subject
//         cells: ["cell*"]                 # required, glob patterns
//         topics: ["compute", "conductor"] # required
//         methods: ["get_*", "resize_instance"]  # required, unless kinds has only notify
//                                          # and subscribe (they are granted on cell,
//                                          # exchange and topic; methods never apply to them)
//         exchanges: ["nova"]              # optional; default: the cell's control_exchange
//         kinds: [call, cast]              # optional; default: [call, cast, fanout];
//                                          # notify, subscribe and serve only when named
//         servers: ["compute-*"]           # optional; default: any server, or none
//         namespaces: ["", "admin"]        # optional; default: any; "" = no namespace
//         context_deny: [is_admin, roles]  # optional: context keys the caller may not send
//         context_set:                     # optional: context keys the gateway sets,
//           user_id: "{identity}"          #   replacing the caller's value
//
// Semantics:
//  * Callers are authenticated when tokens_file or tls.client_ca_file is set (at least one
//    of tls and tokens_file must be). Then every RPC needs credentials: a request with
//    neither a token nor a verified client certificate fails with UNAUTHENTICATED, and so
//    does one with a malformed or unknown token. A caller that sends an `authorization`
//    header is identified by its token even when it also has a certificate. The identity of
//    a certificate is its subject as gRPC reports it, RFC 2253 style, most specific RDN
//    first: `-subj "/O=Example/CN=scheduler"` is "CN=scheduler,O=Example".
//  * Call, Cast and Fanout then also need a policy grant (gateway/security/access_policy.h): a grant
//    for the caller whose cells, topics, methods, exchanges and kinds all match the request;
//    otherwise PERMISSION_DENIED. ListCells needs authentication only: its answer holds no
//    secret (URLs are shown with passwords redacted) and clients need it for discovery.
//  * servers and namespaces: see Grant (gateway/security/access_policy.h) for what an absent
//    list and an unset value mean. The first grant that allows a request is applied: a
//    context key its context_deny matches (decoded, so "is_\u0061dmin" is is_admin) fails
//    the request with PERMISSION_DENIED naming the key; its context_set keys replace
//    whatever the caller sent under them (every occurrence) with the expanded template, a
//    JSON string (placeholders: gateway/security/context_rules.h). context_set values must
//    be strings: an unquoted true, false, null or number is an error, since the service
//    would receive it as text.
//  * Refusals happen before the request is handed to the bridge, so nothing of it reaches
//    a broker. The routing decision (PERMISSION_DENIED for a grant that does not match) is
//    made before context_json is parsed; context_deny after.
//  * Without tls, gRPC stays plaintext: tokens then cross the network readable, which is
//    only acceptable on loopback or a unix socket (cellgw logs a warning at start).
//  * With tls but neither tokens_file nor client_ca_file, traffic is encrypted and callers
//    are not authenticated; `policy` must then be left out.
//  * A grant's identity must have a token in tokens_file, and subject grants need
//    tls.client_ca_file, so a misspelt name is an error instead of a grant nobody gets.
//  * Every file is read, and certificates and keys are parsed (key and certificate must
//    match; encrypted keys are refused), when the config is read. Changing a file needs a
//    restart.
//
// Per-cell keys for TLS to the cell's broker (names as oslo.messaging's
// [oslo_messaging_rabbit] options):
//
//   ssl            bool    false  TLS to the broker; `?ssl=true` in the transport URL sets it
//                                 too (the URL wins over the key, as in oslo).
//   ssl_ca_file    string  ""     CA bundle the broker's certificate must chain to; required
//                                 when ssl is on. Unlike oslo, which skips verification when
//                                 it is unset, cellgw always verifies the broker's
//                                 certificate and its host name (the host as written in the
//                                 transport URL must be a DNS name in the certificate; for
//                                 an IP address, that address written as a DNS name).
//   ssl_cert_file  string  ""     Client certificate chain, for brokers that require one;
//   ssl_key_file   string  ""     and its private key (unencrypted). Both or neither.
//
// Setting an ssl_*_file while TLS is off is an error (it would be silently unused).
#ifndef CELLGW_GATEWAY_CONFIG_SECURITY_CONFIG_H_
#define CELLGW_GATEWAY_CONFIG_SECURITY_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/cell_options.h"
#include "gateway/security/access_policy.h"
#include "gateway/security/token_authenticator.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace cellgw::gateway {

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // "" = no client certificates (server-side TLS only)
  bool require_client_cert = true;
  // The files' contents, as ParseSecurityConfig read and checked them. private_key_pem is a
  // secret.
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string client_ca_pem;
};

struct SecurityConfig {
  // False when the config has no `security:` section: plaintext, no authentication.
  bool enabled = false;
  std::optional<TlsServerConfig> tls;
  std::string tokens_file;    // "" = no bearer tokens
  TokenAuthenticator tokens;  // read from tokens_file
  std::vector<Grant> policy;

  // True when callers must authenticate (tokens_file or tls.client_ca_file is set).
  bool authenticates() const {
    return enabled && (!tokens_file.empty() || (tls.has_value() && !tls->client_ca_file.empty()));
  }
};

// Parses the value of the `security` key (a map, shape above), reads the files it names and
// checks everything. `path_prefix` is the key's own path ("security"); every error starts
// with it and the key path below it, e.g. "security.policy[2].methods[0]: must not be
// empty", "security.tls.key_file: cannot read \"/etc/x.key\": No such file or directory".
// Returns INVALID_ARGUMENT for the first problem; never throws. No message contains a token
// or any byte of a key.
absl::StatusOr<SecurityConfig> ParseSecurityConfig(const YAML::Node& node,
                                                   absl::string_view path_prefix);

// Per-cell broker TLS keys, for the cell parser in gateway/config/config.cc.
// True for "ssl", "ssl_ca_file", "ssl_cert_file" and "ssl_key_file".
bool IsCellTlsKey(absl::string_view key);
// Reads one of those keys' `value` into `cell`. INVALID_ARGUMENT naming `key_path` for a
// value of the wrong type or an empty path. Never throws.
absl::Status ParseCellTlsKey(absl::string_view key, const YAML::Node& value,
                             absl::string_view key_path, bridge::CellOptions& cell);
// Checks a cell's TLS settings once everything (keys, then the URL's ?ssl=) is applied:
// ssl_ca_file required with ssl, ssl_*_file only with ssl, cert and key together; reads and
// parses the files. INVALID_ARGUMENT starting with `cell_path` + "." + the key ("cells[0].
// ssl_ca_file: ..."), quoting paths but never file contents.
absl::Status CheckCellTls(const bridge::CellOptions& cell, absl::string_view cell_path);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_CONFIG_SECURITY_CONFIG_H_
