#include "gateway/security/access_policy.h"

#include "absl/strings/str_cat.h"

namespace cellgw::gateway {
namespace {

bool NamesCaller(const Grant& grant, const Caller& caller) {
  switch (caller.source) {
    case Caller::Source::kToken:
      return !grant.identity.empty() && grant.identity == caller.name;
    case Caller::Source::kCertificate:
      return !grant.subject.empty() && grant.subject == caller.name;
  }
  return false;
}

bool AllowsExchange(const Grant& grant, const AccessRequest& request) {
  // A fanout goes to the "<topic>_fanout" exchange whatever the target says (oslo ignores
  // Target.exchange for it), so the topic alone governs it.
  if (request.kind == RequestKind::kFanout) return true;
  const absl::string_view effective =
      request.exchange.empty() ? request.control_exchange : request.exchange;
  if (grant.exchanges.empty()) {
    // An unknown cell has no control exchange; the request fails validation later, and
    // allowing it here only lets that better error through.
    return effective == request.control_exchange;
  }
  return AnyGlobMatches(grant.exchanges, effective);
}

// An absent list allows any value; see Grant.
bool AllowsOptional(const std::vector<std::string>& patterns, absl::string_view value) {
  return patterns.empty() || AnyGlobMatches(patterns, value);
}

// Notifications have no server: a grant's `servers` does not apply to them.
bool AllowsServer(const Grant& grant, const AccessRequest& request) {
  if (grant.servers.empty() || request.kind == RequestKind::kNotify ||
      request.kind == RequestKind::kSubscribe) {
    return true;
  }
  if (request.kind == RequestKind::kFanout) {
    // Every server of the topic receives a fanout: only "any server" covers it.
    for (const std::string& pattern : grant.servers) {
      if (pattern == "*") return true;
    }
    return false;
  }
  return AnyGlobMatches(grant.servers, request.server);
}

// Only requests to one endpoint's method have a namespace: Serve registers a whole server,
// notifications have none.
bool AllowsNamespace(const Grant& grant, const AccessRequest& request) {
  const bool has_namespace = request.kind == RequestKind::kCall ||
                             request.kind == RequestKind::kCast ||
                             request.kind == RequestKind::kFanout;
  return !has_namespace || AllowsOptional(grant.namespaces, request.namespace_);
}

// Notify, Subscribe and Serve have no method; their grants stop at the topic.
bool HasMethod(RequestKind kind) {
  return kind != RequestKind::kNotify && kind != RequestKind::kSubscribe &&
         kind != RequestKind::kServe;
}

bool AllowsKind(const Grant& grant, RequestKind kind) {
  if (grant.kinds.empty()) return HasMethod(kind);
  for (RequestKind allowed : grant.kinds) {
    if (allowed == kind) return true;
  }
  return false;
}

}  // namespace

absl::string_view RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kCall:
      return "call";
    case RequestKind::kCast:
      return "cast";
    case RequestKind::kFanout:
      return "fanout";
    case RequestKind::kNotify:
      return "notify";
    case RequestKind::kSubscribe:
      return "subscribe";
    case RequestKind::kServe:
      return "serve";
  }
  return "unknown";
}

std::optional<RequestKind> ParseRequestKind(absl::string_view name) {
  for (RequestKind kind : {RequestKind::kCall, RequestKind::kCast, RequestKind::kFanout,
                           RequestKind::kNotify, RequestKind::kSubscribe, RequestKind::kServe}) {
    if (RequestKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string DescribeCaller(const Caller& caller) {
  return absl::StrCat(caller.source == Caller::Source::kToken ? "token:" : "cert:", caller.name);
}

const Grant* AccessPolicy::Find(const Caller& caller, const AccessRequest& request) const {
  for (const Grant& grant : grants_) {
    if (NamesCaller(grant, caller) && AllowsKind(grant, request.kind) &&
        AnyGlobMatches(grant.cells, request.cell) && AllowsExchange(grant, request) &&
        AnyGlobMatches(grant.topics, request.topic) &&
        (!HasMethod(request.kind) || AnyGlobMatches(grant.methods, request.method)) &&
        AllowsServer(grant, request) && AllowsNamespace(grant, request)) {
      return &grant;
    }
  }
  return nullptr;
}

}  // namespace cellgw::gateway
