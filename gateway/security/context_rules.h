// What a policy grant says about the request context (context_json): keys the caller may not
// set (`context_deny`) and keys the gateway sets itself from the caller's identity
// (`context_set`). Part of //gateway's security: gateway/config/security_config.cc parses them
// into a Grant (gateway/security/access_policy.h); the Authorizer turns the rules of the grant
// that allowed a request into a ContextPolicy for that caller; gateway/rpc/request_context
// applies it to the caller's context_json. Pure logic: no gRPC, no I/O, no JSON parsing.
//
// Why: oslo.messaging services trust the context for authorisation (`is_admin`, `roles`,
// `project_id`, `user_id`). A caller that may set them could act as anyone; the gateway knows
// who the caller is, so it can refuse those keys or fill them in.
//
// Templates (the values of context_set) are text with placeholders:
//   {identity}  the caller's name: its token identity, or its client-certificate subject
//               ("CN=scheduler,O=Example")
//   {caller}    the caller as logs show it: "token:<identity>" or "cert:<subject>"
//   {{ and }}   a literal { and }
// Anything else in braces is an error when the config is read. The expanded value reaches the
// service as a JSON string.
#ifndef CELLGW_GATEWAY_SECURITY_CONTEXT_RULES_H_
#define CELLGW_GATEWAY_SECURITY_CONTEXT_RULES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::gateway {

class ContextTemplate {
 public:
  // INVALID_ARGUMENT saying what is wrong (an unknown placeholder, a lone brace); the caller
  // puts the config path in front.
  static absl::StatusOr<ContextTemplate> Parse(absl::string_view text);

  // The value for a caller named `identity`, described as `caller` ("token:<identity>").
  std::string Expand(absl::string_view identity, absl::string_view caller) const;

  // The template as written.
  const std::string& text() const { return text_; }

 private:
  enum class Part { kLiteral, kIdentity, kCaller };
  struct Piece {
    Part part;
    std::string literal;  // for kLiteral
  };
  std::string text_;
  std::vector<Piece> pieces_;
};

struct ContextRules {
  // Patterns (access_policy.h's globs) over the caller's context keys, decoded.
  std::vector<std::string> deny;
  // Keys the gateway sets, in config order, with the template of each value.
  std::vector<std::pair<std::string, ContextTemplate>> set;
};

// The context rules of the grant that allowed one request, with its caller filled in.
struct ContextPolicy {
  // Key patterns the caller may not send; points into the grant (the Authorizer's policy
  // outlives every request). Null: none.
  const std::vector<std::string>* deny = nullptr;
  // Keys and their values (UTF-8 text, sent as JSON strings) that replace whatever the caller
  // sent under those keys.
  std::vector<std::pair<std::string, std::string>> set;
  // DescribeCaller() of the caller, for messages.
  std::string caller;
};

// The policy for a caller named `identity` (described as `caller`) under `rules`.
ContextPolicy MakeContextPolicy(const ContextRules& rules, absl::string_view identity,
                                absl::string_view caller);

// True when a deny pattern of `policy` matches the (decoded) context key `key`.
bool DeniesKey(const ContextPolicy& policy, absl::string_view key);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_SECURITY_CONTEXT_RULES_H_
