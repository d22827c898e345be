#include "tests/support/rabbitmq_node.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cellgw::testing {
namespace {

constexpr char kRabbitMqServer[] = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr char kRabbitMqCtl[] = "/usr/lib/rabbitmq/bin/rabbitmqctl";
constexpr char kEpmd[] = "/usr/bin/epmd";
// A cold start takes ~6 s on the project's 2-core machines; leave room for a loaded
// machine that runs two test binaries, each starting brokers.
constexpr absl::Duration kStartupTimeout = absl::Seconds(120);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);
constexpr absl::Duration kReapTimeout = absl::Seconds(10);
// Sent to the Erlang VMs as `-kernel inet_dist_use_interface`, so that distribution, like
// everything else, listens on loopback only.
constexpr char kLoopbackDist[] = "-kernel inet_dist_use_interface {127,0,0,1}";

absl::StatusOr<std::string> RandomCookie() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[16];
  if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    return absl::InternalError("cannot read /dev/urandom");
  }
  std::string cookie;
  for (unsigned char b : bytes) absl::StrAppend(&cookie, absl::Hex(b, absl::kZeroPad2));
  return absl::AsciiStrToUpper(cookie);
}

std::string PercentEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%",
                      absl::AsciiStrToUpper(absl::StrCat(absl::Hex(c, absl::kZeroPad2))));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RabbitMqNode>> RabbitMqNode::Start(const std::string& workdir) {
  return StartNode(workdir, std::nullopt);
}

absl::StatusOr<std::unique_ptr<RabbitMqNode>> RabbitMqNode::Start(
    const std::string& workdir, const RabbitMqTlsOptions& tls) {
  return StartNode(workdir, tls);
}

absl::StatusOr<std::unique_ptr<RabbitMqNode>> RabbitMqNode::StartNode(
    const std::string& workdir, const std::optional<RabbitMqTlsOptions>& tls) {
  if (workdir.empty()) return absl::InvalidArgumentError("workdir: empty");
  std::string absolute = workdir;
  if (workdir[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::InternalError(absl::StrCat("getcwd: ", std::strerror(errno)));
    }
    absolute = absl::StrCat(cwd, "/", workdir);
  }
  // On any error below, the destructor stops whatever was started.
  std::unique_ptr<RabbitMqNode> node(new RabbitMqNode(std::move(absolute)));
  node->tls_ = tls;
  CELLGW_RETURN_IF_ERROR(node->Prepare());
  CELLGW_RETURN_IF_ERROR(node->StartEpmd());
  CELLGW_RETURN_IF_ERROR(node->StartServer());
  return node;
}

RabbitMqNode::~RabbitMqNode() { Stop().IgnoreError(); }

absl::Status RabbitMqNode::Prepare() {
  CELLGW_RETURN_IF_ERROR(MakeDirs(Path("home")));
  CELLGW_ASSIGN_OR_RETURN(amqp_port_, PickFreeLoopbackPort());
  do {
    CELLGW_ASSIGN_OR_RETURN(dist_port_, PickFreeLoopbackPort());
  } while (dist_port_ == amqp_port_);
  node_ = absl::StrCat("cellgw_", amqp_port_, "@localhost");
  CELLGW_ASSIGN_OR_RETURN(std::string cookie, RandomCookie());
  // Written before any Erlang process runs: otherwise the server and the first rabbitmqctl
  // race to create two different cookies and cannot talk.
  CELLGW_RETURN_IF_ERROR(WriteFile(Path("home/.erlang.cookie"), cookie, 0400));
  CELLGW_RETURN_IF_ERROR(WriteFile(Path("enabled_plugins"), "[].\n"));
  std::string conf =
      absl::StrCat("listeners.tcp.default = 127.0.0.1:", amqp_port_, "\nloopback_users = none\n");
  if (tls_.has_value()) {
    do {
      CELLGW_ASSIGN_OR_RETURN(amqps_port_, PickFreeLoopbackPort());
    } while (amqps_port_ == amqp_port_ || amqps_port_ == dist_port_);
    absl::StrAppend(&conf, "listeners.ssl.default = 127.0.0.1:", amqps_port_, "\n",
                    "ssl_options.cacertfile = ", tls_->ca_file, "\n",
                    "ssl_options.certfile = ", tls_->cert_file, "\n",
                    "ssl_options.keyfile = ", tls_->key_file, "\n",
                    "ssl_options.verify = verify_peer\n",
                    "ssl_options.fail_if_no_peer_cert = ",
                    tls_->require_client_cert ? "true" : "false", "\n");
  }
  CELLGW_RETURN_IF_ERROR(WriteFile(Path("rabbitmq.conf"), conf));
  // Empty, so that /etc/rabbitmq/rabbitmq-env.conf is not read.
  return WriteFile(Path("rabbitmq-env.conf"), "");
}

