// The random numbers of the connection core, as an interface so that tests can fix them:
// which of a cell's broker hosts a connection tries first, and the jitter of its reconnect
// backoff (reconnect_backoff.h).
#ifndef CELLGW_BRIDGE_RANDOM_SOURCE_H_
#define CELLGW_BRIDGE_RANDOM_SOURCE_H_

namespace cellgw::bridge {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A number drawn uniformly from [lo, hi) (lo when lo >= hi). Thread-safe in every
  // implementation.
  virtual double Uniform(double lo, double hi) = 0;

  // absl::BitGen behind a mutex. A process-wide instance that lives forever.
  static RandomSource& Real();
};

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_RANDOM_SOURCE_H_
