#include "gateway/http/json_request.h"

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "common/status_macros.h"

namespace cellgw::gateway::http {
namespace {

// 2**31-1 ms (24.8 days): the largest AMQP expiration the bridge sends, and far above any
// cell's rpc_response_timeout limit.
constexpr int64_t kMaxMilliseconds = 2147483647;
// Member names are echoed in errors; a hostile body could make one megabytes long.
constexpr size_t kMaxEchoedNameBytes = 64;

constexpr absl::string_view kMembers =
    "cell, exchange, topic, namespace, version, server, method, args, context, timeout_ms, "
    "call_monitor_timeout_ms";

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// A member name as it may appear at the start of an error message.
std::string EchoedName(absl::string_view name) {
  if (name.size() <= kMaxEchoedNameBytes) return std::string(name);
  return absl::StrCat(name.substr(0, kMaxEchoedNameBytes), "...");
}

absl::string_view KindName(json::Kind kind) {
  switch (kind) {
    case json::Kind::kObject:
      return "an object";
    case json::Kind::kArray:
      return "an array";
    case json::Kind::kString:
      return "a string";
    case json::Kind::kNumber:
      return "a number";
    case json::Kind::kTrue:
    case json::Kind::kFalse:
      return "a boolean";
    case json::Kind::kNull:
      return "null";
  }
  return "a JSON value";
}

// The body's members, or "body: ..." explaining why it is not a JSON object.
absl::StatusOr<std::vector<json::Member>> BodyMembers(absl::string_view body) {
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(body);
  if (members.ok()) return members;
  // Only on the error path: tell "not JSON" from "JSON, but not an object".
  absl::StatusOr<json::Kind> kind = json::ValidateAndKind(body);
  if (!kind.ok()) {
    if (body.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
      return FieldError("body", "empty; send a JSON object");
    }
    return FieldError("body", absl::StrCat("not valid JSON: ", kind.status().message()));
  }
  if (*kind != json::Kind::kObject) {
    return FieldError("body", absl::StrCat("must be a JSON object, not ", KindName(*kind)));
  }
  // An object that ObjectMembers still refused: a key naming a lone surrogate.
  return FieldError("body", members.status().message());
}

absl::StatusOr<std::string> StringValue(const json::Member& member) {
  const json::Kind kind = json::KindOfValid(member.value);
  if (kind != json::Kind::kString) {
    return FieldError(member.key, absl::StrCat("must be a string, not ", KindName(kind)));
  }
  absl::StatusOr<std::string> text = json::Unquote(member.value);
  if (!text.ok()) return FieldError(member.key, text.status().message());
  return text;
}

absl::StatusOr<std::string> ObjectText(const json::Member& member) {
  const json::Kind kind = json::KindOfValid(member.value);
  if (kind != json::Kind::kObject) {
    return FieldError(member.key, absl::StrCat("must be a JSON object, not ", KindName(kind)));
  }
  return std::string(member.value);
}

// A non-negative integer of milliseconds, written with digits only (no sign, fraction or
// exponent: "1e3" and "1.0" are refused rather than guessed at). 0 is unset.
absl::StatusOr<std::optional<absl::Duration>> Milliseconds(const json::Member& member) {
  const std::string expected =
      absl::StrCat("must be an integer number of milliseconds from 0 to ", kMaxMilliseconds);
  const json::Kind kind = json::KindOfValid(member.value);
  if (kind != json::Kind::kNumber) {
    return FieldError(member.key, absl::StrCat(expected, ", not ", KindName(kind)));
  }
  const absl::string_view text = member.value;
  if (text.find_first_not_of("0123456789") != absl::string_view::npos || text.size() > 10) {
    return FieldError(member.key, absl::StrCat(expected, " (got ", EchoedName(text), ")"));
  }
  int64_t ms = 0;
  for (char c : text) ms = ms * 10 + (c - '0');  // at most 10 digits: no overflow
  if (ms > kMaxMilliseconds) {
    return FieldError(member.key, absl::StrCat(expected, " (got ", text, ")"));
  }
  if (ms == 0) return std::optional<absl::Duration>();
  return std::optional<absl::Duration>(absl::Milliseconds(ms));
}

void SetDuration(absl::Duration duration, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(duration, absl::Seconds(1), &duration);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(duration)));
}

