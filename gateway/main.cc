// cellgw: the gateway process.
//
//   cellgw --config FILE          serve until SIGTERM or SIGINT, then shut down gracefully
//   cellgw --check-config FILE    validate FILE and exit (0 valid, 2 invalid)
//   cellgw --version
//
// Both config modes apply the CELLGW_* environment overrides (gateway/config/config.h), so
// --check-config judges exactly what --config would run.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gateway/config/config.h"
#include "gateway/gateway_server.h"
#include "gateway/observability/grpc_log.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"

extern char** environ;

namespace {

constexpr char kUsage[] =
    "usage: cellgw --config FILE | --check-config FILE | --version\n";

// The config file with the process environment's overrides applied and its variable names
// checked.
absl::StatusOr<cellgw::gateway::GatewayConfig> LoadConfig(const std::string& path) {
  absl::StatusOr<cellgw::gateway::GatewayConfig> config =
      cellgw::gateway::LoadConfigFileWithEnvironment(
          path, [](const char* name) -> const char* { return std::getenv(name); });
  if (!config.ok()) return config;
  std::vector<std::string> names;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const char* equals = std::strchr(*entry, '=');
    names.emplace_back(*entry, equals == nullptr ? std::strlen(*entry) : equals - *entry);
  }
  absl::Status names_ok = cellgw::gateway::CheckEnvironmentNames(*config, names);
  if (!names_ok.ok()) return names_ok;
  return config;
}

int Serve(const std::string& path) {
  using cellgw::gateway::Log;
  using cellgw::gateway::LogLevel;
  absl::StatusOr<cellgw::gateway::GatewayConfig> config = LoadConfig(path);
  if (!config.ok()) {
    Log(LogLevel::kError, "invalid configuration", {{"error", config.status().message()}});
    return 2;
  }
  if (auto level = cellgw::gateway::ParseLogLevel(config->log_level); level.ok()) {
    cellgw::gateway::SetLogLevel(*level);
  }
  // Before gRPC starts: its own lines (handshake failures, ...) become JSON lines too.
  cellgw::gateway::RouteGrpcLogsToJsonLog();
  // Signals are taken synchronously by this thread (sigwait), so shutdown runs as ordinary
  // code rather than inside a signal handler. Blocked before any thread starts, so every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<cellgw::gateway::GatewayServer>> server =
      cellgw::gateway::GatewayServer::Start(*config);
  if (!server.ok()) {
    Log(LogLevel::kError, "cannot start", {{"error", server.status().message()}});
    return 1;
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(LogLevel::kInfo, "signal received", {{"signal", strsignal(signal_number)}});
  (*server)->Shutdown(config->shutdown_grace_period);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles; that costs ~5% of
  // the gateway's instructions per call. Tests keep the check on (they do not run main()).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // One malloc arena. gRPC allocates each call's state (~14 KB) on its threads and frees it
  // on others; spread over glibc's default 8 arenas per core, freed memory is kept per arena
  // and RSS with 10,000 calls in flight was ~290 MB; with one arena ~206 MB, at a cost within
  // the benchmark's noise (README "Performance"). MALLOC_ARENA_MAX in the environment decides
  // when set. Before any thread starts, so every thread uses the same arena.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("cellgw %s\n", std::string(cellgw::gateway::kCellgwVersion).c_str());
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--check-config") == 0) {
    absl::StatusOr<cellgw::gateway::GatewayConfig> config = LoadConfig(argv[2]);
    if (!config.ok()) {
      std::fprintf(stderr, "cellgw: %s: %s\n", argv[2],
                   std::string(config.status().message()).c_str());
      return 2;
    }
    std::printf("cellgw: %s: configuration is valid (%zu cell%s)\n", argv[2],
                config->cells.size(), config->cells.size() == 1 ? "" : "s");
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--config") == 0) return Serve(argv[2]);
  std::fputs(kUsage, stderr);
  return 2;
}
