#include "tests/support/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

extern char** environ;

namespace cellgw::testing {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

// Owns a file descriptor for the parent's side of Spawn(); closes it on every path.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(); }
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

absl::StatusOr<int> OpenForAppend(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText(errno)));
  return fd;
}

// Everything the child needs, prepared before fork() so that the child side allocates
// nothing and calls only async-signal-safe functions.
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
  int pass_fd;
  int error_pipe;  // write end; the child reports a failed step's errno through it
  bool new_session;
  bool die_with_parent;
  pid_t parent;
};

[[noreturn]] void ChildFail(int error_pipe) {
  int err = errno;
  ssize_t ignored = write(error_pipe, &err, sizeof(err));
  (void)ignored;
  _exit(127);
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  // The test binary may block or ignore signals (threads, SIGPIPE); an exec'd program
  // expects the defaults, and our stop paths rely on SIGTERM working.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) {
    sigaction(sig, &dfl, nullptr);
  }
  if (plan.new_session && setsid() < 0) ChildFail(plan.error_pipe);
  if (plan.die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(plan.error_pipe);
    // The parent may have died before prctl() took effect.
    if (getppid() != plan.parent) _exit(127);
  }
  if (dup2(plan.stdin_fd, 0) < 0 || dup2(plan.stdout_fd, 1) < 0 || dup2(plan.stderr_fd, 2) < 0) {
    ChildFail(plan.error_pipe);
  }
  int keep_up_to = 2;
  if (plan.pass_fd >= 0) {
    if (plan.pass_fd == 3) {
      if (fcntl(3, F_SETFD, 0) < 0) ChildFail(plan.error_pipe);
    } else if (dup2(plan.pass_fd, 3) < 0) {
      ChildFail(plan.error_pipe);
    }
    keep_up_to = 3;
  }
  // Descriptors the test binary's libraries opened without O_CLOEXEC must not leak into
  // long-lived children (a leaked pipe end would keep a reader from seeing EOF). Marking
  // them close-on-exec, rather than closing them, keeps error_pipe usable until exec.
  syscall(SYS_close_range, keep_up_to + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(plan.argv[0], plan.argv, plan.envp);
  ChildFail(plan.error_pipe);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("argv: empty");
  std::vector<char*> argv;
  for (const std::string& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& var : options.env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);

  ScopedFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (devnull.get() < 0)
    return absl::InternalError(absl::StrCat("open /dev/null: ", ErrnoText(errno)));
  ScopedFd stdout_read;
  ScopedFd stdout_write;
  if (options.stdout_pipe) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
    stdout_read.Reset(fds[0]);
    stdout_write.Reset(fds[1]);
  } else if (!options.stdout_path.empty()) {
    CELLGW_ASSIGN_OR_RETURN(int fd, OpenForAppend(options.stdout_path));
    stdout_write.Reset(fd);
  }
  ScopedFd stderr_write;
  if (!options.stderr_path.empty()) {
    CELLGW_ASSIGN_OR_RETURN(int fd, OpenForAppend(options.stderr_path));
    stderr_write.Reset(fd);
  }
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
  ScopedFd error_read(error_pipe[0]);
  ScopedFd error_write(error_pipe[1]);

  const int out_fd = stdout_write.get() >= 0 ? stdout_write.get() : devnull.get();
  ChildPlan plan{argv.data(),
                 envp.data(),
                 devnull.get(),
                 out_fd,
                 stderr_write.get() >= 0 ? stderr_write.get() : out_fd,
                 options.pass_fd_as_3,
                 error_write.get(),
                 options.new_session,
                 options.die_with_parent,
                 getpid()};
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", ErrnoText(errno)));
  if (pid == 0) RunChild(plan);

  error_write.Reset();
  stdout_write.Reset();
  stderr_write.Reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_read.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    // The child failed before or at exec and has exited; reap it.
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::InternalError(
        absl::StrCat("cannot start ", options.argv[0], ": ", ErrnoText(child_errno)));
  }
  // The PID cannot be reused before we reap the child, so this pidfd is the child's.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int err = errno;
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::InternalError(absl::StrCat("pidfd_open: ", ErrnoText(err)));
  }
  return std::unique_ptr<Subprocess>(
      new Subprocess(pid, pidfd, stdout_read.Release(), options.new_session));
}

Subprocess::~Subprocess() {
  if (Running()) {
    if (group_leader_) {
      SignalGroup(SIGKILL);
    } else {
      Signal(SIGKILL);
    }
  }
  WaitFor(absl::InfiniteDuration()).IgnoreError();
  close(pidfd_);
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

int Subprocess::TakeStdoutPipe() {
  absl::MutexLock lock(&mu_);
  int fd = stdout_fd_;
  stdout_fd_ = -1;
  return fd;
}

bool Subprocess::ReapIfExited() {
  if (exit_code_.has_value()) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    exit_code_ = 255;  // reaped elsewhere (ECHILD): gone, status unknown
  } else if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = 128 + WTERMSIG(status);
  } else {
    return false;  // stopped/continued; not an exit
  }
  return true;
}

