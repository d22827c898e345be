#include "common/ids.h"

#include <cstdint>

#include "absl/random/random.h"

namespace cellgw {
namespace {

void RandomUuidBytes(uint8_t (&bytes)[16]) {
  // One generator per thread: absl::BitGen is not thread-safe, and a shared locked one would
  // serialise every request on the hot path.
  thread_local absl::BitGen gen;
  for (int i = 0; i < 16; i += 8) {
    const uint64_t r = absl::Uniform<uint64_t>(gen);
    for (int j = 0; j < 8; ++j) bytes[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
}

std::string Format(bool dashed) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint8_t bytes[16];
  RandomUuidBytes(bytes);
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (dashed && (i == 4 || i == 6 || i == 8 || i == 10)) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace

std::string NewUuidHex() { return Format(/*dashed=*/false); }
std::string NewUuidDashed() { return Format(/*dashed=*/true); }

}  // namespace cellgw
