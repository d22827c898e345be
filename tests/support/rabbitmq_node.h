// A private RabbitMQ node for one integration-test binary (tests/support). Integration tests
// start one (or two) in $TEST_TMPDIR, point the gateway and the oslo.messaging peers
// (oslo_process.h) at Url(), and the destructor stops it. tests/support/rabbitmq_node.py is
// the same recipe for Python tests and the demo.
//
// Several nodes can run at once on one machine (Bazel runs test binaries in parallel): each
// has its own epmd on its own loopback port, node name, Erlang cookie (a private HOME),
// AMQP and distribution ports, and data/log/config files under its workdir. Nothing binds
// anything but 127.0.0.1. Its epmd is socket-activated from a socket this class binds, so
// it is ready before the broker starts and is our own child with a known PID; every Erlang
// process of the node runs with `-start_epmd false`, so no stray `epmd -daemon` appears.
//
// Stopping is by PID and leaves nothing running: `rabbitmqctl stop`, then waiting (on a
// pidfd, not a sleep) for the server process, SIGKILL of its process group as a fallback,
// then the node's epmd. Should the test binary die without stopping the node (a crash, or
// Bazel's timeout), a small guardian process notices its pipe from the test closing and
// SIGKILLs the server's group and epmd, so no broker outlives its test.
//
// Not thread-safe: one thread (the test's) starts, controls and stops a node.
#ifndef CELLGW_TESTS_SUPPORT_RABBITMQ_NODE_H_
#define CELLGW_TESTS_SUPPORT_RABBITMQ_NODE_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace cellgw::testing {

// An extra AMQP-over-TLS listener (amqps) on 127.0.0.1:amqps_port(), for tests of TLS to
// brokers. The files are PEM paths the broker reads at start-up (RabbitMQ's ssl_options).
struct RabbitMqTlsOptions {
  std::string ca_file;    // CA bundle client certificates are verified against
  std::string cert_file;  // the node's certificate
  std::string key_file;   // its private key (unencrypted)
  // true: the handshake fails unless the client sends a certificate that chains to ca_file.
  bool require_client_cert = false;
};

class RabbitMqNode {
 public:
  // Starts a node whose files live under `workdir` (created if missing; e.g.
  // $TEST_TMPDIR/rmq; use one workdir per node) and returns once RabbitMQ has booted
  // (~6 s). Errors: INTERNAL when it does not boot (the message quotes the tail of
  // <workdir>/server.out), DEADLINE_EXCEEDED when it does not boot within 120 s, INTERNAL
  // for file or process errors. Nothing is left running on error.
  static absl::StatusOr<std::unique_ptr<RabbitMqNode>> Start(const std::string& workdir);
  // The same, with an amqps listener as well (on its own free port; the plain one stays).
  static absl::StatusOr<std::unique_ptr<RabbitMqNode>> Start(const std::string& workdir,
                                                             const RabbitMqTlsOptions& tls);

  RabbitMqNode(const RabbitMqNode&) = delete;
  RabbitMqNode& operator=(const RabbitMqNode&) = delete;
  // Stop(); errors are ignored (there is no one left to report them to).
  ~RabbitMqNode();

  // Stops the server and its epmd; every process of the node is gone on return, even when
  // `rabbitmqctl stop` failed (SIGKILL fallback). Idempotent. Returns INTERNAL only when a
  // process could not be reaped.
  absl::Status Stop();

  // SIGKILLs the server's process group (a crash, for resilience tests) and reaps it; epmd
  // keeps running. FAILED_PRECONDITION when the server is not running.
  absl::Status KillHard();

  // Starts the node again with the same name, ports, cookie and data, after Stop() or
  // KillHard(). FAILED_PRECONDITION when it is running; otherwise the errors of Start()
  // (a port taken by someone else in between makes it fail).
  absl::Status Restart();

  // Creates `vhost` and gives guest full permissions on it. Errors of Ctl().
  absl::Status AddVhost(const std::string& vhost);

  // Runs `rabbitmqctl -q -n <node> args...` and returns its stdout. FAILED_PRECONDITION
  // when the node is not running, INTERNAL (quoting the output) on a non-zero exit,
  // DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<std::string> Ctl(const std::vector<std::string>& args,
                                  absl::Duration timeout = absl::Seconds(120));

  // rabbit://guest:guest@127.0.0.1:<port>/<vhost>, the vhost percent-encoded ('/' included);
  // the default vhost "/" is written as an empty path, as oslo and kombu write it.
  std::string Url(const std::string& vhost = "/") const;

  int amqp_port() const { return amqp_port_; }
  int amqps_port() const { return amqps_port_; }  // 0 without a TLS listener
  int epmd_port() const { return epmd_port_; }
  const std::string& node_name() const { return node_; }  // e.g. "cellgw_41234@localhost"
  const std::string& workdir() const { return workdir_; }
  // The server's process (the rabbitmq-server script, leader of the node's process group);
  // -1 when not running.
  pid_t pid() const;
  // The Erlang VM (beam.smp) of the running server, from its PID file; -1 when unknown.
  pid_t beam_pid() const { return beam_pid_; }
  // The node's epmd; -1 after Stop().
  pid_t epmd_pid() const;

 private:
  explicit RabbitMqNode(std::string workdir) : workdir_(std::move(workdir)) {}
  static absl::StatusOr<std::unique_ptr<RabbitMqNode>> StartNode(
      const std::string& workdir, const std::optional<RabbitMqTlsOptions>& tls);
  absl::Status Prepare();  // ports, name, cookie, config files
  absl::Status StartEpmd();
  absl::Status StartServer();
  absl::Status StopEpmd();
  absl::Status StartGuardian();
  void StopGuardian();
  std::vector<std::string> Environment() const;
  std::vector<std::string> CtlArgv(const std::vector<std::string>& args) const;
  std::string Path(const std::string& name) const { return workdir_ + "/" + name; }

  const std::string workdir_;
  int amqp_port_ = 0;
  int amqps_port_ = 0;
  std::optional<RabbitMqTlsOptions> tls_;
  int dist_port_ = 0;
  int epmd_port_ = 0;
  std::string node_;
  std::vector<std::string> env_;
  std::unique_ptr<Subprocess> server_;
  std::unique_ptr<Subprocess> epmd_;
  std::unique_ptr<Subprocess> guardian_;
  int guardian_pipe_ = -1;  // write end; the guardian acts when it closes
  pid_t beam_pid_ = -1;
  int ctl_runs_ = 0;  // names each rabbitmqctl run's capture files
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_SUPPORT_RABBITMQ_NODE_H_