template <typename Request>
void FillCommon(const JsonRequest& from, Request* to) {
  *to->mutable_target() = from.target;
  to->set_method(from.method);
  to->set_args_json(from.args_json);
  to->set_context_json(from.context_json);
}

}  // namespace

absl::StatusOr<JsonRequest> ParseJsonRequest(absl::string_view body, SendKind kind) {
  CELLGW_ASSIGN_OR_RETURN(std::vector<json::Member> members, BodyMembers(body));
  JsonRequest out;
  std::set<std::string> seen;
  for (const json::Member& member : members) {
    const std::string& key = member.key;
    if (!seen.insert(key).second) return FieldError(EchoedName(key), "given twice");
    // Unknown names are refused before null is accepted, so a misspelt member is an error
    // whatever its value.
    const bool known = key == "cell" || key == "exchange" || key == "topic" ||
                       key == "namespace" || key == "version" || key == "server" ||
                       key == "method" || key == "args" || key == "context" ||
                       key == "timeout_ms" || key == "call_monitor_timeout_ms";
    if (!known) {
      return FieldError(EchoedName(key),
                        absl::StrCat("unknown member; the members are ", kMembers));
    }
    if (key == "call_monitor_timeout_ms" && kind != SendKind::kCall) {
      return FieldError(key, "only /v1/call takes it");
    }
    if (json::KindOfValid(member.value) == json::Kind::kNull) continue;

    v1::Target& target = out.target;
    if (key == "cell") {
      CELLGW_ASSIGN_OR_RETURN(*target.mutable_cell(), StringValue(member));
    } else if (key == "exchange") {
      CELLGW_ASSIGN_OR_RETURN(*target.mutable_exchange(), StringValue(member));
    } else if (key == "topic") {
      CELLGW_ASSIGN_OR_RETURN(*target.mutable_topic(), StringValue(member));
    } else if (key == "namespace") {
      CELLGW_ASSIGN_OR_RETURN(*target.mutable_namespace_(), StringValue(member));
    } else if (key == "version") {
      CELLGW_ASSIGN_OR_RETURN(*target.mutable_version(), StringValue(member));
    } else if (key == "server") {
      CELLGW_ASSIGN_OR_RETURN(*target.mutable_server(), StringValue(member));
    } else if (key == "method") {
      CELLGW_ASSIGN_OR_RETURN(out.method, StringValue(member));
    } else if (key == "args") {
      CELLGW_ASSIGN_OR_RETURN(out.args_json, ObjectText(member));
    } else if (key == "context") {
      CELLGW_ASSIGN_OR_RETURN(out.context_json, ObjectText(member));
    } else if (key == "timeout_ms") {
      CELLGW_ASSIGN_OR_RETURN(out.timeout, Milliseconds(member));
    } else {
      CELLGW_ASSIGN_OR_RETURN(out.call_monitor_timeout, Milliseconds(member));
    }
  }
  return out;
}

v1::CallRequest ToCallRequest(const JsonRequest& request) {
  v1::CallRequest out;
  FillCommon(request, &out);
  if (request.timeout.has_value()) SetDuration(*request.timeout, out.mutable_timeout());
  if (request.call_monitor_timeout.has_value()) {
    SetDuration(*request.call_monitor_timeout, out.mutable_call_monitor_timeout());
  }
  return out;
}

v1::CastRequest ToCastRequest(const JsonRequest& request) {
  v1::CastRequest out;
  FillCommon(request, &out);
  return out;
}

v1::FanoutRequest ToFanoutRequest(const JsonRequest& request) {
  v1::FanoutRequest out;
  FillCommon(request, &out);
  return out;
}

}  // namespace cellgw::gateway::http
