// Locates files that Bazel ships with a test (its `data`), so tests read the project's own
// copies and nothing outside the repository.
#ifndef CELLGW_TESTS_SUPPORT_TESTDATA_H_
#define CELLGW_TESTS_SUPPORT_TESTDATA_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::testing {

// Absolute path of `workspace_relative` (e.g. "tests/testdata/wire/cast.json") in the
// test's runfiles; falls back to the current directory outside Bazel.
std::string RunfilePath(absl::string_view workspace_relative);

// Whole contents of a runfile; NOT_FOUND when it cannot be read.
absl::StatusOr<std::string> ReadRunfile(absl::string_view workspace_relative);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_SUPPORT_TESTDATA_H_
