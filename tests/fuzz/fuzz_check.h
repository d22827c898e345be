// Invariant checks for the libFuzzer targets of tests/fuzz (namespace cellgw::fuzz). A target
// must not only survive its input: it checks what the code under test promises, and a broken
// promise prints the condition, the values involved and the input, then aborts, which
// libFuzzer reports as a crash (saving the input) and the corpus tests report as a failure.
#ifndef CELLGW_TESTS_FUZZ_FUZZ_CHECK_H_
#define CELLGW_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cellgw::fuzz {

// `text` C-escaped for a report, cut at 400 bytes: an input can be megabytes long.
inline std::string Show(absl::string_view text) {
  constexpr size_t kMaxShown = 400;
  if (text.size() <= kMaxShown) return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxShown)), "\"... (", text.size(),
                      " bytes)");
}

[[noreturn]] inline void FailCheck(const char* file, int line, const char* condition,
                                   const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n%s\n", file, line, condition,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// True when `text` is strictly valid UTF-8 (no surrogates, no overlong forms, nothing above
// U+10FFFF): an oracle written independently of bridge/json_text's decoder.
inline bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t cp;
    uint32_t min;
    if ((lead & 0xe0) == 0xc0) {
      length = 2, cp = lead & 0x1f, min = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, cp = lead & 0x0f, min = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, cp = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

// True when every byte is printable ASCII (0x20..0x7e): what Python's json.dumps writes with
// ensure_ascii and its default separators.
inline bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) return false;
  }
  return true;
}

}  // namespace cellgw::fuzz

// Aborts with a report when `condition` is false; the remaining arguments (anything
// absl::StrCat takes) describe the values involved.
#define CELLGW_FUZZ_CHECK(condition, ...)                                                    \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      ::cellgw::fuzz::FailCheck(__FILE__, __LINE__, #condition, ::absl::StrCat(__VA_ARGS__)); \
    }                                                                                        \
  } while (false)

#endif  // CELLGW_TESTS_FUZZ_FUZZ_CHECK_H_
