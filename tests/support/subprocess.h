// Child processes for the integration-test support code (tests/support): spawning with an
// exact environment and redirections, waiting with a deadline, signalling by PID. The
// private RabbitMQ node (rabbitmq_node.h) and the oslo.messaging peers (oslo_process.h)
// are built on it; tests normally use those instead of this.
//
// Linux only: waiting uses a pidfd (a signal from the kernel, never a polling sleep), and
// the child side of fork() only makes async-signal-safe calls, so spawning is safe from a
// multi-threaded test binary.
#ifndef CELLGW_TESTS_SUPPORT_SUBPROCESS_H_
#define CELLGW_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cellgw::testing {

struct SpawnOptions {
  // argv[0] is the program's absolute path; there is no PATH search.
  std::vector<std::string> argv;
  // The child's whole environment, "KEY=value" each (see ChildEnvironment()).
  std::vector<std::string> env;
  // Where stdout goes: a pipe whose read end the parent takes with TakeStdoutPipe(), or a
  // file appended to (created when missing), or /dev/null when both are unset.
  bool stdout_pipe = false;
  std::string stdout_path;
  // Where stderr goes: a file appended to, or, when empty, wherever stdout goes.
  std::string stderr_path;
  // setsid(): the child leads a new session and process group, so SignalGroup() reaches
  // everything it starts, and a signal sent to the test's group does not.
  bool new_session = false;
  // PR_SET_PDEATHSIG=SIGKILL: the child dies with the thread that spawned it (in a gtest
  // binary, the main thread, i.e. with the test), so it cannot outlive a crashed test.
  bool die_with_parent = false;
  // When >= 0, this descriptor is handed to the child as fd 3 (socket activation).
  int pass_fd_as_3 = -1;
};

// One spawned child. Thread-safe; the child is reaped exactly once.
class Subprocess {
 public:
  // Starts a child. INVALID_ARGUMENT for an empty argv; INTERNAL when a redirection file
  // cannot be opened, fork fails or exec fails (the message says which, with errno text).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const SpawnOptions& options);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // SIGKILLs the child (its group when it leads one) if it is still running, and reaps it.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // The read end of the stdout pipe (SpawnOptions::stdout_pipe); the caller owns and must
  // close it. -1 when there is none or it was already taken.
  int TakeStdoutPipe();

  // Waits until the child exits or `timeout` passes (absl::InfiniteDuration() waits
  // forever). Returns the exit code, or 128+N when signal N killed it (the shell's
  // convention); DEADLINE_EXCEEDED when it is still running at the deadline.
  absl::StatusOr<int> WaitFor(absl::Duration timeout);

  // True until the child has exited (a zombie counts as exited).
  bool Running();

  // kill(pid, sig) / killpg(pid, sig), unless the child was already reaped (so a reused PID
  // is never hit). SignalGroup() requires new_session.
  void Signal(int sig);
  void SignalGroup(int sig);

  // Exit code as WaitFor() reports it, once the child was reaped.
  std::optional<int> exit_code();

 private:
  friend absl::StatusOr<size_t> WaitForAnyExit(const std::vector<Subprocess*>& children,
                                               absl::Duration timeout);
  Subprocess(pid_t pid, int pidfd, int stdout_fd, bool group_leader)
      : pid_(pid), pidfd_(pidfd), stdout_fd_(stdout_fd), group_leader_(group_leader) {}
  // Reaps the child if it has exited; true when it is reaped.
  bool ReapIfExited() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const pid_t pid_;
  const int pidfd_;
  int stdout_fd_;
  const bool group_leader_;
  absl::Mutex mu_;
  std::optional<int> exit_code_ ABSL_GUARDED_BY(mu_);
};

// Waits until at least one of `children` has exited or `timeout` passes, and returns the
// index of one that has (reaped). DEADLINE_EXCEEDED at the deadline; INVALID_ARGUMENT for an
// empty list.
absl::StatusOr<size_t> WaitForAnyExit(const std::vector<Subprocess*>& children,
                                      absl::Duration timeout);

// This process's environment with each `set` (KEY, value) replacing or adding that
// variable, and each name in `unset` removed. The result suits SpawnOptions::env.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& set,
    const std::vector<std::string>& unset = {});

struct CommandResult {
  int exit_code = 0;  // as Subprocess::WaitFor() reports it
  std::string stdout_text;
  std::string stderr_text;
};

// Runs `argv` with `env` to completion, capturing stdout and stderr through files named
// `capture_prefix`.out/.err (deleted afterwards). The command dies with the test if the
// test dies. A non-zero exit is not an error here: look at exit_code. Errors: those of
// Subprocess::Spawn(); DEADLINE_EXCEEDED (the command is SIGKILLed) after `timeout`.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env,
                                         const std::string& capture_prefix, absl::Duration timeout);

// A TCP port on 127.0.0.1 that was free when this returned (bound to port 0, released).
// INTERNAL when no socket can be bound.
absl::StatusOr<int> PickFreeLoopbackPort();

// A listening TCP socket on 127.0.0.1:`port` (0 = any free port), close-on-exec, with
// SO_REUSEADDR. Returns the descriptor and the bound port; INTERNAL with errno text when
// the port cannot be bound.
absl::StatusOr<std::pair<int, int>> ListenOnLoopback(int port);

// The last `max_bytes` of a file ("" when it cannot be read); for quoting logs in errors.
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

// $TEST_TMPDIR under Bazel, else /tmp.
std::string TestTmpDir();

// Creates the absolute `path` and its missing parents (mode 0755). INVALID_ARGUMENT for a
// relative path; INTERNAL with errno text on failure.
absl::Status MakeDirs(const std::string& path);

// Replaces the file at `path` with `contents`, created with `mode`. INTERNAL on failure.
absl::Status WriteFile(const std::string& path, absl::string_view contents, int mode = 0644);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_SUPPORT_SUBPROCESS_H_
