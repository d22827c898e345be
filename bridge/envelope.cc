#include "bridge/envelope.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace cellgw::bridge {
namespace {

constexpr absl::string_view kVersionKey = "oslo.version";
constexpr absl::string_view kMessageKey = "oslo.message";
constexpr absl::string_view kContextPrefix = "_context_";
constexpr absl::string_view kEnvelopeHead = "{\"oslo.version\": \"2.0\", \"oslo.message\": ";

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Appends `value` as a Python-style string literal, naming `field` if it is not UTF-8.
absl::Status AppendQuotedField(absl::string_view value, absl::string_view field, std::string* out) {
  const absl::Status status = json::AppendQuoted(value, out);
  if (!status.ok()) return FieldError(field, status.message());
  return absl::OkStatus();
}

// Appends the JSON object `text` re-emitted Python-style; INVALID_ARGUMENT naming `field`
// when it is not valid JSON or not an object.
absl::Status AppendObjectField(absl::string_view text, absl::string_view field, std::string* out) {
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
  if (trimmed.empty() || trimmed.front() != '{') {
    const absl::Status valid = json::Validate(text);
    if (!valid.ok()) return FieldError(field, valid.message());
    return FieldError(field, "must be a JSON object");
  }
  const absl::Status status = json::AppendPythonStyle(text, out);
  if (!status.ok()) return FieldError(field, status.message());
  return absl::OkStatus();
}

// One dot-separated part of a version, read the way Python's int() reads it: optional ASCII
// whitespace around, an optional sign, ASCII digits with single '_' between digits. Only what
// the envelope rule needs is kept.
struct VersionNumber {
  bool negative = false;
  bool zero = true;
  bool two = false;  // == 2
};

std::optional<VersionNumber> ParseVersionNumber(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  VersionNumber number;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    number.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  // Only "is it zero" and "is it exactly 2" matter, so digits are counted, not accumulated.
  size_t significant_digits = 0;
  char leading_digit = '0';
  bool previous_was_digit = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      previous_was_digit = true;
      if (c != '0' || significant_digits > 0) {
        if (significant_digits == 0) leading_digit = c;
        ++significant_digits;
      }
    } else if (c == '_' && previous_was_digit && i + 1 < text.size() &&
               absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1]))) {
      previous_was_digit = false;
    } else {
      return std::nullopt;
    }
  }
  number.zero = significant_digits == 0;
  if (number.zero) number.negative = false;  // -0 == 0
  number.two = !number.negative && significant_digits == 1 && leading_digit == '2';
  return number;
}

// The envelope version rule of wire spec §6.3, evaluated in the order oslo evaluates it (so a
// part that oslo never parses cannot make the version malformed).
absl::Status CheckEnvelopeVersion(absl::string_view version) {
  const auto malformed = [&version]() {
    return absl::FailedPreconditionError(absl::StrCat(
        kVersionKey, ": malformed envelope version \"", absl::CHexEscape(version), "\""));
  };
  const auto unsupported = [&version]() {
    return absl::FailedPreconditionError(
        absl::StrCat(kVersionKey, ": unsupported envelope version \"", absl::CHexEscape(version),
                     "\" (this peer speaks 2.0)"));
  };
  const std::vector<absl::string_view> parts = absl::StrSplit(version, '.');
  const std::optional<VersionNumber> major = ParseVersionNumber(parts[0]);
  if (!major) return malformed();
  if (!major->two) return unsupported();
  if (parts.size() < 2) return malformed();
  const std::optional<VersionNumber> minor = ParseVersionNumber(parts[1]);
  if (!minor) return malformed();
  if (!minor->zero && !minor->negative) return unsupported();
  if (minor->zero && parts.size() > 2) {
    const std::optional<VersionNumber> revision = ParseVersionNumber(parts[2]);
    if (!revision) return malformed();
    if (!revision->zero && !revision->negative) return unsupported();
  }
  return absl::OkStatus();
}

