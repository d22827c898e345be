#include "tests/bench/bench_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/json_text.h"

namespace cellgw::bench {
namespace {

int64_t Rank(const std::vector<int64_t>& sorted, double fraction) {
  // Nearest rank: the smallest value with at least `fraction` of the samples at or below it.
  const double rank = std::ceil(fraction * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

// Fields 3.. of /proc/<pid>/stat (field 3, the state, first), or empty when unreadable. The
// command name (field 2) may hold spaces and parentheses, hence the split after the last ')'.
std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return {};
  return absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
}

double TicksToSeconds(const std::vector<std::string>& fields) {
  // utime and stime are fields 14 and 15, i.e. indexes 11 and 12 from field 3.
  if (fields.size() < 13) return 0;
  uint64_t utime = 0;
  uint64_t stime = 0;
  if (!absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) return 0;
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / ticks;
}

// Busy time of all CPUs: every column of the aggregate "cpu" line of /proc/stat except idle
// and iowait (guest time is already inside user and nice, so it is not added again).
double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  const std::vector<absl::string_view> columns = absl::StrSplit(line, ' ', absl::SkipEmpty());
  uint64_t busy = 0;
  for (size_t i = 1; i < columns.size() && i <= 8; ++i) {
    if (i == 4 || i == 5) continue;  // idle, iowait
    uint64_t value = 0;
    if (absl::SimpleAtoi(columns[i], &value)) busy += value;
  }
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return static_cast<double>(busy) / ticks;
}

// Calls `visit(pid, fields)` for every live process whose process group is `pgid`.
template <typename Visit>
void ForEachGroupMember(pid_t pgid, Visit visit) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    const std::vector<std::string> fields = StatFields(pid);
    // pgrp is field 5: index 2 from field 3.
    pid_t group = 0;
    if (fields.size() < 13 || !absl::SimpleAtoi(fields[2], &group) || group != pgid) continue;
    visit(pid, fields);
  }
  closedir(proc);
}

double GroupSeconds(pid_t pgid) {
  double total = 0;
  ForEachGroupMember(pgid, [&total](pid_t, const std::vector<std::string>& fields) {
    total += TicksToSeconds(fields);
  });
  return total;
}

// voluntary_ctxt_switches + nonvoluntary_ctxt_switches of one thread, or -1 when it is gone.
int64_t ThreadSwitchCount(pid_t pid, pid_t tid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/task/", tid, "/status"));
  if (!in) return -1;
  int64_t total = 0;
  int found = 0;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view view(line);
    if (!absl::ConsumePrefix(&view, "voluntary_ctxt_switches:") &&
        !absl::ConsumePrefix(&view, "nonvoluntary_ctxt_switches:")) {
      continue;
    }
    int64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(view), &value)) {
      total += value;
      ++found;
    }
  }
  return found == 2 ? total : -1;
}

}  // namespace

LatencySummary Summarize(std::vector<int64_t>* latencies_us) {
  LatencySummary summary;
  if (latencies_us->empty()) return summary;
  std::sort(latencies_us->begin(), latencies_us->end());
  summary.count = static_cast<int64_t>(latencies_us->size());
  double sum = 0;
  for (int64_t us : *latencies_us) sum += static_cast<double>(us);
  summary.mean_us = sum / static_cast<double>(summary.count);
  summary.p50_us = Rank(*latencies_us, 0.50);
  summary.p90_us = Rank(*latencies_us, 0.90);
  summary.p99_us = Rank(*latencies_us, 0.99);
  summary.max_us = latencies_us->back();
  return summary;
}

absl::StatusOr<std::vector<WatchedProcess>> ParseWatchList(absl::string_view spec,
                                                           absl::string_view flag_name) {
  std::vector<WatchedProcess> result;
  std::set<std::string> names;
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    WatchedProcess process;
    process.name = std::string(parts.first);
    absl::string_view target = parts.second;
    if (process.name.empty() || !names.insert(process.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag_name, ": empty or repeated name in \"", entry, "\""));
    }
    if (target == "self") {
      process.pid = getpid();
    } else if (target == "machine") {
      process.machine = true;
    } else {
      if (absl::ConsumePrefix(&target, "pg:")) process.group = true;
      if (!absl::SimpleAtoi(target, &process.pid) || process.pid <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag_name, ": \"", entry,
                         "\" is not name=PID, name=pg:PGID, name=self or name=machine"));
      }
    }
    result.push_back(std::move(process));
  }
  return result;
}

