// Reading values out of a parsed YAML document, shared by the gateway's config
// (gateway/config/config.cc) and its `security:` section (gateway/config/security_config.cc) so that both
// check values, and word their errors, the same way.
//
// Errors: every function that can fail returns INVALID_ARGUMENT with the message
// "<path>: <why>", where <path> is the config path of the offending value as built by Child
// and Index ("cells[0].upgrade_levels.compute", "security.policy[2].methods[0]"). The empty
// path is the document root, which messages call "config". Keys in paths are escaped and cut
// short (DisplayKey), so a hostile key cannot put control bytes into, or flood, a log.
//
// yaml-cpp reports misuse by throwing YAML::Exception. These functions do not catch it: their
// callers run inside one try block each (config.cc's ParseYaml, security_config.cc's
// ParseSecurityConfig and ParseCellTlsKey), so that no exception escapes the config code.
#ifndef CELLGW_GATEWAY_CONFIG_YAML_VALUES_H_
#define CELLGW_GATEWAY_CONFIG_YAML_VALUES_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::gateway::yaml {

// INVALID_ARGUMENT "<path>: <why>".
absl::Status Error(absl::string_view path, absl::string_view why);

// `key` as it appears in a message: C-escaped, and cut to its first 100 bytes followed by
// "..." when longer. Also used for names given as values (a cell's name, a grant's
// identity), which are as untrusted as keys.
std::string DisplayKey(absl::string_view key);

// The path of `key` in the map at `path`: "<path>.<DisplayKey(key)>", or just
// DisplayKey(key) at the root (empty `path`).
std::string Child(absl::string_view path, absl::string_view key);

// The path of item `i` of the list at `path`: "<path>[<i>]".
std::string Index(absl::string_view path, size_t i);

// The node's kind as a message says it: "null", "a list", "a map", "a string" (any scalar,
// numbers and booleans included) or "undefined".
absl::string_view KindOf(const YAML::Node& node);

// How MapEntries words an unknown key: kPlain says "unknown key"; kListAllowed adds
// " (expected one of <allowed, comma-separated>)".
enum class UnknownKeyMessage { kPlain, kListAllowed };

// The entries of the map at `path`, in document order. Errors:
//  * `map` is not a map: at `path`, "must be a map of <what>, not <KindOf(map)>";
//  * a key is not a scalar: at `path`, "a key is <KindOf(key)>; keys must be strings";
//  * a key is not in `allowed` (when `allowed` is not empty; empty allows every key): at the
//    key's path, "unknown key" as `unknown` says;
//  * a key appears twice: at the key's path, "key appears more than once". yaml-cpp keeps
//    repeated keys and a lookup would silently take the first, so they are refused here.
absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> MapEntries(
    const YAML::Node& map, absl::string_view path, absl::string_view what,
    std::initializer_list<absl::string_view> allowed,
    UnknownKeyMessage unknown = UnknownKeyMessage::kPlain);

// The scalar at `path` as text; YAML numbers and booleans are scalars too, as written.
// Errors: null (the key has no value): "has no value", followed by " (<null_hint>)" when
// `null_hint` is not empty; anything else that is not a scalar: "must be a string, not
// <KindOf(node)>".
absl::StatusOr<std::string> ReadString(const YAML::Node& node, absl::string_view path,
                                       absl::string_view null_hint = "");

// true, True or TRUE; false, False or FALSE (YAML 1.2's booleans, not 1.1's yes/no/on/off).
// Errors: null with a `null_hint`: as ReadString; any other non-scalar, null included when
// there is no hint: "must be true or false, not <KindOf(node)>"; any other scalar: "must be
// true or false".
absl::StatusOr<bool> ReadBool(const YAML::Node& node, absl::string_view path,
                              absl::string_view null_hint = "");

}  // namespace cellgw::gateway::yaml

#endif  // CELLGW_GATEWAY_CONFIG_YAML_VALUES_H_