// UnwrapEnvelope; the inner message is only checked to be an object when `check_inner`
// (decoders that split it right after validate it anyway).
absl::StatusOr<std::string> Unwrap(absl::string_view body, bool check_inner) {
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(body);
  if (!members.ok()) return FieldError("body", members.status().message());
  const json::Member* version = nullptr;
  const json::Member* message = nullptr;
  for (const json::Member& member : *members) {  // the last duplicate counts, as in a dict
    if (member.key == kVersionKey) version = &member;
    if (member.key == kMessageKey) message = &member;
  }
  if (version == nullptr || message == nullptr) {
    return std::string(absl::StripAsciiWhitespace(body));  // a 1.0 message
  }
  if (json::KindOfValid(version->value) != json::Kind::kString) {
    return FieldError(kVersionKey, "must be a string");
  }
  absl::StatusOr<std::string> version_text = json::Unquote(version->value);
  if (!version_text.ok()) return FieldError(kVersionKey, version_text.status().message());
  CELLGW_RETURN_IF_ERROR(CheckEnvelopeVersion(*version_text));
  if (json::KindOfValid(message->value) != json::Kind::kString) {
    return FieldError(kMessageKey, "must be a string holding JSON");
  }
  absl::StatusOr<std::string> inner = json::Unquote(message->value);
  if (!inner.ok()) return FieldError(kMessageKey, inner.status().message());
  if (check_inner) {
    absl::StatusOr<json::Kind> kind = json::ValidateAndKind(*inner);
    if (!kind.ok()) return FieldError(kMessageKey, kind.status().message());
    if (*kind != json::Kind::kObject) return FieldError(kMessageKey, "must hold a JSON object");
  }
  return inner;
}

// The members of the inner message, duplicates collapsed as json.loads would.
absl::StatusOr<std::vector<json::Member>> InnerMembers(absl::string_view inner) {
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(inner);
  if (!members.ok()) return FieldError(kMessageKey, members.status().message());
  json::CollapseDuplicateKeys(&*members);
  return members;
}

