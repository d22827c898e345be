#include "tests/bench/bench_stats.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cellgw::bench {
namespace {

TEST(SummarizeTest, EmptyInputGivesZeroes) {
  std::vector<int64_t> none;
  const LatencySummary summary = Summarize(&none);
  EXPECT_EQ(summary.count, 0);
  EXPECT_EQ(summary.p50_us, 0);
  EXPECT_EQ(summary.max_us, 0);
}

TEST(SummarizeTest, PercentilesUseNearestRankOnUnsortedInput) {
  std::vector<int64_t> latencies;
  for (int64_t i = 100; i >= 1; --i) latencies.push_back(i);  // 1..100, reversed
  const LatencySummary summary = Summarize(&latencies);
  EXPECT_EQ(summary.count, 100);
  EXPECT_EQ(summary.p50_us, 50);
  EXPECT_EQ(summary.p90_us, 90);
  EXPECT_EQ(summary.p99_us, 99);
  EXPECT_EQ(summary.max_us, 100);
  EXPECT_DOUBLE_EQ(summary.mean_us, 50.5);
}

TEST(SummarizeTest, SingleSampleIsEveryPercentile) {
  std::vector<int64_t> one = {7};
  const LatencySummary summary = Summarize(&one);
  EXPECT_EQ(summary.p50_us, 7);
  EXPECT_EQ(summary.p99_us, 7);
  EXPECT_EQ(summary.max_us, 7);
}

TEST(ParseWatchListTest, AcceptsPidsGroupsAndSelf) {
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList("gateway=12,broker=pg:34,client=self,all=machine", "--watch");
  ASSERT_TRUE(watched.ok()) << watched.status();
  ASSERT_EQ(watched->size(), 4u);
  EXPECT_EQ((*watched)[0].name, "gateway");
  EXPECT_EQ((*watched)[0].pid, 12);
  EXPECT_FALSE((*watched)[0].group);
  EXPECT_EQ((*watched)[1].pid, 34);
  EXPECT_TRUE((*watched)[1].group);
  EXPECT_EQ((*watched)[2].pid, getpid());
  EXPECT_TRUE((*watched)[3].machine);
}

TEST(ParseWatchListTest, RejectsMalformedEntriesNamingTheFlag) {
  for (const char* spec : {"gateway", "gateway=x", "=12", "a=1,a=2", "a=pg:", "a=-3"}) {
    absl::StatusOr<std::vector<WatchedProcess>> watched = ParseWatchList(spec, "--watch");
    ASSERT_FALSE(watched.ok()) << spec;
    EXPECT_EQ(watched.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(watched.status().message().find("--watch"), absl::string_view::npos) << spec;
  }
}

TEST(CpuSecondsTest, SelfIsReportedUnderItsName) {
  absl::StatusOr<std::vector<WatchedProcess>> watched = ParseWatchList("me=self", "--watch");
  ASSERT_TRUE(watched.ok());
  const std::map<std::string, double> seconds = CpuSeconds(*watched);
  ASSERT_EQ(seconds.count("me"), 1u);
  EXPECT_GE(seconds.at("me"), 0.0);
}

TEST(CpuSecondsTest, MachineBusyTimeIsAtLeastThisProcesssTime) {
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList("me=self,all=machine", "--watch");
  ASSERT_TRUE(watched.ok());
  const std::map<std::string, double> seconds = CpuSeconds(*watched);
  EXPECT_GE(seconds.at("all"), seconds.at("me"));
  EXPECT_EQ(SampleMemory(*watched).count("all"), 0u);
}

TEST(ReadMemoryTest, OwnProcessHasRssAtMostItsPeak) {
  absl::StatusOr<MemorySample> memory = ReadMemory(getpid());
  ASSERT_TRUE(memory.ok()) << memory.status();
  EXPECT_GT(memory->rss_kb, 0);
  EXPECT_LE(memory->rss_kb, memory->hwm_kb);
}

TEST(JsonLineTest, BuildsMembersInOrderWithEscapedStrings) {
  JsonLine inner;
  inner.Add("n", int64_t{3});
  JsonLine line;
  line.Add("s", "a\"b").Add("i", 4).Add("d", 0.5).AddRaw("o", inner.Build());
  EXPECT_EQ(line.Build(), "{\"s\": \"a\\\"b\", \"i\": 4, \"d\": 0.5, \"o\": {\"n\": 3}}");
}

TEST(ContextSwitchesTest, CountsEveryThreadOfTheProcess) {
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList("me=self,all=machine", "--watch");
  ASSERT_TRUE(watched.ok());
  const ThreadSwitches main_only = ContextSwitches(*watched).at("me");
  EXPECT_EQ(ContextSwitches(*watched).count("all"), 0u);  // no per-thread counts for it

  // A second thread that blocks (voluntary switches) is seen beside the main thread, with its
  // own thread id: /proc/<pid>/status alone would count the main thread only.
  std::atomic<bool> sampled{false};
  ThreadSwitches with_worker;
  std::thread worker([&] {
    while (!sampled.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // lets the worker block a few times
  with_worker = ContextSwitches(*watched).at("me");
  sampled.store(true);
  worker.join();
  int new_threads = 0;
  for (const auto& [tid, count] : with_worker) new_threads += main_only.count(tid) == 0;
  EXPECT_GE(new_threads, 1);
  const SwitchDelta delta = SwitchesBetween(main_only, with_worker);
  EXPECT_GT(delta.switches, 0);
  EXPECT_EQ(delta.threads_lost, 0);
}

TEST(SwitchesBetweenTest, NewThreadsCountWholeAndExitedOnesAreLost) {
  const ThreadSwitches before = {{10, 100}, {11, 50}, {12, 7}};
  const ThreadSwitches after = {{10, 130}, {11, 50}, {13, 4}};  // 12 exited, 13 started
  const SwitchDelta delta = SwitchesBetween(before, after);
  EXPECT_EQ(delta.switches, 30 + 0 + 4);
  EXPECT_EQ(delta.threads_lost, 1);
}

TEST(AddRunReportTest, ReportsRateCpuDeltaErrorsAndMemory) {
  JsonLine line;
  LatencySummary latency;
  latency.p50_us = 10;
  WindowEdge before;
  before.cpu_s = {{"gateway", 1.0}, {"broker", 2.0}};
  before.switches = {{"gateway", {{1, 10}, {2, 5}}}, {"broker", {{7, 1}}}};
  WindowEdge after;
  after.cpu_s = {{"gateway", 1.5}, {"broker", 2.25}};
  after.switches = {{"gateway", {{1, 40}, {3, 2}}}, {"broker", {{7, 9}}}};
  AddRunReport(&line, 200, 2.0, latency, {{"UNAVAILABLE", 1}}, before, after,
               {{"gateway", MemorySample{100, 200}}});
  const std::string json = line.Build();
  EXPECT_NE(json.find("\"calls_per_s\": 100"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p50\": 10"), std::string::npos) << json;
  EXPECT_NE(json.find("\"errors\": {\"UNAVAILABLE\": 1}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"cpu_s\": {\"broker\": 0.25, \"gateway\": 0.5}"), std::string::npos)
      << json;
  // Thread 2 exited during the window (lost), thread 3 started in it (all 2 switches count).
  EXPECT_NE(json.find("\"ctxt_switches\": {\"broker\": 8, \"gateway\": 32}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"ctxt_threads_lost\": {\"gateway\": 1}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"mem_kb\": {\"gateway\": {\"rss\": 100, \"hwm\": 200}}"), std::string::npos)
      << json;
}

}  // namespace
}  // namespace cellgw::bench
