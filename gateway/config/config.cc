#include "gateway/config/config.h"

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
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/cell_options.h"
#include "common/status_macros.h"
#include "bridge/transport_url.h"
#include "bridge/version.h"
#include "gateway/config/listen_address.h"
#include "gateway/config/security_config.h"
#include "gateway/config/tls_files.h"
#include "gateway/config/yaml_values.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::gateway {
namespace {

constexpr size_t kMaxConfigFileBytes = 16 << 20;
// A transport URL with dozens of hosts is a few KiB; anything near this is not a URL.
constexpr size_t kMaxUrlFileBytes = 64 << 10;
constexpr size_t kMaxAmqpNameBytes = 255;
constexpr int kMaxConnections = 64;
// Backpressure bounds: enough for any real deployment, small enough that a typo cannot
// disable the protection. RabbitMQ 3.10 itself refuses messages over 128 MiB.
constexpr int64_t kMaxInFlight = 1000000;
constexpr int64_t kMinMessageBytes = 1024;
constexpr int64_t kMaxMessageBytes = 128ll << 20;
// A call's timeout becomes its AMQP per-message TTL in milliseconds; keeping it within a
// signed 32-bit millisecond count keeps every broker and every conversion happy.
constexpr double kMaxRpcResponseTimeoutSeconds = 2147483;
constexpr double kMinRpcResponseTimeoutSeconds = 0.001;
constexpr double kMaxShutdownGraceSeconds = 86400;
// connection.tune carries the heartbeat as an unsigned 16-bit number of seconds.
constexpr int64_t kMaxHeartbeatSeconds = 65535;
constexpr int64_t kMaxConcurrentStreams = 1000000;
// gRPC takes keepalive times as int milliseconds.
constexpr double kMaxKeepaliveSeconds = 2147483;
constexpr double kMaxMinPingIntervalSeconds = 86400;
// Each subscription holds a channel of the cell's consumer connection, and RabbitMQ grants
// 2047 per connection by default (the first 16 and one for declares are taken).
constexpr int64_t kMaxSubscriptions = 2000;
constexpr double kMinOutageSeconds = 0.1;
constexpr double kMaxOutageSeconds = 86400;

using yaml::Child;
using yaml::DisplayKey;
using yaml::Error;
using yaml::Index;
using yaml::KindOf;
using yaml::MapEntries;

// A key written with no value ("listen:") reads as null; tell the reader how to write "".
constexpr absl::string_view kNullHint = "write \"\" for an empty string, or leave the key out";

absl::StatusOr<std::string> ReadString(const YAML::Node& node, absl::string_view path) {
  return yaml::ReadString(node, path, kNullHint);
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node, absl::string_view path) {
  return yaml::ReadBool(node, path, kNullHint);
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

// A bound in a message as an operator would write it: 2147483, not StrCat's 2.14748e+06.
std::string FormatBound(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

absl::StatusOr<absl::Duration> ParseSeconds(absl::string_view text, absl::string_view path,
                                            double min, double max) {
  const std::string range = absl::StrCat("must be a number of seconds from ", FormatBound(min),
                                         " to ", FormatBound(max));
  double seconds = 0;
  // Decimal notation only: SimpleAtod alone would also take hex, "inf" and "nan".
  const bool decimal = !text.empty() &&
                       text.find_first_not_of("0123456789.eE+-") == absl::string_view::npos &&
                       text.find_first_of("0123456789") != absl::string_view::npos;
  if (!decimal || !absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) ||
      seconds < min || seconds > max) {
    return Error(path, range);
  }
  return absl::Seconds(seconds);
}

absl::StatusOr<absl::Duration> ReadSeconds(const YAML::Node& node, absl::string_view path,
                                           double min, double max) {
  CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(node, path));
  return ParseSeconds(text, path, min, max);
}

absl::StatusOr<std::map<std::string, std::string>> ReadStringMap(const YAML::Node& node,
                                                                 absl::string_view path) {
  CELLGW_ASSIGN_OR_RETURN(auto entries, MapEntries(node, path, "strings", {}));
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
      absl::StatusOr<bool> ssl = ParseOsloBool(value);
      if (!ssl.ok()) {
        return Error(path, "query option ssl: must be a boolean (true/false/yes/no/on/off/1/0)");
      }
      cell.ssl = *ssl;  // after the YAML keys: the URL wins, as in oslo
    } else {
      return Error(path, absl::StrCat("query option \"", DisplayKey(key),
                                      "\" is not supported (oslo would raise "
                                      "NoSuchOptError for an unknown one); the gateway accepts "
                                      "heartbeat_timeout_threshold and ssl"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckListen(absl::string_view text, absl::string_view path) {
  if (!absl::StartsWith(text, "unix:")) return CheckHostPort(text, path);
  if (text.size() == 5) return Error(path, "unix: needs a socket path");
  return absl::OkStatus();
}

absl::Status CheckMetricsListen(absl::string_view text, absl::string_view path) {
  if (text.empty()) return absl::OkStatus();
  return CheckHostPort(text, path);
}

absl::Status CheckLogLevel(absl::string_view text, absl::string_view path) {
  if (text != "debug" && text != "info" && text != "warning" && text != "error") {
    return Error(path, "must be one of debug, info, warning, error");
  }
  return absl::OkStatus();
}

// The <NAME> of a cell's environment variables (see config.h).
std::string EnvironmentName(absl::string_view cell_name) {
  std::string name;
  name.reserve(cell_name.size());
  for (char c : cell_name) {
    const unsigned char byte = static_cast<unsigned char>(c);
    name.push_back(absl::ascii_isalnum(byte) ? absl::ascii_toupper(byte) : '_');
  }
  return name;
}

// One cell as the YAML, then the environment, gave it, before its transport URL is read
// and parsed.
struct CellDraft {
  bridge::CellOptions options;  // everything but transport_url
  std::optional<absl::Duration> max_call_timeout;  // unset: rpc_response_timeout
  std::string path;             // "cells[<i>]"
  // Where the URL comes from: written out, or in a file. `source` is what errors about it
  // start with ("cells[0].transport_url", "CELLGW_CELL_CELL1_TRANSPORT_URL_FILE").
  std::optional<std::string> url_text;
  std::optional<std::string> url_file;
  std::string source;
  bool from_environment = false;
};

struct ConfigDraft {
  GatewayConfig config;  // cells still empty
  std::vector<CellDraft> cells;
  // Whether these values came from CELLGW_LISTEN / _HTTP_LISTEN / _HEALTH_LISTEN (errors
  // name them).
  bool listen_from_environment = false;
  bool http_listen_from_environment = false;
  bool health_listen_from_environment = false;
};

absl::StatusOr<CellDraft> ParseCell(const YAML::Node& node, const std::string& path) {
  CELLGW_ASSIGN_OR_RETURN(
      auto entries,
      MapEntries(node, path, "cell settings",
                 {"name", "transport_url", "transport_url_file", "control_exchange",
                  "upgrade_levels", "version_aliases", "rpc_response_timeout",
                  "max_call_timeout", "connections",
                  "amqp_durable_queues", "amqp_auto_delete", "rabbit_quorum_queue",
                  "heartbeat_timeout_threshold", "max_in_flight", "max_message_bytes", "ssl",
                  "ssl_ca_file", "ssl_cert_file", "ssl_key_file", "max_subscriptions",
                  "subscription_outage_timeout"}));

  CellDraft draft;
  draft.path = path;
  bridge::CellOptions& cell = draft.options;
  bool has_name = false;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key == "name") {
      CELLGW_ASSIGN_OR_RETURN(cell.name, ReadString(value, key_path));
      if (cell.name.empty()) return Error(key_path, "must not be empty");
      has_name = true;
    } else if (key == "transport_url" || key == "transport_url_file") {
      if (draft.url_text.has_value() || draft.url_file.has_value()) {
        return Error(key_path, "give either transport_url or transport_url_file, not both");
      }
      CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(value, key_path));
      if (key == "transport_url") {
        draft.url_text = std::move(text);
      } else {
        if (text.empty()) return Error(key_path, "must not be empty");
        draft.url_file = std::move(text);
      }
      draft.source = key_path;
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
    } else if (key == "max_call_timeout") {
      CELLGW_ASSIGN_OR_RETURN(draft.max_call_timeout,
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
    } else if (key == "max_in_flight") {
      CELLGW_ASSIGN_OR_RETURN(int64_t limit, ReadInteger(value, key_path, 1, kMaxInFlight));
      cell.max_in_flight = static_cast<int>(limit);
    } else if (key == "max_message_bytes") {
      CELLGW_ASSIGN_OR_RETURN(int64_t limit,
                              ReadInteger(value, key_path, kMinMessageBytes, kMaxMessageBytes));
      cell.max_message_bytes = static_cast<uint64_t>(limit);
    } else if (key == "max_subscriptions") {
      CELLGW_ASSIGN_OR_RETURN(int64_t limit, ReadInteger(value, key_path, 1, kMaxSubscriptions));
      cell.max_subscriptions = static_cast<int>(limit);
    } else if (key == "subscription_outage_timeout") {
      CELLGW_ASSIGN_OR_RETURN(cell.subscription_outage_timeout,
                              ReadSeconds(value, key_path, kMinOutageSeconds, kMaxOutageSeconds));
    } else if (IsCellTlsKey(key)) {
      CELLGW_RETURN_IF_ERROR(ParseCellTlsKey(key, value, key_path, cell));
    }
  }
  if (!has_name) return Error(Child(path, "name"), "required key is missing");
  if (draft.max_call_timeout.has_value() &&
      *draft.max_call_timeout < cell.rpc_response_timeout) {
    return Error(Child(path, "max_call_timeout"),
                 absl::StrCat("is less than rpc_response_timeout (",
                              absl::FormatDuration(cell.rpc_response_timeout),
                              "); calls without a timeout wait rpc_response_timeout, so the "
                              "limit must be at least that"));
  }

  // Errors from version.h start with their own field name ("upgrade_levels.compute: ...");
  // the cell's path goes in front.
  absl::StatusOr<bridge::VersionCaps> caps =
      bridge::VersionCaps::Create(cell.upgrade_levels, cell.version_aliases);
  if (!caps.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", caps.status().message()));
  }
  return draft;
}

absl::StatusOr<KeepaliveConfig> ParseKeepalive(const YAML::Node& node, absl::string_view path) {
  CELLGW_ASSIGN_OR_RETURN(
      auto entries, MapEntries(node, path, "keepalive settings",
                               {"min_ping_interval", "permit_without_calls", "time", "timeout"},
                               yaml::UnknownKeyMessage::kListAllowed));
  KeepaliveConfig keepalive;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key == "min_ping_interval") {
      CELLGW_ASSIGN_OR_RETURN(keepalive.min_ping_interval,
                              ReadSeconds(value, key_path, 1, kMaxMinPingIntervalSeconds));
    } else if (key == "permit_without_calls") {
      CELLGW_ASSIGN_OR_RETURN(keepalive.permit_without_calls, ReadBool(value, key_path));
    } else if (key == "time") {
      CELLGW_ASSIGN_OR_RETURN(keepalive.time, ReadSeconds(value, key_path, 1, kMaxKeepaliveSeconds));
    } else if (key == "timeout") {
      CELLGW_ASSIGN_OR_RETURN(keepalive.timeout,
                              ReadSeconds(value, key_path, 1, kMaxKeepaliveSeconds));
    }
  }
  return keepalive;
}

