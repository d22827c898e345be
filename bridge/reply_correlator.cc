#include "bridge/reply_correlator.h"

#include "absl/strings/str_cat.h"

namespace cellgw::bridge {

ReplyCorrelator::ReplyCorrelator(size_t remembered_ids) : remembered_limit_(remembered_ids) {}

bool ReplyCorrelator::Add(const std::string& msg_id, absl::Time now, absl::Time deadline,
                          absl::Duration monitor, Callback callback) {
  auto [it, inserted] = calls_.try_emplace(msg_id);
  if (!inserted) return false;
  Call& call = it->second;
  call.callback = std::move(callback);
  call.deadline = deadline;
  call.monitor = monitor;
  const absl::Time effective =
      monitor > absl::ZeroDuration() ? std::min(deadline, now + monitor) : deadline;
  call.effective = absl::InfiniteFuture();
  Schedule(msg_id, call, effective);
  return true;
}

void ReplyCorrelator::Schedule(const std::string& msg_id, Call& call, absl::Time effective) {
  order_.erase({call.effective, msg_id});  // no-op for a new call
  call.effective = effective;
  order_.emplace(effective, msg_id);
}

ReplyCorrelator::Outcome ReplyCorrelator::Deliver(Reply reply, absl::Time now) {
  auto it = calls_.find(reply.msg_id);
  if (it == calls_.end()) {
    auto ended = ended_.find(reply.msg_id);
    if (ended == ended_.end()) return Outcome::kUnknown;
    return ended->second == Ended::kAnswered ? Outcome::kDuplicate : Outcome::kLate;
  }
  Call& call = it->second;
  if (reply.ending || reply.failure.has_value()) {
    // oslo's client raises on the first failure it sees, final or not.
    if (reply.result_json == "null" && call.partial_result.has_value()) {
      reply.result_json = std::move(*call.partial_result);
    }
    Finish(it, std::move(reply), Ended::kAnswered);
    return Outcome::kCompleted;
  }
  if (reply.result_json != "null") {
    call.partial_result = std::move(reply.result_json);
  }
  if (call.monitor > absl::ZeroDuration()) {
    Schedule(reply.msg_id, call, std::min(call.deadline, now + call.monitor));
  }
  return Outcome::kProgress;
}

void ReplyCorrelator::ExpireDue(absl::Time now) {
  while (!order_.empty() && order_.begin()->first <= now) {
    const std::string msg_id = order_.begin()->second;
    auto it = calls_.find(msg_id);
    const bool monitor_fired = it->second.effective < it->second.deadline;
    absl::Status status = absl::DeadlineExceededError(
        monitor_fired
            ? absl::StrCat("no heartbeat from the server within the call monitor timeout (",
                           absl::FormatDuration(it->second.monitor),
                           ") waiting for a reply to message ID ", msg_id)
            : absl::StrCat("Timed out waiting for a reply to message ID ", msg_id));
    Finish(it, std::move(status), Ended::kAbandoned);
  }
}

absl::Time ReplyCorrelator::NextDeadline() const {
  return order_.empty() ? absl::InfiniteFuture() : order_.begin()->first;
}

bool ReplyCorrelator::Fail(const std::string& msg_id, const absl::Status& status) {
  auto it = calls_.find(msg_id);
  if (it == calls_.end()) return false;
  Finish(it, status, Ended::kAbandoned);
  return true;
}

void ReplyCorrelator::FailAll(const absl::Status& status) {
  while (!calls_.empty()) Finish(calls_.begin(), status, Ended::kAbandoned);
}

void ReplyCorrelator::Finish(absl::flat_hash_map<std::string, Call>::iterator it,
                             absl::StatusOr<Reply> outcome, Ended how) {
  const std::string msg_id = it->first;
  Callback callback = std::move(it->second.callback);
  order_.erase({it->second.effective, msg_id});
  calls_.erase(it);
  Remember(msg_id, how);
  // Last: the callback may re-enter (e.g. to submit another call).
  callback(std::move(outcome));
}

void ReplyCorrelator::Remember(const std::string& msg_id, Ended how) {
  if (remembered_limit_ == 0) return;
  if (ended_.insert_or_assign(msg_id, how).second) ended_order_.push_back(msg_id);
  while (ended_order_.size() > remembered_limit_) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

}  // namespace cellgw::bridge
