// libFuzzer target for the request side of bridge/envelope (tests/fuzz): UnwrapEnvelope and
// DecodeRequest, what a server does with every body a peer publishes. The input is the AMQP
// body. Beyond not crashing, it checks:
//  * errors are INVALID_ARGUMENT or FAILED_PRECONDITION (the envelope version), and
//    DecodeRequest fails whenever UnwrapEnvelope does;
//  * UnwrapEnvelope returns a JSON object;
//  * a decoded request holds what the header promises: args and context are JSON objects
//    (context with distinct keys), _timeout is valid JSON, every string is valid UTF-8;
//  * re-encoding it (EncodeRequest) succeeds unless it is a call without a reply queue, gives a
//    printable-ASCII body that decodes to the same request, and encoding that again gives the
//    very same bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bridge/envelope.h"
#include "common/json_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace cellgw::fuzz {
namespace {

namespace json = ::cellgw::json;
using ::cellgw::bridge::DecodedRequest;
using ::cellgw::bridge::DecodeRequest;
using ::cellgw::bridge::EncodeRequest;
using ::cellgw::bridge::RequestMessage;
using ::cellgw::bridge::UnwrapEnvelope;

bool IsDecodeError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kFailedPrecondition;
}

std::string PythonStyle(absl::string_view text) {
  std::string out;
  const absl::Status status = json::AppendPythonStyle(text, &out);
  CELLGW_FUZZ_CHECK(status.ok(), Show(text), ": ", status.ToString());
  return out;
}

void CheckIsObject(absl::string_view text, absl::string_view what, absl::string_view body) {
  const absl::StatusOr<json::Kind> kind = json::ValidateAndKind(text);
  CELLGW_FUZZ_CHECK(kind.ok() && *kind == json::Kind::kObject, what, " is ", Show(text),
                    " for body ", Show(body));
}

// The "_timeout" a decoded request carried, as EncodeRequest takes it: only a plain integer
// survives the trip; anything else is written back as null.
std::optional<int64_t> TimeoutOf(const DecodedRequest& request) {
  int64_t seconds;
  if (request.timeout_json.has_value() && !request.timeout_json->empty() &&
      request.timeout_json->find_first_not_of("-0123456789") == std::string::npos &&
      absl::SimpleAtoi(*request.timeout_json, &seconds) &&
      *request.timeout_json == absl::StrCat(seconds)) {
    return seconds;
  }
  return std::nullopt;
}

RequestMessage MessageOf(const DecodedRequest& request, const std::optional<int64_t>& timeout) {
  RequestMessage message;
  message.method = request.method;
  message.args_json = request.args_json;
  message.context_json = request.context_json;
  message.namespace_ = request.namespace_ ? absl::string_view(*request.namespace_) : "";
  message.version = request.version ? absl::string_view(*request.version) : "";
  message.msg_id = request.msg_id;
  message.reply_q = request.reply_q;
  message.call_monitor_timeout_s = timeout;
  message.unique_id = request.unique_id;
  return message;
}

void CheckDecodedRequest(const DecodedRequest& request, absl::string_view body) {
  CheckIsObject(request.args_json, "args_json", body);
  CheckIsObject(request.context_json, "context_json", body);
  const absl::StatusOr<std::vector<json::Member>> context =
      json::ObjectMembers(request.context_json);
  CELLGW_FUZZ_CHECK(context.ok(), "context_json ", Show(request.context_json), ": ",
                    context.status().ToString());
  absl::flat_hash_set<std::string> keys;
  for (const json::Member& member : *context) {
    CELLGW_FUZZ_CHECK(keys.insert(member.key).second, "context key ", Show(member.key),
                      " twice in ", Show(request.context_json));
  }
  if (request.timeout_json.has_value()) {
    const absl::Status valid = json::Validate(*request.timeout_json);
    CELLGW_FUZZ_CHECK(valid.ok(), "timeout_json ", Show(*request.timeout_json));
  }
  for (const std::string* text :
       {&request.method, &request.msg_id, &request.reply_q, &request.unique_id}) {
    CELLGW_FUZZ_CHECK(IsValidUtf8(*text), "not UTF-8: ", Show(*text), " in ", Show(body));
  }
  for (const std::optional<std::string>* text : {&request.namespace_, &request.version}) {
    CELLGW_FUZZ_CHECK(!text->has_value() || IsValidUtf8(**text), "not UTF-8 in ", Show(body));
  }
}

