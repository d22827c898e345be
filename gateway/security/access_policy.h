// The authorisation policy: which authenticated caller may send which request. Part of
// //gateway's security (see gateway/config/security_config.h for the YAML that fills it); the
// Authorizer (gateway/security/authorizer.h) asks it once per request, before the request is
// validated or reaches the bridge. Pure logic: no gRPC, no I/O.
//
// A caller is either a token identity (the name its bearer token is listed under in the
// tokens file) or a TLS client-certificate subject. The two never match each other: a grant
// names one or the other, so a certificate whose subject happens to spell a token identity
// gains nothing from that identity's grants.
//
// A request is allowed when at least one grant of its caller allows it; a grant allows it
// when every one of the grant's lists has a pattern matching the request's field. Patterns
// are shell-style globs over bytes (gateway/security/glob.h). ListCells is not governed by
// grants (any authenticated caller may list cells; see security_config.h).
//
// The first grant, in policy order, that allows a request is the one applied: its
// context_deny and context_set (gateway/security/context_rules.h) govern that request's
// context. Put narrower grants first.
#ifndef CELLGW_GATEWAY_SECURITY_ACCESS_POLICY_H_
#define CELLGW_GATEWAY_SECURITY_ACCESS_POLICY_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gateway/security/context_rules.h"
#include "gateway/security/glob.h"

namespace cellgw::gateway {

// The RPC kinds a grant can allow. ListCells is deliberately not one of them. kNotify and
// kSubscribe (the Notify and Subscribe RPCs) are granted on cell, exchange and topic: a grant's
// `methods` do not apply to them.
// kServe (the Serve RPC: a worker serving a topic) is granted on cell, exchange and topic too.
enum class RequestKind { kCall, kCast, kFanout, kNotify, kSubscribe, kServe };

// "call", "cast", "fanout", "notify", "subscribe", "serve".
absl::string_view RequestKindName(RequestKind kind);
// The inverse of RequestKindName; nullopt for anything else (the YAML parser reports it).
std::optional<RequestKind> ParseRequestKind(absl::string_view name);

// Who is calling, once authenticated.
struct Caller {
  enum class Source { kToken, kCertificate };
  Source source = Source::kToken;
  // The token's identity, or the certificate subject as gRPC reports it (RFC 2253 order,
  // e.g. "CN=scheduler,O=Example"). Not a secret: it is logged with each request.
  std::string name;
};

// "token:<name>" or "cert:<subject>", the form logs and errors show.
std::string DescribeCaller(const Caller& caller);

struct Grant {
  // Exactly one of the two is non-empty: the token identity or the certificate subject the
  // grant is for (exact, case-sensitive comparison).
  std::string identity;
  std::string subject;
  // Patterns; each list must have a match for the grant to apply. Empty lists match nothing.
  std::vector<std::string> cells;
  std::vector<std::string> topics;
  std::vector<std::string> methods;
  // Patterns for the exchange a call or cast is published to. Empty (the default): only the
  // cell's control_exchange, whether the target names it or leaves the exchange empty.
  // Not applied to fanouts, which always go to "<topic>_fanout" (oslo ignores the target's
  // exchange for them).
  std::vector<std::string> exchanges;
  // Empty means call, cast and fanout: notify and subscribe must be named, so that no grant
  // written before they existed allows them.
  std::vector<RequestKind> kinds;
  // Patterns for target.server and target.namespace. Empty (the default): any value, set or
  // not; unlike `exchanges`, whose default is narrow because another exchange reaches other
  // services, server and namespace only choose among the topic's own servers and endpoints.
  // When given, an unset value is matched as "": the pattern "" (or "*") matches it, so
  // ["", "admin"] allows the default namespace and "admin". A fanout reaches every server of
  // its topic whatever target.server says, so `servers` allows fanouts only when it holds
  // the pattern "*".
  std::vector<std::string> servers;
  std::vector<std::string> namespaces;
  // What the caller may put in context_json and what the gateway sets there.
  ContextRules context;
};

// One request as the policy sees it.
struct AccessRequest {
  RequestKind kind = RequestKind::kCall;
  // The cell the request goes to: Target.cell, or the only cell's name when the target
  // leaves it empty and exactly one cell is configured.
  absl::string_view cell;
  // Target.exchange as sent ("" = the cell's control exchange).
  absl::string_view exchange;
  // The control_exchange of `cell`; "" when the cell is not configured.
  absl::string_view control_exchange;
  absl::string_view topic;
  // Not consulted for kNotify and kSubscribe.
  absl::string_view method;
  // Target.server and Target.namespace as sent ("" = not set).
  absl::string_view server;
  absl::string_view namespace_;
};

class AccessPolicy {
 public:
  AccessPolicy() = default;
  explicit AccessPolicy(std::vector<Grant> grants) : grants_(std::move(grants)) {}

  // The first grant of `caller` (in policy order) that allows `request`, or nullptr. The
  // grant lives as long as the policy. Thread-safe (const).
  const Grant* Find(const Caller& caller, const AccessRequest& request) const;
  // Find() != nullptr.
  bool Allows(const Caller& caller, const AccessRequest& request) const {
    return Find(caller, request) != nullptr;
  }

  const std::vector<Grant>& grants() const { return grants_; }

 private:
  std::vector<Grant> grants_;
};

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_SECURITY_ACCESS_POLICY_H_
