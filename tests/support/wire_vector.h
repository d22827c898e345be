// The captured oslo.messaging messages of tests/testdata/wire (see its README.md), read with
// the codec's own JSON helpers, for the codecs' table tests. gtest-aware: a vector that cannot
// be read, or a key it lacks, fails the calling test.
#ifndef CELLGW_TESTS_SUPPORT_WIRE_VECTOR_H_
#define CELLGW_TESTS_SUPPORT_WIRE_VECTOR_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace cellgw::testing {

// One captured message: the exact AMQP body, its routing key, and the members of its
// decoded_message (raw JSON values, as pretty-printed in the vector file).
struct WireVector {
  std::string body;
  std::string routing_key;
  std::vector<std::pair<std::string, std::string>> decoded;  // key, raw value

  bool Has(absl::string_view key) const;
  // The raw value of decoded_message.<key>; fails the test (and returns "") when absent.
  std::string Raw(absl::string_view key) const;
  // The same, decoded from a JSON string; fails the test when it is not one.
  std::string String(absl::string_view key) const;
};

// tests/testdata/wire/<name>.json; fails the test when it cannot be read or parsed. Needs
// `data = ["//tests/testdata:wire_vectors"]`.
WireVector LoadWireVector(absl::string_view name);

// `json_text` re-emitted as Python's json.dumps prints it (json::AppendPythonStyle); fails the
// test when it is not valid JSON. Compares a vector's pretty-printed values with wire text.
std::string PythonStyle(absl::string_view json_text);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_SUPPORT_WIRE_VECTOR_H_