std::map<std::string, double> CpuSeconds(const std::vector<WatchedProcess>& processes) {
  std::map<std::string, double> seconds;
  for (const WatchedProcess& process : processes) {
    if (process.machine) {
      seconds[process.name] = MachineBusySeconds();
    } else if (process.group) {
      seconds[process.name] = GroupSeconds(process.pid);
    } else {
      seconds[process.name] = TicksToSeconds(StatFields(process.pid));
    }
  }
  return seconds;
}

ThreadSwitches ThreadContextSwitches(pid_t pid) {
  ThreadSwitches threads;
  DIR* tasks = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (tasks == nullptr) return threads;
  while (dirent* entry = readdir(tasks)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &tid)) continue;
    const int64_t count = ThreadSwitchCount(pid, tid);
    if (count >= 0) threads[tid] = count;  // < 0: exited since the listing
  }
  closedir(tasks);
  return threads;
}

std::map<std::string, ThreadSwitches> ContextSwitches(
    const std::vector<WatchedProcess>& processes) {
  std::map<std::string, ThreadSwitches> switches;
  for (const WatchedProcess& process : processes) {
    if (process.machine) continue;
    ThreadSwitches& threads = switches[process.name];
    if (!process.group) {
      threads = ThreadContextSwitches(process.pid);
      continue;
    }
    // Thread ids are unique across the machine, so the members' threads merge into one map.
    ForEachGroupMember(process.pid, [&threads](pid_t pid, const std::vector<std::string>&) {
      threads.merge(ThreadContextSwitches(pid));
    });
  }
  return switches;
}

SwitchDelta SwitchesBetween(const ThreadSwitches& before, const ThreadSwitches& after) {
  SwitchDelta delta;
  for (const auto& [tid, count] : after) {
    auto earlier = before.find(tid);
    delta.switches += count - (earlier == before.end() ? 0 : earlier->second);
  }
  for (const auto& [tid, count] : before) {
    if (after.count(tid) == 0) ++delta.threads_lost;
  }
  return delta;
}

WindowEdge SampleWindowEdge(const std::vector<WatchedProcess>& processes) {
  WindowEdge edge;
  edge.cpu_s = CpuSeconds(processes);
  edge.switches = ContextSwitches(processes);
  return edge;
}

absl::StatusOr<MemorySample> ReadMemory(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("no process ", pid));
  MemorySample sample;
  bool rss = false;
  bool hwm = false;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view view(line);
    int64_t* field = nullptr;
    if (absl::ConsumePrefix(&view, "VmRSS:")) {
      field = &sample.rss_kb;
      rss = true;
    } else if (absl::ConsumePrefix(&view, "VmHWM:")) {
      field = &sample.hwm_kb;
      hwm = true;
    } else {
      continue;
    }
    view = absl::StripAsciiWhitespace(view);
    absl::ConsumeSuffix(&view, "kB");
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(view), field)) {
      return absl::InternalError(absl::StrCat("unreadable line in /proc/", pid, "/status"));
    }
  }
  if (!rss || !hwm) return absl::InternalError(absl::StrCat("process ", pid, " has no VmRSS"));
  return sample;
}

JsonLine& JsonLine::Add(absl::string_view key, absl::string_view value) {
  std::string quoted;
  json::AppendQuotedLossy(value, &quoted);
  return AddRaw(key, quoted);
}

JsonLine& JsonLine::Add(absl::string_view key, const char* value) {
  return Add(key, absl::string_view(value));
}

JsonLine& JsonLine::Add(absl::string_view key, const std::string& value) {
  return Add(key, absl::string_view(value));
}

JsonLine& JsonLine::Add(absl::string_view key, int64_t value) {
  return AddRaw(key, absl::StrCat(value));
}

