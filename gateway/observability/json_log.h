// Structured logs: one JSON object per line on stderr, for container log collectors.
//
// Every line has "time" (RFC 3339, UTC, microseconds), "level" and "message", then the
// caller's fields in order. Values are escaped as JSON; callers must never pass secrets
// (passwords, tokens): log RedactTransportUrl(url), not the URL.
//
// Thread-safe: each line is written with a single write(2), so lines from different threads
// never interleave.
#ifndef CELLGW_GATEWAY_OBSERVABILITY_JSON_LOG_H_
#define CELLGW_GATEWAY_OBSERVABILITY_JSON_LOG_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::gateway {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning" (or "warn"), "error"; INVALID_ARGUMENT naming log_level otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text);

// Lines below `level` are not written. Default: info.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// One field of a log line: a key and its value already encoded as JSON.
struct LogField {
  LogField(absl::string_view key, absl::string_view text);  // a string value
  LogField(absl::string_view key, const char* text);
  LogField(absl::string_view key, const std::string& text);
  LogField(absl::string_view key, int64_t number);
  LogField(absl::string_view key, int number);
  LogField(absl::string_view key, double number);
  absl::string_view key;
  std::string json;
};

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields = {});

// Longest caller-supplied value a log line carries whole (topics, methods, cell names,
// caller names); see CapForLog.
inline constexpr size_t kMaxLoggedValueBytes = 256;

// `text` for a log line: unchanged when it has at most `max_bytes` bytes; otherwise its first
// `max_bytes` bytes (fewer, so that no UTF-8 sequence is cut) followed by the marker
// "...[<total> bytes]". Every value a caller chooses goes through it before it is logged, so
// no request can make a log line much longer than the limits.
std::string CapForLog(absl::string_view text, size_t max_bytes = kMaxLoggedValueBytes);

// The line Log() would write, without the trailing newline (for tests).
std::string FormatLogLine(LogLevel level, absl::string_view message,
                          std::initializer_list<LogField> fields);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_OBSERVABILITY_JSON_LOG_H_
