#include "common/json_text.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cellgw::json {
namespace {

using Bytes = const unsigned char*;

// Bytes that Python's ensure_ascii encoder copies unchanged: printable ASCII except '"' and
// '\'. Everything else (controls, DEL, non-ASCII) is escaped.
constexpr std::array<bool, 256> MakeEmitPlain() {
  std::array<bool, 256> table{};
  for (int c = 0x20; c <= 0x7e; ++c) table[c] = true;
  table['"'] = false;
  table['\\'] = false;
  return table;
}

// Bytes that need no further look while scanning a string literal: ASCII from space to DEL
// except '"' and '\' (RFC 8259 only forbids raw characters below 0x20).
constexpr std::array<bool, 256> MakeScanPlain() {
  std::array<bool, 256> table{};
  for (int c = 0x20; c <= 0x7f; ++c) table[c] = true;
  table['"'] = false;
  table['\\'] = false;
  return table;
}

constexpr std::array<bool, 256> kEmitPlain = MakeEmitPlain();
constexpr std::array<bool, 256> kScanPlain = MakeScanPlain();
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr uint32_t kReplacementCharacter = 0xfffd;

absl::Status SyntaxError(size_t offset, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid JSON at byte offset ", offset, ": ", what));
}

// Shows a byte in an error message without echoing control or non-ASCII bytes.
std::string DescribeByte(unsigned char c) {
  if (c >= 0x21 && c <= 0x7e) return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
  return absl::StrFormat("byte 0x%02x", c);
}

inline bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

inline size_t SkipWhitespace(Bytes base, size_t size, size_t pos) {
  while (pos < size) {
    const unsigned char c = base[pos];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
    ++pos;
  }
  return pos;
}

inline int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at base[pos..pos+4) as a code unit, or -1.
inline int32_t ReadHex4(Bytes base, size_t size, size_t pos) {
  if (size < 4 || pos > size - 4) return -1;
  int32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    const int digit = HexValue(base[pos + i]);
    if (digit < 0) return -1;
    value = (value << 4) | digit;
  }
  return value;
}

inline bool IsSurrogate(uint32_t cp) { return cp >= 0xd800 && cp <= 0xdfff; }

