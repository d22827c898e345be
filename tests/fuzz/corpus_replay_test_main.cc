// Runs one tests/fuzz target over its seed corpus as a GoogleTest test, without libFuzzer: each
// `<target>_corpus_test` links the target's LLVMFuzzerTestOneInput with this file. So the
// targets' invariants are checked on every input of the repository's corpus by a plain
// `bazel test` (g++), and under --config=asan and --config=tsan, not only when fuzzing.
//
//   <target>_corpus_test <corpus directory>     (the BUILD rule passes it)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace cellgw::fuzz {
namespace {

std::string corpus_dir;

struct CorpusInput {
  std::string name;
  std::string bytes;
};

std::vector<CorpusInput> ReadCorpus() {
  std::vector<CorpusInput> inputs;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir, error)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    inputs.push_back(CorpusInput{entry.path().filename().string(),
                                 std::string(std::istreambuf_iterator<char>(file), {})});
  }
  return inputs;
}

// Passes the first `size` bytes in a heap block of exactly that size, as libFuzzer does, so
// that ASan sees a read past the end of the input (a std::string has spare capacity).
void RunExact(const std::string& bytes, size_t size) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  std::memcpy(copy.get(), bytes.data(), size);
  LLVMFuzzerTestOneInput(copy.get(), size);
}

// A failed invariant aborts the process: say first which input is running, so the log shows it.
void RunInput(const std::string& label, const std::string& bytes) {
  std::fprintf(stderr, "input: %s (%zu bytes)\n", label.c_str(), bytes.size());
  RunExact(bytes, bytes.size());
}

TEST(FuzzCorpusTest, CorpusDirectoryHoldsInputs) {
  EXPECT_FALSE(ReadCorpus().empty()) << "no input files in " << corpus_dir;
}

TEST(FuzzCorpusTest, EveryCorpusInputKeepsTheTargetsInvariants) {
  for (const CorpusInput& input : ReadCorpus()) RunInput(input.name, input.bytes);
  RunInput("(empty input)", "");
}

// Every truncation of every input: the error paths a peer reaches by cutting a message short.
// Inputs longer than kMaxPrefixTestedBytes (the deep-nesting seeds) are left out: their
// prefixes would cost time quadratic in their size.
TEST(FuzzCorpusTest, EveryPrefixOfEveryCorpusInputKeepsTheTargetsInvariants) {
  constexpr size_t kMaxPrefixTestedBytes = 8192;
  for (const CorpusInput& input : ReadCorpus()) {
    if (input.bytes.size() > kMaxPrefixTestedBytes) continue;
    std::fprintf(stderr, "prefixes of: %s\n", input.name.c_str());
    for (size_t length = 0; length < input.bytes.size(); ++length) RunExact(input.bytes, length);
  }
}

}  // namespace
}  // namespace cellgw::fuzz

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  cellgw::fuzz::corpus_dir = argv[1];
  return RUN_ALL_TESTS();
}
