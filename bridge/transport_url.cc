#include "bridge/transport_url.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

constexpr uint16_t kDefaultPort = 5672;
constexpr absl::string_view kDefaultCredential = "guest";
constexpr absl::string_view kRedacted = "***";
// Error messages quote at most this much of the (redacted) URL.
constexpr size_t kMaxQuotedUrlBytes = 512;

// The URL cut into its parts, as Python's urlsplit would for the characters we accept.
struct UrlParts {
  absl::string_view scheme;
  size_t netloc_begin = 0;  // offset of the host list in the URL
  absl::string_view netloc;
  absl::string_view tail;   // everything after the host list: "[/vhost][?query]"
  absl::string_view path;   // "" or "/..."
  absl::string_view query;  // without the '?'
};

bool IsValidScheme(absl::string_view scheme) {
  if (scheme.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(scheme[0]))) {
    return false;
  }
  for (char c : scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' &&
        c != '.') {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's unquote: "%XX" becomes the byte; a '%' not followed by two hex digits is kept as
// is, so existing oslo URLs with a raw '%' in a password keep working.
std::string PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

bool IsHostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
         c == '_';
}

bool IsIpv6Char(char c) {
  return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

// Errors below never quote the host list: when it is misread (a raw ',', '/' or '?' in a
// password), any piece of it may be part of a password. They say which host instead.
absl::Status HostError(size_t index, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("host ", index + 1, ": ", why));
}

absl::StatusOr<uint16_t> ParsePort(absl::string_view text, size_t index) {
  if (text.empty()) return kDefaultPort;
  if (text.size() > 5 || text.find_first_not_of("0123456789") != absl::string_view::npos) {
    return HostError(index, "port must be a decimal number from 1 to 65535");
  }
  uint32_t value = 0;
  for (char c : text) value = value * 10 + static_cast<uint32_t>(c - '0');
  if (value < 1 || value > 65535) {
    return HostError(index, "port must be a decimal number from 1 to 65535");
  }
  return static_cast<uint16_t>(value);
}

absl::StatusOr<BrokerHost> ParseHost(absl::string_view segment, size_t index) {
  BrokerHost host;
  absl::string_view host_port = segment;
  const size_t at = segment.rfind('@');
  if (at != absl::string_view::npos) {
    const absl::string_view credentials = segment.substr(0, at);
    host_port = segment.substr(at + 1);
    const size_t colon = credentials.find(':');
    const absl::string_view user = credentials.substr(0, colon);
    const absl::string_view password = colon == absl::string_view::npos
                                           ? absl::string_view()
                                           : credentials.substr(colon + 1);
    if (!user.empty()) host.username = PercentDecode(user, /*plus_is_space=*/false);
    if (!password.empty()) host.password = PercentDecode(password, /*plus_is_space=*/false);
    // SASL PLAIN separates user and password with NUL bytes, so one inside either would
    // change what the broker reads.
    if (host.username.find('\0') != std::string::npos) {
      return HostError(index, "the user name contains a NUL byte");
    }
    if (host.password.find('\0') != std::string::npos) {
      return HostError(index, "the password contains a NUL byte");
    }
  }

  absl::string_view port_text;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) {
      return HostError(index, "'[' opens an IPv6 address but no ']' closes it");
    }
    const absl::string_view address = host_port.substr(1, close - 1);
    if (address.empty() || address.find(':') == absl::string_view::npos) {
      return HostError(index, "the text in [] is not an IPv6 address");
    }
    for (char c : address) {
      if (!IsIpv6Char(c)) return HostError(index, "the text in [] is not an IPv6 address");
    }
    host.host = std::string(address);
    const absl::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return HostError(index, "only \":port\" may follow ']'");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = host_port.find(':');
    const absl::string_view name = host_port.substr(0, colon);
    if (colon != absl::string_view::npos) port_text = host_port.substr(colon + 1);
    if (name.empty()) return HostError(index, "the host name is empty");
    for (char c : name) {
      if (!IsHostNameChar(c)) {
        return HostError(index,
                         "the host name may hold only letters, digits, '-', '.' and '_' "
                         "(write an IPv6 address as [address])");
      }
    }
    host.host = std::string(name);
  }
  CELLGW_ASSIGN_OR_RETURN(host.port, ParsePort(port_text, index));
  return host;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t index = 0;
  for (absl::string_view item : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    ++index;
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) {
      // Not quoted: a query without '=' is what a raw '?' in a password produces.
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter ", index, " has no \"=value\""));
    }
    std::string key = PercentDecode(item.substr(0, eq), /*plus_is_space=*/true);
    if (key.empty()) {
      return absl::InvalidArgumentError("a query parameter has an empty name");
    }
    std::string value = PercentDecode(item.substr(eq + 1), /*plus_is_space=*/true);
    bool merged = false;
    for (auto& [existing_key, existing_value] : out) {
      if (existing_key == key) {
        // oslo joins repeated options with ','.
        absl::StrAppend(&existing_value, ",", value);
        merged = true;
        break;
      }
    }
    if (!merged) out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// Cuts the URL into parts. Fails on what makes the cut itself unreliable.
