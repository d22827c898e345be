// Real oslo.messaging peers for integration tests (tests/support): a /usr/bin/python3 child
// running tests/support/oslo_server.py (an RPC server with test endpoints) or
// oslo_client.py (a one-shot RPC client), with its stdout read line by line on a reader
// thread so tests can wait for what the peer reports. The scripts print one JSON object per
// line via json.dumps(sort_keys=True), so a test can match substrings such as
// `"event": "invoked"`, `"method": "echo"` or `"kw": {"x": 1}` (the separators are ", " and
// ": "). See the scripts' docstrings for their endpoints and output.
//
// Children die with the test: they get PR_SET_PDEATHSIG=SIGKILL (tied to the spawning
// thread, so start them from the test's main thread), and the destructor stops them. Their
// stderr goes to a file in $TEST_TMPDIR, whose tail errors quote.
//
// Tests need `data = ["//tests/support:oslo_scripts"]` (the :oslo_process target carries it).
#ifndef CELLGW_TESTS_SUPPORT_OSLO_PROCESS_H_
#define CELLGW_TESTS_SUPPORT_OSLO_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace cellgw::testing {

struct OsloServerOptions {
  std::string url;                       // e.g. RabbitMqNode::Url("cell1")
  std::string topic;                     // Target.topic
  std::string server = "server1";        // Target.server
  std::string exchange = "openstack";    // control_exchange the queues are bound on
  std::string endpoint_version = "1.3";  // version of the default-namespace endpoint
  bool verbose = false;                  // oslo/kombu debug logging to the stderr file
};

// The oslo server most suites run, a nova-compute stand-in: topic "compute" on exchange "nova",
// server `server`, on the broker at `url`.
OsloServerOptions ComputeServer(const std::string& url, const std::string& server = "host1");

class OsloProcess {
 public:
  // Starts oslo_server.py and returns once it printed {"event": "ready"} (its queues are
  // declared and bound). Errors: INVALID_ARGUMENT naming an empty url/topic/server/exchange;
  // INTERNAL (quoting the stderr tail) when the server exits first; DEADLINE_EXCEEDED
  // (quoting the stderr tail) when it is not ready within 60 s. Nothing is left running on
  // error.
  static absl::StatusOr<std::unique_ptr<OsloProcess>> StartServer(const OsloServerOptions& options);

  // Starts `/usr/bin/python3 args...` (args[0] is usually a script path, e.g.
  // RunfilePath("tests/support/oslo_client.py")). Returns at once; use WaitForLine() and
  // Wait(). INVALID_ARGUMENT for empty args; INTERNAL when it cannot be started.
  static absl::StatusOr<std::unique_ptr<OsloProcess>> Run(std::vector<std::string> args);

  // Run() of tests/support/oslo_client.py with `client_args`, e.g.
  // {"--url", url, "--topic", "compute", "call", "echo", R"({"x": 1})"}.
  static absl::StatusOr<std::unique_ptr<OsloProcess>> RunClient(
      std::vector<std::string> client_args);

  OsloProcess(const OsloProcess&) = delete;
  OsloProcess& operator=(const OsloProcess&) = delete;
  // Stop().
  ~OsloProcess();

  // SIGTERM, then SIGKILL if it has not exited after `grace`; reaps it and joins the reader.
  // The server answers SIGTERM with {"event": "stopped"} and exit 0 once oslo shut down
  // (which can take long while its broker is down: hence the bounded grace). Idempotent.
  // Returns INTERNAL only when the process could not be reaped.
  absl::Status Stop(absl::Duration grace = absl::Seconds(10));

  // Blocks until a stdout line satisfying `predicate` has been seen (lines printed before the
  // call count) and returns the first such line. DEADLINE_EXCEEDED after `timeout`;
  // NOT_FOUND when the process closed its stdout (exited) without printing one. Both quote
  // the last lines of stdout and stderr. Thread-safe; `predicate` runs under a lock, keep it
  // simple.
  absl::StatusOr<std::string> WaitForLine(std::function<bool(const std::string&)> predicate,
                                          absl::Duration timeout);

  // All complete stdout lines so far, without their '\n'. Thread-safe.
  std::vector<std::string> Lines() const;

  // Waits for the process to exit (and its stdout to be fully read) and returns its exit
  // code, or 128+N when signal N killed it. DEADLINE_EXCEEDED after `timeout` (the process
  // keeps running).
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::Seconds(120));

  pid_t pid() const { return child_->pid(); }
  const std::string& stderr_path() const { return stderr_path_; }
  // The last `max_bytes` of stderr, for failure messages.
  std::string StderrTail(size_t max_bytes = 2000) const;

 private:
  OsloProcess(std::unique_ptr<Subprocess> child, int stdout_fd, std::string stderr_path,
              int cancel_read, int cancel_write);
  // The reader thread: splits stdout into lines until EOF, or until Stop() writes to the
  // cancel pipe because a leftover grandchild keeps stdout open.
  void ReadLines(int fd, int cancel_read);
  std::string Diagnostics() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<Subprocess> child_;
  const std::string stderr_path_;
  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
  const int cancel_write_;
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_SUPPORT_OSLO_PROCESS_H_