absl::StatusOr<int> Subprocess::WaitFor(absl::Duration timeout) {
  const bool forever = timeout == absl::InfiniteDuration();
  const absl::Time deadline = forever ? absl::InfiniteFuture() : absl::Now() + timeout;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (ReapIfExited()) return *exit_code_;
    }
    int poll_ms = -1;
    if (!forever) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(
            absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
      }
      poll_ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, INT_MAX));
    }
    // Not under mu_: Signal() must stay usable while another thread waits here.
    struct pollfd pfd = {pidfd_, POLLIN, 0};
    if (poll(&pfd, 1, poll_ms) < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll pidfd: ", ErrnoText(errno)));
    }
  }
}

bool Subprocess::Running() {
  absl::MutexLock lock(&mu_);
  return !ReapIfExited();
}

void Subprocess::Signal(int sig) {
  absl::MutexLock lock(&mu_);
  if (!exit_code_.has_value()) kill(pid_, sig);
}

void Subprocess::SignalGroup(int sig) {
  absl::MutexLock lock(&mu_);
  if (!exit_code_.has_value() && group_leader_) killpg(pid_, sig);
}

std::optional<int> Subprocess::exit_code() {
  absl::MutexLock lock(&mu_);
  ReapIfExited();
  return exit_code_;
}

absl::StatusOr<size_t> WaitForAnyExit(const std::vector<Subprocess*>& children,
                                      absl::Duration timeout) {
  if (children.empty()) return absl::InvalidArgumentError("children: empty");
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  std::vector<struct pollfd> pfds;
  for (Subprocess* child : children) pfds.push_back({child->pidfd_, POLLIN, 0});
  while (true) {
    for (size_t i = 0; i < children.size(); ++i) {
      if (!children[i]->Running()) return i;
    }
    int poll_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(
            absl::StrCat("no child exited within ", absl::FormatDuration(timeout)));
      }
      poll_ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, INT_MAX));
    }
    if (poll(pfds.data(), pfds.size(), poll_ms) < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll pidfds: ", ErrnoText(errno)));
    }
  }
}

std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& set,
    const std::vector<std::string>& unset) {
  std::vector<std::string> env;
  for (char** var = environ; var != nullptr && *var != nullptr; ++var) {
    const absl::string_view entry(*var);
    const absl::string_view name = entry.substr(0, entry.find('='));
    bool drop = false;
    for (const std::string& u : unset) drop = drop || name == u;
    for (const auto& [key, value] : set) drop = drop || name == key;
    if (!drop) env.emplace_back(entry);
  }
  for (const auto& [key, value] : set) env.push_back(absl::StrCat(key, "=", value));
  return env;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env,
                                         const std::string& capture_prefix,
                                         absl::Duration timeout) {
  const std::string out_path = capture_prefix + ".out";
  const std::string err_path = capture_prefix + ".err";
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  SpawnOptions options;
  options.argv = argv;
  options.env = env;
  options.stdout_path = out_path;
  options.stderr_path = err_path;
  options.die_with_parent = true;
  CELLGW_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::Spawn(options));
  absl::StatusOr<int> code = child->WaitFor(timeout);
  if (!code.ok()) {
    child->Signal(SIGKILL);
    child->WaitFor(absl::InfiniteDuration()).IgnoreError();
    const std::string tail = FileTail(err_path) + FileTail(out_path);
    unlink(out_path.c_str());
    unlink(err_path.c_str());
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish within ",
                                                    absl::FormatDuration(timeout), ": ", tail));
  }
  CommandResult result;
  result.exit_code = *code;
  result.stdout_text = ReadWholeFile(out_path).value_or("");
  result.stderr_text = ReadWholeFile(err_path).value_or("");
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return result;
}

absl::StatusOr<std::pair<int, int>> ListenOnLoopback(int port) {
  ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:", port, ": ", ErrnoText(errno)));
  }
  if (listen(fd.get(), 128) != 0)
    return absl::InternalError(absl::StrCat("listen: ", ErrnoText(errno)));
  socklen_t len = sizeof(addr);
  if (getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", ErrnoText(errno)));
  }
  const int bound_port = ntohs(addr.sin_port);
  return std::make_pair(fd.Release(), bound_port);
}

absl::StatusOr<int> PickFreeLoopbackPort() {
  ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
  struct sockaddr_in addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", ErrnoText(errno)));
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  absl::StatusOr<std::string> contents = ReadWholeFile(path);
  if (!contents.ok()) return "";
  if (contents->size() <= max_bytes) return *contents;
  return contents->substr(contents->size() - max_bytes);
}

std::string TestTmpDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr && *dir != '\0' ? std::string(dir) : std::string("/tmp");
}

absl::Status MakeDirs(const std::string& path) {
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("path: not absolute: ", path));
  }
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("mkdir ", prefix, ": ", ErrnoText(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, absl::string_view contents, int mode) {
  unlink(path.c_str());  // a read-only file (the Erlang cookie) cannot be truncated
  ScopedFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0)
    return absl::InternalError(absl::StrCat("create ", path, ": ", ErrnoText(errno)));
  while (!contents.empty()) {
    const ssize_t n = write(fd.get(), contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat("write ", path, ": ", ErrnoText(errno)));
    contents.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace cellgw::testing
