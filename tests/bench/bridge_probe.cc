// bridge_probe: oslo calls through bridge::RpcBridge in this process, with no gRPC and no
// gateway in between, so the benchmark can split cellgw's cost into the gRPC leg and the
// bridge (encoding, the connection thread, the broker round trip, reply correlation).
//
//   bridge_probe --url=rabbit://guest:guest@127.0.0.1:5672/ --exchange=openstack
//                --topic=bench_native --concurrency=1 --payload_bytes=256
//                --warmup_s=1 --duration_s=5 [--count=N] [--watch=broker=pg:PGID,server=PID]
//
// Load model (tests/bench/slot_load.h) and output are cellgw-bench's; the next call starts from
// the previous one's completion callback, here on the bridge's connection thread, exactly where
// the gateway finishes its calls. One JSON line on stdout
// (tests/bench/bench_stats.h) and one human line on stderr. The call carries the same method,
// args and empty context as cellgw-bench's. "client" in --watch=client=self is this process,
// bridge included: it stands where the gateway does.
// Exit 0 when the run completed (errors are reported, not fatal), 1 when the broker could not
// be reached, 2 on bad flags.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge/cell_options.h"
#include "bridge/rpc_bridge.h"
#include "tests/bench/bench_stats.h"
#include "tests/bench/slot_load.h"

ABSL_FLAG(std::string, url, "", "oslo.messaging transport URL of the broker");
ABSL_FLAG(std::string, exchange, "openstack", "control exchange of the cell");
ABSL_FLAG(std::string, topic, "bench_native", "Target.topic");
ABSL_FLAG(std::string, method, "echo", "RPC method name");
ABSL_FLAG(int, payload_bytes, 256, "size of the string in args {\"payload\": \"xxx...\"}");
ABSL_FLAG(int, concurrency, 1, "calls in flight");
ABSL_FLAG(double, warmup_s, 1, "seconds of load before the measured window (duration mode)");
ABSL_FLAG(double, duration_s, 5, "measured window in seconds (ignored with --count)");
ABSL_FLAG(int64_t, count, 0, "when > 0: issue exactly this many calls and measure them all");
ABSL_FLAG(double, timeout_s, 30, "deadline of each call");
ABSL_FLAG(std::string, watch, "",
          "processes whose CPU (and memory) to report: name=PID,name=pg:PGID,name=self");
ABSL_FLAG(std::string, label, "", "free text copied into the JSON line");

namespace cellgw::bench {
namespace {

int Main() {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  const int64_t count = absl::GetFlag(FLAGS_count);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  const double timeout_s = absl::GetFlag(FLAGS_timeout_s);
  if (absl::GetFlag(FLAGS_url).empty() || concurrency < 1 || concurrency > 1000000 ||
      payload_bytes < 0 || payload_bytes > (16 << 20) || count < 0 || timeout_s <= 0 ||
      (count == 0 && duration_s <= 0)) {
    std::fprintf(stderr,
                 "bridge_probe: need --url, 1 <= --concurrency <= 1e6, 0 <= --payload_bytes <= "
                 "16Mi, --timeout_s > 0, and --count > 0 or --duration_s > 0\n");
    return 2;
  }
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList(absl::GetFlag(FLAGS_watch), "--watch");
  if (!watched.ok()) {
    std::fprintf(stderr, "bridge_probe: %s\n", std::string(watched.status().message()).c_str());
    return 2;
  }

  bridge::CellOptions cell;
  cell.name = "bench";
  cell.transport_url = absl::GetFlag(FLAGS_url);
  cell.control_exchange = absl::GetFlag(FLAGS_exchange);
  cell.max_in_flight = concurrency + 1;
  absl::StatusOr<std::unique_ptr<bridge::RpcBridge>> bridge =
      bridge::RpcBridge::Create({cell}, /*observer=*/nullptr);
  if (!bridge.ok()) {
    std::fprintf(stderr, "bridge_probe: %s\n", std::string(bridge.status().message()).c_str());
    return 2;
  }
  (*bridge)->Start();
  if (!(*bridge)->WaitForConnections(absl::Seconds(30))) {
    std::fprintf(stderr, "bridge_probe: cannot connect to the broker\n");
    return 1;
  }

  bridge::RpcRequest request;
  request.target.topic = absl::GetFlag(FLAGS_topic);
  request.method = absl::GetFlag(FLAGS_method);
  request.args_json = absl::StrCat("{\"payload\": \"", std::string(payload_bytes, 'x'), "\"}");
  request.context_json = "{}";
  SlotLoadSettings settings;
  settings.concurrency = concurrency;
  settings.count = count;
  settings.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_s));
  settings.duration = absl::Seconds(duration_s);
  const absl::Duration timeout = absl::Seconds(timeout_s);
  bridge::RpcBridge* rpc = bridge->get();
  SlotLoadOutcome outcome =
      SlotLoad(
          [rpc, &request, timeout](SlotLoad::Done done) {
            bridge::CallOptions options;
            options.deadline = absl::Now() + timeout;
            rpc->Call(request, options, [done](absl::StatusOr<bridge::CallResult> result) {
              if (!result.ok()) return done(absl::StatusCodeToString(result.status().code()));
              done(result->failure.has_value() ? "REMOTE_ERROR" : "");
            });
          },
          settings, *std::move(watched))
          .Run();
  (*bridge)->Stop();

  const LatencySummary latency = Summarize(&outcome.latencies_us);
  int64_t errors = 0;
  for (const auto& [code, n] : outcome.errors) errors += n;
  JsonLine line;
  line.Add("tool", "bridge_probe")
      .Add("kind", "call")
      .Add("topic", absl::GetFlag(FLAGS_topic))
      .Add("concurrency", concurrency)
      .Add("payload_bytes", payload_bytes)
      .Add("label", absl::GetFlag(FLAGS_label));
  AddRunReport(&line, outcome.ok, outcome.seconds, latency, outcome.errors, outcome.cpu_before,
               outcome.cpu_after, outcome.memory);
  std::printf("%s\n", line.Build().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n",
               HumanLine(absl::StrCat("bridge call ", absl::GetFlag(FLAGS_topic)), concurrency,
                         outcome.ok, outcome.seconds, latency, errors)
                   .c_str());
  return 0;
}

}  // namespace
}  // namespace cellgw::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As the gateway binary does (gateway/main.cc), so the bridge costs what it costs there.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return cellgw::bench::Main();
}