absl::StatusOr<ConfigDraft> ParseRoot(const YAML::Node& root) {
  ConfigDraft draft;
  GatewayConfig& config = draft.config;
  if (root.IsNull()) return Error("cells", "required key is missing");
  CELLGW_ASSIGN_OR_RETURN(
      auto entries,
      MapEntries(root, "", "settings",
                 {"listen", "metrics_listen", "http_listen", "log_level",
                  "shutdown_grace_period", "cells", "security", "health_listen",
                  "allow_insecure", "max_concurrent_streams", "keepalive"}));

  bool has_cells = false;
  for (const auto& [key, value] : entries) {
    if (key == "listen") {
      CELLGW_ASSIGN_OR_RETURN(config.listen, ReadString(value, key));
      CELLGW_RETURN_IF_ERROR(CheckListen(config.listen, key));
    } else if (key == "metrics_listen") {
      CELLGW_ASSIGN_OR_RETURN(config.metrics_listen, ReadString(value, key));
      CELLGW_RETURN_IF_ERROR(CheckMetricsListen(config.metrics_listen, key));
    } else if (key == "http_listen") {
      CELLGW_ASSIGN_OR_RETURN(config.http_listen, ReadString(value, key));
      CELLGW_RETURN_IF_ERROR(CheckMetricsListen(config.http_listen, key));
    } else if (key == "log_level") {
      CELLGW_ASSIGN_OR_RETURN(config.log_level, ReadString(value, key));
      CELLGW_RETURN_IF_ERROR(CheckLogLevel(config.log_level, key));
    } else if (key == "shutdown_grace_period") {
      CELLGW_ASSIGN_OR_RETURN(config.shutdown_grace_period,
                              ReadSeconds(value, key, 0, kMaxShutdownGraceSeconds));
    } else if (key == "security") {
      CELLGW_ASSIGN_OR_RETURN(config.security, ParseSecurityConfig(value, key));
    } else if (key == "health_listen") {
      CELLGW_ASSIGN_OR_RETURN(config.health_listen, ReadString(value, key));
      CELLGW_RETURN_IF_ERROR(CheckMetricsListen(config.health_listen, key));
    } else if (key == "allow_insecure") {
      CELLGW_ASSIGN_OR_RETURN(config.allow_insecure, ReadBool(value, key));
    } else if (key == "max_concurrent_streams") {
      CELLGW_ASSIGN_OR_RETURN(int64_t streams, ReadInteger(value, key, 1, kMaxConcurrentStreams));
      config.max_concurrent_streams = static_cast<int>(streams);
    } else if (key == "keepalive") {
      CELLGW_ASSIGN_OR_RETURN(config.keepalive, ParseKeepalive(value, key));
    } else if (key == "cells") {
      has_cells = true;
      if (!value.IsSequence() || value.size() == 0) {
        return Error(key, absl::StrCat("must be a non-empty list of cells, not ",
                                       value.IsSequence() ? "an empty list" : KindOf(value)));
      }
      std::map<std::string, size_t> index_by_name;
      size_t i = 0;
      for (YAML::const_iterator item = value.begin(); item != value.end(); ++item, ++i) {
        const std::string path = Index("cells", i);
        CELLGW_ASSIGN_OR_RETURN(CellDraft cell, ParseCell(*item, path));
        auto [it, inserted] = index_by_name.emplace(cell.options.name, i);
        if (!inserted) {
          return Error(absl::StrCat(path, ".name"),
                       absl::StrCat("\"", DisplayKey(cell.options.name),
                                    "\" is also the name of cells[", it->second, "]"));
        }
        draft.cells.push_back(std::move(cell));
      }
    }
  }
  if (!has_cells) return Error("cells", "required key is missing");
  return draft;
}

