// A RandomSource for tests (tests/bridge) that always draws the same point of the range.
#ifndef CELLGW_TESTS_BRIDGE_FAKE_RANDOM_H_
#define CELLGW_TESTS_BRIDGE_FAKE_RANDOM_H_

#include "bridge/random_source.h"

namespace cellgw::testing {

// A RandomSource that always draws the same point of the range: lo + fraction * (hi - lo).
// Thread-safe (immutable).
class FixedRandom final : public bridge::RandomSource {
 public:
  explicit FixedRandom(double fraction) : fraction_(fraction) {}
  double Uniform(double lo, double hi) override { return lo + fraction_ * (hi - lo); }

 private:
  const double fraction_;
};

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_BRIDGE_FAKE_RANDOM_H_
