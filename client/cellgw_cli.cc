// cellgw-cli: cast, call, fanout and list-cells against a running gateway.
//
// Prints the call's result JSON (or the cast's unique_id) on stdout and exits 0; on error
// prints the status and, for a remote exception, its class, module, args, kwargs and
// traceback on stderr and exits 1. Usage errors print why and the usage on stderr and exit 2;
// -h and --help print the usage on stdout and exit 0.
//
// The options are Abseil flags (defined below, listed by --help from their definitions).
// The command line keeps the contract it had before Abseil, which Abseil's own parser does
// not offer, so ToAbseilCommandLine() rewrites it for absl::ParseCommandLine: option names
// with '-' (--call-monitor-timeout, --request-id), --version for the target's version (Abseil
// reserves the flag name "version"), "--name value" and "--name=value", every argument not
// starting with "--" (also "-x") positional wherever it stands, and exit status 2 with our
// message for an unknown option or a missing value (Abseil would exit 1).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "absl/strings/str_split.h"
#include "client/cellgw_client.h"
#include "client/cli_notifications.h"
#include "client/connection_settings.h"

ABSL_FLAG(std::string, addr, "",
          "gateway address HOST:PORT (default 127.0.0.1:50051, or $CELLGW_ADDR)");
ABSL_FLAG(std::string, ca_file, "",
          "PEM CAs for the gateway's certificate; turns TLS on (or $CELLGW_CA_FILE)");
ABSL_FLAG(std::string, cert_file, "",
          "client certificate (PEM) for mutual TLS (or $CELLGW_CERT_FILE)");
ABSL_FLAG(std::string, key_file, "", "its private key (PEM) (or $CELLGW_KEY_FILE)");
ABSL_FLAG(std::string, token, "",
          "sent as authorization: Bearer TOKEN (or $CELLGW_TOKEN)");
ABSL_FLAG(std::string, cell, "", "cell to route to (optional when the gateway has one cell)");
ABSL_FLAG(std::string, topic, "", "target topic (required for call/cast/fanout)");
ABSL_FLAG(std::string, exchange, "", "topic exchange (default: the cell's control_exchange)");
ABSL_FLAG(std::string, namespace, "", "endpoint namespace");
ABSL_FLAG(std::string, api_version, "", "requested API version X.Y[.Z]");
ABSL_FLAG(std::string, server, "", "send to this server only (<topic>.<server>)");
ABSL_FLAG(std::string, context, "", "request context, a JSON object (default {})");
ABSL_FLAG(std::string, timeout, "", "call timeout in SECONDS (default: the cell's, 60 s)");
ABSL_FLAG(std::string, call_monitor_timeout, "",
          "oslo's call monitoring: SECONDS between the server's heartbeats");
ABSL_FLAG(std::string, deadline, "",
          "gRPC deadline for the request, in SECONDS (default 30; subscribe: none)");
ABSL_FLAG(std::string, request_id, "", "sent as x-request-id");
// notify and subscribe (client/cli_notifications.h).
ABSL_FLAG(std::string, publisher_id, "", "notify: the publisher, e.g. compute.host1 (required)");
ABSL_FLAG(std::string, priority, "", "notify: audit, debug, info, warn, error, critical, sample "
          "(default info)");
ABSL_FLAG(std::string, topics, "", "subscribe: notification topics, comma-separated "
          "(default notifications)");
ABSL_FLAG(std::string, priorities, "", "subscribe: priorities, comma-separated (default all)");
ABSL_FLAG(std::string, pool, "", "subscribe: oslo's listener pool (default none)");
ABSL_FLAG(std::string, event_types, "", "subscribe: event_type globs, comma-separated "
          "(default all)");
ABSL_FLAG(std::string, max_unacked, "", "subscribe: notifications unacknowledged at most "
          "(default 64)");
ABSL_FLAG(std::string, auto_ack, "", "subscribe: true to let the gateway acknowledge as it "
          "sends (--auto-ack alone means true)");
ABSL_FLAG(std::string, count, "", "subscribe: stop after N notifications (default: until "
          "interrupted)");

namespace {

constexpr char kSynopsis[] = R"(usage:
  cellgw-cli [--addr HOST:PORT] call   --topic T METHOD [ARGS_JSON] [options]
  cellgw-cli [--addr HOST:PORT] cast   --topic T METHOD [ARGS_JSON] [options]
  cellgw-cli [--addr HOST:PORT] fanout --topic T METHOD [ARGS_JSON] [options]
  cellgw-cli [--addr HOST:PORT] list-cells
  cellgw-cli [--addr HOST:PORT] notify --publisher-id P [--topic T] [--priority info]
             [--context JSON] EVENT_TYPE [PAYLOAD_JSON]
  cellgw-cli [--addr HOST:PORT] subscribe [--topics T,...] [--priorities p,...] [--pool P]
             [--event-types GLOB,...] [--max-unacked N] [--auto-ack] [--count N]
)";

