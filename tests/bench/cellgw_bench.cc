// cellgw-bench: drives a running cellgw over gRPC with a fixed number of calls in flight and
// reports throughput, latency percentiles and errors by gRPC code.
//
//   cellgw-bench --target=127.0.0.1:50051 --kind=call --topic=bench_native
//                --concurrency=64 --payload_bytes=256 --warmup_s=1 --duration_s=5
//                [--count=N] [--watch=gateway=PID,broker=pg:PGID,server=PID]
//
// Load model: `concurrency` slots, each running one RPC at a time on gRPC's callback API; a
// slot starts its next RPC from the previous one's completion callback, so there is no thread
// per call and the number in flight stays exact. With --count the run issues exactly that
// many RPCs (no warm-up unless asked) and measures all of them; otherwise it measures the RPCs
// that complete in the --duration_s window after --warmup_s.
//
// Output: one JSON line on stdout (see tests/bench/bench_stats.h for the members; the tool
// adds tool, kind, topic, concurrency, payload_bytes, label) and one human line on stderr.
// Exit 0 when the run completed (errors are reported, not fatal), 1 when the gateway could
// not be reached or its cells did not connect, 2 on bad flags.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "tests/bench/bench_stats.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "gateway gRPC address, host:port");
ABSL_FLAG(std::string, kind, "call",
          "call | cast | fanout | list_cells (a gRPC round trip through the gateway that "
          "touches no broker: the floor under every call)");
ABSL_FLAG(std::string, cell, "", "Target.cell (empty: the gateway's only cell)");
ABSL_FLAG(std::string, topic, "bench_native", "Target.topic");
ABSL_FLAG(std::string, server, "", "Target.server (empty: any server of the topic)");
ABSL_FLAG(std::string, exchange, "", "Target.exchange (empty: the cell's control exchange)");
ABSL_FLAG(std::string, method, "echo", "RPC method name");
ABSL_FLAG(int, payload_bytes, 256, "size of the string in args {\"payload\": \"xxx...\"}");
ABSL_FLAG(int, concurrency, 64, "RPCs in flight");
ABSL_FLAG(double, warmup_s, 1, "seconds of load before the measured window (duration mode)");
ABSL_FLAG(double, duration_s, 5, "measured window in seconds (ignored with --count)");
ABSL_FLAG(int64_t, count, 0, "when > 0: issue exactly this many RPCs and measure them all");
ABSL_FLAG(double, timeout_s, 30, "gRPC deadline of each RPC");
ABSL_FLAG(int, channels, 1, "gRPC channels (HTTP/2 connections) the slots are spread over");
ABSL_FLAG(double, wait_connected_s, 30,
          "wait up to this long for the gateway to report every cell connected");
ABSL_FLAG(std::string, watch, "",
          "processes whose CPU (and memory) to report: name=PID,name=pg:PGID,name=self");
ABSL_FLAG(std::string, label, "", "free text copied into the JSON line");
ABSL_FLAG(bool, verify, false, "check that each call's result contains the payload");

namespace cellgw::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Stub = v1::CellGateway::Stub;

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

int64_t MicrosSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration_cast<std::chrono::microseconds>(end - start).count();
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return absl::StrCat("CODE_", static_cast<int>(code));
  }
}

struct Settings {
  int concurrency = 64;
  int64_t count = 0;
  absl::Duration warmup;
  absl::Duration duration;
  absl::Duration timeout;
  bool verify = false;
  std::string payload;  // for --verify
};

struct Outcome {
  int64_t ok = 0;
  double seconds = 0;
  std::vector<int64_t> latencies_us;
  std::map<std::string, int64_t> errors;
  std::map<std::string, double> cpu_before;
  std::map<std::string, double> cpu_after;
  std::map<std::string, MemorySample> memory;
};

// Runs one kind of RPC. `Start` begins an RPC on the callback API:
// Start(stub, context, request, response, on_done).
template <typename Request, typename Response>
class Load {
 public:
  using Start = std::function<void(Stub*, grpc::ClientContext*, const Request*, Response*,
                                   std::function<void(grpc::Status)>)>;

  Load(std::vector<std::unique_ptr<Stub>>* stubs, Request request, Start start, Settings settings,
       std::vector<WatchedProcess> watched)
      : stubs_(stubs),
        request_(std::move(request)),
        start_(std::move(start)),
        settings_(std::move(settings)),
        watched_(std::move(watched)) {}