absl::StatusOr<UrlParts> SplitUrl(absl::string_view url) {
  for (char c : url) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return absl::InvalidArgumentError(
          "contains a space or control character; percent-encode it (e.g. %20)");
    }
  }
  UrlParts parts;
  const size_t separator = url.find("://");
  if (separator == absl::string_view::npos || !IsValidScheme(url.substr(0, separator))) {
    return absl::InvalidArgumentError("must start with rabbit://");
  }
  parts.scheme = url.substr(0, separator);
  if (absl::EqualsIgnoreCase(parts.scheme, "amqp")) {
    return absl::InvalidArgumentError(
        "scheme \"amqp\" selects oslo.messaging's AMQP 1.0 driver, not RabbitMQ's AMQP "
        "0-9-1 rabbit driver; use rabbit://");
  }
  if (!absl::EqualsIgnoreCase(parts.scheme, "rabbit") &&
      !absl::EqualsIgnoreCase(parts.scheme, "kombu")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scheme \"", parts.scheme, "\" is not supported; use rabbit:// (or kombu://)"));
  }
  if (url.find('#') != absl::string_view::npos) {
    // Python would cut the URL at the '#' and drop the rest without a word.
    return absl::InvalidArgumentError(
        "contains '#'; percent-encode it as %23 (oslo would drop everything after it)");
  }
  parts.netloc_begin = separator + 3;
  const absl::string_view rest = url.substr(parts.netloc_begin);
  const size_t netloc_end = rest.find_first_of("/?");
  parts.netloc = rest.substr(0, netloc_end);
  parts.tail = netloc_end == absl::string_view::npos ? absl::string_view()
                                                     : rest.substr(netloc_end);
  const size_t question = parts.tail.find('?');
  parts.path = parts.tail.substr(0, question);
  if (question != absl::string_view::npos) parts.query = parts.tail.substr(question + 1);
  return parts;
}