// Options that may stand alone, meaning "true" ("--auto-ack"); "--auto-ack=false" also works.
bool IsSwitch(absl::string_view command_line_name) { return command_line_name == "auto-ack"; }

// The command-line name of the flag `flag_name` and back: '_' is '-', and api_version is
// --version (Abseil defines a --version flag of its own).
std::string CommandLineName(absl::string_view flag_name) {
  if (flag_name == "api_version") return "version";
  return absl::StrReplaceAll(flag_name, {{"_", "-"}});
}
std::string FlagName(absl::string_view command_line_name) {
  if (command_line_name == "version") return "api_version";
  return absl::StrReplaceAll(command_line_name, {{"-", "_"}});
}

bool IsThisFile(absl::string_view filename) { return filename == __FILE__; }

// The flags defined above (not Abseil's own, nor any a library might define).
const absl::CommandLineFlag* FindOwnFlag(absl::string_view flag_name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(flag_name);
  return flag != nullptr && IsThisFile(flag->Filename()) ? flag : nullptr;
}

// The synopsis and the options, from the flags' own definitions.
std::string Usage() {
  std::vector<std::pair<std::string, std::string>> options;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsThisFile(flag->Filename())) options.emplace_back(CommandLineName(name), flag->Help());
  }
  absl::c_sort(options);
  std::string usage = absl::StrCat(kSynopsis, "\noptions:\n");
  for (const auto& [name, help] : options) {
    std::string left = absl::StrCat("  --", name);
    left.resize(std::max<size_t>(left.size() + 2, 26), ' ');
    absl::StrAppend(&usage, left, help, "\n");
  }
  return usage;
}

int UsageError(const std::string& why) {
  std::fprintf(stderr, "cellgw-cli: %s\n%s", why.c_str(), Usage().c_str());
  return 2;
}

// argv rewritten for absl::ParseCommandLine: the program name, each option as
// "--<flag name>=<value>", "--", then the positional arguments in order.
struct CommandLine {
  std::vector<std::string> args;
  std::set<std::string, std::less<>> given;  // flag names that were on the command line
  bool help = false;            // -h or --help came before any error
  std::string error;            // a usage error, when not empty
};

CommandLine ToAbseilCommandLine(int argc, char** argv) {
  CommandLine result;
  std::vector<std::string> positional;
  bool options_ended = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (options_ended) {
      positional.emplace_back(arg);
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      result.help = true;
      return result;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
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
    } else if (IsSwitch(name)) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      result.error = absl::StrCat("--", name, " needs a value");
      return result;
    }
    const absl::CommandLineFlag* flag = FindOwnFlag(FlagName(name));
    if (flag == nullptr || CommandLineName(flag->Name()) != name) {
      result.error = absl::StrCat("unknown option --", name);
      return result;
    }
    result.given.insert(std::string(flag->Name()));
    result.args.push_back(absl::StrCat("--", flag->Name(), "=", value));
  }
  result.args.insert(result.args.begin(), argc > 0 ? argv[0] : "cellgw-cli");
  result.args.push_back("--");
  result.args.insert(result.args.end(), positional.begin(), positional.end());
  return result;
}

void SetDuration(double seconds, google::protobuf::Duration* duration) {
  // IDivDuration writes the remainder through its last argument: it must not be null.
  absl::Duration below_a_second;
  duration->set_seconds(
      absl::IDivDuration(absl::Seconds(seconds), absl::Seconds(1), &below_a_second));
  duration->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(below_a_second)));
}

