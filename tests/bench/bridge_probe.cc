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

namespace cellgw::bench {
namespace {

int Main() {
  absl::StatusOr<LoadFlags> flags = ReadLoadFlags();
  if (!flags.ok() || absl::GetFlag(FLAGS_url).empty()) {
    std::fprintf(stderr, "bridge_probe: %s\n",
                 flags.ok() ? "--url is required" : std::string(flags.status().message()).c_str());
    return 2;
  }

  bridge::CellOptions cell;
  cell.name = "bench";
  cell.transport_url = absl::GetFlag(FLAGS_url);
  cell.control_exchange = absl::GetFlag(FLAGS_exchange);
  cell.max_in_flight = flags->settings.concurrency + 1;
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
  request.target.topic = flags->topic;
  request.method = flags->method;
  request.args_json = flags->args_json;
  request.context_json = "{}";
  bridge::RpcBridge* rpc = bridge->get();
  const absl::Duration timeout = flags->timeout;
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
          flags->settings, flags->watched)
          .Run();
  (*bridge)->Stop();
  PrintReport("bridge_probe", "call", absl::StrCat("bridge call ", flags->topic), *flags,
              &outcome);
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
