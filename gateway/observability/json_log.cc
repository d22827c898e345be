#include "gateway/observability/json_log.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_text.h"

namespace cellgw::gateway {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

// Lossy on invalid UTF-8 (a hostile cell name must not break the log line).
std::string Quote(absl::string_view text) {
  std::string out;
  json::AppendQuotedLossy(text, &out);
  return out;
}

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

LogField::LogField(absl::string_view k, absl::string_view text) : key(k), json(Quote(text)) {}
LogField::LogField(absl::string_view k, const char* text) : key(k), json(Quote(text)) {}
LogField::LogField(absl::string_view k, const std::string& text) : key(k), json(Quote(text)) {}
LogField::LogField(absl::string_view k, int64_t number) : key(k), json(absl::StrCat(number)) {}
LogField::LogField(absl::string_view k, int number) : key(k), json(absl::StrCat(number)) {}
LogField::LogField(absl::string_view k, double number) : key(k), json(absl::StrCat(number)) {}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warning" || lower == "warn") return LogLevel::kWarning;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("log_level: '", text, "' is not one of debug, info, warning, error"));
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

std::string FormatLogLine(LogLevel level, absl::string_view message,
                          std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(
      "{\"time\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"message\":", Quote(message));
  for (const LogField& field : fields) {
    absl::StrAppend(&line, ",", Quote(field.key), ":", field.json);
  }
  line.push_back('}');
  return line;
}

std::string CapForLog(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the sequence being cut; a
  // UTF-8 sequence has at most three of them (invalid text gets the JSON writer's \ufffd).
  while (cut > 0 && max_bytes - cut < 3 &&
         (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(text.substr(0, cut), "...[", text.size(), " bytes]");
}

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line = FormatLogLine(level, message, fields);
  line.push_back('\n');
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace cellgw::gateway
