// Caller authentication by bearer token: the tokens file's format, and looking up which
// identity a presented token belongs to without leaking anything through timing. Part of
// //gateway's security; gateway/config/security_config.h loads the file named by
// security.tokens_file, and the Authorizer (gateway/security/authorizer.h) checks each request's
// `authorization: Bearer <token>` metadata with it.
//
// Tokens file: UTF-8/ASCII text, one grant of a token to an identity per line:
//
//   # comment lines and blank lines are ignored
//   scheduler   3q2+7w-EXAMPLE-ONLY-4f9cTz8u1mVb0kQ
//   conductor   Zx1c-EXAMPLE-ONLY-9vPq0LmN4rT7yU2w
//   scheduler   a-second-token-for-rotation-EXAMPLE
//
//   identity  1 to 128 bytes of A-Z a-z 0-9 . _ - @ :  (the name policy grants refer to)
//   token     16 to 4096 bytes of RFC 6750 token characters: A-Z a-z 0-9 - . _ ~ + /
//             followed by any number of '='. Generate one with `openssl rand -base64 32`.
//
// The two are separated by spaces or tabs; leading and trailing blanks (and a CR before the
// newline) are ignored. An identity may have several tokens (so tokens can be rotated
// without downtime); one token may not belong to two identities. Only SHA-256 digests of
// the tokens are kept in memory, and no error message ever quotes any part of a line (a
// misplaced token could be in any field).
#ifndef CELLGW_GATEWAY_SECURITY_TOKEN_AUTHENTICATOR_H_
#define CELLGW_GATEWAY_SECURITY_TOKEN_AUTHENTICATOR_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::gateway {

class TokenAuthenticator {
 public:
  // No tokens: Authenticate() finds nobody.
  TokenAuthenticator() = default;

  // Parses the text of a tokens file (format above). INVALID_ARGUMENT for the first bad line,
  // "line <n>: <why>" (never quoting the line), or when the text holds no token at all.
  static absl::StatusOr<TokenAuthenticator> Parse(absl::string_view text);

  // The identity `token` belongs to, or nullopt. Takes the same time whichever entry
  // matches or whether one does: the token's SHA-256 is compared with every stored digest in
  // constant time and without early exit. Thread-safe (const).
  std::optional<std::string> Authenticate(absl::string_view token) const;

  // Identities with at least one token, sorted, each once (for checking the policy).
  std::vector<std::string> Identities() const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string identity;
    std::array<unsigned char, 32> digest;
  };
  std::vector<Entry> entries_;
};

// The token in an `authorization` metadata value of the form "Bearer <token>" (the scheme
// is case-insensitive; one or more spaces follow it). INVALID_ARGUMENT, without quoting the
// value, when it has another form or the token has characters RFC 6750 does not allow.
absl::StatusOr<absl::string_view> ParseBearerToken(absl::string_view authorization);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_SECURITY_TOKEN_AUTHENTICATOR_H_
