// JSON as text, for the oslo.messaging wire codec (//bridge, below envelope and
// remote_failure). Nothing here builds a document tree and nothing converts numbers: JSON is
// validated, split into raw member/element views, and re-emitted byte for byte the way
// CPython's json.dumps prints it with its defaults (separators ", " and ": ", ensure_ascii).
// That is what lets integers of any size (2**64-1, 2**70) cross the gateway exactly and lets
// the bodies we publish be byte-identical to oslo's.
//
// Grammar: strict RFC 8259 (no NaN/Infinity, comments, trailing commas, leading zeros, raw
// control characters in strings); whitespace (space, tab, LF, CR) is allowed around the single
// top-level value and nothing else may follow it. Strings must be valid UTF-8 (surrogates,
// overlong forms and code points above U+10FFFF encoded in UTF-8 are invalid, as for
// CPython's strict decoder). A `\u` escape naming a lone surrogate is accepted by Validate,
// ValidateAndKind and AppendPythonStyle, because Python's json.loads accepts it (and
// json.dumps prints it back as `\udXXX`); Unquote, which must produce UTF-8, refuses it.
//
// Parsing is iterative (an explicit stack), so hostile nesting cannot overflow the call stack;
// containers nested deeper than kMaxDepth are refused. Every error is INVALID_ARGUMENT and says
// what is wrong and at which byte offset of the given text.
//
// All functions are pure and thread-compatible (no shared state).
#ifndef CELLGW_COMMON_JSON_TEXT_H_
#define CELLGW_COMMON_JSON_TEXT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::json {

// Deepest container nesting accepted (the top-level container counts as 1). Far above anything
// oslo peers send (CPython itself gives up near 1000), low enough to bound the parser's memory.
inline constexpr int kMaxDepth = 10000;

enum class Kind { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull };

// OK when `text` is exactly one JSON value (optionally surrounded by whitespace).
// INVALID_ARGUMENT otherwise, naming the problem and its byte offset.
absl::Status Validate(absl::string_view text);

// Like Validate, and also returns the kind of the value. INVALID_ARGUMENT as Validate.
absl::StatusOr<Kind> ValidateAndKind(absl::string_view text);

// Appends the one JSON value in `text` exactly as Python's json.dumps(json.loads(text)) would
// print it, except that numbers are copied verbatim (so "1.50" stays "1.50"; Python would print
// 1.5): ", " / ": " separators, strings re-escaped in ensure_ascii style, and duplicate object
// keys resolved the way a Python dict does (the key keeps its first position and takes its last
// value). Python 3.11 refuses integer literals over 4300 digits; here they pass, verbatim.
// Validates as it goes, in a single pass. INVALID_ARGUMENT as Validate; on error `out`
// is restored to the length it had on entry.
absl::Status AppendPythonStyle(absl::string_view text, std::string* out);

// Appends `utf8` as a JSON string literal in Python ensure_ascii style: `"` and `\` escaped,
// \n \r \t \b \f short forms, other control characters and DEL as \u00XX, non-ASCII as
// lowercase \uXXXX (UTF-16 surrogate pairs beyond the BMP), '/' left alone.
// INVALID_ARGUMENT when `utf8` is not valid UTF-8; `out` is then restored to its entry length.
absl::Status AppendQuoted(absl::string_view utf8, std::string* out);

// Like AppendQuoted, but never fails: each byte that does not start a valid UTF-8 sequence is
// written as \ufffd (the replacement character). For writers that must always produce output,
// such as SerializeRemoteFailure.
void AppendQuotedLossy(absl::string_view utf8, std::string* out);

// Decodes one JSON string literal (`literal` includes its quotes and nothing else, no
// whitespace) to UTF-8, joining escaped surrogate pairs. INVALID_ARGUMENT when it is not
// exactly one valid string literal or when an escape names a lone surrogate (not
// representable in UTF-8).
absl::StatusOr<std::string> Unquote(absl::string_view literal);

// One member of a JSON object. `raw_key` and `value` point into the text that was split, so
// they live as long as it does.
struct Member {
  std::string key;            // decoded (UTF-8)
  absl::string_view raw_key;  // the key literal, with its quotes, as written
  absl::string_view value;    // raw text of the value, without surrounding whitespace
};

// The top-level members of the JSON object `text`, in order, duplicates kept (see
// CollapseDuplicateKeys). The whole text is validated. INVALID_ARGUMENT when it is not valid
// JSON, not an object, or a key names a lone surrogate.
absl::StatusOr<std::vector<Member>> ObjectMembers(absl::string_view text);

// The raw text of each top-level element of the JSON array `text`, in order. The whole text is
// validated. INVALID_ARGUMENT when it is not valid JSON or not an array.
absl::StatusOr<std::vector<absl::string_view>> ArrayElements(absl::string_view text);

// Applies Python dict semantics to `members` (what json.loads does with duplicate keys): each
// key is kept once, at the position and with the raw_key of its first occurrence, and with the
// value of its last occurrence.
void CollapseDuplicateKeys(std::vector<Member>* members);

// The kind of a value known to be valid JSON, from its first non-whitespace byte (cheap; does
// not validate). Meant for the `value` views returned by ObjectMembers/ArrayElements.
Kind KindOfValid(absl::string_view valid_json);

}  // namespace cellgw::json

#endif  // CELLGW_COMMON_JSON_TEXT_H_
