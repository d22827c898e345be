#include "gateway/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/cell_options.h"
#include "bridge/status_macros.h"
#include "bridge/transport_url.h"
#include "bridge/version.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::gateway {
namespace {

constexpr size_t kMaxConfigFileBytes = 16 << 20;
constexpr size_t kMaxAmqpNameBytes = 255;
constexpr int kMaxConnections = 64;
// A call's timeout becomes its AMQP per-message TTL in milliseconds; keeping it within a
// signed 32-bit millisecond count keeps every broker and every conversion happy.
constexpr double kMaxRpcResponseTimeoutSeconds = 2147483;
constexpr double kMinRpcResponseTimeoutSeconds = 0.001;
constexpr double kMaxShutdownGraceSeconds = 86400;
// connection.tune carries the heartbeat as an unsigned 16-bit number of seconds.
constexpr int64_t kMaxHeartbeatSeconds = 65535;

absl::Status Error(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

// A key as it appears in an error path: escaped so control bytes stay out of logs, and cut
// short so a pathological key cannot flood them.
std::string DisplayKey(absl::string_view key) {
  constexpr size_t kMaxKeyBytes = 100;
  if (key.size() <= kMaxKeyBytes) return absl::CHexEscape(key);
  return absl::StrCat(absl::CHexEscape(key.substr(0, kMaxKeyBytes)), "...");
}

std::string Child(absl::string_view path, absl::string_view key) {
  if (path.empty()) return DisplayKey(key);
  return absl::StrCat(path, ".", DisplayKey(key));
}

absl::string_view KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Undefined:
      break;
  }
  return "undefined";
}

// The keys of a YAML map in document order, after checking that each is a string, allowed
// (when `allowed` is non-empty) and not repeated. yaml-cpp keeps repeated keys and lookups
// would silently take the first, so they are refused here.
absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> MapEntries(
    const YAML::Node& map, absl::string_view path,
    std::initializer_list<absl::string_view> allowed) {
  std::vector<std::pair<std::string, YAML::Node>> entries;
  for (YAML::const_iterator it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      return Error(path.empty() ? "config" : path,
                   absl::StrCat("a key is ", KindOf(it->first), "; keys must be strings"));
    }
    std::string key = it->first.Scalar();
    const std::string key_path = Child(path, key);
    if (allowed.size() > 0) {
      bool known = false;
      for (absl::string_view name : allowed) known = known || name == key;
      if (!known) return Error(key_path, "unknown key");
    }
    for (const auto& [seen, unused] : entries) {
      if (seen == key) return Error(key_path, "key appears more than once");
    }
    entries.emplace_back(std::move(key), it->second);
  }
  return entries;
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node, absl::string_view path) {
  if (node.IsNull()) {
    return Error(path, "has no value (write \"\" for an empty string, or leave the key out)");
  }
  if (!node.IsScalar()) return Error(path, absl::StrCat("must be a string, not ", KindOf(node)));
  return node.Scalar();
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node, absl::string_view path) {
  absl::StatusOr<std::string> text = ReadString(node, path);
  if (!text.ok()) {
    if (!node.IsNull() && !node.IsScalar()) {
      return Error(path, absl::StrCat("must be true or false, not ", KindOf(node)));
    }
    return text.status();
  }
  if (*text == "true" || *text == "True" || *text == "TRUE") return true;
  if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  return Error(path, "must be true or false");
}

// A non-negative decimal integer within [min, max], digits only.
absl::StatusOr<int64_t> ParseInteger(absl::string_view text, absl::string_view path,
                                     int64_t min, int64_t max) {
  const std::string range = absl::StrCat("must be an integer from ", min, " to ", max);
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != absl::string_view::npos) {
    return Error(path, range);
  }
  int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');  // at most 18 digits: no overflow
  if (value < min || value > max) return Error(path, range);
  return value;
}

absl::StatusOr<int64_t> ReadInteger(const YAML::Node& node, absl::string_view path,
                                    int64_t min, int64_t max) {
  CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(node, path));
  return ParseInteger(text, path, min, max);
}

