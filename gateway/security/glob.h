// Shell-style glob patterns over bytes, the one pattern language of the access policy
// (gateway/security/access_policy.h: cells, topics, methods, exchanges, servers, namespaces)
// and of context_deny (gateway/security/context_rules.h).
//
// '*' matches any run (also an empty one), '?' exactly one byte, anything else itself; there
// are no escapes or character classes, and matching is case-sensitive and whole-string.
#ifndef CELLGW_GATEWAY_SECURITY_GLOB_H_
#define CELLGW_GATEWAY_SECURITY_GLOB_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cellgw::gateway {

// Whole-string glob match as described above. Iterative (no recursion) and allocation-free;
// time at most proportional to pattern.size() * text.size(). Callers bound `text` first
// (request fields are at most 255 bytes by the time they are matched).
bool GlobMatch(absl::string_view pattern, absl::string_view text);

// True when some pattern of `patterns` matches `text`.
bool AnyGlobMatches(const std::vector<std::string>& patterns, absl::string_view text);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_SECURITY_GLOB_H_
