#include "bridge/version.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {
namespace {

// Versions come from gRPC requests and can be arbitrarily long; quoting all of one would let
// a caller blow up error messages (and gRPC trailers). 64 bytes is plenty to recognise it.
constexpr size_t kMaxQuotedBytes = 64;

std::string Quote(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuotedBytes)), "\"... (",
                      text.size(), " bytes)");
}

absl::Status Malformed(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("version ", Quote(text), " is malformed: ", why));
}

// Prefixes a status message with "<field>: ", keeping the code.
absl::Status WithField(absl::string_view field, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

}  // namespace

absl::StatusOr<Version> ParseVersion(absl::string_view text) {
  constexpr absl::string_view kExpected = "expected X.Y or X.Y.Z of decimal digits";
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 2 && parts.size() != 3) return Malformed(text, kExpected);

  uint32_t values[3] = {0, 0, 0};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return Malformed(text, kExpected);
    uint64_t value = 0;
    for (char c : parts[i]) {
      if (c < '0' || c > '9') return Malformed(text, kExpected);
      value = value * 10 + static_cast<uint64_t>(c - '0');
      // Checked per digit, so `value` stays far below uint64's limit.
      if (value > std::numeric_limits<uint32_t>::max()) {
        return Malformed(text, absl::StrCat("a part is larger than ",
                                            std::numeric_limits<uint32_t>::max()));
      }
    }
    values[i] = static_cast<uint32_t>(value);
  }
  Version version;
  version.major = values[0];
  version.minor = values[1];
  version.revision = values[2];
  return version;
}

bool IsCompatible(const Version& available, const Version& requested) {
  if (requested.major != available.major) return false;
  if (requested.minor > available.minor) return false;
  if (requested.minor == available.minor && requested.revision > available.revision) {
    return false;
  }
  return true;
}

absl::StatusOr<VersionCaps> VersionCaps::Create(
    const std::map<std::string, std::string>& upgrade_levels,
    const std::map<std::string, std::string>& version_aliases) {
  for (const auto& [alias, text] : version_aliases) {
    if (alias.empty()) {
      return absl::InvalidArgumentError("version_aliases: an alias name must not be empty");
    }
    const std::string field = absl::StrCat("version_aliases.", alias);
    if (text.empty()) return absl::InvalidArgumentError(field + ": must not be empty");
    absl::StatusOr<Version> parsed = ParseVersion(text);
    if (!parsed.ok()) return WithField(field, parsed.status());
  }

  VersionCaps caps;
  for (const auto& [topic, level] : upgrade_levels) {
    if (topic.empty()) {
      return absl::InvalidArgumentError("upgrade_levels: a topic name must not be empty");
    }
    const std::string field = absl::StrCat("upgrade_levels.", topic);
    if (level.empty()) {
      return absl::InvalidArgumentError(
          field + ": must not be empty (leave the topic out to send it uncapped)");
    }
    // Aliases win over version syntax, as in nova's VERSION_ALIASES.get(level, level).
    auto alias = version_aliases.find(level);
    const std::string& text = alias != version_aliases.end() ? alias->second : level;
    absl::StatusOr<Version> parsed = ParseVersion(text);
    if (!parsed.ok()) {
      if (level == "auto") {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": \"auto\" is not supported (nova computes it from its database); "
                   "give a version or an alias"));
      }
      // Release-name aliases start with a letter; a leading digit means a mistyped version.
      const bool looks_like_version = level[0] >= '0' && level[0] <= '9';
      if (looks_like_version) return WithField(field, parsed.status());
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": ", Quote(level),
          " is neither a version (X.Y or X.Y.Z) nor an alias defined in version_aliases"));
    }
    caps.caps_.emplace(topic, Cap{text, *parsed});
  }
  return caps;
}

absl::Status VersionCaps::Check(absl::string_view topic, absl::string_view version) const {
  auto it = caps_.find(topic);
  if (it == caps_.end()) return absl::OkStatus();
  const Cap& cap = it->second;
  if (version.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no version given for capped topic ", Quote(topic), ": the cell's version cap is ",
        cap.text, ", and oslo refuses to send unversioned messages under a cap"));
  }
  absl::StatusOr<Version> requested = ParseVersion(version);
  if (!requested.ok()) return WithField("target.version", requested.status());
  if (!IsCompatible(cap.version, *requested)) {
    // oslo's RPCVersionCapError text, word for word (two spaces included), so operators can
    // search for the message they know.
    return absl::FailedPreconditionError(absl::StrCat(
        "Requested message version, ", version,
        " is incompatible.  It needs to be equal in major version and less than or equal in "
        "minor version as the specified version cap ",
        cap.text, "."));
  }
  return absl::OkStatus();
}

std::optional<std::string> VersionCaps::CapFor(absl::string_view topic) const {
  auto it = caps_.find(topic);
  if (it == caps_.end()) return std::nullopt;
  return it->second.text;
}

}  // namespace cellgw::bridge
