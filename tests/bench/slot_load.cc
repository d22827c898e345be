#include "tests/bench/slot_load.h"

#include <utility>

namespace cellgw::bench {

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
  outcome_.cpu_before = CpuSeconds(watched_);
  window_start_ = Clock::now();
}

void SlotLoad::EndWindow(Clock::time_point end) {
  window_end_ = end;
  outcome_.cpu_after = CpuSeconds(watched_);
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