  Outcome Run() {
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
    // Every slot ends after its RPC in flight completes (at most the RPC deadline).
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* slots) { return *slots == 0; }, &active_slots_));
    if (count_mode) EndWindow(last_completion_);
    outcome_.seconds = std::chrono::duration<double>(window_end_ - window_start_).count();
    return std::move(outcome_);
  }

 private:
  struct Op {
    grpc::ClientContext context;
    Response response;
    Clock::time_point start;
  };

  void BeginWindow() {
    outcome_.cpu_before = CpuSeconds(watched_);
    window_start_ = Clock::now();
  }

  void EndWindow(Clock::time_point end) {
    window_end_ = end;
    outcome_.cpu_after = CpuSeconds(watched_);
    // Read while the calls still in flight are held, so it shows the loaded working set.
    outcome_.memory = SampleMemory(watched_);
  }

  void Issue() {
    const bool more =
        settings_.count > 0 ? issued_.fetch_add(1) < settings_.count : phase_.load() != kStop;
    if (!more) {
      absl::MutexLock lock(&mu_);
      --active_slots_;
      return;
    }
    auto* op = new Op;
    op->start = Clock::now();
    op->context.set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoMicroseconds(settings_.timeout));
    Stub* stub = (*stubs_)[next_stub_.fetch_add(1) % stubs_->size()].get();
    start_(stub, &op->context, &request_, &op->response,
           [this, op](grpc::Status status) { Done(op, status); });
  }

  void Done(Op* op, const grpc::Status& status) {
    const Clock::time_point end = Clock::now();
    if (phase_.load() == kMeasure) {
      grpc::Status checked = status;
      if (checked.ok() && settings_.verify) checked = Verify(op->response);
      absl::MutexLock lock(&mu_);
      last_completion_ = end;
      if (checked.ok()) {
        ++outcome_.ok;
        outcome_.latencies_us.push_back(MicrosSince(op->start, end));
      } else {
        ++outcome_.errors[CodeName(checked.error_code())];
      }
    }
    delete op;
    Issue();
  }

  grpc::Status Verify(const Response& response) const;

  std::vector<std::unique_ptr<Stub>>* stubs_;
  const Request request_;
  const Start start_;
  const Settings settings_;
  const std::vector<WatchedProcess> watched_;
  std::atomic<int> phase_{kWarmup};
  std::atomic<int64_t> issued_{0};
  std::atomic<uint64_t> next_stub_{0};
  Clock::time_point window_start_;
  Clock::time_point window_end_;

  absl::Mutex mu_;
  int active_slots_ ABSL_GUARDED_BY(mu_) = 0;
  Clock::time_point last_completion_ ABSL_GUARDED_BY(mu_);
  Outcome outcome_;  // results: under mu_ while slots run, the main thread's afterwards
};

template <>
grpc::Status Load<v1::CallRequest, v1::CallResponse>::Verify(
    const v1::CallResponse& response) const {
  if (response.result_json().find(settings_.payload) == std::string::npos) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS, "result lacks the payload");
  }
  return grpc::Status::OK;
}

template <typename Request, typename Response>
grpc::Status Load<Request, Response>::Verify(const Response&) const {
  return grpc::Status::OK;
}

template <typename Request>
void FillRequest(Request* request, const std::string& args_json) {
  v1::Target* target = request->mutable_target();
  target->set_cell(absl::GetFlag(FLAGS_cell));
  target->set_topic(absl::GetFlag(FLAGS_topic));
  target->set_server(absl::GetFlag(FLAGS_server));
  target->set_exchange(absl::GetFlag(FLAGS_exchange));
  request->set_method(absl::GetFlag(FLAGS_method));
  request->set_args_json(args_json);
}

// Polls ListCells until every cell (or --cell) is connected. False on timeout.
bool WaitConnected(Stub* stub, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  const std::string wanted = absl::GetFlag(FLAGS_cell);
  std::string last_error = "no answer";
  while (absl::Now() < give_up) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(std::min(give_up, absl::Now() + absl::Seconds(2))));
    v1::ListCellsResponse response;
    const grpc::Status status = stub->ListCells(&context, v1::ListCellsRequest(), &response);
    if (status.ok()) {
      bool all = response.cells_size() > 0;
      for (const v1::CellInfo& cell : response.cells()) {
        if (!wanted.empty() && cell.name() != wanted) continue;
        all = all && cell.connected();
      }
      if (all) return true;
      last_error = "cells not connected yet";
    } else {
      last_error = status.error_message();
    }
    // Polling a slow external event (a broker connection) is the only option the API gives.
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::fprintf(stderr, "cellgw-bench: gateway not ready: %s\n", last_error.c_str());
  return false;
}