// The YAML part of parsing. yaml-cpp reports errors by throwing; nothing may escape this
// function. Its parser bounds its own recursion (DeepRecursion is a ParserException), and
// ParseRoot walks a fixed shape, so hostile nesting cannot exhaust the stack.
absl::StatusOr<ConfigDraft> ParseYaml(absl::string_view yaml_text) {
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

constexpr char kListenVariable[] = "CELLGW_LISTEN";
constexpr char kMetricsListenVariable[] = "CELLGW_METRICS_LISTEN";
constexpr char kHttpListenVariable[] = "CELLGW_HTTP_LISTEN";
constexpr char kLogLevelVariable[] = "CELLGW_LOG_LEVEL";
constexpr char kShutdownGracePeriodVariable[] = "CELLGW_SHUTDOWN_GRACE_PERIOD";
constexpr char kHealthListenVariable[] = "CELLGW_HEALTH_LISTEN";
constexpr absl::string_view kCellVariablePrefix = "CELLGW_CELL_";
constexpr absl::string_view kTransportUrlSuffix = "_TRANSPORT_URL";
constexpr absl::string_view kTransportUrlFileSuffix = "_TRANSPORT_URL_FILE";

absl::Status ApplyEnvironment(const Getenv& getenv, ConfigDraft& draft) {
  GatewayConfig& config = draft.config;
  if (const char* value = getenv(kListenVariable); value != nullptr) {
    CELLGW_RETURN_IF_ERROR(CheckListen(value, kListenVariable));
    config.listen = value;
  }
  if (const char* value = getenv(kMetricsListenVariable); value != nullptr) {
    CELLGW_RETURN_IF_ERROR(CheckMetricsListen(value, kMetricsListenVariable));
    config.metrics_listen = value;
  }
  if (const char* value = getenv(kHttpListenVariable); value != nullptr) {
    CELLGW_RETURN_IF_ERROR(CheckMetricsListen(value, kHttpListenVariable));
    config.http_listen = value;
    draft.http_listen_from_environment = true;
  }
  if (const char* value = getenv(kLogLevelVariable); value != nullptr) {
    CELLGW_RETURN_IF_ERROR(CheckLogLevel(value, kLogLevelVariable));
    config.log_level = value;
  }
  if (const char* value = getenv(kShutdownGracePeriodVariable); value != nullptr) {
    CELLGW_ASSIGN_OR_RETURN(config.shutdown_grace_period,
                            ParseSeconds(value, kShutdownGracePeriodVariable, 0,
                                         kMaxShutdownGraceSeconds));
  }
  if (const char* value = getenv(kHealthListenVariable); value != nullptr) {
    CELLGW_RETURN_IF_ERROR(CheckMetricsListen(value, kHealthListenVariable));
    config.health_listen = value;
    draft.health_listen_from_environment = true;
  }
  if (getenv(kListenVariable) != nullptr) draft.listen_from_environment = true;

  // Distinct names can share a variable name ("cell-1", "cell_1"); such a variable cannot
  // say which cell it means, so it is refused rather than applied to both.
  std::map<std::string, std::vector<size_t>> cells_by_variable_name;
  for (size_t i = 0; i < draft.cells.size(); ++i) {
    cells_by_variable_name[EnvironmentName(draft.cells[i].options.name)].push_back(i);
  }
  for (CellDraft& cell : draft.cells) {
    const std::string url_variable = CellTransportUrlVariable(cell.options.name);
    const std::string file_variable = CellTransportUrlFileVariable(cell.options.name);
    const char* url = getenv(url_variable.c_str());
    const char* file = getenv(file_variable.c_str());
    if (url == nullptr && file == nullptr) continue;
    const std::string& variable = url != nullptr ? url_variable : file_variable;
    const std::vector<size_t>& sharing =
        cells_by_variable_name[EnvironmentName(cell.options.name)];
    if (sharing.size() > 1) {
      std::vector<std::string> names;
      for (size_t i : sharing) {
        names.push_back(absl::StrCat(draft.cells[i].path, " (\"",
                                     DisplayKey(draft.cells[i].options.name), "\")"));
      }
      return Error(variable, absl::StrCat("matches more than one cell: ",
                                          absl::StrJoin(names, " and "),
                                          "; give them names that differ in letters or "
                                          "digits"));
    }
    if (url != nullptr && file != nullptr) {
      return Error(file_variable,
                   absl::StrCat("set either ", url_variable, " or ", file_variable,
                                ", not both"));
    }
    if (url != nullptr) {
      cell.url_text = url;
      cell.url_file.reset();
    } else {
      if (*file == '\0') return Error(file_variable, "must not be empty");
      cell.url_file = file;
      cell.url_text.reset();
    }
    cell.source = variable;
    cell.from_environment = true;
  }
  return absl::OkStatus();
}

// Reads, parses and applies the cell's transport URL. `yaml_prefix` goes in front of errors
// about values that came from the YAML file.
absl::StatusOr<bridge::CellOptions> ResolveCell(const CellDraft& draft,
                                                absl::string_view yaml_prefix) {
  const absl::string_view prefix = draft.from_environment ? "" : yaml_prefix;
  auto error = [&](absl::string_view what, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, what, ": ", why));
  };
  bridge::CellOptions cell = draft.options;
  if (!draft.url_text.has_value() && !draft.url_file.has_value()) {
    return error(Child(draft.path, "transport_url"),
                 absl::StrCat("required key is missing (give transport_url or "
                              "transport_url_file, or set ",
                              CellTransportUrlVariable(cell.name), " or ",
                              CellTransportUrlFileVariable(cell.name), ")"));
  }
  // What errors about the URL itself start with.
  std::string url_source = draft.source;
  if (draft.url_file.has_value()) {
    const std::string quoted_path = absl::StrCat("\"", absl::CHexEscape(*draft.url_file), "\"");
    absl::StatusOr<std::string> text = ReadSecurityFile(*draft.url_file, kMaxUrlFileBytes);
    if (!text.ok()) {
      return error(draft.source,
                   absl::StrCat("cannot read ", quoted_path, ": ", text.status().message()));
    }
    // Secrets are usually written with a final newline (echo, kubectl --from-file).
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
    if (text->empty()) {
      return error(draft.source, absl::StrCat(quoted_path, " is empty; it must hold the "
                                              "transport URL"));
    }
    cell.transport_url = *std::move(text);
    url_source = absl::StrCat(draft.source, ": the URL in ", quoted_path);
  } else {
    cell.transport_url = *draft.url_text;
  }

  absl::StatusOr<bridge::TransportUrl> url = bridge::ParseTransportUrl(cell.transport_url);
  if (!url.ok()) {
    // transport_url.h's messages start with "transport_url: "; the real source replaces it.
    absl::string_view why = url.status().message();
    absl::ConsumePrefix(&why, "transport_url: ");
    return error(url_source, why);
  }
  // Applied last so the URL's heartbeat_timeout_threshold wins over the key, as in oslo.
  absl::Status query = ApplyUrlQuery(*url, url_source, cell);
  if (!query.ok()) return absl::InvalidArgumentError(absl::StrCat(prefix, query.message()));
  // The ssl_* keys are YAML's even when the URL (and its ?ssl=) came from the environment.
  absl::Status tls = CheckCellTls(cell, draft.path);
  if (!tls.ok()) return absl::InvalidArgumentError(absl::StrCat(yaml_prefix, tls.message()));
  return cell;
}

