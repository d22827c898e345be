#include "gateway/observability/grpc_log.h"

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "gateway/observability/json_log.h"

namespace cellgw::gateway {
namespace {

// gRPC's messages can quote peer-supplied text; keep a line bounded.
constexpr size_t kMaxGrpcMessageBytes = 1024;

LogLevel LevelOf(gpr_log_severity severity) {
  switch (severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      return LogLevel::kDebug;
    case GPR_LOG_SEVERITY_INFO:
      return LogLevel::kInfo;
    case GPR_LOG_SEVERITY_ERROR:
      break;
  }
  return LogLevel::kError;
}

void LogGrpcLine(gpr_log_func_args* args) {
  const LogLevel level = LevelOf(args->severity);
  if (!LogEnabled(level)) return;
  Log(level, "grpc",
      {{"detail", CapForLog(args->message == nullptr ? "" : args->message,
                            kMaxGrpcMessageBytes)},
       {"source", absl::StrCat(args->file == nullptr ? "?" : args->file, ":", args->line)}});
}

}  // namespace

void RouteGrpcLogsToJsonLog() { gpr_set_log_function(LogGrpcLine); }

}  // namespace cellgw::gateway
