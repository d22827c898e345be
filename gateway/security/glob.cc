#include "gateway/security/glob.h"

namespace cellgw::gateway {

// The classic greedy matcher: on a mismatch after a '*', that star absorbs one more byte and
// matching resumes behind it. Only the most recent star needs revisiting, because any match
// an earlier star could enable is also reachable by extending the later one.
bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = absl::string_view::npos;  // position of the last '*' seen in `pattern`
  size_t star_text = 0;                   // where in `text` that star's run ends for now
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool AnyGlobMatches(const std::vector<std::string>& patterns, absl::string_view text) {
  for (const std::string& pattern : patterns) {
    if (GlobMatch(pattern, text)) return true;
  }
  return false;
}

}  // namespace cellgw::gateway