int Main() {
  const std::string kind = absl::GetFlag(FLAGS_kind);
  if (kind != "call" && kind != "cast" && kind != "fanout" && kind != "list_cells") {
    std::fprintf(stderr, "cellgw-bench: --kind must be call, cast, fanout or list_cells\n");
    return 2;
  }
  Settings settings;
  settings.concurrency = absl::GetFlag(FLAGS_concurrency);
  settings.count = absl::GetFlag(FLAGS_count);
  settings.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_s));
  settings.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  settings.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  settings.verify = absl::GetFlag(FLAGS_verify);
  const int payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  const int channels = absl::GetFlag(FLAGS_channels);
  if (settings.concurrency < 1 || settings.concurrency > 1000000 || payload_bytes < 0 ||
      payload_bytes > (64 << 20) || channels < 1 || channels > 1024 || settings.count < 0 ||
      settings.timeout <= absl::ZeroDuration() ||
      (settings.count == 0 && settings.duration <= absl::ZeroDuration())) {
    std::fprintf(stderr,
                 "cellgw-bench: need 1 <= --concurrency <= 1e6, 0 <= --payload_bytes <= 64Mi, "
                 "1 <= --channels <= 1024, --timeout_s > 0, and --count > 0 or "
                 "--duration_s > 0\n");
    return 2;
  }
  absl::StatusOr<std::vector<WatchedProcess>> watched =
      ParseWatchList(absl::GetFlag(FLAGS_watch), "--watch");
  if (!watched.ok()) {
    std::fprintf(stderr, "cellgw-bench: %s\n", std::string(watched.status().message()).c_str());
    return 2;
  }

  std::vector<std::unique_ptr<Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    // Distinct arguments keep gRPC from sharing one connection between the channels.
    args.SetInt("cellgw_bench.channel_index", i);
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    stubs.push_back(v1::CellGateway::NewStub(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args)));
  }
  if (!WaitConnected(stubs.front().get(), absl::Seconds(absl::GetFlag(FLAGS_wait_connected_s)))) {
    return 1;
  }

  settings.payload = std::string(payload_bytes, 'x');
  const std::string args_json = absl::StrCat("{\"payload\": \"", settings.payload, "\"}");
  Outcome outcome;
  if (kind == "call") {
    v1::CallRequest request;
    FillRequest(&request, args_json);
    Load<v1::CallRequest, v1::CallResponse> load(
        &stubs, std::move(request),
        [](Stub* stub, grpc::ClientContext* context, const v1::CallRequest* request,
           v1::CallResponse* response, std::function<void(grpc::Status)> done) {
          stub->async()->Call(context, request, response, std::move(done));
        },
        settings, *watched);
    outcome = load.Run();
  } else if (kind == "cast") {
    v1::CastRequest request;
    FillRequest(&request, args_json);
    Load<v1::CastRequest, v1::CastResponse> load(
        &stubs, std::move(request),
        [](Stub* stub, grpc::ClientContext* context, const v1::CastRequest* request,
           v1::CastResponse* response, std::function<void(grpc::Status)> done) {
          stub->async()->Cast(context, request, response, std::move(done));
        },
        settings, *watched);
    outcome = load.Run();
  } else if (kind == "list_cells") {
    Load<v1::ListCellsRequest, v1::ListCellsResponse> load(
        &stubs, v1::ListCellsRequest(),
        [](Stub* stub, grpc::ClientContext* context, const v1::ListCellsRequest* request,
           v1::ListCellsResponse* response, std::function<void(grpc::Status)> done) {
          stub->async()->ListCells(context, request, response, std::move(done));
        },
        settings, *watched);
    outcome = load.Run();
  } else {
    v1::FanoutRequest request;
    FillRequest(&request, args_json);
    Load<v1::FanoutRequest, v1::FanoutResponse> load(
        &stubs, std::move(request),
        [](Stub* stub, grpc::ClientContext* context, const v1::FanoutRequest* request,
           v1::FanoutResponse* response, std::function<void(grpc::Status)> done) {
          stub->async()->Fanout(context, request, response, std::move(done));
        },
        settings, *watched);
    outcome = load.Run();
  }

  const LatencySummary latency = Summarize(&outcome.latencies_us);
  int64_t errors = 0;
  for (const auto& [code, n] : outcome.errors) errors += n;
  JsonLine line;
  line.Add("tool", "cellgw-bench")
      .Add("kind", kind)
      .Add("topic", absl::GetFlag(FLAGS_topic))
      .Add("concurrency", settings.concurrency)
      .Add("payload_bytes", payload_bytes)
      .Add("label", absl::GetFlag(FLAGS_label));
  AddRunReport(&line, outcome.ok, outcome.seconds, latency, outcome.errors, outcome.cpu_before,
               outcome.cpu_after, outcome.memory);
  std::printf("%s\n", line.Build().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n",
               HumanLine(absl::StrCat("cellgw ", kind, " ", absl::GetFlag(FLAGS_topic)),
                         settings.concurrency, outcome.ok, outcome.seconds, latency, errors)
                   .c_str());
  return 0;
}

}  // namespace
}  // namespace cellgw::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cellgw::bench::Main();
}