// The safe default: the API reachable from other hosts, over gRPC (listen) or HTTP
// (http_listen), needs security (TLS or tokens; the HTTP front forwards tokens to the same
// Authorizer), or an explicit allow_insecure. The health listener serves health only, so it
// is not judged here; but it must not take the gRPC port.
absl::Status CheckExposure(const ConfigDraft& draft, absl::string_view yaml_prefix) {
  const GatewayConfig& config = draft.config;
  // Port 0 asks for any free port: the two then get different ones.
  if (!config.health_listen.empty() && config.health_listen == config.listen &&
      !absl::EndsWith(config.listen, ":0")) {
    return Error(draft.health_listen_from_environment
                     ? std::string(kHealthListenVariable)
                     : absl::StrCat(yaml_prefix, "health_listen"),
                 "must differ from listen (the health listener serves health only)");
  }
  if (config.allow_insecure || config.security.enabled) return absl::OkStatus();
  struct Api {
    const std::string& address;
    bool from_environment;
    const char* variable;
    const char* key;
  };
  for (const Api& api : {Api{config.listen, draft.listen_from_environment, kListenVariable,
                             "listen"},
                         Api{config.http_listen, draft.http_listen_from_environment,
                             kHttpListenVariable, "http_listen"}}) {
    if (api.address.empty() || IsLoopbackListen(api.address)) continue;
    return Error(api.from_environment ? std::string(api.variable)
                                      : absl::StrCat(yaml_prefix, api.key),
                 absl::StrCat("\"", DisplayKey(api.address),
                              "\" can be reached from other hosts, and there is no security: "
                              "section, so anyone who can connect could call every cell. "
                              "Configure security (tls and tokens_file, or mutual TLS), listen "
                              "on loopback (127.0.0.1, [::1], localhost) or a unix: socket, or "
                              "set allow_insecure: true to accept this on a trusted network"));
  }
  return absl::OkStatus();
}

