// Messages and outcomes for unit tests of the connection core and the cell connection
// (tests/bridge): Outbound casts and calls whose callbacks record what they received, and
// reply bodies as an oslo server sends them.
#ifndef CELLGW_TESTS_BRIDGE_TEST_MESSAGES_H_
#define CELLGW_TESTS_BRIDGE_TEST_MESSAGES_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/outbound.h"

namespace cellgw::testing {

// What one message's callback received. Thread-safe: a test may wait for a callback that runs
// on a connection's loop thread.
class Outcome {
 public:
  void Record(absl::Status status, std::string result_json = "");
  // Blocks until the callback has run, at most `timeout`; returns whether it ran.
  bool Await(absl::Duration timeout) const;
  int runs() const;
  absl::Status status() const;
  std::string result_json() const;

 private:
  mutable absl::Mutex mu_;
  int runs_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::string result_json_ ABSL_GUARDED_BY(mu_);
};

// A cast to `routing_key` on the topic exchange `exchange` (non-durable, the control exchange
// of the tests' cell when `exchange` is "nova"), mandatory, with a fresh _unique_id, recording
// its confirmation in `outcome` (which must outlive the message).
bridge::Outbound TestCast(Outcome& outcome, const std::string& exchange = "nova",
                          const std::string& routing_key = "compute");
// A fanout to `<topic>_fanout`, recording its confirmation.
bridge::Outbound TestFanout(Outcome& outcome, const std::string& topic = "compute");
// A call with `msg_id` to "compute" on "nova", ending at `deadline`, with call monitoring
// `monitor` (zero = off), recording its result in `outcome`.
bridge::Outbound TestCall(Outcome& outcome, const std::string& msg_id, absl::Time deadline,
                          absl::Duration monitor = absl::ZeroDuration());

// The reply an oslo server sends for `msg_id`: final (`ending`) with `result_json`.
std::string ReplyBody(const std::string& msg_id, const std::string& result_json,
                      bool ending = true);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_BRIDGE_TEST_MESSAGES_H_
