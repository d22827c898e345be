// When a cell connection tries again after a failed connection attempt, and which broker host
// it tries: capped exponential backoff with jitter, hosts in turn.
//
// Where it sits: the connection core (connection_core.h) asks it for the host of each attempt
// and, after a failure, for the wait before the next one. Pure logic: the random numbers come
// from a RandomSource, and no clock is read. Not thread-safe (the loop thread owns it).
#ifndef CELLGW_BRIDGE_RECONNECT_BACKOFF_H_
#define CELLGW_BRIDGE_RECONNECT_BACKOFF_H_

#include <cstddef>

#include "absl/time/time.h"
#include "bridge/random_source.h"

namespace cellgw::bridge {

class ReconnectBackoff {
 public:
  // Waits start at `initial` and double up to `max`; `hosts` (at least 1) are tried in turn,
  // starting from a random one so that a gateway's connections do not all start on the same
  // host. `random` must outlive this object.
  ReconnectBackoff(absl::Duration initial, absl::Duration max, size_t hosts,
                   RandomSource& random);

  // The index of the host the next attempt goes to.
  size_t host() const { return host_; }

  // After a failed attempt: moves to the next host and returns how long to wait before
  // trying it, the current step times a random factor in [0.5, 1) (jitter, so that
  // connections that failed together do not retry in lockstep). The step then doubles, up to
  // `max`.
  absl::Duration Failed();

  // After a successful connection: the next failure waits `initial` again. The host stays.
  void Succeeded() { step_ = initial_; }

  // The step the next Failed() draws its wait from.
  absl::Duration step() const { return step_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const size_t hosts_;
  RandomSource& random_;
  absl::Duration step_;
  size_t host_ = 0;
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_RECONNECT_BACKOFF_H_