std::vector<std::string> RabbitMqNode::Environment() const {
  return ChildEnvironment(
      {
          {"HOME", Path("home")},  // the private .erlang.cookie
          {"LC_ALL", "C.UTF-8"},   // the Elixir CLI wants UTF-8
          {"ERL_EPMD_PORT", absl::StrCat(epmd_port_)},
          {"ERL_EPMD_ADDRESS", "127.0.0.1"},
          // Read by every erl the server or the CLI launches (including rabbit's own
          // "epmd-starter"), so none of them forks an `epmd -daemon` that would outlive us.
          {"ERL_AFLAGS", "-start_epmd false"},
          {"ERL_CRASH_DUMP", Path("erl_crash.dump")},
          {"RABBITMQ_NODENAME", node_},
          {"RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"},
          {"RABBITMQ_NODE_PORT", absl::StrCat(amqp_port_)},
          {"RABBITMQ_DIST_PORT", absl::StrCat(dist_port_)},
          // The CLI tools otherwise all compete for ports 35672-35682.
          {"RABBITMQ_CTL_DIST_PORT_MIN", "0"},
          {"RABBITMQ_CTL_DIST_PORT_MAX", "0"},
          {"RABBITMQ_CTL_ERL_ARGS", kLoopbackDist},
          {"RABBITMQ_MNESIA_BASE", Path("mnesia")},
          {"RABBITMQ_LOG_BASE", Path("log")},
          {"RABBITMQ_ENABLED_PLUGINS_FILE", Path("enabled_plugins")},
          {"RABBITMQ_CONFIG_FILE", Path("rabbitmq")},  // .conf is appended
          {"RABBITMQ_ADVANCED_CONFIG_FILE", Path("advanced.config")},
          {"RABBITMQ_CONF_ENV_FILE", Path("rabbitmq-env.conf")},
          {"RABBITMQ_PID_FILE", Path("beam.pid")},
          {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", kLoopbackDist},
      },
      {"ERL_FLAGS", "ERL_ZFLAGS", "ERL_LIBS", "RABBITMQ_HOME"});
}

std::vector<std::string> RabbitMqNode::CtlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kRabbitMqCtl, "-q", "-n", node_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::Status RabbitMqNode::StartEpmd() {
  if (epmd_ != nullptr && epmd_->Running()) return absl::OkStatus();  // survived KillHard()
  epmd_.reset();
  // Bound here and handed over (systemd-style socket activation): epmd is reachable the
  // moment the broker looks for it, and the port cannot be taken in between.
  CELLGW_ASSIGN_OR_RETURN(auto listener, ListenOnLoopback(epmd_port_));
  epmd_port_ = listener.second;
  SpawnOptions options;
  // sd_listen_fds() requires LISTEN_PID == epmd's PID; the shell execs epmd, so $$ is it.
  // -port as well: epmd reports its port in NAMES replies, and Erlang rejects an epmd whose
  // reported port differs from ERL_EPMD_PORT.
  options.argv = {
      "/bin/sh", "-c",
      absl::StrCat("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" -systemd -port ", epmd_port_), kEpmd};
  options.env = Environment();
  options.stdout_path = Path("epmd.log");
  options.new_session = true;
  options.pass_fd_as_3 = listener.first;
  absl::StatusOr<std::unique_ptr<Subprocess>> epmd = Subprocess::Spawn(options);
  close(listener.first);
  if (!epmd.ok()) return epmd.status();
  epmd_ = *std::move(epmd);
  return absl::OkStatus();
}

absl::Status RabbitMqNode::StartServer() {
  unlink(Path("beam.pid").c_str());  // stale after KillHard()
  beam_pid_ = -1;
  const std::vector<std::string> env = Environment();
  SpawnOptions options;
  options.argv = {kRabbitMqServer};
  options.env = env;
  options.stdout_path = Path("server.out");
  // Its own session: the stop path can SIGKILL the script, beam.smp and beam's helpers as
  // one group, and a signal aimed at the test's group does not reach the broker.
  options.new_session = true;
  CELLGW_ASSIGN_OR_RETURN(server_, Subprocess::Spawn(options));
  // Guarded from the start: a test killed while the broker boots must not leak it.
  absl::Status guarded = StartGuardian();
  if (!guarded.ok()) {
    server_->SignalGroup(SIGKILL);
    server_->WaitFor(kReapTimeout).IgnoreError();
    server_.reset();
    return guarded;
  }

  // `rabbitmqctl wait PIDFILE` returns once the server wrote its PID file and the rabbit
  // application has started. Waiting on the server too makes a server that dies early fail
  // fast instead of at the timeout.
  SpawnOptions wait_options;
  wait_options.argv = CtlArgv(
      {"wait", Path("beam.pid"), "--timeout", absl::StrCat(absl::ToInt64Seconds(kStartupTimeout))});
  wait_options.env = env;
  wait_options.stdout_path = Path("startup_wait.out");
  wait_options.die_with_parent = true;
  unlink(wait_options.stdout_path.c_str());
  absl::Status failure;
  absl::StatusOr<std::unique_ptr<Subprocess>> waiter = Subprocess::Spawn(wait_options);
  if (!waiter.ok()) {
    failure = waiter.status();
  } else {
    absl::StatusOr<size_t> first =
        WaitForAnyExit({server_.get(), waiter->get()}, kStartupTimeout + absl::Seconds(10));
    absl::StatusOr<int> wait_code = (*waiter)->WaitFor(absl::ZeroDuration());
    if (!first.ok()) {
      failure = absl::DeadlineExceededError(absl::StrCat("RabbitMQ node ", node_,
                                                         " did not start within ",
                                                         absl::FormatDuration(kStartupTimeout)));
    } else if (!wait_code.ok() || *wait_code != 0) {
      failure = absl::InternalError(
          absl::StrCat("RabbitMQ node ", node_, " did not start (server ",
                       server_->Running() ? "still running" : "exited", "; rabbitmqctl wait: ",
                       wait_code.ok() ? absl::StrCat("exit ", *wait_code) : "still running", ": ",
                       FileTail(wait_options.stdout_path, 600), ")"));
    }
  }
  if (!failure.ok()) {
    StopGuardian();
    server_->SignalGroup(SIGKILL);
    server_->WaitFor(kReapTimeout).IgnoreError();
    server_.reset();
    return absl::Status(failure.code(),
                        absl::StrCat(failure.message(), "\n--- tail of ", Path("server.out"),
                                     " ---\n", FileTail(Path("server.out"))));
  }
  std::string pid_text = FileTail(Path("beam.pid"), 64);
  int beam_pid = -1;
  if (absl::SimpleAtoi(absl::StripAsciiWhitespace(pid_text), &beam_pid)) beam_pid_ = beam_pid;
  return absl::OkStatus();
}

absl::Status RabbitMqNode::StartGuardian() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  SpawnOptions options;
  // `read` returns at EOF, i.e. when every copy of the write end is closed: when the test
  // process is gone. The PIDs cannot have been reused then: the server's group and epmd
  // are still alive (nothing stopped them), which is the only case the guardian matters.
  options.argv = {"/bin/sh", "-c", "read _ <&3; kill -9 -$0 $1 2>/dev/null",
                  absl::StrCat(server_->pid()), absl::StrCat(epmd_->pid())};
  options.env = ChildEnvironment({});
  // Outside the test's process group, which Bazel kills on a timeout.
  options.new_session = true;
  options.pass_fd_as_3 = fds[0];
  absl::StatusOr<std::unique_ptr<Subprocess>> guardian = Subprocess::Spawn(options);
  close(fds[0]);
  if (!guardian.ok()) {
    close(fds[1]);
    return guardian.status();
  }
  guardian_ = *std::move(guardian);
  guardian_pipe_ = fds[1];
  return absl::OkStatus();
}

void RabbitMqNode::StopGuardian() {
  // Killed before its pipe closes, so it never acts on PIDs we are about to release.
  if (guardian_ != nullptr) {
    guardian_->Signal(SIGKILL);
    guardian_->WaitFor(absl::InfiniteDuration()).IgnoreError();
    guardian_.reset();
  }
  if (guardian_pipe_ >= 0) close(guardian_pipe_);
  guardian_pipe_ = -1;
}

absl::Status RabbitMqNode::Stop() {
  StopGuardian();
  absl::Status result;
  if (server_ != nullptr) {
    if (server_->Running()) {
      // A failed `stop` (a wedged node) is handled by the SIGKILL below.
      Ctl({"stop"}, kStopTimeout).IgnoreError();
      if (!server_->WaitFor(kStopTimeout).ok()) server_->SignalGroup(SIGKILL);
    }
    // beam.smp's helpers are in the group too; after a clean stop they are gone already.
    server_->SignalGroup(SIGKILL);
    if (!server_->WaitFor(kReapTimeout).ok()) {
      result = absl::InternalError(
          absl::StrCat("rabbitmq-server pid ", server_->pid(), " survived SIGKILL"));
    }
    server_.reset();
    beam_pid_ = -1;
  }
  absl::Status epmd = StopEpmd();
  return result.ok() ? epmd : result;
}

absl::Status RabbitMqNode::StopEpmd() {
  if (epmd_ == nullptr) return absl::OkStatus();
  epmd_->Signal(SIGTERM);
  if (!epmd_->WaitFor(kReapTimeout).ok()) {
    epmd_->SignalGroup(SIGKILL);
    if (!epmd_->WaitFor(kReapTimeout).ok()) {
      return absl::InternalError(absl::StrCat("epmd pid ", epmd_->pid(), " survived SIGKILL"));
    }
  }
  epmd_.reset();
  return absl::OkStatus();
}

absl::Status RabbitMqNode::KillHard() {
  if (server_ == nullptr || !server_->Running()) {
    return absl::FailedPreconditionError(absl::StrCat("RabbitMQ node ", node_, " is not running"));
  }
  StopGuardian();
  server_->SignalGroup(SIGKILL);
  absl::Status reaped = server_->WaitFor(kReapTimeout).status();
  server_.reset();
  beam_pid_ = -1;
  return reaped;
}

absl::Status RabbitMqNode::Restart() {
  if (server_ != nullptr && server_->Running()) {
    return absl::FailedPreconditionError(absl::StrCat("RabbitMQ node ", node_, " is running"));
  }
  server_.reset();
  CELLGW_RETURN_IF_ERROR(StartEpmd());
  return StartServer();
}

absl::StatusOr<std::string> RabbitMqNode::Ctl(const std::vector<std::string>& args,
                                              absl::Duration timeout) {
  if (server_ == nullptr || !server_->Running()) {
    return absl::FailedPreconditionError(absl::StrCat("RabbitMQ node ", node_, " is not running"));
  }
  CELLGW_ASSIGN_OR_RETURN(
      CommandResult result,
      RunCommand(CtlArgv(args), Environment(), Path(absl::StrCat("ctl_", ++ctl_runs_)), timeout));
  if (result.exit_code != 0) {
    std::string output = result.stderr_text + result.stdout_text;
    if (output.size() > 2000) output = output.substr(output.size() - 2000);
    return absl::InternalError(absl::StrCat("rabbitmqctl ", absl::StrJoin(args, " "), " exited ",
                                            result.exit_code, ": ", output));
  }
  return result.stdout_text;
}

absl::Status RabbitMqNode::AddVhost(const std::string& vhost) {
  CELLGW_RETURN_IF_ERROR(Ctl({"add_vhost", vhost}).status());
  return Ctl({"set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"}).status();
}

std::string RabbitMqNode::Url(const std::string& vhost) const {
  return absl::StrCat("rabbit://guest:guest@127.0.0.1:", amqp_port_, "/",
                      vhost == "/" ? "" : PercentEncode(vhost));
}

pid_t RabbitMqNode::pid() const { return server_ != nullptr ? server_->pid() : -1; }

pid_t RabbitMqNode::epmd_pid() const { return epmd_ != nullptr ? epmd_->pid() : -1; }

}  // namespace cellgw::testing
