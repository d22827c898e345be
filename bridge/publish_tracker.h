// The messages a connection has published and the broker has not confirmed yet.
//
// Where it sits: the connection core adds each message after its publish, under the
// publisher-confirm sequence number the transport returned, and takes messages out again when
// the broker confirms (ack or nack) them, or when the channel or the connection is lost. A
// message the broker returns (mandatory, no queue bound) is found by its `_unique_id` and stays
// tracked, because the broker still confirms it afterwards.
//
// Not thread-safe: the loop thread owns it.
#ifndef CELLGW_BRIDGE_PUBLISH_TRACKER_H_
#define CELLGW_BRIDGE_PUBLISH_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "bridge/outbound.h"

namespace cellgw::bridge {

class PublishTracker {
 public:
  // Tracks `message`, published under confirm sequence number `seq`. Its body is dropped: a
  // returned message carries its own copy.
  void Add(uint64_t seq, Outbound message);

  // Removes and returns what a confirm covers: the message of `seq` (none when unknown), or
  // with `multiple` every message up to and including `seq`; in publish order.
  std::vector<Outbound> TakeConfirmed(uint64_t seq, bool multiple);

  // The tracked message with this `_unique_id`, or null. It stays tracked.
  Outbound* Find(absl::string_view unique_id);

  // Removes and returns every message, in publish order.
  std::vector<Outbound> TakeAll();

  size_t size() const { return by_seq_.size(); }

 private:
  std::map<uint64_t, Outbound> by_seq_;
  absl::flat_hash_map<std::string, uint64_t> seq_by_unique_id_;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_PUBLISH_TRACKER_H_
