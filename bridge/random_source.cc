#include "bridge/random_source.h"

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"

namespace cellgw::bridge {
namespace {

class RealRandom final : public RandomSource {
 public:
  double Uniform(double lo, double hi) override {
    if (lo >= hi) return lo;
    absl::MutexLock lock(&mu_);
    return absl::Uniform<double>(gen_, lo, hi);
  }

 private:
  absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

RandomSource& RandomSource::Real() {
  static RealRandom* const random = new RealRandom();
  return *random;
}

}  // namespace cellgw::bridge
