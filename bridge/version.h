// RPC API versions as oslo.messaging uses them: parsing "X.Y[.Z]", oslo's compatibility
// rule, and the per-topic version caps of a cell (nova's [upgrade_levels] with its
// release-name aliases). Part of //bridge. The gateway checks a request's version against
// the cell's cap before sending, exactly where oslo's RPCClient would raise
// RPCVersionCapError, so a capped cell never receives a message its services cannot handle.
#ifndef CELLGW_BRIDGE_VERSION_H_
#define CELLGW_BRIDGE_VERSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {

struct Version {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t revision = 0;  // 0 when the text had only X.Y, as in oslo
};

// Parses "X.Y" or "X.Y.Z" made of ASCII decimal digits only: no signs, spaces or empty
// parts, and no part above 4294967295. Stricter than oslo's int() on purpose: anything else
// would be read differently by different services.
// Returns INVALID_ARGUMENT "version \"<text>\" is malformed: ..." otherwise; the message does
// not name a field, so callers prefix theirs (e.g. "target.version: ").
absl::StatusOr<Version> ParseVersion(absl::string_view text);

// oslo's version_is_compatible(available, requested): same major; requested minor <=
// available minor; and when the minors are equal, requested revision <= available revision.
bool IsCompatible(const Version& available, const Version& requested);

// The version caps of one cell, per topic. Immutable after Create, so a const instance is
// safe to share between threads.
class VersionCaps {
 public:
  // No caps: Check passes everything, as oslo does without a version_cap.
  VersionCaps() = default;

  // `upgrade_levels`: topic -> "X.Y[.Z]" or an alias; `version_aliases`: alias -> "X.Y[.Z]".
  // An upgrade level is looked up in the aliases first (as nova's rpcapi modules do with
  // VERSION_ALIASES), then parsed as a version. Every alias is checked, used or not.
  // Returns INVALID_ARGUMENT whose message starts with "upgrade_levels.<topic>" or
  // "version_aliases.<alias>" when a value is empty or malformed, an upgrade level is
  // neither a version nor a known alias (nova's "auto" included: it needs nova's database),
  // or a topic or alias name is empty.
  static absl::StatusOr<VersionCaps> Create(
      const std::map<std::string, std::string>& upgrade_levels,
      const std::map<std::string, std::string>& version_aliases);

  // Whether a message of `version` may be sent to `topic`. `version` is normally already
  // syntax-checked; empty means "no version given".
  // Returns OK when the topic has no cap or the version is compatible with it;
  // FAILED_PRECONDITION with oslo's RPCVersionCapError text when it is not, or when the topic
  // is capped and `version` is empty (oslo refuses unversioned messages under a cap);
  // INVALID_ARGUMENT naming target.version when `version` is malformed.
  absl::Status Check(absl::string_view topic, absl::string_view version) const;

  // The cap of `topic` after alias resolution, as written in the config (e.g. "1.10"), or
  // nullopt when the topic is not capped.
  std::optional<std::string> CapFor(absl::string_view topic) const;

 private:
  struct Cap {
    std::string text;  // kept as written: it is what oslo's error message shows
    Version version;
  };

  // std::less<> so lookups by string_view need no copy.
  std::map<std::string, Cap, std::less<>> caps_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_VERSION_H_
