#include "gateway/security/context_rules.h"

#include "absl/strings/str_cat.h"
#include "gateway/security/glob.h"

namespace cellgw::gateway {

absl::StatusOr<ContextTemplate> ContextTemplate::Parse(absl::string_view text) {
  ContextTemplate result;
  result.text_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    result.pieces_.push_back({Part::kLiteral, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        ++i;
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat("a lone '}' at byte ", i, " (write }} for a literal brace)"));
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal.push_back('{');
      ++i;
      continue;
    }
    const size_t close = text.find('}', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("a '{' at byte ", i, " is never closed (write {{ for a literal brace)"));
    }
    const absl::string_view name = text.substr(i + 1, close - i - 1);
    Part part;
    if (name == "identity") {
      part = Part::kIdentity;
    } else if (name == "caller") {
      part = Part::kCaller;
    } else {
      // Placeholder names are short words; anything longer is quoted cut short.
      return absl::InvalidArgumentError(
          absl::StrCat("unknown placeholder {", name.substr(0, 40), name.size() > 40 ? "..." : "",
                       "} (known: {identity}, {caller}; {{ and }} for literal braces)"));
    }
    flush();
    result.pieces_.push_back({part, ""});
    i = close;
  }
  flush();
  return result;
}

std::string ContextTemplate::Expand(absl::string_view identity, absl::string_view caller) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    switch (piece.part) {
      case Part::kLiteral:
        out += piece.literal;
        break;
      case Part::kIdentity:
        absl::StrAppend(&out, identity);
        break;
      case Part::kCaller:
        absl::StrAppend(&out, caller);
        break;
    }
  }
  return out;
}

ContextPolicy MakeContextPolicy(const ContextRules& rules, absl::string_view identity,
                                absl::string_view caller) {
  ContextPolicy policy;
  if (!rules.deny.empty()) policy.deny = &rules.deny;
  for (const auto& [key, value] : rules.set) {
    policy.set.emplace_back(key, value.Expand(identity, caller));
  }
  policy.caller = std::string(caller);
  return policy;
}

bool DeniesKey(const ContextPolicy& policy, absl::string_view key) {
  return policy.deny != nullptr && AnyGlobMatches(*policy.deny, key);
}

}  // namespace cellgw::gateway
