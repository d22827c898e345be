#include "gateway/security/access_policy.h"

#include "absl/strings/str_cat.h"

namespace cellgw::gateway {
namespace {

bool AnyMatches(const std::vector<std::string>& patterns, absl::string_view text) {
  for (const std::string& pattern : patterns) {
    if (GlobMatch(pattern, text)) return true;
  }
  return false;
}

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
  return AnyMatches(grant.exchanges, effective);
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

// The classic greedy matcher: on a mismatch after a '*', that star absorbs one more byte and
// matching resumes behind it. Only the most recent star needs revisiting, because any match
// an earlier star could enable is also reachable by extending the later one.
bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = absl::string_view::npos;  // position of the last '*' seen in `pattern`
  size_t star_text = 0;                   // where in `text` that star's run ends for now
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string DescribeCaller(const Caller& caller) {
  return absl::StrCat(caller.source == Caller::Source::kToken ? "token:" : "cert:", caller.name);
}

bool AccessPolicy::Allows(const Caller& caller, const AccessRequest& request) const {
  for (const Grant& grant : grants_) {
    if (NamesCaller(grant, caller) && AllowsKind(grant, request.kind) &&
        AnyMatches(grant.cells, request.cell) && AllowsExchange(grant, request) &&
        AnyMatches(grant.topics, request.topic) &&
        (!HasMethod(request.kind) || AnyMatches(grant.methods, request.method))) {
      return true;
    }
  }
  return false;
}

}  // namespace cellgw::gateway