// Decodes the UTF-8 sequence at p (with *p >= 0x80) the way CPython's strict decoder accepts
// it. Returns its length and sets *cp, or returns 0 when it is invalid (truncated, overlong,
// an encoded surrogate, or above U+10FFFF).
inline int DecodeUtf8(Bytes p, Bytes end, uint32_t* cp) {
  const unsigned char lead = p[0];
  const size_t available = static_cast<size_t>(end - p);
  auto cont = [&](size_t i) { return (p[i] & 0xc0) == 0x80; };
  if (lead >= 0xc2 && lead <= 0xdf) {
    if (available < 2 || !cont(1)) return 0;
    *cp = ((lead & 0x1fu) << 6) | (p[1] & 0x3fu);
    return 2;
  }
  if (lead >= 0xe0 && lead <= 0xef) {
    if (available < 3 || !cont(1) || !cont(2)) return 0;
    if (lead == 0xe0 && p[1] < 0xa0) return 0;  // overlong
    if (lead == 0xed && p[1] > 0x9f) return 0;  // surrogate
    *cp = ((lead & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
    return 3;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    if (available < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    if (lead == 0xf0 && p[1] < 0x90) return 0;  // overlong
    if (lead == 0xf4 && p[1] > 0x8f) return 0;  // above U+10FFFF
    *cp = ((lead & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
    return 4;
  }
  return 0;
}

inline void AppendU16Escape(uint32_t unit, std::string* out) {
  const char escape[6] = {'\\',
                          'u',
                          kHexDigits[(unit >> 12) & 0xf],
                          kHexDigits[(unit >> 8) & 0xf],
                          kHexDigits[(unit >> 4) & 0xf],
                          kHexDigits[unit & 0xf]};
  out->append(escape, sizeof(escape));
}

// One code point as Python's ensure_ascii encoder writes it inside a string literal.
inline void AppendCodePointPython(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    switch (cp) {
      case '"':
        out->append("\\\"", 2);
        return;
      case '\\':
        out->append("\\\\", 2);
        return;
      case '\n':
        out->append("\\n", 2);
        return;
      case '\r':
        out->append("\\r", 2);
        return;
      case '\t':
        out->append("\\t", 2);
        return;
      case '\b':
        out->append("\\b", 2);
        return;
      case '\f':
        out->append("\\f", 2);
        return;
      default:
        if (kEmitPlain[cp]) {
          out->push_back(static_cast<char>(cp));
        } else {
          AppendU16Escape(cp, out);
        }
        return;
    }
  }
  if (cp < 0x10000) {
    AppendU16Escape(cp, out);
    return;
  }
  const uint32_t offset = cp - 0x10000;
  AppendU16Escape(0xd800 | (offset >> 10), out);
  AppendU16Escape(0xdc00 | (offset & 0x3ff), out);
}

inline void AppendUtf8(uint32_t cp, std::string* out) {
  char bytes[4];
  size_t n;
  if (cp < 0x80) {
    bytes[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    bytes[0] = static_cast<char>(0xc0 | (cp >> 6));
    bytes[1] = static_cast<char>(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    bytes[0] = static_cast<char>(0xe0 | (cp >> 12));
    bytes[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    bytes[2] = static_cast<char>(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    bytes[0] = static_cast<char>(0xf0 | (cp >> 18));
    bytes[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    bytes[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    bytes[3] = static_cast<char>(0x80 | (cp & 0x3f));
    n = 4;
  }
  out->append(bytes, n);
}

// What ScanString does with the characters it reads.
enum class StringMode {
  kValidate,  // nothing written; lone surrogate escapes allowed (as Python)
  kPython,    // re-emitted in ensure_ascii style, quotes included
  kDecode,    // decoded to UTF-8, quotes excluded; lone surrogate escapes refused
};

// Scans the string literal whose opening quote is at text[*pos]; on success *pos is just past
// the closing quote. Offsets in errors are absolute positions in `text`.
template <StringMode kMode>
absl::Status ScanString(absl::string_view text, size_t* pos_io, std::string* out) {
  const Bytes base = reinterpret_cast<Bytes>(text.data());
  const size_t size = text.size();
  const size_t open = *pos_io;
  size_t pos = open + 1;
  if constexpr (kMode == StringMode::kPython) out->push_back('"');
  for (;;) {
    // Fast path: copy a run of bytes that need no treatment in one append.
    const size_t run = pos;
    if constexpr (kMode == StringMode::kPython) {
      while (pos < size && kEmitPlain[base[pos]]) ++pos;
    } else {
      while (pos < size && kScanPlain[base[pos]]) ++pos;
    }
    if constexpr (kMode != StringMode::kValidate) {
      if (pos > run) out->append(text.data() + run, pos - run);
    }
    if (pos >= size) return SyntaxError(open, "unterminated string");
    const unsigned char c = base[pos];
    if (c == '"') {
      if constexpr (kMode == StringMode::kPython) out->push_back('"');
      *pos_io = pos + 1;
      return absl::OkStatus();
    }
    if (c == '\\') {
      const size_t escape_at = pos;
      if (pos + 1 >= size) return SyntaxError(open, "unterminated string");
      uint32_t cp;
      switch (base[pos + 1]) {
        case '"':
          cp = '"';
          break;
        case '\\':
          cp = '\\';
          break;
        case '/':
          cp = '/';
          break;
        case 'b':
          cp = '\b';
          break;
        case 'f':
          cp = '\f';
          break;
        case 'n':
          cp = '\n';
          break;
        case 'r':
          cp = '\r';
          break;
        case 't':
          cp = '\t';
          break;
        case 'u': {
          const int32_t unit = ReadHex4(base, size, pos + 2);
          if (unit < 0) return SyntaxError(escape_at, "\\u escape needs four hex digits");
          cp = static_cast<uint32_t>(unit);
          pos += 4;  // the 2 common bytes are added below
          // Like Python, join a high surrogate with an immediately following escaped low one;
          // anything else leaves it lone.
          if (cp >= 0xd800 && cp <= 0xdbff && pos + 2 + 1 < size && base[pos + 2] == '\\' &&
              base[pos + 3] == 'u') {
            const int32_t low = ReadHex4(base, size, pos + 4);
            if (low >= 0xdc00 && low <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (static_cast<uint32_t>(low) - 0xdc00);
              pos += 6;
            }
          }
          if constexpr (kMode == StringMode::kDecode) {
            if (IsSurrogate(cp)) {
              return SyntaxError(escape_at,
                                 "\\u escape names a lone surrogate, which UTF-8 cannot hold");
            }
          }
          break;
        }
        default:
          return SyntaxError(escape_at,
                             absl::StrCat("invalid escape \\", DescribeByte(base[pos + 1])));
      }
      pos += 2;
      if constexpr (kMode == StringMode::kPython) AppendCodePointPython(cp, out);
      if constexpr (kMode == StringMode::kDecode) AppendUtf8(cp, out);
      continue;
    }
    if (c < 0x20) {
      return SyntaxError(pos, absl::StrCat("raw control character ", DescribeByte(c),
                                           " in string (must be escaped)"));
    }
    if (c < 0x80) {  // DEL in Python mode: valid, but escaped on output
      if constexpr (kMode == StringMode::kPython) AppendU16Escape(c, out);
      ++pos;
      continue;
    }
    uint32_t cp;
    const int length = DecodeUtf8(base + pos, base + size, &cp);
    if (length == 0) return SyntaxError(pos, "invalid UTF-8 in string");
    if constexpr (kMode == StringMode::kPython) AppendCodePointPython(cp, out);
    if constexpr (kMode == StringMode::kDecode) out->append(text.data() + pos, length);
    pos += length;
  }
}

// Scans the number at text[*pos] (RFC 8259 grammar, which is also Python's).
absl::Status ScanNumber(Bytes base, size_t size, size_t* pos_io) {
  const size_t start = *pos_io;
  size_t pos = start;
  if (base[pos] == '-') ++pos;
  if (pos >= size || !IsDigit(base[pos])) {
    return SyntaxError(start, "invalid number: '-' must be followed by a digit");
  }
  if (base[pos] == '0') {
    ++pos;  // a following digit is then "data after the value" (no leading zeros)
  } else {
    while (pos < size && IsDigit(base[pos])) ++pos;
  }
  if (pos < size && base[pos] == '.') {
    ++pos;
    if (pos >= size || !IsDigit(base[pos])) {
      return SyntaxError(pos, "invalid number: '.' must be followed by a digit");
    }
    while (pos < size && IsDigit(base[pos])) ++pos;
  }
  if (pos < size && (base[pos] == 'e' || base[pos] == 'E')) {
    ++pos;
    if (pos < size && (base[pos] == '+' || base[pos] == '-')) ++pos;
    if (pos >= size || !IsDigit(base[pos])) {
      return SyntaxError(pos, "invalid number: exponent has no digits");
    }
    while (pos < size && IsDigit(base[pos])) ++pos;
  }
  *pos_io = pos;
  return absl::OkStatus();
}

// Writes Python-style output and resolves duplicate keys as a Python dict would. Object members
// are tracked by their offsets in `out` (never by pointers, since `out` may reallocate). When an
// object turns out to hold a duplicate key, it is rebuilt once, when it closes.
class PythonEmitter {
 public:
  explicit PythonEmitter(std::string* out) : out_(out) {}

  void OpenObject() {
    frames_.push_back(Frame{out_->size(), members_.size()});
    out_->push_back('{');
  }

  void BeginKey() { key_begin_ = out_->size(); }

  void EndKey() {
    Frame& frame = frames_.back();
    const size_t index = members_.size();
    members_.push_back(MemberSpan{key_begin_, out_->size(), 0, index, false});
    const size_t count = index - frame.members_begin;
    size_t first = kNone;
    if (count < kLinearLimit) {
      for (size_t i = frame.members_begin; i < index; ++i) {
        if (!members_[i].dropped && SameKey(i, index)) {
          first = i;
          break;
        }
      }
    } else {
      if (frame.index == nullptr) {
        frame.index = std::make_unique<absl::flat_hash_map<size_t, size_t>>();
        for (size_t i = frame.members_begin; i < index; ++i) {
          if (!members_[i].dropped) frame.index->emplace(KeyHash(i), i);
        }
      }
      auto [it, inserted] = frame.index->emplace(KeyHash(index), index);
      if (!inserted) {
        if (SameKey(it->second, index)) {
          first = it->second;
        } else {
          // A true 64-bit hash collision: settle it by comparing against every kept key.
          for (size_t i = frame.members_begin; i < index; ++i) {
            if (!members_[i].dropped && SameKey(i, index)) {
              first = i;
              break;
            }
          }
        }
      }
    }
    if (first != kNone) {
      members_[first].winner = index;
      members_[index].dropped = true;
      frame.has_duplicate = true;
    }
    out_->append(": ", 2);
  }

  // Called when the value of the latest member of the innermost object has been written.
  void EndMemberValue() { members_.back().value_end = out_->size(); }

  void CloseObject() {
    Frame& frame = frames_.back();
    if (frame.has_duplicate) Rebuild(frame);
    out_->push_back('}');
    members_.resize(frame.members_begin);
    frames_.pop_back();
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  // Below this many members, a linear scan beats hashing.
  static constexpr size_t kLinearLimit = 16;

  struct MemberSpan {
    size_t key_begin;  // the emitted key literal is out[key_begin, key_end)
    size_t key_end;    // its value starts at key_end + 2, after ": "
    size_t value_end;
    size_t winner;  // the member whose value this key takes (the last duplicate)
    bool dropped;   // a later duplicate: its value moved to the first occurrence
  };
  struct Frame {
    size_t out_begin;
    size_t members_begin;
    bool has_duplicate = false;
    std::unique_ptr<absl::flat_hash_map<size_t, size_t>> index;  // key hash -> first member
  };

  absl::string_view Key(size_t i) const {
    return absl::string_view(out_->data() + members_[i].key_begin,
                             members_[i].key_end - members_[i].key_begin);
  }
  bool SameKey(size_t a, size_t b) const { return Key(a) == Key(b); }
  size_t KeyHash(size_t i) const { return absl::Hash<absl::string_view>{}(Key(i)); }

  // Rewrites the object as `{key: last value, ...}` in first-occurrence order.
  void Rebuild(const Frame& frame) {
    std::string rebuilt;
    rebuilt.reserve(out_->size() - frame.out_begin + 1);
    rebuilt.push_back('{');
    bool first = true;
    for (size_t i = frame.members_begin; i < members_.size(); ++i) {
      const MemberSpan& member = members_[i];
      if (member.dropped) continue;
      if (!first) rebuilt.append(", ", 2);
      first = false;
      rebuilt.append(*out_, member.key_begin, member.key_end - member.key_begin);
      rebuilt.append(": ", 2);
      const MemberSpan& winner = members_[member.winner];
      const size_t value_begin = winner.key_end + 2;
      rebuilt.append(*out_, value_begin, winner.value_end - value_begin);
    }
    out_->resize(frame.out_begin);
    out_->append(rebuilt);
  }

  std::string* out_;
  size_t key_begin_ = 0;
  std::vector<Frame> frames_;
  std::vector<MemberSpan> members_;
};

// Scans one JSON value starting at or after text[*pos_io] (leading whitespace skipped) and
// leaves *pos_io just past it. `base_depth` is the nesting level the value sits at, so that the
// depth limit holds for values found inside an outer container. With kEmit, writes the value in
// Python style to `out`.
template <bool kEmit>
absl::Status ScanValue(absl::string_view text, size_t* pos_io, int base_depth, std::string* out) {
  const Bytes base = reinterpret_cast<Bytes>(text.data());
  const size_t size = text.size();
  constexpr StringMode kStringMode = kEmit ? StringMode::kPython : StringMode::kValidate;
  // Open containers, innermost last: '{' or '['. The explicit stack replaces recursion.
  std::string stack;
  PythonEmitter emitter(out);  // unused (and allocation-free) when validating

  enum class State { kValue, kKey, kAfterValue };
  State state = State::kValue;
  size_t pos = *pos_io;
  for (;;) {
    switch (state) {
      case State::kValue: {
        pos = SkipWhitespace(base, size, pos);
        if (pos >= size) return SyntaxError(pos, "unexpected end of input, expected a value");
        const unsigned char c = base[pos];
        state = State::kAfterValue;
        switch (c) {
          case '{':
          case '[': {
            if (base_depth + static_cast<int>(stack.size()) >= kMaxDepth) {
              return SyntaxError(pos, absl::StrCat("nesting deeper than ", kMaxDepth, " levels"));
            }
            const char close = c == '{' ? '}' : ']';
            pos = SkipWhitespace(base, size, pos + 1);
            if (pos < size && base[pos] == close) {
              ++pos;
              if constexpr (kEmit) {
                out->push_back(static_cast<char>(c));
                out->push_back(close);
              }
              break;
            }
            stack.push_back(static_cast<char>(c));
            if (c == '{') {
              if constexpr (kEmit) emitter.OpenObject();
              state = State::kKey;
            } else {
              if constexpr (kEmit) out->push_back('[');
              state = State::kValue;
            }
            break;
          }
          case '"': {
            const absl::Status status = ScanString<kStringMode>(text, &pos, out);
            if (!status.ok()) return status;
            break;
          }
          case 't':
          case 'f':
          case 'n': {
            const absl::string_view literal =
                c == 't' ? absl::string_view("true")
                         : (c == 'f' ? absl::string_view("false") : absl::string_view("null"));
            if (size - pos < literal.size() ||
                std::memcmp(base + pos, literal.data(), literal.size()) != 0) {
              return SyntaxError(pos, absl::StrCat("invalid literal, expected '", literal, "'"));
            }
            pos += literal.size();
            if constexpr (kEmit) out->append(literal.data(), literal.size());
            break;
          }
          default: {
            if (c != '-' && !IsDigit(c)) {
              return SyntaxError(
                  pos, absl::StrCat("unexpected ", DescribeByte(c), ", expected a value"));
            }
            const size_t start = pos;
            const absl::Status status = ScanNumber(base, size, &pos);
            if (!status.ok()) return status;
            // Numbers are never converted: copied as written.
            if constexpr (kEmit) out->append(text.data() + start, pos - start);
            break;
          }
        }
        break;
      }
      case State::kKey: {
        pos = SkipWhitespace(base, size, pos);
        if (pos >= size) {
          return SyntaxError(pos, "unexpected end of input, expected an object key");
        }
        if (base[pos] != '"') {
          return SyntaxError(
              pos, absl::StrCat("unexpected ", DescribeByte(base[pos]), ", expected a string key"));
        }
        if constexpr (kEmit) emitter.BeginKey();
        const absl::Status status = ScanString<kStringMode>(text, &pos, out);
        if (!status.ok()) return status;
        pos = SkipWhitespace(base, size, pos);
        if (pos >= size || base[pos] != ':') {
          return SyntaxError(pos, "expected ':' after an object key");
        }
        ++pos;
        if constexpr (kEmit) emitter.EndKey();
        state = State::kValue;
        break;
      }
      case State::kAfterValue: {
        if (stack.empty()) {
          *pos_io = pos;
          return absl::OkStatus();
        }
        pos = SkipWhitespace(base, size, pos);
        const bool in_object = stack.back() == '{';
        if (pos >= size) {
          return SyntaxError(pos, in_object ? "unexpected end of input inside an object"
                                            : "unexpected end of input inside an array");
        }
        const unsigned char c = base[pos];
        if (in_object) {
          if constexpr (kEmit) emitter.EndMemberValue();
          if (c == ',') {
            ++pos;
            if constexpr (kEmit) out->append(", ", 2);
            state = State::kKey;
          } else if (c == '}') {
            ++pos;
            if constexpr (kEmit) emitter.CloseObject();
            stack.pop_back();
          } else {
            return SyntaxError(pos, absl::StrCat("unexpected ", DescribeByte(c),
                                                 ", expected ',' or '}' after an object member"));
          }
        } else {
          if (c == ',') {
            ++pos;
            if constexpr (kEmit) out->append(", ", 2);
            state = State::kValue;
          } else if (c == ']') {
            ++pos;
            if constexpr (kEmit) out->push_back(']');
            stack.pop_back();
          } else {
            return SyntaxError(pos, absl::StrCat("unexpected ", DescribeByte(c),
                                                 ", expected ',' or ']' after an array element"));
          }
        }
        break;
      }
    }
  }
}

// Scans `text` as a whole document: one value, optional whitespace around it.
template <bool kEmit>
absl::Status ScanDocument(absl::string_view text, std::string* out) {
  size_t pos = 0;
  absl::Status status = ScanValue<kEmit>(text, &pos, 0, out);
  if (!status.ok()) return status;
  pos = SkipWhitespace(reinterpret_cast<Bytes>(text.data()), text.size(), pos);
  if (pos != text.size()) return SyntaxError(pos, "unexpected data after the JSON value");
  return absl::OkStatus();
}

// Shared body of ObjectMembers/ArrayElements: splits the top-level container `open`/`close`,
// calling on_key (objects only) and on_value with raw views.
template <typename OnKey, typename OnValue>
absl::Status SplitContainer(absl::string_view text, char open, char close, OnKey on_key,
                            OnValue on_value) {
  const Bytes base = reinterpret_cast<Bytes>(text.data());
  const size_t size = text.size();
  const bool is_object = open == '{';
  size_t pos = SkipWhitespace(base, size, 0);
  if (pos >= size || base[pos] != static_cast<unsigned char>(open)) {
    // Prefer the syntax error, if any, to "wrong kind".
    const absl::Status valid = Validate(text);
    if (!valid.ok()) return valid;
    return absl::InvalidArgumentError(absl::StrCat(
        is_object ? "expected a JSON object" : "expected a JSON array", " at byte offset ", pos));
  }
  pos = SkipWhitespace(base, size, pos + 1);
  if (pos < size && base[pos] == static_cast<unsigned char>(close)) {
    ++pos;
  } else {
    for (;;) {
      pos = SkipWhitespace(base, size, pos);
      if (is_object) {
        if (pos >= size) {
          return SyntaxError(pos, "unexpected end of input, expected an object key");
        }
        if (base[pos] != '"') {
          return SyntaxError(
              pos, absl::StrCat("unexpected ", DescribeByte(base[pos]), ", expected a string key"));
        }
        const size_t key_begin = pos;
        std::string key;
        const absl::Status status = ScanString<StringMode::kDecode>(text, &pos, &key);
        if (!status.ok()) return status;
        on_key(std::move(key), text.substr(key_begin, pos - key_begin));
        pos = SkipWhitespace(base, size, pos);
        if (pos >= size || base[pos] != ':') {
          return SyntaxError(pos, "expected ':' after an object key");
        }
        ++pos;
      }
      pos = SkipWhitespace(base, size, pos);
      const size_t value_begin = pos;
      const absl::Status status = ScanValue<false>(text, &pos, 1, nullptr);
      if (!status.ok()) return status;
      on_value(text.substr(value_begin, pos - value_begin));
      pos = SkipWhitespace(base, size, pos);
      if (pos >= size) {
        return SyntaxError(pos, is_object ? "unexpected end of input inside an object"
                                          : "unexpected end of input inside an array");
      }
      if (base[pos] == ',') {
        ++pos;
        continue;
      }
      if (base[pos] == static_cast<unsigned char>(close)) {
        ++pos;
        break;
      }
      return SyntaxError(pos, absl::StrCat("unexpected ", DescribeByte(base[pos]),
                                           ", expected ',' or '", std::string(1, close), "'"));
    }
  }
  pos = SkipWhitespace(base, size, pos);
  if (pos != size) return SyntaxError(pos, "unexpected data after the JSON value");
  return absl::OkStatus();
}

template <bool kLossy>
absl::Status AppendQuotedImpl(absl::string_view utf8, std::string* out) {
  const Bytes base = reinterpret_cast<Bytes>(utf8.data());
  const size_t size = utf8.size();
  const size_t entry_size = out->size();
  out->reserve(entry_size + size + size / 8 + 2);
  out->push_back('"');
  size_t pos = 0;
  while (pos < size) {
    const size_t run = pos;
    while (pos < size && kEmitPlain[base[pos]]) ++pos;
    if (pos > run) out->append(utf8.data() + run, pos - run);
    if (pos >= size) break;
    const unsigned char c = base[pos];
    if (c < 0x80) {
      AppendCodePointPython(c, out);
      ++pos;
      continue;
    }
    uint32_t cp;
    const int length = DecodeUtf8(base + pos, base + size, &cp);
    if (length == 0) {
      if constexpr (kLossy) {
        AppendU16Escape(kReplacementCharacter, out);
        ++pos;
        continue;
      } else {
        out->resize(entry_size);
        return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte offset ", pos));
      }
    }
    AppendCodePointPython(cp, out);
    pos += length;
  }
  out->push_back('"');
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(absl::string_view text) { return ScanDocument<false>(text, nullptr); }

absl::StatusOr<Kind> ValidateAndKind(absl::string_view text) {
  const absl::Status status = ScanDocument<false>(text, nullptr);
  if (!status.ok()) return status;
  return KindOfValid(text);
}

absl::Status AppendPythonStyle(absl::string_view text, std::string* out) {
  const size_t entry_size = out->size();
  out->reserve(entry_size + text.size() + text.size() / 8 + 16);
  absl::Status status = ScanDocument<true>(text, out);
  if (!status.ok()) out->resize(entry_size);
  return status;
}

absl::Status AppendQuoted(absl::string_view utf8, std::string* out) {
  return AppendQuotedImpl<false>(utf8, out);
}

void AppendQuotedLossy(absl::string_view utf8, std::string* out) {
  AppendQuotedImpl<true>(utf8, out).IgnoreError();
}

absl::StatusOr<std::string> Unquote(absl::string_view literal) {
  if (literal.empty() || literal.front() != '"') {
    return SyntaxError(0, "expected a JSON string literal");
  }
  std::string decoded;
  decoded.reserve(literal.size());
  size_t pos = 0;
  const absl::Status status = ScanString<StringMode::kDecode>(literal, &pos, &decoded);
  if (!status.ok()) return status;
  if (pos != literal.size()) return SyntaxError(pos, "unexpected data after the string literal");
  return decoded;
}

absl::StatusOr<std::vector<Member>> ObjectMembers(absl::string_view text) {
  std::vector<Member> members;
  const absl::Status status = SplitContainer(
      text, '{', '}',
      [&members](std::string key, absl::string_view raw_key) {
        members.push_back(Member{std::move(key), raw_key, absl::string_view()});
      },
      [&members](absl::string_view value) { members.back().value = value; });
  if (!status.ok()) return status;
  return members;
}

absl::StatusOr<std::vector<absl::string_view>> ArrayElements(absl::string_view text) {
  std::vector<absl::string_view> elements;
  const absl::Status status = SplitContainer(
      text, '[', ']', [](std::string, absl::string_view) {},
      [&elements](absl::string_view value) { elements.push_back(value); });
  if (!status.ok()) return status;
  return elements;
}

void CollapseDuplicateKeys(std::vector<Member>* members) {
  const size_t n = members->size();
  if (n < 2) return;
  // first_of[i]: index of the first member with the same key as member i.
  std::vector<size_t> first_of(n);
  bool any_duplicate = false;
  if (n <= 16) {
    for (size_t i = 0; i < n; ++i) {
      first_of[i] = i;
      for (size_t j = 0; j < i; ++j) {
        if ((*members)[j].key == (*members)[i].key) {
          first_of[i] = first_of[j];
          any_duplicate = true;
          break;
        }
      }
    }
  } else {
    absl::flat_hash_map<absl::string_view, size_t> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      auto [it, inserted] = seen.emplace((*members)[i].key, i);
      first_of[i] = it->second;
      if (!inserted) any_duplicate = true;
    }
  }
  if (!any_duplicate) return;
  std::vector<size_t> last_of(n);
  for (size_t i = 0; i < n; ++i) last_of[first_of[i]] = i;
  std::vector<Member> collapsed;
  collapsed.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (first_of[i] != i) continue;
    const absl::string_view last_value = (*members)[last_of[i]].value;
    collapsed.push_back(std::move((*members)[i]));
    collapsed.back().value = last_value;
  }
  *members = std::move(collapsed);
}

Kind KindOfValid(absl::string_view valid_json) {
  const size_t pos =
      SkipWhitespace(reinterpret_cast<Bytes>(valid_json.data()), valid_json.size(), 0);
  if (pos >= valid_json.size()) return Kind::kNull;
  switch (valid_json[pos]) {
    case '{':
      return Kind::kObject;
    case '[':
      return Kind::kArray;
    case '"':
      return Kind::kString;
    case 't':
      return Kind::kTrue;
    case 'f':
      return Kind::kFalse;
    case 'n':
      return Kind::kNull;
    default:
      return Kind::kNumber;
  }
}

}  // namespace cellgw::json
