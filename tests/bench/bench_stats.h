// Measurement helpers shared by the load tools of tests/bench (cellgw-bench, raw_probe):
// latency percentiles, the CPU time, context switches and memory of other processes read from
// /proc, and the
// one-JSON-line report that tests/bench/run_bench.py parses (oslo_load.py writes the same
// format from Python).
//
// Why the load tools sample /proc themselves instead of the driver script: only they know
// when their measurement window opens and closes (after warm-up, before the drain), so CPU
// seconds and context switches per call are counted over exactly the calls that are reported.
#ifndef CELLGW_TESTS_BENCH_BENCH_STATS_H_
#define CELLGW_TESTS_BENCH_BENCH_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::bench {

// Nearest-rank percentiles of a set of latencies, in microseconds. All zero when empty.
struct LatencySummary {
  int64_t count = 0;
  double mean_us = 0;
  int64_t p50_us = 0;
  int64_t p90_us = 0;
  int64_t p99_us = 0;
  int64_t max_us = 0;
};

// Sorts `latencies_us` in place and summarises it.
LatencySummary Summarize(std::vector<int64_t>* latencies_us);

// A process whose CPU time (and, for a single process, memory) a load tool reports.
struct WatchedProcess {
  std::string name;  // label in the report: "gateway", "broker", "server", "client"
  pid_t pid = 0;
  // True: `pid` names a process group and every live member is summed (a RabbitMQ node is
  // beam.smp plus helpers such as erl_child_setup, all in the group its launcher made).
  bool group = false;
  // True: the whole machine (busy time of all CPUs from /proc/stat), so a report can show
  // how much CPU processes outside the benchmark took during the window.
  bool machine = false;
};

// Parses "name=PID,name=pg:PGID,name=self,name=machine" ("self" is the calling process,
// "machine" every CPU's busy time). Empty -> none.
// INVALID_ARGUMENT naming `flag_name` when an entry is malformed or a name repeats.
absl::StatusOr<std::vector<WatchedProcess>> ParseWatchList(absl::string_view spec,
                                                           absl::string_view flag_name);

// utime + stime (all threads) of each watched process, in seconds, keyed by name; for
// "machine", the busy (non-idle, non-iowait) time of all CPUs. A process that is gone counts
// as 0 (the report then shows a negative or tiny delta, which is visible).
std::map<std::string, double> CpuSeconds(const std::vector<WatchedProcess>& processes);

// Context switches (voluntary + nonvoluntary) of every thread of the watched processes, keyed by
// name, then by thread id; for a group, every thread of every live member. The machine entry
// is skipped. Why per thread: /proc/<pid>/status counts only the thread the pid names (the
// main thread), and /proc/<pid>/stat has no such field, so the process's total is the sum over
// /proc/<pid>/task/*/status. A thread that is gone by the time it is read is left out.
using ThreadSwitches = std::map<pid_t, int64_t>;
std::map<std::string, ThreadSwitches> ContextSwitches(const std::vector<WatchedProcess>& processes);

// Voluntary + nonvoluntary context switches of every thread of `pid` (one process), by thread
// id; empty when the process is gone.
ThreadSwitches ThreadContextSwitches(pid_t pid);

// The switches made between two samples of one process. A thread in `after` only was started
// in between, so all its switches count. A thread in `before` only exited in between: what it
// did after `before` is lost (Linux keeps the counts of exited threads only for getrusage of
// the process itself), so it is counted in `threads_lost` for the report to flag.
struct SwitchDelta {
  int64_t switches = 0;
  int64_t threads_lost = 0;
};
SwitchDelta SwitchesBetween(const ThreadSwitches& before, const ThreadSwitches& after);

// What a load tool samples at each edge of its measured window.
struct WindowEdge {
  std::map<std::string, double> cpu_s;             // CpuSeconds
  std::map<std::string, ThreadSwitches> switches;  // ContextSwitches
};
WindowEdge SampleWindowEdge(const std::vector<WatchedProcess>& processes);

struct MemorySample {
  int64_t rss_kb = 0;  // VmRSS
  int64_t hwm_kb = 0;  // VmHWM: peak RSS since the process started
};

// VmRSS and VmHWM of `pid` from /proc/<pid>/status. NOT_FOUND when the process is gone,
// INTERNAL when the file has no such lines.
absl::StatusOr<MemorySample> ReadMemory(pid_t pid);

// Builds one flat-ish JSON object, members in insertion order. Keys and strings are escaped;
// numbers are written with enough digits to be read back.
class JsonLine {
 public:
  JsonLine& Add(absl::string_view key, absl::string_view value);
  JsonLine& Add(absl::string_view key, const char* value);
  JsonLine& Add(absl::string_view key, const std::string& value);
  JsonLine& Add(absl::string_view key, int64_t value);
  JsonLine& Add(absl::string_view key, int value);
  JsonLine& Add(absl::string_view key, double value);
  // `json` must already be valid JSON text (an object built by another JsonLine, say).
  JsonLine& AddRaw(absl::string_view key, absl::string_view json);
  std::string Build() const;  // "{...}" without a newline

 private:
  std::string body_;
};

// Memory of every watched single process (groups and the machine are skipped), keyed by name;
// processes
// that are gone are left out.
std::map<std::string, MemorySample> SampleMemory(const std::vector<WatchedProcess>& processes);

// The report members every load tool writes for one measured run: calls (successful ones),
// seconds, calls_per_s, latency_us{count, mean, p50, p90, p99, max}, errors{code: n},
// cpu_s{name: seconds}, ctxt_switches{name: n}, ctxt_threads_lost{name: n} (only names that
// lost threads: their switch count is then a lower bound), mem_kb{name: {rss, hwm}}.
// `before`/`after` come from SampleWindowEdge at the window's edges, `memory` from SampleMemory
// at its end (so it shows the load's working set, before the calls still in flight drain).
void AddRunReport(JsonLine* line, int64_t calls, double seconds, LatencySummary latency,
                  const std::map<std::string, int64_t>& errors, const WindowEdge& before,
                  const WindowEdge& after, const std::map<std::string, MemorySample>& memory);

// The human-readable one-liner matching AddRunReport, e.g.
// "call c=64: 21034 calls/s p50 2.9ms p90 3.4ms p99 5.0ms max 9.1ms errors 0".
std::string HumanLine(absl::string_view what, int concurrency, int64_t calls, double seconds,
                      const LatencySummary& latency, int64_t errors);

}  // namespace cellgw::bench

#endif  // CELLGW_TESTS_BENCH_BENCH_STATS_H_
