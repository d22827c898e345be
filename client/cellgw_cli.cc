// cellgw-cli: cast, call, fanout and list-cells against a running gateway.
//
// Prints the call's result JSON (or the cast's unique_id) on stdout and exits 0; on error
// prints the status and, for a remote exception, its class, module, args, kwargs and
// traceback on stderr and exits 1. Usage errors exit 2.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/cellgw_client.h"

namespace {

constexpr char kUsage[] = R"(usage:
  cellgw-cli [--addr HOST:PORT] call   --topic T METHOD [ARGS_JSON] [options]
  cellgw-cli [--addr HOST:PORT] cast   --topic T METHOD [ARGS_JSON] [options]
  cellgw-cli [--addr HOST:PORT] fanout --topic T METHOD [ARGS_JSON] [options]
  cellgw-cli [--addr HOST:PORT] list-cells

options:
  --addr HOST:PORT            gateway address (default 127.0.0.1:50051, or $CELLGW_ADDR)
  --cell NAME                 cell to route to (optional when the gateway has one cell)
  --topic T                   target topic (required for call/cast/fanout)
  --exchange E                topic exchange (default: the cell's control_exchange)
  --namespace N               endpoint namespace
  --version X.Y[.Z]           requested API version
  --server S                  send to this server only (<topic>.<server>)
  --context JSON              request context, a JSON object (default {})
  --timeout SECONDS           call timeout (default: the cell's, 60 s)
  --call-monitor-timeout SECONDS
  --deadline SECONDS          gRPC deadline for the request
  --request-id ID             sent as x-request-id
)";

int UsageError(const std::string& why) {
  std::fprintf(stderr, "cellgw-cli: %s\n%s", why.c_str(), kUsage);
  return 2;
}

void SetDuration(double seconds, google::protobuf::Duration* duration) {
  const absl::Duration d = absl::Seconds(seconds);
  const int64_t whole = absl::IDivDuration(d, absl::Seconds(1), nullptr);
  duration->set_seconds(whole);
  duration->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d - absl::Seconds(whole))));
}

template <typename Request>
void FillCommon(const std::map<std::string, std::string>& flags,
                const std::vector<std::string>& positional, Request* request) {
  cellgw::v1::Target* target = request->mutable_target();
  auto get = [&](const char* name) {
    auto it = flags.find(name);
    return it == flags.end() ? std::string() : it->second;
  };
  target->set_cell(get("cell"));
  target->set_topic(get("topic"));
  target->set_exchange(get("exchange"));
  target->set_namespace_(get("namespace"));
  target->set_version(get("version"));
  target->set_server(get("server"));
  request->set_method(positional.size() > 1 ? positional[1] : "");
  request->set_args_json(positional.size() > 2 ? positional[2] : "");
  request->set_context_json(get("context"));
}

}  // namespace

int main(int argc, char** argv) {
  static const char* const kValueFlags[] = {
      "addr",    "cell",    "topic",   "exchange", "namespace", "version", "server",
      "context", "timeout", "call-monitor-timeout",  "deadline",  "request-id"};
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      positional.emplace_back(arg);
      continue;
    }
    std::string name(arg), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return UsageError(absl::StrCat("--", name, " needs a value"));
    }
    bool known = false;
    for (const char* flag : kValueFlags) known = known || name == flag;
    if (!known) return UsageError(absl::StrCat("unknown option --", name));
    flags[name] = value;
  }
  if (positional.empty()) return UsageError("no command given");
  const std::string command = positional[0];
  std::string addr = "127.0.0.1:50051";
  if (const char* env = std::getenv("CELLGW_ADDR"); env != nullptr && *env) addr = env;
  if (flags.count("addr")) addr = flags["addr"];

  absl::Time deadline = absl::InfiniteFuture();
  auto seconds_flag = [&](const char* name, double* out) -> bool {
    if (!flags.count(name)) return false;
    if (!absl::SimpleAtod(flags[name], out)) {
      std::exit(UsageError(absl::StrCat("--", name, ": not a number of seconds")));
    }
    return true;
  };
  double deadline_seconds = 0;
  if (seconds_flag("deadline", &deadline_seconds)) {
    deadline = absl::Now() + absl::Seconds(deadline_seconds);
  }
  const std::string request_id = flags.count("request-id") ? flags["request-id"] : "";

  cellgw::client::CellgwClient client = cellgw::client::CellgwClient::Connect(addr);
  grpc::Status status;
  std::string output;
  if (command == "list-cells") {
    cellgw::v1::ListCellsResponse response;
    status = client.ListCells(&response, deadline);
    for (const auto& cell : response.cells()) {
      absl::StrAppend(&output, cell.name(), "\t",
                      cell.connected() ? "connected" : "disconnected", "\t",
                      "control_exchange=", cell.control_exchange(), "\t", cell.transport_url(),
                      "\n");
    }
  } else if (command == "call") {
    if (positional.size() < 2) return UsageError("call needs METHOD");
    cellgw::v1::CallRequest request;
    FillCommon(flags, positional, &request);
    double seconds = 0;
    if (seconds_flag("timeout", &seconds)) SetDuration(seconds, request.mutable_timeout());
    if (seconds_flag("call-monitor-timeout", &seconds)) {
      SetDuration(seconds, request.mutable_call_monitor_timeout());
    }
    cellgw::v1::CallResponse response;
    status = client.Call(request, &response, deadline, request_id);
    output = response.result_json() + "\n";
  } else if (command == "cast" || command == "fanout") {
    if (positional.size() < 2) return UsageError(absl::StrCat(command, " needs METHOD"));
    std::string unique_id;
    if (command == "cast") {
      cellgw::v1::CastRequest request;
      FillCommon(flags, positional, &request);
      cellgw::v1::CastResponse response;
      status = client.Cast(request, &response, deadline, request_id);
      unique_id = response.unique_id();
    } else {
      cellgw::v1::FanoutRequest request;
      FillCommon(flags, positional, &request);
      cellgw::v1::FanoutResponse response;
      status = client.Fanout(request, &response, deadline, request_id);
      unique_id = response.unique_id();
    }
    output = absl::StrCat("{\"unique_id\": \"", unique_id, "\"}\n");
  } else {
    return UsageError(absl::StrCat("unknown command '", command, "'"));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "cellgw-cli: %s", cellgw::client::DescribeError(status).c_str());
    return 1;
  }
  std::fputs(output.c_str(), stdout);
  return 0;
}