absl::StatusOr<GatewayConfig> Resolve(ConfigDraft draft, absl::string_view yaml_prefix) {
  CELLGW_RETURN_IF_ERROR(CheckExposure(draft, yaml_prefix));
  GatewayConfig config = std::move(draft.config);
  // Checked once the environment is applied: either side may come from it.
  if (!config.http_listen.empty() && config.security.tls.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        yaml_prefix,
        "http_listen: the HTTP/JSON API cannot serve TLS (Debian 12's libcivetweb cannot load "
        "OpenSSL 3), and plain HTTP beside a TLS gRPC port would expose what security.tls "
        "protects; leave http_listen out, or run it without security.tls on a trusted "
        "network"));
  }
  for (const CellDraft& cell : draft.cells) {
    CELLGW_ASSIGN_OR_RETURN(bridge::CellOptions options, ResolveCell(cell, yaml_prefix));
    config.max_call_timeouts[options.name] =
        cell.max_call_timeout.value_or(options.rpc_response_timeout);
    config.cells.push_back(std::move(options));
  }
  return config;
}

// YAML text to config. `getenv` may be null (no overrides); `yaml_prefix` goes in front of
// every error about the YAML, not of those about the environment.
absl::StatusOr<GatewayConfig> Parse(absl::string_view yaml_text, const Getenv& getenv,
                                    absl::string_view yaml_prefix) {
  absl::StatusOr<ConfigDraft> draft = ParseYaml(yaml_text);
  if (!draft.ok()) {
    return absl::Status(draft.status().code(),
                        absl::StrCat(yaml_prefix, draft.status().message()));
  }
  if (getenv) CELLGW_RETURN_IF_ERROR(ApplyEnvironment(getenv, *draft));
  return Resolve(*std::move(draft), yaml_prefix);
}