absl::StatusOr<absl::Duration> ReadSeconds(const YAML::Node& node, absl::string_view path,
                                           double min, double max) {
  CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(node, path));
  const std::string range =
      absl::StrCat("must be a number of seconds from ", min, " to ", max);
  double seconds = 0;
  // Decimal notation only: SimpleAtod alone would also take hex, "inf" and "nan".
  const bool decimal = !text.empty() &&
                       text.find_first_not_of("0123456789.eE+-") == std::string::npos &&
                       text.find_first_of("0123456789") != std::string::npos;
  if (!decimal || !absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) ||
      seconds < min || seconds > max) {
    return Error(path, range);
  }
  return absl::Seconds(seconds);
}

absl::StatusOr<std::map<std::string, std::string>> ReadStringMap(const YAML::Node& node,
                                                                 absl::string_view path) {
  if (!node.IsMap()) {
    return Error(path, absl::StrCat("must be a map of strings, not ", KindOf(node)));
  }
  CELLGW_ASSIGN_OR_RETURN(auto entries, MapEntries(node, path, {}));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : entries) {
    CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(value, Child(path, key)));
    out.emplace(key, std::move(text));
  }
  return out;
}

// host:port (IPv6 as [addr]:port). Port 0 is allowed: it asks for any free port, which
// tests and ad-hoc runs use.
absl::Status CheckHostPort(absl::string_view text, absl::string_view path) {
  const std::string expected = "must be host:port (IPv6 as [address]:port)";
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close == 1 || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return Error(path, expected);
    }
    for (char c : text.substr(1, close - 1)) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return Error(path, expected);
      }
    }
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos || colon == 0) return Error(path, expected);
    for (char c : text.substr(0, colon)) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' &&
          c != '_') {
        return Error(path, expected);
      }
    }
    port = text.substr(colon + 1);
  }
  if (!ParseInteger(port, path, 0, 65535).ok()) {
    return Error(path, absl::StrCat(expected, " with a port from 0 to 65535"));
  }
  return absl::OkStatus();
}

// oslo.config's Boolean type, which is what parses ?ssl= in oslo.
absl::StatusOr<bool> ParseOsloBool(absl::string_view text) {
  for (absl::string_view yes : {"true", "1", "on", "yes"}) {
    if (absl::EqualsIgnoreCase(text, yes)) return true;
  }
  for (absl::string_view no : {"false", "0", "off", "no"}) {
    if (absl::EqualsIgnoreCase(text, no)) return false;
  }
  return absl::InvalidArgumentError("not a boolean");
}

