// bridge_probe: oslo calls through bridge::RpcBridge in this process, with no gRPC and no
// gateway in between, so the benchmark can split cellgw's cost into the gRPC leg and the
// bridge (encoding, the connection thread, the broker round trip, reply correlation).
//
//   bridge_probe --url=rabbit://guest:guest@127.0.0.1:5672/ --exchange=openstack
//                --topic=bench_native --concurrency=1 --payload_bytes=256
//                --warmup_s=1 --duration_s=5 [--count=N] [--watch=broker=pg:PGID,server=PID]
//
// Load model and output are cellgw-bench's: `concurrency` slots, each running one call at a
// time, the next started from the previous one's completion callback (here on the bridge's
// connection thread, exactly where the gateway finishes its calls); one JSON line on stdout
// (tests/bench/bench_stats.h) and one human line on stderr. The call carries the same method,
// args and empty context as cellgw-bench's. "client" in --watch=client=self is this process,
// bridge included: it stands where the gateway does.
// Exit 0 when the run completed (errors are reported, not fatal), 1 when the broker could not
// be reached, 2 on bad flags.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
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

using Clock = std::chrono::steady_clock;

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

class Load {
 public:
  Load(bridge::RpcBridge* bridge, bridge::RpcRequest request, int concurrency, int64_t count,
       absl::Duration warmup, absl::Duration duration, absl::Duration timeout,
       std::vector<WatchedProcess> watched)
      : bridge_(bridge),
        request_(std::move(request)),
        concurrency_(concurrency),
        count_(count),
        warmup_(warmup),
        duration_(duration),
        timeout_(timeout),
        watched_(std::move(watched)) {}

  void Run() {
    phase_.store(count_ > 0 || warmup_ <= absl::ZeroDuration() ? kMeasure : kWarmup);
    {
      absl::MutexLock lock(&mu_);
      active_slots_ = concurrency_;
    }
    if (phase_.load() == kMeasure) BeginWindow();
    for (int i = 0; i < concurrency_; ++i) Issue();
    if (count_ == 0) {
      if (phase_.load() == kWarmup) {
        absl::SleepFor(warmup_);
        BeginWindow();
        phase_.store(kMeasure);
      }
      absl::SleepFor(duration_);
      phase_.store(kStop);
      EndWindow(Clock::now());
    }
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* slots) { return *slots == 0; }, &active_slots_));
    if (count_ > 0) EndWindow(last_completion_);
  }

  // Results; valid after Run().
  int64_t ok() const { return ok_; }
  double seconds() const {
    return std::chrono::duration<double>(window_end_ - window_start_).count();
  }
  std::vector<int64_t>* latencies_us() { return &latencies_us_; }
  const std::map<std::string, int64_t>& errors() const { return errors_; }
  const std::map<std::string, double>& cpu_before() const { return cpu_before_; }
  const std::map<std::string, double>& cpu_after() const { return cpu_after_; }
  const std::map<std::string, MemorySample>& memory() const { return memory_; }

 private:
  void BeginWindow() {
    cpu_before_ = CpuSeconds(watched_);
    window_start_ = Clock::now();
  }

  void EndWindow(Clock::time_point end) {
    window_end_ = end;
    cpu_after_ = CpuSeconds(watched_);
    memory_ = SampleMemory(watched_);
  }

  void Issue() {
    const bool more = count_ > 0 ? issued_.fetch_add(1) < count_ : phase_.load() != kStop;
    if (!more) {
      absl::MutexLock lock(&mu_);
      --active_slots_;
      return;
    }
    const Clock::time_point start = Clock::now();
    bridge::CallOptions options;
    options.deadline = absl::Now() + timeout_;
    bridge_->Call(request_, options, [this, start](absl::StatusOr<bridge::CallResult> result) {
      Done(start, result);
    });
  }

  void Done(Clock::time_point start, const absl::StatusOr<bridge::CallResult>& result) {
    const Clock::time_point end = Clock::now();
    if (phase_.load() == kMeasure) {
      absl::MutexLock lock(&mu_);
      last_completion_ = end;
      if (result.ok() && !result->failure.has_value()) {
        ++ok_;
        latencies_us_.push_back(
            std::chrono::duration_cast<std::chrono::microseconds>(end - start).count());
      } else {
        ++errors_[result.ok() ? std::string("REMOTE_ERROR")
                              : std::string(absl::StatusCodeToString(result.status().code()))];
      }
    }
    Issue();
  }

  bridge::RpcBridge* const bridge_;
  const bridge::RpcRequest request_;
  const int concurrency_;
  const int64_t count_;
  const absl::Duration warmup_;
  const absl::Duration duration_;
  const absl::Duration timeout_;
  const std::vector<WatchedProcess> watched_;
  std::atomic<int> phase_{kWarmup};
  std::atomic<int64_t> issued_{0};
  Clock::time_point window_start_;
  Clock::time_point window_end_;

  absl::Mutex mu_;
  int active_slots_ ABSL_GUARDED_BY(mu_) = 0;
  Clock::time_point last_completion_ ABSL_GUARDED_BY(mu_);
  // Results: under mu_ while slots run, the main thread's afterwards.
  int64_t ok_ = 0;
  std::vector<int64_t> latencies_us_;
  std::map<std::string, int64_t> errors_;
  std::map<std::string, double> cpu_before_;
  std::map<std::string, double> cpu_after_;
  std::map<std::string, MemorySample> memory_;
};

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
  Load load(bridge->get(), std::move(request), concurrency, count,
            absl::Seconds(absl::GetFlag(FLAGS_warmup_s)), absl::Seconds(duration_s),
            absl::Seconds(timeout_s), *std::move(watched));
  load.Run();
  (*bridge)->Stop();

  const LatencySummary latency = Summarize(load.latencies_us());
  int64_t errors = 0;
  for (const auto& [code, n] : load.errors()) errors += n;
  JsonLine line;
  line.Add("tool", "bridge_probe")
      .Add("kind", "call")
      .Add("topic", absl::GetFlag(FLAGS_topic))
      .Add("concurrency", concurrency)
      .Add("payload_bytes", payload_bytes)
      .Add("label", absl::GetFlag(FLAGS_label));
  AddRunReport(&line, load.ok(), load.seconds(), latency, load.errors(), load.cpu_before(),
               load.cpu_after(), load.memory());
  std::printf("%s\n", line.Build().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n",
               HumanLine(absl::StrCat("bridge call ", absl::GetFlag(FLAGS_topic)), concurrency,
                         load.ok(), load.seconds(), latency, errors)
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