void CheckRoundTrip(const DecodedRequest& request, absl::string_view body) {
  const std::optional<int64_t> timeout = TimeoutOf(request);
  const absl::StatusOr<std::string> encoded = EncodeRequest(MessageOf(request, timeout));
  if (!request.msg_id.empty() && request.reply_q.empty()) {
    // A call nobody could answer: the encoder must refuse it, naming reply_q.
    CELLGW_FUZZ_CHECK(!encoded.ok() &&
                          encoded.status().code() == absl::StatusCode::kInvalidArgument &&
                          absl::StartsWith(encoded.status().message(), "reply_q"),
                      "call without reply_q encoded: ", encoded.status().ToString());
    return;
  }
  CELLGW_FUZZ_CHECK(encoded.ok(), "EncodeRequest of the request decoded from ", Show(body), ": ",
                    encoded.status().ToString());
  CELLGW_FUZZ_CHECK(IsPrintableAscii(*encoded), "encoded body ", Show(*encoded));

  const absl::StatusOr<DecodedRequest> again = DecodeRequest(*encoded);
  CELLGW_FUZZ_CHECK(again.ok(), "our own body ", Show(*encoded), ": ", again.status().ToString());
  const auto same = [&](absl::string_view field, absl::string_view first,
                        absl::string_view second) {
    CELLGW_FUZZ_CHECK(first == second, field, ": ", Show(first), " became ", Show(second),
                      " through ", Show(*encoded), " from ", Show(body));
  };
  same("method", request.method, again->method);
  same("unique_id", request.unique_id, again->unique_id);
  same("msg_id", request.msg_id, again->msg_id);
  same("args_json", PythonStyle(request.args_json), again->args_json);
  same("context_json", PythonStyle(request.context_json), PythonStyle(again->context_json));
  // An empty namespace or version is written as no key at all.
  same("namespace", request.namespace_.value_or(""), again->namespace_.value_or(""));
  CELLGW_FUZZ_CHECK(again->namespace_.has_value() == !request.namespace_.value_or("").empty(),
                    "namespace presence through ", Show(*encoded));
  same("version", request.version.value_or(""), again->version.value_or(""));
  CELLGW_FUZZ_CHECK(again->version.has_value() == !request.version.value_or("").empty(),
                    "version presence through ", Show(*encoded));
  if (request.msg_id.empty()) {  // a cast: no reply queue, no _timeout
    same("reply_q", "", again->reply_q);
    CELLGW_FUZZ_CHECK(!again->timeout_json.has_value(), "a cast got _timeout");
  } else {
    same("reply_q", request.reply_q, again->reply_q);
    same("_timeout", timeout ? absl::StrCat(*timeout) : "null", again->timeout_json.value_or(""));
  }

  // The encoder is deterministic and its output is its own fixed point.
  const absl::StatusOr<std::string> encoded_again = EncodeRequest(MessageOf(*again, timeout));
  CELLGW_FUZZ_CHECK(encoded_again.ok() && *encoded_again == *encoded, "re-encoding ",
                    Show(*encoded), " gave ",
                    encoded_again.ok() ? Show(*encoded_again) : encoded_again.status().ToString());
}

void CheckBody(absl::string_view body) {
  const absl::StatusOr<std::string> inner = UnwrapEnvelope(body);
  if (inner.ok()) {
    CheckIsObject(*inner, "UnwrapEnvelope's result", body);
  } else {
    CELLGW_FUZZ_CHECK(IsDecodeError(inner.status()), "UnwrapEnvelope of ", Show(body), ": ",
                      inner.status().ToString());
  }

  const absl::StatusOr<DecodedRequest> request = DecodeRequest(body);
  if (!request.ok()) {
    CELLGW_FUZZ_CHECK(IsDecodeError(request.status()), "DecodeRequest of ", Show(body), ": ",
                      request.status().ToString());
    return;
  }
  CELLGW_FUZZ_CHECK(inner.ok(), "DecodeRequest accepted ", Show(body),
                    " which UnwrapEnvelope refused: ", inner.status().ToString());
  CheckDecodedRequest(*request, body);
  CheckRoundTrip(*request, body);
}

}  // namespace
}  // namespace cellgw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cellgw::fuzz::CheckBody(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
