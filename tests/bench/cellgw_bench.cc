// cellgw-bench: drives a running cellgw over gRPC with a fixed number of calls in flight and
// reports throughput, latency percentiles and errors by gRPC code.
//
//   cellgw-bench --target=127.0.0.1:50051 --kind=call --topic=bench_native
//                --concurrency=64 --payload_bytes=256 --warmup_s=1 --duration_s=5
//                [--count=N] [--watch=gateway=PID,broker=pg:PGID,server=PID]
//
// Load model (tests/bench/slot_load.h): `concurrency` slots, each running one RPC at a time on
// gRPC's callback API, the next started from the previous one's completion callback, so there
// is no thread per call and the number in flight stays exact. With --count the run issues
// exactly that many RPCs and measures all of them; otherwise it measures the RPCs that complete
// in the --duration_s window after --warmup_s.
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
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cellgw/v1/gateway.grpc.pb.h"
#include "tests/bench/bench_stats.h"
#include "tests/bench/slot_load.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "gateway gRPC address, host:port");
ABSL_FLAG(std::string, kind, "call",
          "call | cast | fanout | list_cells (a gRPC round trip through the gateway that "
          "touches no broker: the floor under every call)");
ABSL_FLAG(std::string, cell, "", "Target.cell (empty: the gateway's only cell)");
ABSL_FLAG(std::string, server, "", "Target.server (empty: any server of the topic)");
ABSL_FLAG(std::string, exchange, "", "Target.exchange (empty: the cell's control exchange)");
ABSL_FLAG(int, channels, 1, "gRPC channels (HTTP/2 connections) the slots are spread over");
ABSL_FLAG(double, wait_connected_s, 30,
          "wait up to this long for the gateway to report every cell connected");
ABSL_FLAG(bool, verify, false, "check that each call's result contains the payload");

namespace cellgw::bench {
namespace {

using Stub = v1::CellGateway::Stub;

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

// Starts one RPC per call on the callback API, spread over the channels' stubs round-robin,
// each with its own context, deadline and response. `rpc(stub, context, response, on_done)`
// issues it; `verify` (may be empty) checks a successful response.
template <typename Response>
SlotLoad::Start RpcStarter(
    std::vector<std::unique_ptr<Stub>>* stubs, absl::Duration timeout,
    std::function<void(Stub*, grpc::ClientContext*, Response*, std::function<void(grpc::Status)>)>
        rpc,
    std::function<grpc::Status(const Response&)> verify) {
  auto next_stub = std::make_shared<std::atomic<uint64_t>>(0);
  return [stubs, timeout, rpc, verify, next_stub](SlotLoad::Done done) {
    struct Op {
      grpc::ClientContext context;
      Response response;
    };
    auto* op = new Op;
    op->context.set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoMicroseconds(timeout));
    Stub* stub = (*stubs)[next_stub->fetch_add(1) % stubs->size()].get();
    rpc(stub, &op->context, &op->response, [op, done, verify](grpc::Status status) {
      if (status.ok() && verify) status = verify(op->response);
      delete op;
      done(status.ok() ? std::string() : CodeName(status.error_code()));
    });
  };
}

template <typename Request>
void FillRequest(Request* request, const std::string& args_json) {
  v1::Target* target = request->mutable_target();
  target->set_cell(absl::GetFlag(FLAGS_cell));
  target->set_topic(absl::GetFlag(FLAGS_topic));  // slot_load.h's flag
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
  absl::StatusOr<LoadFlags> flags = ReadLoadFlags();
  const int channels = absl::GetFlag(FLAGS_channels);
  if (!flags.ok() || channels < 1 || channels > 1024) {
    std::fprintf(stderr, "cellgw-bench: %s\n",
                 flags.ok() ? "--channels must be 1 to 1024"
                            : std::string(flags.status().message()).c_str());
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

  const absl::Duration timeout = flags->timeout;
  const std::string& args_json = flags->args_json;
  SlotLoad::Start start;
  if (kind == "call") {
    auto request = std::make_shared<v1::CallRequest>();
    FillRequest(request.get(), args_json);
    std::function<grpc::Status(const v1::CallResponse&)> verify;
    if (absl::GetFlag(FLAGS_verify)) {
      verify = [payload = flags->payload](const v1::CallResponse& response) {
        if (response.result_json().find(payload) == std::string::npos) {
          return grpc::Status(grpc::StatusCode::DATA_LOSS, "result lacks the payload");
        }
        return grpc::Status::OK;
      };
    }
    start = RpcStarter<v1::CallResponse>(
        &stubs, timeout,
        [request](Stub* stub, grpc::ClientContext* context, v1::CallResponse* response,
                  std::function<void(grpc::Status)> done) {
          stub->async()->Call(context, request.get(), response, std::move(done));
        },
        verify);
  } else if (kind == "cast") {
    auto request = std::make_shared<v1::CastRequest>();
    FillRequest(request.get(), args_json);
    start = RpcStarter<v1::CastResponse>(
        &stubs, timeout,
        [request](Stub* stub, grpc::ClientContext* context, v1::CastResponse* response,
                  std::function<void(grpc::Status)> done) {
          stub->async()->Cast(context, request.get(), response, std::move(done));
        },
        nullptr);
  } else if (kind == "list_cells") {
    auto request = std::make_shared<v1::ListCellsRequest>();
    start = RpcStarter<v1::ListCellsResponse>(
        &stubs, timeout,
        [request](Stub* stub, grpc::ClientContext* context, v1::ListCellsResponse* response,
                  std::function<void(grpc::Status)> done) {
          stub->async()->ListCells(context, request.get(), response, std::move(done));
        },
        nullptr);
  } else {
    auto request = std::make_shared<v1::FanoutRequest>();
    FillRequest(request.get(), args_json);
    start = RpcStarter<v1::FanoutResponse>(
        &stubs, timeout,
        [request](Stub* stub, grpc::ClientContext* context, v1::FanoutResponse* response,
                  std::function<void(grpc::Status)> done) {
          stub->async()->Fanout(context, request.get(), response, std::move(done));
        },
        nullptr);
  }
  SlotLoadOutcome outcome = SlotLoad(std::move(start), flags->settings, flags->watched).Run();
  PrintReport("cellgw-bench", kind, absl::StrCat("cellgw ", kind, " ", flags->topic), *flags,
              &outcome);
  return 0;
}

}  // namespace
}  // namespace cellgw::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return cellgw::bench::Main();
}