JsonLine& JsonLine::Add(absl::string_view key, int value) {
  return AddRaw(key, absl::StrCat(value));
}

JsonLine& JsonLine::Add(absl::string_view key, double value) {
  // JSON has no NaN or infinity; a ratio over an empty window is reported as 0.
  if (!std::isfinite(value)) value = 0;
  return AddRaw(key, absl::StrFormat("%.6g", value));
}

JsonLine& JsonLine::AddRaw(absl::string_view key, absl::string_view json) {
  if (!body_.empty()) body_.append(", ");
  json::AppendQuotedLossy(key, &body_);
  body_.append(": ");
  body_.append(json.data(), json.size());
  return *this;
}

std::string JsonLine::Build() const { return absl::StrCat("{", body_, "}"); }

std::map<std::string, MemorySample> SampleMemory(const std::vector<WatchedProcess>& processes) {
  std::map<std::string, MemorySample> memory;
  for (const WatchedProcess& process : processes) {
    if (process.group || process.machine) continue;
    absl::StatusOr<MemorySample> sample = ReadMemory(process.pid);
    if (sample.ok()) memory[process.name] = *sample;
  }
  return memory;
}

void AddRunReport(JsonLine* line, int64_t calls, double seconds, LatencySummary latency,
                  const std::map<std::string, int64_t>& errors, const WindowEdge& before,
                  const WindowEdge& after, const std::map<std::string, MemorySample>& memory) {
  line->Add("calls", calls);
  line->Add("seconds", seconds);
  line->Add("calls_per_s", seconds > 0 ? static_cast<double>(calls) / seconds : 0.0);
  JsonLine latency_json;
  latency_json.Add("count", latency.count)
      .Add("mean", latency.mean_us)
      .Add("p50", latency.p50_us)
      .Add("p90", latency.p90_us)
      .Add("p99", latency.p99_us)
      .Add("max", latency.max_us);
  line->AddRaw("latency_us", latency_json.Build());
  JsonLine errors_json;
  for (const auto& [code, count] : errors) errors_json.Add(code, count);
  line->AddRaw("errors", errors_json.Build());
  JsonLine cpu_json;
  for (const auto& [name, seconds_after] : after.cpu_s) {
    auto seconds_before = before.cpu_s.find(name);
    cpu_json.Add(name, seconds_after - (seconds_before == before.cpu_s.end()
                                            ? 0.0
                                            : seconds_before->second));
  }
  line->AddRaw("cpu_s", cpu_json.Build());
  JsonLine switches_json;
  JsonLine lost_json;
  static const ThreadSwitches kNone;
  for (const auto& [name, threads_after] : after.switches) {
    auto threads_before = before.switches.find(name);
    const SwitchDelta delta = SwitchesBetween(
        threads_before == before.switches.end() ? kNone : threads_before->second, threads_after);
    switches_json.Add(name, delta.switches);
    if (delta.threads_lost > 0) lost_json.Add(name, delta.threads_lost);
  }
  line->AddRaw("ctxt_switches", switches_json.Build());
  line->AddRaw("ctxt_threads_lost", lost_json.Build());
  JsonLine memory_json;
  for (const auto& [name, sample] : memory) {
    JsonLine entry;
    entry.Add("rss", sample.rss_kb).Add("hwm", sample.hwm_kb);
    memory_json.AddRaw(name, entry.Build());
  }
  line->AddRaw("mem_kb", memory_json.Build());
}

std::string HumanLine(absl::string_view what, int concurrency, int64_t calls, double seconds,
                      const LatencySummary& latency, int64_t errors) {
  const double rate = seconds > 0 ? static_cast<double>(calls) / seconds : 0.0;
  return absl::StrFormat(
      "%s c=%d: %d calls in %.2fs = %.0f calls/s; p50 %.3fms p90 %.3fms p99 %.3fms "
      "max %.3fms; errors %d",
      what, concurrency, calls, seconds, rate, latency.p50_us / 1000.0, latency.p90_us / 1000.0,
      latency.p99_us / 1000.0, latency.max_us / 1000.0, errors);
}

}  // namespace cellgw::bench
