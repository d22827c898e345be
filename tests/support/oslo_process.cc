#include "tests/support/oslo_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "tests/support/testdata.h"

namespace cellgw::testing {
namespace {

constexpr char kPython[] = "/usr/bin/python3";  // Debian's, which has oslo.messaging
constexpr absl::Duration kReadyTimeout = absl::Seconds(60);
constexpr absl::Duration kReapTimeout = absl::Seconds(10);

// Names each child's stderr file uniquely within this test binary.
std::atomic<int> next_child_id{1};

std::string ScriptStem(const std::string& path) {
  absl::string_view name = path;
  const size_t slash = name.rfind('/');
  if (slash != absl::string_view::npos) name.remove_prefix(slash + 1);
  absl::ConsumeSuffix(&name, ".py");
  // `-c CODE` and the like name no script.
  return name.empty() || name[0] == '-' ? "python" : std::string(name);
}

}  // namespace

OsloProcess::OsloProcess(std::unique_ptr<Subprocess> child, int stdout_fd, std::string stderr_path,
                         int cancel_read, int cancel_write)
    : child_(std::move(child)), stderr_path_(std::move(stderr_path)), cancel_write_(cancel_write) {
  // Started last, once every member it touches is initialized.
  reader_ = std::thread([this, stdout_fd, cancel_read] { ReadLines(stdout_fd, cancel_read); });
}

OsloProcess::~OsloProcess() {
  Stop().IgnoreError();
  close(cancel_write_);
}

absl::StatusOr<std::unique_ptr<OsloProcess>> OsloProcess::Run(std::vector<std::string> args) {
  if (args.empty()) return absl::InvalidArgumentError("args: empty");
  const std::string stderr_path = absl::StrCat(TestTmpDir(), "/", ScriptStem(args[0]), "_",
                                               getpid(), "_", next_child_id++, ".stderr");
  SpawnOptions options;
  options.argv = {kPython};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  // A pyenv/virtualenv of whoever runs the tests must not redirect Debian's python.
  options.env = ChildEnvironment(
      {{"PYTHONUNBUFFERED", "1"}, {"PYTHONDONTWRITEBYTECODE", "1"}, {"LC_ALL", "C.UTF-8"}},
      {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV"});
  options.stdout_pipe = true;
  options.stderr_path = stderr_path;
  options.die_with_parent = true;
  int cancel[2];
  if (pipe2(cancel, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Spawn(options);
  if (!child.ok()) {
    close(cancel[0]);
    close(cancel[1]);
    return child.status();
  }
  const int stdout_fd = (*child)->TakeStdoutPipe();
  return std::unique_ptr<OsloProcess>(
      new OsloProcess(*std::move(child), stdout_fd, stderr_path, cancel[0], cancel[1]));
}

absl::StatusOr<std::unique_ptr<OsloProcess>> OsloProcess::RunClient(
    std::vector<std::string> client_args) {
  client_args.insert(client_args.begin(), RunfilePath("tests/support/oslo_client.py"));
  return Run(std::move(client_args));
}

OsloServerOptions ComputeServer(const std::string& url, const std::string& server) {
  OsloServerOptions options;
  options.url = url;
  options.topic = "compute";
  options.server = server;
  options.exchange = "nova";
  return options;
}

absl::StatusOr<std::unique_ptr<OsloProcess>> OsloProcess::StartServer(
    const OsloServerOptions& options) {
  struct Flag {
    const char* field;
    const char* flag;
    const std::string& value;
  };
  const Flag flags[] = {{"url", "--url", options.url},
                        {"topic", "--topic", options.topic},
                        {"server", "--server", options.server},
                        {"exchange", "--exchange", options.exchange},
                        {"endpoint_version", "--endpoint-version", options.endpoint_version}};
  std::vector<std::string> args = {RunfilePath("tests/support/oslo_server.py")};
  for (const Flag& f : flags) {
    if (f.value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("options.", f.field, ": empty"));
    }
    args.push_back(f.flag);
    args.push_back(f.value);
  }
  if (options.verbose) args.push_back("--verbose");
  CELLGW_ASSIGN_OR_RETURN(std::unique_ptr<OsloProcess> server, Run(std::move(args)));
  absl::StatusOr<std::string> ready = server->WaitForLine(
      [](const std::string& line) { return absl::StrContains(line, R"("event": "ready")"); },
      kReadyTimeout);
  if (!ready.ok()) {
    server->Stop().IgnoreError();
    const absl::StatusCode code =
        absl::IsNotFound(ready.status()) ? absl::StatusCode::kInternal : ready.status().code();
    return absl::Status(
        code, absl::StrCat("oslo_server.py did not become ready: ", ready.status().message()));
  }
  return server;
}

void OsloProcess::ReadLines(int fd, int cancel_read) {
  std::string partial;
  char buffer[4096];
  while (true) {
    struct pollfd pfds[2] = {{fd, POLLIN, 0}, {cancel_read, POLLIN, 0}};
    if (poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // Stop() cancels only when the pipe stays open after the child was reaped (a
    // grandchild holds it); until then everything the child wrote is read.
    if (pfds[1].revents != 0 && pfds[0].revents == 0) break;
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buffer, static_cast<size_t>(n));
    std::vector<std::string> complete;
    size_t start = 0;
    for (size_t nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
      complete.push_back(partial.substr(start, nl - start));
      start = nl + 1;
    }
    partial.erase(0, start);
    if (!complete.empty()) {
      absl::MutexLock lock(&mu_);
      for (std::string& line : complete) lines_.push_back(std::move(line));
      changed_.SignalAll();
    }
  }
  close(fd);
  close(cancel_read);
  absl::MutexLock lock(&mu_);
  if (!partial.empty()) lines_.push_back(std::move(partial));
  eof_ = true;
  changed_.SignalAll();
}

std::string OsloProcess::Diagnostics() const {
  const size_t first = lines_.size() > 5 ? lines_.size() - 5 : 0;
  std::vector<std::string> last(lines_.begin() + first, lines_.end());
  return absl::StrCat("\n--- last stdout lines of pid ", child_->pid(), " ---\n",
                      absl::StrJoin(last, "\n"), "\n--- tail of ", stderr_path_, " ---\n",
                      FileTail(stderr_path_, 1500));
}

absl::StatusOr<std::string> OsloProcess::WaitForLine(
    std::function<bool(const std::string&)> predicate, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  size_t checked = 0;
  while (true) {
    for (; checked < lines_.size(); ++checked) {
      if (predicate(lines_[checked])) return lines_[checked];
    }
    if (eof_) {
      return absl::NotFoundError(
          absl::StrCat("stdout closed without the expected line", Diagnostics()));
    }
    if (changed_.WaitWithDeadline(&mu_, deadline)) {
      // Timed out; lines that arrived with the deadline still count.
      for (; checked < lines_.size(); ++checked) {
        if (predicate(lines_[checked])) return lines_[checked];
      }
      return absl::DeadlineExceededError(
          absl::StrCat("no expected line within ", absl::FormatDuration(timeout), Diagnostics()));
    }
  }
}

std::vector<std::string> OsloProcess::Lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

absl::StatusOr<int> OsloProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  CELLGW_ASSIGN_OR_RETURN(int code, child_->WaitFor(timeout));
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithDeadline(absl::Condition(&eof_), deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "pid ", child_->pid(), " exited but its stdout is still open", Diagnostics()));
    }
  }
  if (reader_.joinable()) reader_.join();
  return code;
}

absl::Status OsloProcess::Stop(absl::Duration grace) {
  absl::Status result;
  if (child_->Running()) {
    child_->Signal(SIGTERM);
    if (!child_->WaitFor(grace).ok()) {
      child_->Signal(SIGKILL);
      if (!child_->WaitFor(kReapTimeout).ok()) {
        result = absl::InternalError(absl::StrCat("pid ", child_->pid(), " survived SIGKILL"));
      }
    }
  }
  if (reader_.joinable()) {
    bool eof;
    {
      absl::MutexLock lock(&mu_);
      eof = mu_.AwaitWithTimeout(absl::Condition(&eof_), kReapTimeout);
    }
    if (!eof) {
      const char byte = 0;
      ssize_t ignored = write(cancel_write_, &byte, 1);
      (void)ignored;
    }
    reader_.join();
  }
  return result;
}

std::string OsloProcess::StderrTail(size_t max_bytes) const {
  return FileTail(stderr_path_, max_bytes);
}

}  // namespace cellgw::testing
