// libFuzzer target for bridge/transport_url (tests/fuzz): ParseTransportUrl and
// RedactTransportUrl, which see every cell's transport_url and must never show a password. The
// input is the URL. Checks:
//  * a refused URL gives INVALID_ARGUMENT "transport_url: ..." quoting the redacted URL, and its
//    redacted form is the conservative one (everything between "//" and the last '@' hidden);
//  * a parsed URL has at least one host, each with a name and a port from 1 to 65535, no NUL in
//    user, password or virtual host, and a non-empty virtual host;
//  * the redaction does not depend on the passwords: replacing each written password with
//    another one gives the same redacted URL (so no byte of a password can be in it: a
//    decoded password of 4 bytes or more found in it must also be found there when the
//    passwords are different, i.e. it is some other, public part of the URL);
//  * the redacted URL parses to the same hosts, users, ports, virtual host and query, with
//    "***" as each written password, and redacting it again changes nothing.
// The password positions come from a small reference splitter written here from the grammar in
// bridge/transport_url.h, independent of the parser under test.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bridge/transport_url.h"
#include "tests/fuzz/fuzz_check.h"

namespace cellgw::fuzz {
namespace {

using ::cellgw::bridge::BrokerHost;
using ::cellgw::bridge::ParseTransportUrl;
using ::cellgw::bridge::RedactTransportUrl;
using ::cellgw::bridge::TransportUrl;

constexpr absl::string_view kStars = "***";
constexpr size_t kMaxQuotedUrlBytes = 512;  // as bridge/transport_url.cc quotes

// Where a password is written in the URL: [begin, end) in bytes.
struct Span {
  size_t begin;
  size_t end;
};

// One entry per host segment of a URL that parsed: the written password's span, or none.
std::vector<std::optional<Span>> PasswordSpans(absl::string_view url) {
  std::vector<std::optional<Span>> spans;
  const size_t netloc_begin = url.find("://") + 3;
  const size_t netloc_end = std::min(url.find_first_of("/?", netloc_begin), url.size());
  size_t segment_begin = netloc_begin;
  while (segment_begin <= netloc_end) {
    size_t segment_end = url.find(',', segment_begin);
    if (segment_end == absl::string_view::npos || segment_end > netloc_end) {
      segment_end = netloc_end;
    }
    const absl::string_view segment = url.substr(segment_begin, segment_end - segment_begin);
    if (!segment.empty()) {
      std::optional<Span> span;
      const size_t at = segment.rfind('@');
      if (at != absl::string_view::npos) {
        const size_t colon = segment.substr(0, at).find(':');
        if (colon != absl::string_view::npos && colon + 1 < at) {
          span = Span{segment_begin + colon + 1, segment_begin + at};
        }
      }
      spans.push_back(span);
    }
    segment_begin = segment_end + 1;
  }
  return spans;
}

std::string ReplacePasswords(absl::string_view url, const std::vector<std::optional<Span>>& spans,
                             absl::string_view password) {
  std::string out;
  size_t copied = 0;
  for (const std::optional<Span>& span : spans) {
    if (!span) continue;
    absl::StrAppend(&out, url.substr(copied, span->begin - copied), password);
    copied = span->end;
  }
  absl::StrAppend(&out, url.substr(copied));
  return out;
}

// The redaction the header promises for a URL that does not parse.
std::string ConservativeRedaction(absl::string_view url) {
  size_t start = 0;
  const size_t separator = url.find("://");
  if (separator != absl::string_view::npos && separator > 0 &&
      absl::ascii_isalpha(static_cast<unsigned char>(url[0]))) {
    bool scheme_ok = true;
    for (char c : url.substr(0, separator)) {
      scheme_ok = scheme_ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' ||
                                c == '-' || c == '.');
    }
    if (scheme_ok) start = separator + 3;
  }
  const size_t last_at = url.rfind('@');
  if (last_at == absl::string_view::npos || last_at < start) return std::string(url);
  return absl::StrCat(url.substr(0, start), kStars, url.substr(last_at));
}

// `second` is `first` with the given passwords: same hosts, ports, users, vhost and query.
void CheckSameExceptPasswords(const TransportUrl& first, const TransportUrl& second,
                              const std::vector<std::optional<Span>>& spans,
                              absl::string_view written_password, absl::string_view what) {
  CELLGW_FUZZ_CHECK(second.hosts.size() == first.hosts.size(), what, ": ", second.hosts.size(),
                    " hosts instead of ", first.hosts.size());
  CELLGW_FUZZ_CHECK(second.virtual_host == first.virtual_host, what, ": vhost ",
                    Show(second.virtual_host));
  CELLGW_FUZZ_CHECK(second.query == first.query, what, ": query differs");
  for (size_t i = 0; i < first.hosts.size(); ++i) {
    const BrokerHost& a = first.hosts[i];
    const BrokerHost& b = second.hosts[i];
    CELLGW_FUZZ_CHECK(a.host == b.host && a.port == b.port && a.username == b.username, what,
                      ": host ", i + 1, " is ", Show(b.host), ":", b.port, " user ",
                      Show(b.username));
    // A URL with no host segment at all (rabbit://) has one default host and no spans.
    const bool written = i < spans.size() && spans[i].has_value();
    const absl::string_view expected = written ? written_password : a.password;
    CELLGW_FUZZ_CHECK(b.password == expected, what, ": password of host ", i + 1);
  }
}

void CheckUrl(absl::string_view url) {
  const absl::StatusOr<TransportUrl> parsed = ParseTransportUrl(url);
  const std::string redacted = RedactTransportUrl(url);

  if (!parsed.ok()) {
    CELLGW_FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument &&
                          absl::StartsWith(parsed.status().message(), "transport_url: "),
                      "ParseTransportUrl(", Show(url), "): ", parsed.status().ToString());
    CELLGW_FUZZ_CHECK(redacted == ConservativeRedaction(url), "refused URL ", Show(url),
                      " redacted as ", Show(redacted));
    const std::string quoted =
        absl::CHexEscape(absl::string_view(redacted).substr(0, kMaxQuotedUrlBytes));
    CELLGW_FUZZ_CHECK(absl::StrContains(parsed.status().message(), quoted), "error ",
                      Show(parsed.status().message()), " does not quote the redacted URL");
    return;
  }