// The parser proper. Its messages do not quote the URL; ParseTransportUrl adds the redacted
// form, and RedactTransportUrl uses this to decide whether the URL is unambiguous.
absl::StatusOr<TransportUrl> ParseParts(const UrlParts& parts) {
  // An '@' after the host list means credentials may have been cut short by a raw '/' or
  // '?' in a password; reading on would put pieces of it in the vhost or the query.
  if (parts.tail.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "has an '@' after the host list; percent-encode '@' in a virtual host or query as "
        "%40, and '/', '?', ',' and '@' in a password as %2F, %3F, %2C and %40");
  }
  TransportUrl result;
  size_t index = 0;
  size_t first_without_credentials = absl::string_view::npos;
  for (absl::string_view segment : absl::StrSplit(parts.netloc, ',')) {
    if (segment.empty()) {
      ++index;
      continue;  // as oslo: "h1,,h2" is two hosts
    }
    const bool has_credentials = segment.find('@') != absl::string_view::npos;
    if (!has_credentials && first_without_credentials == absl::string_view::npos) {
      first_without_credentials = index;
    }
    if (has_credentials && first_without_credentials != absl::string_view::npos) {
      // Also what a raw ',' in a password looks like ("u:pa,ss@h" reads as hosts "u:pa" and
      // "ss@h"), so it is refused rather than guessed at.
      return HostError(first_without_credentials,
                       "has no credentials but a later host has; give every host its "
                       "credentials, and percent-encode a ',' in a password as %2C");
    }
    CELLGW_ASSIGN_OR_RETURN(BrokerHost host, ParseHost(segment, index));
    result.hosts.push_back(std::move(host));
    ++index;
  }
  if (result.hosts.empty()) {
    BrokerHost local;
    local.host = "localhost";
    result.hosts.push_back(std::move(local));
  }

  if (!parts.path.empty()) {
    // `path` starts with '/'; the vhost is the rest, so "//" gives "/".
    std::string vhost = PercentDecode(parts.path.substr(1), /*plus_is_space=*/false);
    if (vhost.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("the virtual host contains a NUL byte");
    }
    if (!vhost.empty()) result.virtual_host = std::move(vhost);
  }
  CELLGW_ASSIGN_OR_RETURN(result.query, ParseQuery(parts.query));
  return result;
}

// Replaces everything between "//" and the last '@' of the whole URL. Used when the host
// list cannot be trusted; it may hide more than the password, never less.
std::string RedactConservatively(absl::string_view url) {
  size_t start = 0;
  const size_t separator = url.find("://");
  if (separator != absl::string_view::npos && IsValidScheme(url.substr(0, separator))) {
    start = separator + 3;
  }
  const size_t last_at = url.rfind('@');
  if (last_at == absl::string_view::npos || last_at < start) return std::string(url);
  return absl::StrCat(url.substr(0, start), kRedacted, url.substr(last_at));
}

}  // namespace

absl::StatusOr<TransportUrl> ParseTransportUrl(absl::string_view url) {
  absl::StatusOr<UrlParts> parts = SplitUrl(url);
  absl::StatusOr<TransportUrl> parsed =
      parts.ok() ? ParseParts(*parts) : absl::StatusOr<TransportUrl>(parts.status());
  if (parsed.ok()) return parsed;

  std::string redacted = RedactTransportUrl(url);
  std::string suffix;
  if (redacted.size() > kMaxQuotedUrlBytes) {
    suffix = absl::StrCat("... (", redacted.size(), " bytes)");
    redacted.resize(kMaxQuotedUrlBytes);
  }
  return absl::InvalidArgumentError(absl::StrCat("transport_url: ", parsed.status().message(),
                                                 " (URL \"", absl::CHexEscape(redacted),
                                                 "\"", suffix, ")"));
}

std::string RedactTransportUrl(absl::string_view url) {
  absl::StatusOr<UrlParts> parts = SplitUrl(url);
  // Trust the host list only when the URL parses: the parser refuses the shapes in which a
  // raw delimiter inside a password would move where the credentials seem to end.
  if (!parts.ok() || !ParseParts(*parts).ok()) {
    return RedactConservatively(url);
  }
  std::vector<std::string> segments;
  for (absl::string_view segment : absl::StrSplit(parts->netloc, ',')) {
    const size_t at = segment.rfind('@');
    const size_t colon = at == absl::string_view::npos ? absl::string_view::npos
                                                       : segment.substr(0, at).find(':');
    if (colon == absl::string_view::npos || colon + 1 == at) {
      segments.emplace_back(segment);  // no password written
    } else {
      segments.push_back(
          absl::StrCat(segment.substr(0, colon + 1), kRedacted, segment.substr(at)));
    }
  }
  return absl::StrCat(url.substr(0, parts->netloc_begin), absl::StrJoin(segments, ","),
                      parts->tail);
}

}  // namespace cellgw::bridge
