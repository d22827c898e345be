// Matches replies arriving on a connection's reply queue to the calls waiting for them, by
// `_msg_id`, and ends calls at their deadlines.
//
// Where it sits: each CellConnection owns one ReplyCorrelator and uses it only from its
// event-loop thread, so the class is deliberately not thread-safe. Time is passed in by the
// caller (never read from a clock here), which makes every deadline rule testable exactly.
//
// Reply rules, as oslo.messaging's client (wire spec 7.4): a message with `ending: true` ends
// the call (with its result or failure); `ending: false` with a null result and no failure is a
// call-monitor heartbeat and pushes the monitor deadline out; an older peer's result without
// `ending` is kept and delivered when the final `ending: true` arrives. Replies for calls
// that already ended are classified as duplicate (the call was answered) or late (the call
// had timed out or failed), anything else as unknown; the caller counts and drops them.
#ifndef CELLGW_BRIDGE_REPLY_CORRELATOR_H_
#define CELLGW_BRIDGE_REPLY_CORRELATOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/envelope.h"

namespace cellgw::bridge {

class ReplyCorrelator {
 public:
  // Receives the final reply, or DEADLINE_EXCEEDED / the status passed to Fail or FailAll.
  // Runs exactly once per call.
  using Callback = std::function<void(absl::StatusOr<Reply>)>;

  enum class Outcome {
    kCompleted,  // the call ended with this reply
    kProgress,   // a heartbeat or a non-final partial reply; the call goes on
    kDuplicate,  // the call was already answered
    kLate,       // the call had already timed out or failed
    kUnknown,    // no call with this msg_id was ever seen (within the memory of this object)
  };

  // `remembered_ids` bounds the memory of ended calls used to tell duplicate and late
  // replies from unknown ones.
  explicit ReplyCorrelator(size_t remembered_ids = 4096);

  // Registers a call. `deadline` ends it with DEADLINE_EXCEEDED. A non-zero `monitor` also
  // ends it when neither a heartbeat nor the reply arrives within `monitor` of `now` or of
  // the last heartbeat. A msg_id already pending is a caller bug: returns false and does
  // not register.
  bool Add(const std::string& msg_id, absl::Time now, absl::Time deadline,
           absl::Duration monitor, Callback callback);

  // Hands a decoded reply to its call.
  Outcome Deliver(Reply reply, absl::Time now);

  // Ends every call whose deadline is at or before `now` with DEADLINE_EXCEEDED.
  void ExpireDue(absl::Time now);

  // The earliest pending deadline, or InfiniteFuture when nothing is pending.
  absl::Time NextDeadline() const;

  // Ends one call with `status` (e.g. its publish was returned unroutable). False when it
  // was not pending.
  bool Fail(const std::string& msg_id, const absl::Status& status);

  // Ends every pending call with `status`.
  void FailAll(const absl::Status& status);

  size_t pending() const { return calls_.size(); }

 private:
  struct Call {
    Callback callback;
    absl::Time deadline;         // overall deadline
    absl::Duration monitor;      // zero = no call monitoring
    absl::Time effective;        // min(deadline, last heartbeat + monitor): the key in `order_`
    std::optional<std::string> partial_result;  // result of a non-final reply (older peers)
  };
  enum class Ended { kAnswered, kAbandoned };

  void Schedule(const std::string& msg_id, Call& call, absl::Time effective);
  void Finish(absl::flat_hash_map<std::string, Call>::iterator it, absl::StatusOr<Reply> outcome,
              Ended how);
  void Remember(const std::string& msg_id, Ended how);

  absl::flat_hash_map<std::string, Call> calls_;
  std::set<std::pair<absl::Time, std::string>> order_;  // (effective deadline, msg_id)
  size_t remembered_limit_;
  absl::flat_hash_map<std::string, Ended> ended_;
  std::deque<std::string> ended_order_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_REPLY_CORRELATOR_H_
