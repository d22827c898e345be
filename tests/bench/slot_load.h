// The load model shared by cellgw-bench and bridge_probe: `concurrency` slots, each running
// one operation at a time, the next started from the previous one's completion callback, so
// there is no thread per operation and the number in flight stays exact.
//
// Two modes: with `count` > 0 exactly that many operations run and all are measured (no
// warm-up); otherwise operations run for `warmup`, then those completing in the next
// `duration` are measured, then the slots stop once their last operation ends. CPU and context
// switches of the watched processes are sampled at the window's edges and their memory at its end, while the
// operations still in flight are held (bench_stats.h).
//
// Thread-safety: `start` may be called on any thread (the main thread at first, then whichever
// thread runs a completion); its `done` may be called on any thread, exactly once, inline or
// later.
#ifndef CELLGW_TESTS_BENCH_SLOT_LOAD_H_
#define CELLGW_TESTS_BENCH_SLOT_LOAD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/bench/bench_stats.h"

namespace cellgw::bench {

struct SlotLoadSettings {
  int concurrency = 1;
  int64_t count = 0;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(5);
};

struct SlotLoadOutcome {
  int64_t ok = 0;
  double seconds = 0;                     // the measured window
  std::vector<int64_t> latencies_us;      // of the successful operations
  std::map<std::string, int64_t> errors;  // by the label `done` gave
  WindowEdge before;  // CPU and context switches of the watched processes at the window's edges
  WindowEdge after;
  std::map<std::string, MemorySample> memory;
};

class SlotLoad {
 public:
  // Completes one operation: "" for success, otherwise an error label ("UNAVAILABLE", ...).
  using Done = std::function<void(const std::string& error)>;
  // Starts one operation and arranges for `done` to run once it ends.
  using Start = std::function<void(Done done)>;

  SlotLoad(Start start, SlotLoadSettings settings, std::vector<WatchedProcess> watched);

  // Runs the load to the end (blocks the calling thread) and returns what was measured.
  SlotLoadOutcome Run();

 private:
  using Clock = std::chrono::steady_clock;
  enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

  void BeginWindow();
  void EndWindow(Clock::time_point end);
  void Issue();
  void Finished(Clock::time_point start, const std::string& error);

  const Start start_;
  const SlotLoadSettings settings_;
  const std::vector<WatchedProcess> watched_;
  std::atomic<int> phase_{kWarmup};
  std::atomic<int64_t> issued_{0};
  Clock::time_point window_start_;
  Clock::time_point window_end_;

  absl::Mutex mu_;
  int active_slots_ ABSL_GUARDED_BY(mu_) = 0;
  Clock::time_point last_completion_ ABSL_GUARDED_BY(mu_);
  SlotLoadOutcome outcome_;  // under mu_ while slots run, the main thread's afterwards
};

// The command-line flags every slot-load tool takes (defined in slot_load.cc): --topic, --method,
// --payload_bytes, --concurrency, --warmup_s, --duration_s, --count, --timeout_s, --watch,
// --label.
struct LoadFlags {
  SlotLoadSettings settings;
  std::string topic;
  std::string method;
  int payload_bytes = 0;
  std::string payload;    // payload_bytes of 'x'
  std::string args_json;  // {"payload": "<payload>"}
  absl::Duration timeout;
  std::vector<WatchedProcess> watched;
  std::string label;
};

// The flags' values, checked. INVALID_ARGUMENT naming the flag that is out of range.
absl::StatusOr<LoadFlags> ReadLoadFlags();

// Prints the run's JSON line on stdout (bench_stats.h's members plus tool, kind, topic,
// concurrency, payload_bytes, label) and its human line on stderr, "<what> c=N: ...".
void PrintReport(absl::string_view tool, absl::string_view kind, absl::string_view what,
                 const LoadFlags& flags, SlotLoadOutcome* outcome);

}  // namespace cellgw::bench

ABSL_DECLARE_FLAG(std::string, topic);
ABSL_DECLARE_FLAG(std::string, method);
ABSL_DECLARE_FLAG(int, payload_bytes);
ABSL_DECLARE_FLAG(int, concurrency);
ABSL_DECLARE_FLAG(double, warmup_s);
ABSL_DECLARE_FLAG(double, duration_s);
ABSL_DECLARE_FLAG(int64_t, count);
ABSL_DECLARE_FLAG(double, timeout_s);
ABSL_DECLARE_FLAG(std::string, watch);
ABSL_DECLARE_FLAG(std::string, label);

#endif  // CELLGW_TESTS_BENCH_SLOT_LOAD_H_
