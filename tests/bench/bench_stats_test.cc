#include "tests/bench/bench_stats.h"

#include <unistd.h>

#include <string>
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

TEST(AddRunReportTest, ReportsRateCpuDeltaErrorsAndMemory) {
  JsonLine line;
  LatencySummary latency;
  latency.p50_us = 10;
  AddRunReport(&line, 200, 2.0, latency, {{"UNAVAILABLE", 1}}, {{"gateway", 1.0}},
               {{"gateway", 1.5}}, {{"gateway", MemorySample{100, 200}}});
  const std::string json = line.Build();
  EXPECT_NE(json.find("\"calls_per_s\": 100"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p50\": 10"), std::string::npos) << json;
  EXPECT_NE(json.find("\"errors\": {\"UNAVAILABLE\": 1}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"cpu_s\": {\"gateway\": 0.5}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"mem_kb\": {\"gateway\": {\"rss\": 100, \"hwm\": 200}}"), std::string::npos)
      << json;
}

}  // namespace
}  // namespace cellgw::bench
