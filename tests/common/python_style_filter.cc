// python_style_filter: cellgw::json::AppendPythonStyle as a filter, for the Python oracle of
// json_emitter_oracle_test.py, which sends thousands of documents through one process.
//
// Reads frames from stdin until end of input: a decimal byte count, '\n', that many bytes
// (one document). Writes one frame per document to stdout: "ok <n>\n" followed by the n
// bytes AppendPythonStyle wrote, or "error <n>\n" followed by the n bytes of its status
// message. Exits 0 at the end of input, 2 on a malformed frame.
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "common/json_text.h"

namespace {

void WriteFrame(const char* kind, const std::string& bytes) {
  std::cout << kind << ' ' << bytes.size() << '\n';
  std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string header;
  while (std::getline(std::cin, header)) {
    size_t size = 0;
    if (!absl::SimpleAtoi(header, &size)) {
      std::cerr << "python_style_filter: bad frame header\n";
      return 2;
    }
    std::string document(size, '\0');
    if (!std::cin.read(document.data(), static_cast<std::streamsize>(size))) {
      std::cerr << "python_style_filter: truncated frame\n";
      return 2;
    }
    std::string out;
    const absl::Status status = cellgw::json::AppendPythonStyle(document, &out);
    if (status.ok()) {
      WriteFrame("ok", out);
    } else {
      WriteFrame("error", std::string(status.message()));
    }
    std::cout.flush();
  }
  return 0;
}