template <typename Request>
void FillCommon(const std::vector<std::string>& positional, Request* request) {
  cellgw::v1::Target* target = request->mutable_target();
  target->set_cell(absl::GetFlag(FLAGS_cell));
  target->set_topic(absl::GetFlag(FLAGS_topic));
  target->set_exchange(absl::GetFlag(FLAGS_exchange));
  target->set_namespace_(absl::GetFlag(FLAGS_namespace));
  target->set_version(absl::GetFlag(FLAGS_api_version));
  target->set_server(absl::GetFlag(FLAGS_server));
  request->set_method(positional.size() > 1 ? positional[1] : "");
  request->set_args_json(positional.size() > 2 ? positional[2] : "");
  request->set_context_json(absl::GetFlag(FLAGS_context));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kSynopsis);
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = IsThisFile;
  usage_config.contains_helpshort_flags = IsThisFile;
  usage_config.normalize_filename = [](absl::string_view filename) {
    return std::string(filename);
  };
  absl::SetFlagsUsageConfig(usage_config);

  const CommandLine command_line = ToAbseilCommandLine(argc, argv);
  if (command_line.help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (!command_line.error.empty()) return UsageError(command_line.error);
  std::vector<char*> absl_argv;
  for (const std::string& arg : command_line.args) absl_argv.push_back(const_cast<char*>(arg.c_str()));
  std::vector<std::string> positional;
  for (char* arg : absl::ParseCommandLine(static_cast<int>(absl_argv.size()), absl_argv.data())) {
    positional.emplace_back(arg);
  }
  positional.erase(positional.begin());  // the program name
  auto given = [&](absl::string_view flag_name) { return command_line.given.count(flag_name) > 0; };

  if (positional.empty()) return UsageError("no command given");
  const std::string command = positional[0];
  cellgw::client::ConnectionSettings settings = cellgw::client::SettingsFromEnvironment();
  if (given("addr")) settings.address = absl::GetFlag(FLAGS_addr);
  if (given("ca_file")) settings.ca_file = absl::GetFlag(FLAGS_ca_file);
  if (given("cert_file")) settings.cert_file = absl::GetFlag(FLAGS_cert_file);
  if (given("key_file")) settings.key_file = absl::GetFlag(FLAGS_key_file);
  if (given("token")) settings.token = absl::GetFlag(FLAGS_token);

  // A number of seconds from a flag that was given; exits 2 when it is not one.
  auto seconds_flag = [&](const absl::Flag<std::string>& flag, double* out) -> bool {
    const absl::CommandLineFlag& reflected = absl::GetFlagReflectionHandle(flag);
    if (!given(reflected.Name())) return false;
    if (!absl::SimpleAtod(absl::GetFlag(flag), out)) {
      std::exit(UsageError(
          absl::StrCat("--", CommandLineName(reflected.Name()), ": not a number of seconds")));
    }
    return true;
  };
  // Every request has a deadline, as in the other callers: a gateway that never answers does
  // not hang a script.
  double deadline_seconds = 30;
  seconds_flag(FLAGS_deadline, &deadline_seconds);
  const absl::Time deadline = absl::Now() + absl::Seconds(deadline_seconds);
  const std::string request_id = absl::GetFlag(FLAGS_request_id);

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = cellgw::client::OpenChannel(settings);
  if (!channel.ok()) return UsageError(std::string(channel.status().message()));
  cellgw::client::CellgwClient client(*std::move(channel));
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
    FillCommon(positional, &request);
    double seconds = 0;
    if (seconds_flag(FLAGS_timeout, &seconds)) SetDuration(seconds, request.mutable_timeout());
    if (seconds_flag(FLAGS_call_monitor_timeout, &seconds)) {
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
      FillCommon(positional, &request);
      cellgw::v1::CastResponse response;
      status = client.Cast(request, &response, deadline, request_id);
      unique_id = response.unique_id();
    } else {
      cellgw::v1::FanoutRequest request;
      FillCommon(positional, &request);
      cellgw::v1::FanoutResponse response;
      status = client.Fanout(request, &response, deadline, request_id);
      unique_id = response.unique_id();
    }
    output = absl::StrCat("{\"unique_id\": \"", unique_id, "\"}\n");
  } else if (command == "notify") {
    if (positional.size() < 2) return UsageError("notify needs EVENT_TYPE");
    cellgw::client::NotifyCommand notify;
    notify.cell = absl::GetFlag(FLAGS_cell);
    notify.exchange = absl::GetFlag(FLAGS_exchange);
    notify.topic = absl::GetFlag(FLAGS_topic);
    notify.publisher_id = absl::GetFlag(FLAGS_publisher_id);
    notify.priority = absl::GetFlag(FLAGS_priority);
    notify.event_type = positional[1];
    notify.payload_json = positional.size() > 2 ? positional[2] : "";
    notify.context_json = absl::GetFlag(FLAGS_context);
    notify.deadline = deadline;
    notify.request_id = request_id;
    return cellgw::client::RunNotify(client, notify, stdout, stderr);
  } else if (command == "subscribe") {
    auto list = [](const std::string& text) -> std::vector<std::string> {
      if (text.empty()) return {};
      return absl::StrSplit(text, ',');
    };
    cellgw::client::SubscribeCommand subscribe;
    subscribe.cell = absl::GetFlag(FLAGS_cell);
    subscribe.exchange = absl::GetFlag(FLAGS_exchange);
    subscribe.topics = list(absl::GetFlag(FLAGS_topics));
    subscribe.priorities = list(absl::GetFlag(FLAGS_priorities));
    subscribe.pool = absl::GetFlag(FLAGS_pool);
    subscribe.event_types = list(absl::GetFlag(FLAGS_event_types));
    if (given("max_unacked") &&
        !absl::SimpleAtoi(absl::GetFlag(FLAGS_max_unacked), &subscribe.max_unacked)) {
      return UsageError("--max-unacked: not a whole number");
    }
    if (given("auto_ack") && !absl::SimpleAtob(absl::GetFlag(FLAGS_auto_ack), &subscribe.auto_ack)) {
      return UsageError("--auto-ack: not true or false");
    }
    if (given("count") && (!absl::SimpleAtoi(absl::GetFlag(FLAGS_count), &subscribe.count) ||
                           subscribe.count < 0)) {
      return UsageError("--count: not a whole number");
    }
    subscribe.request_id = request_id;
    return cellgw::client::RunSubscribe(client, subscribe, stdout, stderr);
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