// Reads a string-or-null member: a string is decoded into *out (and *present set), null
// leaves both alone.
absl::Status ReadOptionalString(const json::Member& member, std::string* out,
                                bool* present = nullptr) {
  const json::Kind kind = json::KindOfValid(member.value);
  if (kind == json::Kind::kNull) return absl::OkStatus();
  if (kind != json::Kind::kString) return FieldError(member.key, "must be a string or null");
  absl::StatusOr<std::string> decoded = json::Unquote(member.value);
  if (!decoded.ok()) return FieldError(member.key, decoded.status().message());
  *out = *std::move(decoded);
  if (present != nullptr) *present = true;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> EncodeRequest(const RequestMessage& message) {
  std::string inner;
  inner.reserve(256 + message.method.size() + message.args_json.size() +
                message.context_json.size() + message.args_json.size() / 8 +
                message.context_json.size() / 4);
  inner.append("{\"method\": ");
  CELLGW_RETURN_IF_ERROR(AppendQuotedField(message.method, "method", &inner));
  inner.append(", \"args\": ");
  if (message.args_json.empty()) {
    inner.append("{}");
  } else {
    CELLGW_RETURN_IF_ERROR(AppendObjectField(message.args_json, "args_json", &inner));
  }
  if (!message.namespace_.empty()) {
    inner.append(", \"namespace\": ");
    CELLGW_RETURN_IF_ERROR(AppendQuotedField(message.namespace_, "namespace", &inner));
  }
  if (!message.version.empty()) {
    inner.append(", \"version\": ");
    CELLGW_RETURN_IF_ERROR(AppendQuotedField(message.version, "version", &inner));
  }
  if (!message.msg_id.empty()) {
    if (message.reply_q.empty()) {
      return FieldError("reply_q", "required for a call (msg_id is set)");
    }
    inner.append(", \"_msg_id\": ");
    CELLGW_RETURN_IF_ERROR(AppendQuotedField(message.msg_id, "msg_id", &inner));
    inner.append(", \"_reply_q\": ");
    CELLGW_RETURN_IF_ERROR(AppendQuotedField(message.reply_q, "reply_q", &inner));
    inner.append(", \"_timeout\": ");
    if (message.call_monitor_timeout_s.has_value()) {
      absl::StrAppend(&inner, *message.call_monitor_timeout_s);
    } else {
      inner.append("null");
    }
  }
  inner.append(", \"_unique_id\": ");
  CELLGW_RETURN_IF_ERROR(AppendQuotedField(message.unique_id, "unique_id", &inner));
  if (!message.context_json.empty()) {
    absl::StatusOr<std::vector<json::Member>> context = json::ObjectMembers(message.context_json);
    if (!context.ok()) return FieldError("context_json", context.status().message());
    json::CollapseDuplicateKeys(&*context);
    CELLGW_RETURN_IF_ERROR(AppendPackedContext(*context, "context_json", &inner));
  }
  inner.push_back('}');
  return WrapEnvelope(inner);
}

std::string WrapEnvelope(absl::string_view inner) {
  std::string body;
  body.reserve(kEnvelopeHead.size() + inner.size() + inner.size() / 4 + 4);
  body.append(kEnvelopeHead.data(), kEnvelopeHead.size());
  // Cannot fail: `inner` was produced by our Python-style writers, which emit ASCII only.
  json::AppendQuoted(inner, &body).IgnoreError();
  body.push_back('}');
  return body;
}

absl::Status AppendPackedContext(const std::vector<json::Member>& context,
                                 absl::string_view field, std::string* inner) {
  for (const json::Member& member : context) {
    inner->append(", \"");
    inner->append(kContextPrefix.data(), kContextPrefix.size());
    // The quoted key's own opening quote is dropped: the prefix already opened the literal.
    const size_t quote_at = inner->size();
    CELLGW_RETURN_IF_ERROR(AppendQuotedField(member.key, field, inner));
    inner->erase(quote_at, 1);
    inner->append(": ");
    const absl::Status status = json::AppendPythonStyle(member.value, inner);
    if (!status.ok()) return FieldError(field, status.message());
  }
  return absl::OkStatus();
}

std::string UnpackContext(const std::vector<json::Member>& members) {
  std::string context = "{";
  for (const json::Member& member : members) {
    if (!absl::StartsWith(member.key, kContextPrefix)) continue;
    if (context.size() > 1) context.append(", ");
    // Keys came from Unquote, so they are valid UTF-8 and quoting cannot fail.
    json::AppendQuoted(absl::string_view(member.key).substr(kContextPrefix.size()), &context)
        .IgnoreError();
    context.append(": ");
    context.append(member.value.data(), member.value.size());
  }
  context.push_back('}');
  return context;
}

absl::StatusOr<std::string> UnwrapEnvelope(absl::string_view body) {
  return Unwrap(body, /*check_inner=*/true);
}

bool Reply::IsHeartbeat() const { return !ending && !failure.has_value() && result_json == "null"; }

absl::StatusOr<Reply> DecodeReply(absl::string_view body) {
  CELLGW_ASSIGN_OR_RETURN(const std::string inner, Unwrap(body, /*check_inner=*/false));
  CELLGW_ASSIGN_OR_RETURN(const std::vector<json::Member> members, InnerMembers(inner));
  Reply reply;
  bool has_msg_id = false;
  bool has_failure = false;
  for (const json::Member& member : members) {
    const json::Kind kind = json::KindOfValid(member.value);
    if (member.key == "_msg_id") {
      if (kind != json::Kind::kString) return FieldError("_msg_id", "must be a string");
      absl::StatusOr<std::string> msg_id = json::Unquote(member.value);
      if (!msg_id.ok()) return FieldError("_msg_id", msg_id.status().message());
      reply.msg_id = *std::move(msg_id);
      has_msg_id = true;
    } else if (member.key == "result") {
      reply.result_json = std::string(member.value);
    } else if (member.key == "failure") {
      has_failure = true;
      if (kind == json::Kind::kNull) continue;
      if (kind != json::Kind::kString) {
        return FieldError("failure",
                          "must be null or a string holding the failure JSON (oslo's client "
                          "cannot read an object here)");
      }
      absl::StatusOr<std::string> failure_json = json::Unquote(member.value);
      if (!failure_json.ok()) return FieldError("failure", failure_json.status().message());
      if (failure_json->empty()) continue;  // falsy for oslo's client: no failure
      CELLGW_ASSIGN_OR_RETURN(RemoteFailure failure, ParseRemoteFailure(*failure_json));
      reply.failure = std::move(failure);
    } else if (member.key == "ending") {
      if (kind == json::Kind::kTrue) {
        reply.ending = true;
      } else if (kind == json::Kind::kFalse || kind == json::Kind::kNull) {
        reply.ending = false;
      } else {
        return FieldError("ending", "must be a boolean");
      }
    }
  }
  if (!has_msg_id) return FieldError("_msg_id", "missing");
  if (!has_failure) return FieldError("failure", "missing (oslo's client requires the key)");
  return reply;
}

absl::StatusOr<DecodedRequest> DecodeRequest(absl::string_view body) {
  CELLGW_ASSIGN_OR_RETURN(const std::string inner, Unwrap(body, /*check_inner=*/false));
  CELLGW_ASSIGN_OR_RETURN(const std::vector<json::Member> members, InnerMembers(inner));
  DecodedRequest request;
  for (const json::Member& member : members) {
    if (absl::StartsWith(member.key, kContextPrefix)) {
      continue;  // UnpackContext below
    } else if (member.key == "method") {
      CELLGW_RETURN_IF_ERROR(ReadOptionalString(member, &request.method));
    } else if (member.key == "args") {
      if (json::KindOfValid(member.value) != json::Kind::kObject) {
        return FieldError("args", "must be an object");
      }
      request.args_json = std::string(member.value);
    } else if (member.key == "namespace") {
      std::string value;
      bool present = false;
      CELLGW_RETURN_IF_ERROR(ReadOptionalString(member, &value, &present));
      if (present) request.namespace_ = std::move(value);
    } else if (member.key == "version") {
      std::string value;
      bool present = false;
      CELLGW_RETURN_IF_ERROR(ReadOptionalString(member, &value, &present));
      if (present) request.version = std::move(value);
    } else if (member.key == "_msg_id") {
      CELLGW_RETURN_IF_ERROR(ReadOptionalString(member, &request.msg_id));
    } else if (member.key == "_reply_q") {
      CELLGW_RETURN_IF_ERROR(ReadOptionalString(member, &request.reply_q));
    } else if (member.key == "_timeout") {
      request.timeout_json = std::string(member.value);
    } else if (member.key == "_unique_id") {
      CELLGW_RETURN_IF_ERROR(ReadOptionalString(member, &request.unique_id));
    }
  }
  request.context_json = UnpackContext(members);
  return request;
}

absl::StatusOr<std::string> EncodeReply(absl::string_view msg_id, absl::string_view result_json,
                                        const RemoteFailure* failure, bool ending,
                                        absl::string_view unique_id) {
  std::string inner;
  inner.reserve(160 + result_json.size() + result_json.size() / 8);
  inner.append("{\"result\": ");
  if (result_json.empty()) {
    inner.append("null");
  } else {
    const absl::Status status = json::AppendPythonStyle(result_json, &inner);
    if (!status.ok()) return FieldError("result_json", status.message());
  }
  inner.append(", \"failure\": ");
  if (failure != nullptr) {
    // Serialized output is ASCII, so quoting it cannot fail.
    json::AppendQuoted(SerializeRemoteFailure(*failure), &inner).IgnoreError();
  } else {
    inner.append("null");
  }
  inner.append(ending ? ", \"ending\": true" : ", \"ending\": false");
  inner.append(", \"_msg_id\": ");
  CELLGW_RETURN_IF_ERROR(AppendQuotedField(msg_id, "msg_id", &inner));
  inner.append(", \"_unique_id\": ");
  CELLGW_RETURN_IF_ERROR(AppendQuotedField(unique_id, "unique_id", &inner));
  inner.push_back('}');
  return WrapEnvelope(inner);
}

}  // namespace cellgw::bridge