  CELLGW_FUZZ_CHECK(!parsed->hosts.empty(), "no host in ", Show(url));
  for (const BrokerHost& host : parsed->hosts) {
    CELLGW_FUZZ_CHECK(!host.host.empty() && host.port >= 1, "host ", Show(host.host), ":",
                      host.port, " from ", Show(url));
    CELLGW_FUZZ_CHECK(host.username.find('\0') == std::string::npos &&
                          host.password.find('\0') == std::string::npos,
                      "NUL in credentials from ", Show(url));
  }
  CELLGW_FUZZ_CHECK(!parsed->virtual_host.empty() &&
                        parsed->virtual_host.find('\0') == std::string::npos,
                    "vhost ", Show(parsed->virtual_host), " from ", Show(url));

  const std::vector<std::optional<Span>> spans = PasswordSpans(url);
  CELLGW_FUZZ_CHECK(spans.size() == parsed->hosts.size() || (spans.empty() &&
                                                            parsed->hosts.size() == 1),
                    "reference splitter found ", spans.size(), " hosts, parser ",
                    parsed->hosts.size(), " in ", Show(url));

  // Other passwords, same redaction.
  const std::string other_url = ReplacePasswords(url, spans, "X");
  const absl::StatusOr<TransportUrl> other = ParseTransportUrl(other_url);
  CELLGW_FUZZ_CHECK(other.ok(), Show(other_url), " (", Show(url), " with other passwords): ",
                    other.status().ToString());
  CheckSameExceptPasswords(*parsed, *other, spans, "X", "other passwords");
  const std::string other_redacted = RedactTransportUrl(other_url);
  CELLGW_FUZZ_CHECK(redacted == other_redacted, "redaction depends on the password: ",
                    Show(url), " -> ", Show(redacted), " but ", Show(other_url), " -> ",
                    Show(other_redacted));
  for (size_t i = 0; i < parsed->hosts.size(); ++i) {
    const std::string& password = parsed->hosts[i].password;
    const bool written = i < spans.size() && spans[i].has_value();
    if (!written || password.size() < 4) continue;
    CELLGW_FUZZ_CHECK(!absl::StrContains(redacted, password) ||
                          absl::StrContains(other_redacted, password),
                      "password ", Show(password), " shows in ", Show(redacted));
  }

  const absl::StatusOr<TransportUrl> reparsed = ParseTransportUrl(redacted);
  CELLGW_FUZZ_CHECK(reparsed.ok(), "redacted ", Show(redacted), " of ", Show(url), ": ",
                    reparsed.status().ToString());
  CheckSameExceptPasswords(*parsed, *reparsed, spans, kStars, "redacted");
  CELLGW_FUZZ_CHECK(RedactTransportUrl(redacted) == redacted, "redacting ", Show(redacted),
                    " again changes it");
}

}  // namespace
}  // namespace cellgw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellgw::fuzz::CheckUrl(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