// Applies the transport URL's query options to `cell`. Keys are not secrets, and the parser
// guarantees no piece of a password can land in the query, so they may be quoted.
absl::Status ApplyUrlQuery(const bridge::TransportUrl& url, absl::string_view path,
                           bridge::CellOptions& cell) {
  for (const auto& [key, value] : url.query) {
    if (key == "heartbeat_timeout_threshold") {
      CELLGW_ASSIGN_OR_RETURN(
          int64_t seconds,
          ParseInteger(value, absl::StrCat(path, ": query option ", key), 0,
                       kMaxHeartbeatSeconds));
      cell.heartbeat_timeout_threshold = absl::Seconds(seconds);
    } else if (key == "ssl") {
      // Checked so a typo fails now; the connection ignores it until TLS is implemented.
      if (!ParseOsloBool(value).ok()) {
        return Error(path, "query option ssl: must be a boolean (true/false/yes/no/on/off/1/0)");
      }
    } else {
      return Error(path, absl::StrCat("query option \"", DisplayKey(key),
                                      "\" is not supported (oslo would raise "
                                      "NoSuchOptError for an unknown one); the gateway accepts "
                                      "heartbeat_timeout_threshold and ssl"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bridge::CellOptions> ParseCell(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) {
    return Error(path, absl::StrCat("must be a map of cell settings, not ", KindOf(node)));
  }
  CELLGW_ASSIGN_OR_RETURN(
      auto entries,
      MapEntries(node, path,
                 {"name", "transport_url", "control_exchange", "upgrade_levels",
                  "version_aliases", "rpc_response_timeout", "connections",
                  "amqp_durable_queues", "amqp_auto_delete", "rabbit_quorum_queue",
                  "heartbeat_timeout_threshold"}));

  bridge::CellOptions cell;
  bool has_name = false;
  bool has_transport_url = false;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key == "name") {
      CELLGW_ASSIGN_OR_RETURN(cell.name, ReadString(value, key_path));
      if (cell.name.empty()) return Error(key_path, "must not be empty");
      has_name = true;
    } else if (key == "transport_url") {
      CELLGW_ASSIGN_OR_RETURN(cell.transport_url, ReadString(value, key_path));
      has_transport_url = true;
    } else if (key == "control_exchange") {
      CELLGW_ASSIGN_OR_RETURN(cell.control_exchange, ReadString(value, key_path));
      if (cell.control_exchange.empty()) return Error(key_path, "must not be empty");
      if (cell.control_exchange.size() > kMaxAmqpNameBytes) {
        return Error(key_path, absl::StrCat("is ", cell.control_exchange.size(),
                                            " bytes long; the limit is ",
                                            kMaxAmqpNameBytes));
      }
    } else if (key == "upgrade_levels") {
      CELLGW_ASSIGN_OR_RETURN(cell.upgrade_levels, ReadStringMap(value, key_path));
    } else if (key == "version_aliases") {
      CELLGW_ASSIGN_OR_RETURN(cell.version_aliases, ReadStringMap(value, key_path));
    } else if (key == "rpc_response_timeout") {
      CELLGW_ASSIGN_OR_RETURN(cell.rpc_response_timeout,
                              ReadSeconds(value, key_path, kMinRpcResponseTimeoutSeconds,
                                          kMaxRpcResponseTimeoutSeconds));
    } else if (key == "connections") {
      CELLGW_ASSIGN_OR_RETURN(int64_t connections,
                              ReadInteger(value, key_path, 1, kMaxConnections));
      cell.connections = static_cast<int>(connections);
    } else if (key == "amqp_durable_queues") {
      CELLGW_ASSIGN_OR_RETURN(cell.amqp_durable_queues, ReadBool(value, key_path));
    } else if (key == "amqp_auto_delete") {
      CELLGW_ASSIGN_OR_RETURN(cell.amqp_auto_delete, ReadBool(value, key_path));
    } else if (key == "rabbit_quorum_queue") {
      CELLGW_ASSIGN_OR_RETURN(cell.rabbit_quorum_queue, ReadBool(value, key_path));
    } else if (key == "heartbeat_timeout_threshold") {
      CELLGW_ASSIGN_OR_RETURN(int64_t seconds,
                              ReadInteger(value, key_path, 0, kMaxHeartbeatSeconds));
      cell.heartbeat_timeout_threshold = absl::Seconds(seconds);
    }
  }
  if (!has_name) return Error(Child(path, "name"), "required key is missing");
  if (!has_transport_url) return Error(Child(path, "transport_url"), "required key is missing");

  // Errors from version.h and transport_url.h start with their own field name
  // ("upgrade_levels.compute: ...", "transport_url: ..."); the cell's path goes in front.
  absl::StatusOr<bridge::VersionCaps> caps =
      bridge::VersionCaps::Create(cell.upgrade_levels, cell.version_aliases);
  if (!caps.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", caps.status().message()));
  }

  const std::string url_path = Child(path, "transport_url");
  absl::StatusOr<bridge::TransportUrl> url = bridge::ParseTransportUrl(cell.transport_url);
  if (!url.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", url.status().message()));
  }
  // Applied last so the URL's heartbeat_timeout_threshold wins over the key, as in oslo.
  CELLGW_RETURN_IF_ERROR(ApplyUrlQuery(*url, url_path, cell));
  return cell;
}

absl::StatusOr<GatewayConfig> ParseRoot(const YAML::Node& root) {
  GatewayConfig config;
  if (root.IsNull()) return Error("cells", "required key is missing");
  if (!root.IsMap()) {
    return Error("config", absl::StrCat("must be a map of settings, not ", KindOf(root)));
  }
  CELLGW_ASSIGN_OR_RETURN(
      auto entries,
      MapEntries(root, "",
                 {"listen", "metrics_listen", "log_level", "shutdown_grace_period", "cells"}));

  bool has_cells = false;
  for (const auto& [key, value] : entries) {
    if (key == "listen") {
      CELLGW_ASSIGN_OR_RETURN(config.listen, ReadString(value, key));
      if (!absl::StartsWith(config.listen, "unix:")) {
        CELLGW_RETURN_IF_ERROR(CheckHostPort(config.listen, key));
      } else if (config.listen.size() == 5) {
        return Error(key, "unix: needs a socket path");
      }
    } else if (key == "metrics_listen") {
      CELLGW_ASSIGN_OR_RETURN(config.metrics_listen, ReadString(value, key));
      if (!config.metrics_listen.empty()) {
        CELLGW_RETURN_IF_ERROR(
            CheckHostPort(config.metrics_listen, key));
      }
    } else if (key == "log_level") {
      CELLGW_ASSIGN_OR_RETURN(config.log_level, ReadString(value, key));
      if (config.log_level != "debug" && config.log_level != "info" &&
          config.log_level != "warning" && config.log_level != "error") {
        return Error(key, "must be one of debug, info, warning, error");
      }
    } else if (key == "shutdown_grace_period") {
      CELLGW_ASSIGN_OR_RETURN(config.shutdown_grace_period,
                              ReadSeconds(value, key, 0, kMaxShutdownGraceSeconds));
    } else if (key == "cells") {
      has_cells = true;
      if (!value.IsSequence() || value.size() == 0) {
        return Error(key, absl::StrCat("must be a non-empty list of cells, not ",
                                       value.IsSequence() ? "an empty list" : KindOf(value)));
      }
      std::map<std::string, size_t> index_by_name;
      size_t i = 0;
      for (YAML::const_iterator item = value.begin(); item != value.end(); ++item, ++i) {
        const std::string path = absl::StrCat("cells[", i, "]");
        CELLGW_ASSIGN_OR_RETURN(bridge::CellOptions cell, ParseCell(*item, path));
        auto [it, inserted] = index_by_name.emplace(cell.name, i);
        if (!inserted) {
          return Error(absl::StrCat(path, ".name"),
                       absl::StrCat("\"", DisplayKey(cell.name), "\" is also the name of cells[",
                                    it->second, "]"));
        }
        config.cells.push_back(std::move(cell));
      }
    }
  }
  if (!has_cells) return Error("cells", "required key is missing");
  return config;
}

}  // namespace

absl::StatusOr<GatewayConfig> ParseConfig(absl::string_view yaml_text) {
  // yaml-cpp reports errors by throwing; nothing may escape this function. Its parser bounds
  // its own recursion (DeepRecursion is a ParserException), and ParseRoot walks a fixed
  // shape, so hostile nesting cannot exhaust the stack.
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    return ParseRoot(root);
  } catch (const YAML::DeepRecursion& e) {
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1,
                                                   ": YAML nesting is too deep"));
  } catch (const YAML::ParserException& e) {
    // e.msg, not e.what(): the latter repeats the mark in yaml-cpp's own format.
    return absl::InvalidArgumentError(absl::StrCat("line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1,
                                                   ": YAML syntax error: ", e.msg));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("YAML error: ", e.msg));
  }
}

absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path) {
  const std::string prefix = absl::StrCat("config file \"", absl::CHexEscape(path), "\": ");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string why = std::generic_category().message(error);
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat(prefix, why));
    return absl::InvalidArgumentError(absl::StrCat(prefix, "cannot open: ", why));
  }
  std::string text;
  absl::Status status;
  struct stat info;
  if (fstat(fd, &info) != 0) {
    status = absl::InvalidArgumentError(
        absl::StrCat(prefix, "cannot stat: ", std::generic_category().message(errno)));
  } else if (!S_ISREG(info.st_mode)) {
    status = absl::InvalidArgumentError(absl::StrCat(prefix, "is not a regular file"));
  } else {
    char buffer[65536];
    while (status.ok()) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::InvalidArgumentError(
            absl::StrCat(prefix, "cannot read: ", std::generic_category().message(errno)));
      } else if (n == 0) {
        break;
      } else if (text.size() + static_cast<size_t>(n) > kMaxConfigFileBytes) {
        status = absl::InvalidArgumentError(
            absl::StrCat(prefix, "is larger than ", kMaxConfigFileBytes, " bytes"));
      } else {
        text.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  CELLGW_RETURN_IF_ERROR(status);

  absl::StatusOr<GatewayConfig> config = ParseConfig(text);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(prefix, config.status().message()));
  }
  return config;
}

}  // namespace cellgw::gateway
