#include "bridge/publish_tracker.h"

#include <utility>

namespace cellgw::bridge {

void PublishTracker::Add(uint64_t seq, Outbound message) {
  message.body = std::string();
  seq_by_unique_id_[message.unique_id] = seq;
  by_seq_.insert_or_assign(seq, std::move(message));
}

std::vector<Outbound> PublishTracker::TakeConfirmed(uint64_t seq, bool multiple) {
  auto begin = by_seq_.begin();
  auto end = by_seq_.upper_bound(seq);
  if (!multiple) {
    begin = by_seq_.find(seq);
    if (begin == by_seq_.end()) return {};
  }
  std::vector<Outbound> taken;
  for (auto it = begin; it != end; ++it) {
    seq_by_unique_id_.erase(it->second.unique_id);
    taken.push_back(std::move(it->second));
  }
  by_seq_.erase(begin, end);
  return taken;
}

Outbound* PublishTracker::Find(absl::string_view unique_id) {
  auto index = seq_by_unique_id_.find(unique_id);
  if (index == seq_by_unique_id_.end()) return nullptr;
  auto it = by_seq_.find(index->second);
  return it == by_seq_.end() ? nullptr : &it->second;
}

std::vector<Outbound> PublishTracker::TakeAll() {
  std::vector<Outbound> taken;
  taken.reserve(by_seq_.size());
  for (auto& [seq, message] : by_seq_) taken.push_back(std::move(message));
  by_seq_.clear();
  seq_by_unique_id_.clear();
  return taken;
}

}  // namespace cellgw::bridge
