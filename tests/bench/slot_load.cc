#include "tests/bench/slot_load.h"

#include <cstdio>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, topic, "bench_native", "Target.topic");
ABSL_FLAG(std::string, method, "echo", "RPC method name");
ABSL_FLAG(int, payload_bytes, 256, "size of the string in args {\"payload\": \"xxx...\"}");
ABSL_FLAG(int, concurrency, 64, "operations in flight");
ABSL_FLAG(double, warmup_s, 1, "seconds of load before the measured window (duration mode)");
ABSL_FLAG(double, duration_s, 5, "measured window in seconds (ignored with --count)");
ABSL_FLAG(int64_t, count, 0, "when > 0: run exactly this many operations and measure them all");
ABSL_FLAG(double, timeout_s, 30, "deadline of each operation");
ABSL_FLAG(std::string, watch, "",
          "processes whose CPU (and memory) to report: name=PID,name=pg:PGID,name=self,"
          "name=machine");
ABSL_FLAG(std::string, label, "", "free text copied into the JSON line");

namespace cellgw::bench {

absl::StatusOr<LoadFlags> ReadLoadFlags() {
  LoadFlags flags;
  flags.settings.concurrency = absl::GetFlag(FLAGS_concurrency);
  flags.settings.count = absl::GetFlag(FLAGS_count);
  flags.settings.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_s));
  flags.settings.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  flags.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  flags.payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  if (flags.settings.concurrency < 1 || flags.settings.concurrency > 1000000) {
    return absl::InvalidArgumentError("--concurrency must be 1 to 1000000");
  }
  if (flags.payload_bytes < 0 || flags.payload_bytes > (64 << 20)) {
    return absl::InvalidArgumentError("--payload_bytes must be 0 to 64 MiB");
  }
  if (flags.settings.count < 0) return absl::InvalidArgumentError("--count must be >= 0");
  if (flags.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout_s must be > 0");
  }
  if (flags.settings.count == 0 && flags.settings.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration_s must be > 0 without --count");
  }
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList(absl::GetFlag(FLAGS_watch), "--watch");
  if (!watched.ok()) return watched.status();
  flags.watched = *std::move(watched);
  flags.topic = absl::GetFlag(FLAGS_topic);
  flags.method = absl::GetFlag(FLAGS_method);
  flags.label = absl::GetFlag(FLAGS_label);
  flags.payload = std::string(flags.payload_bytes, 'x');
  flags.args_json = absl::StrCat("{\"payload\": \"", flags.payload, "\"}");
  return flags;
}

void PrintReport(absl::string_view tool, absl::string_view kind, absl::string_view what,
                 const LoadFlags& flags, SlotLoadOutcome* outcome) {
  const LatencySummary latency = Summarize(&outcome->latencies_us);
  int64_t errors = 0;
  for (const auto& [code, n] : outcome->errors) errors += n;
  JsonLine line;
  line.Add("tool", tool)
      .Add("kind", kind)
      .Add("topic", flags.topic)
      .Add("concurrency", flags.settings.concurrency)
      .Add("payload_bytes", flags.payload_bytes)
      .Add("label", flags.label);
  AddRunReport(&line, outcome->ok, outcome->seconds, latency, outcome->errors,
               outcome->before, outcome->after, outcome->memory);
  std::printf("%s\n", line.Build().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n",
               HumanLine(what, flags.settings.concurrency, outcome->ok, outcome->seconds,
                         latency, errors)
                   .c_str());
}

SlotLoad::SlotLoad(Start start, SlotLoadSettings settings, std::vector<WatchedProcess> watched)
    : start_(std::move(start)), settings_(settings), watched_(std::move(watched)) {}

SlotLoadOutcome SlotLoad::Run() {
  const bool count_mode = settings_.count > 0;
  phase_.store(count_mode || settings_.warmup <= absl::ZeroDuration() ? kMeasure : kWarmup);
  {
    absl::MutexLock lock(&mu_);
    active_slots_ = settings_.concurrency;
  }
  if (phase_.load() == kMeasure) BeginWindow();
  for (int i = 0; i < settings_.concurrency; ++i) Issue();
  if (!count_mode) {
    if (phase_.load() == kWarmup) {
      absl::SleepFor(settings_.warmup);
      BeginWindow();
      phase_.store(kMeasure);
    }
    absl::SleepFor(settings_.duration);
    phase_.store(kStop);
    EndWindow(Clock::now());
  }
  // Every slot ends after its operation in flight completes.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* slots) { return *slots == 0; }, &active_slots_));
  if (count_mode) EndWindow(last_completion_);
  outcome_.seconds = std::chrono::duration<double>(window_end_ - window_start_).count();
  return std::move(outcome_);
}

void SlotLoad::BeginWindow() {
  outcome_.before = SampleWindowEdge(watched_);
  window_start_ = Clock::now();
}

void SlotLoad::EndWindow(Clock::time_point end) {
  window_end_ = end;
  outcome_.after = SampleWindowEdge(watched_);
  // Read while the operations still in flight are held, so it shows the loaded working set.
  outcome_.memory = SampleMemory(watched_);
}

void SlotLoad::Issue() {
  const bool more =
      settings_.count > 0 ? issued_.fetch_add(1) < settings_.count : phase_.load() != kStop;
  if (!more) {
    absl::MutexLock lock(&mu_);
    --active_slots_;
    return;
  }
  const Clock::time_point start = Clock::now();
  start_([this, start](const std::string& error) { Finished(start, error); });
}

void SlotLoad::Finished(Clock::time_point start, const std::string& error) {
  const Clock::time_point end = Clock::now();
  if (phase_.load() == kMeasure) {
    absl::MutexLock lock(&mu_);
    last_completion_ = end;
    if (error.empty()) {
      ++outcome_.ok;
      outcome_.latencies_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(end - start).count());
    } else {
      ++outcome_.errors[error];
    }
  }
  Issue();
}

}  // namespace cellgw::bench