absl::StatusOr<GatewayConfig> Load(const std::string& path, const Getenv& getenv) {
  const std::string prefix = absl::StrCat("config file \"", absl::CHexEscape(path), "\": ");
  absl::StatusOr<std::string> text = ReadSecurityFile(path, kMaxConfigFileBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat(prefix, text.status().message()));
  }
  return Parse(*text, getenv, prefix);
}

}  // namespace

absl::StatusOr<GatewayConfig> ParseConfig(absl::string_view yaml_text) {
  return Parse(yaml_text, nullptr, "");
}

absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path) {
  return Load(path, nullptr);
}

absl::StatusOr<GatewayConfig> ParseConfigWithEnvironment(absl::string_view yaml_text,
                                                         const Getenv& getenv) {
  return Parse(yaml_text, getenv, "");
}

absl::StatusOr<GatewayConfig> LoadConfigFileWithEnvironment(const std::string& path,
                                                            const Getenv& getenv) {
  return Load(path, getenv);
}

std::string CellTransportUrlVariable(absl::string_view cell_name) {
  return absl::StrCat(kCellVariablePrefix, EnvironmentName(cell_name), kTransportUrlSuffix);
}

std::string CellTransportUrlFileVariable(absl::string_view cell_name) {
  return absl::StrCat(kCellVariablePrefix, EnvironmentName(cell_name),
                      kTransportUrlFileSuffix);
}

absl::Status CheckEnvironmentNames(const GatewayConfig& config,
                                   const std::vector<std::string>& names) {
  std::vector<std::string> known;
  for (const bridge::CellOptions& cell : config.cells) {
    known.push_back(CellTransportUrlVariable(cell.name));
    known.push_back(CellTransportUrlFileVariable(cell.name));
  }
  for (const std::string& name : names) {
    if (!absl::StartsWith(name, kCellVariablePrefix)) continue;
    if (!absl::EndsWith(name, kTransportUrlSuffix) &&
        !absl::EndsWith(name, kTransportUrlFileSuffix)) {
      continue;
    }
    bool found = false;
    for (const std::string& variable : known) found = found || variable == name;
    if (!found) {
      return Error(DisplayKey(name),
                   absl::StrCat("no configured cell has this variable name; the cells' are ",
                                absl::StrJoin(known, ", ")));
    }
  }
  return absl::OkStatus();
}

}  // namespace cellgw::gateway
