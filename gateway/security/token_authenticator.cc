#include "gateway/security/token_authenticator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cellgw::gateway {
namespace {

constexpr size_t kMaxIdentityBytes = 128;
constexpr size_t kMinTokenBytes = 16;
constexpr size_t kMaxTokenBytes = 4096;

bool IsIdentityChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '@' || c == ':';
}

// RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool IsToken(absl::string_view token) {
  size_t i = 0;
  while (i < token.size()) {
    const char c = token[i];
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' &&
        c != '~' && c != '+' && c != '/') {
      break;
    }
    ++i;
  }
  if (i == 0) return false;
  while (i < token.size() && token[i] == '=') ++i;
  return i == token.size();
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  // EVP_Digest with SHA-256 cannot fail short of memory exhaustion; a zero digest then
  // matches no real token's digest.
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    digest.fill(0);
  }
  return digest;
}

// The next run of non-blank bytes at or after `*pos`, advancing `*pos` past it.
absl::string_view NextField(absl::string_view line, size_t* pos) {
  while (*pos < line.size() && IsBlank(line[*pos])) ++*pos;
  const size_t start = *pos;
  while (*pos < line.size() && !IsBlank(line[*pos])) ++*pos;
  return line.substr(start, *pos - start);
}

}  // namespace

absl::StatusOr<TokenAuthenticator> TokenAuthenticator::Parse(absl::string_view text) {
  TokenAuthenticator result;
  std::vector<size_t> entry_lines;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    absl::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == absl::string_view::npos ? text.size() : newline + 1);
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    auto error = [line_number](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", why));
    };

    size_t pos = 0;
    const absl::string_view identity = NextField(line, &pos);
    if (identity.empty() || identity[0] == '#') continue;
    const absl::string_view token = NextField(line, &pos);
    if (token.empty()) {
      return error("expected \"<identity> <token>\" but found one field");
    }
    if (!NextField(line, &pos).empty()) {
      return error("expected \"<identity> <token>\" but found more than two fields");
    }
    if (identity.size() > kMaxIdentityBytes ||
        !std::all_of(identity.begin(), identity.end(), IsIdentityChar)) {
      return error(absl::StrCat("the identity must be 1 to ", kMaxIdentityBytes,
                                " bytes of A-Z a-z 0-9 . _ - @ :"));
    }
    if (token.size() < kMinTokenBytes || token.size() > kMaxTokenBytes) {
      return error(absl::StrCat("the token must be ", kMinTokenBytes, " to ", kMaxTokenBytes,
                                " bytes long (generate one with `openssl rand -base64 32`)"));
    }
    if (!IsToken(token)) {
      return error(
          "the token may only hold A-Z a-z 0-9 - . _ ~ + / and end in '=' padding "
          "(RFC 6750)");
    }
    Entry entry{std::string(identity), Sha256(token)};
    for (size_t i = 0; i < result.entries_.size(); ++i) {
      // Comparing digests of the operator's own file: no timing concern here.
      if (result.entries_[i].digest == entry.digest) {
        return error(absl::StrCat("this token is also on line ", entry_lines[i],
                                  "; each token may belong to one identity only"));
      }
    }
    result.entries_.push_back(std::move(entry));
    entry_lines.push_back(line_number);
  }
  if (result.entries_.empty()) {
    return absl::InvalidArgumentError("holds no \"<identity> <token>\" line");
  }
  return result;
}

std::optional<std::string> TokenAuthenticator::Authenticate(absl::string_view token) const {
  const std::array<unsigned char, 32> digest = Sha256(token);
  // Every entry is compared; which one matched is folded in with masks, not branches.
  size_t found = 0;
  size_t matched = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const size_t equal = static_cast<size_t>(
        CRYPTO_memcmp(digest.data(), entries_[i].digest.data(), digest.size()) == 0);
    const size_t mask = ~(equal - 1);  // all ones when equal, else zero
    found = (found & ~mask) | (i & mask);
    matched |= equal;
  }
  if (matched == 0) return std::nullopt;
  return entries_[found].identity;
}

std::vector<std::string> TokenAuthenticator::Identities() const {
  std::vector<std::string> identities;
  for (const Entry& entry : entries_) identities.push_back(entry.identity);
  std::sort(identities.begin(), identities.end());
  identities.erase(std::unique(identities.begin(), identities.end()), identities.end());
  return identities;
}

absl::StatusOr<absl::string_view> ParseBearerToken(absl::string_view authorization) {
  constexpr absl::string_view kScheme = "bearer";
  const absl::Status malformed =
      absl::InvalidArgumentError("authorization metadata must be \"Bearer <token>\"");
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return malformed;
  }
  absl::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.size() > kMaxTokenBytes || !IsToken(token)) return malformed;
  return token;
}

}  // namespace cellgw::gateway
