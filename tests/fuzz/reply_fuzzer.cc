// libFuzzer target for the reply side of bridge/envelope and for bridge/remote_failure
// (tests/fuzz): DecodeReply, what the gateway does with every body that arrives on its reply
// queue, and ParseRemoteFailure / SerializeRemoteFailure. The input is used three ways:
//  * as a reply body: errors are INVALID_ARGUMENT or FAILED_PRECONDITION; a decoded reply has a
//    valid result and UTF-8 msg_id, and re-encoding it (EncodeReply) gives a printable-ASCII
//    body that decodes to the same reply and re-encodes to the very same bytes;
//  * as the failure JSON: errors are INVALID_ARGUMENT naming a "failure" field; a parsed
//    failure serializes to a JSON object that parses back to the same failure and serializes
//    to the same bytes;
//  * cut at '\n' into the fields of a RemoteFailure (class, module, message, args, kwargs,
//    traceback lines...): SerializeRemoteFailure must still write an object that parses,
//    keeping each field that is valid UTF-8 and args/kwargs that are a valid array/object.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bridge/envelope.h"
#include "common/json_text.h"
#include "bridge/remote_failure.h"
#include "tests/fuzz/fuzz_check.h"

namespace cellgw::fuzz {
namespace {

namespace json = ::cellgw::json;
using ::cellgw::bridge::DecodeReply;
using ::cellgw::bridge::EncodeReply;
using ::cellgw::bridge::ParseRemoteFailure;
using ::cellgw::bridge::RemoteFailure;
using ::cellgw::bridge::Reply;
using ::cellgw::bridge::SerializeRemoteFailure;

std::string PythonStyle(absl::string_view text) {
  std::string out;
  const absl::Status status = json::AppendPythonStyle(text, &out);
  CELLGW_FUZZ_CHECK(status.ok(), Show(text), ": ", status.ToString());
  return out;
}

// Two failures carry the same exception (args/kwargs compared as Python would print them).
void CheckSameFailure(const RemoteFailure& first, const RemoteFailure& second,
                      absl::string_view context) {
  CELLGW_FUZZ_CHECK(first.exception_class == second.exception_class, "class ",
                    Show(first.exception_class), " became ", Show(second.exception_class), " ",
                    context);
  CELLGW_FUZZ_CHECK(first.exception_module == second.exception_module, "module ",
                    Show(first.exception_module), " became ", Show(second.exception_module), " ",
                    context);
  CELLGW_FUZZ_CHECK(first.message == second.message, "message ", Show(first.message),
                    " became ", Show(second.message), " ", context);
  CELLGW_FUZZ_CHECK(first.traceback == second.traceback, "traceback ",
                    Show(absl::StrJoin(first.traceback, "|")), " became ",
                    Show(absl::StrJoin(second.traceback, "|")), " ", context);
  CELLGW_FUZZ_CHECK(PythonStyle(first.args_json) == PythonStyle(second.args_json), "args ",
                    Show(first.args_json), " became ", Show(second.args_json), " ", context);
  CELLGW_FUZZ_CHECK(PythonStyle(first.kwargs_json) == PythonStyle(second.kwargs_json),
                    "kwargs ", Show(first.kwargs_json), " became ", Show(second.kwargs_json), " ",
                    context);
}

// A parsed failure: its fields decode to UTF-8, args/kwargs are an array/object, and it
// survives SerializeRemoteFailure exactly.
void CheckParsedFailure(const RemoteFailure& failure, absl::string_view source) {
  for (const std::string* text :
       {&failure.exception_class, &failure.exception_module, &failure.message}) {
    CELLGW_FUZZ_CHECK(IsValidUtf8(*text), "not UTF-8: ", Show(*text), " from ", Show(source));
  }
  for (const std::string& line : failure.traceback) {
    CELLGW_FUZZ_CHECK(IsValidUtf8(line), "not UTF-8: ", Show(line), " from ", Show(source));
  }
  const absl::StatusOr<json::Kind> args = json::ValidateAndKind(failure.args_json);
  CELLGW_FUZZ_CHECK(args.ok() && *args == json::Kind::kArray, "args ", Show(failure.args_json));
  const absl::StatusOr<json::Kind> kwargs = json::ValidateAndKind(failure.kwargs_json);
  CELLGW_FUZZ_CHECK(kwargs.ok() && *kwargs == json::Kind::kObject, "kwargs ",
                    Show(failure.kwargs_json));

  const std::string serialized = SerializeRemoteFailure(failure);
  CELLGW_FUZZ_CHECK(IsPrintableAscii(serialized), "serialized ", Show(serialized));
  const absl::StatusOr<RemoteFailure> reparsed = ParseRemoteFailure(serialized);
  CELLGW_FUZZ_CHECK(reparsed.ok(), "our own failure JSON ", Show(serialized), ": ",
                    reparsed.status().ToString());
  CheckSameFailure(failure, *reparsed, absl::StrCat("through ", Show(serialized)));
  CELLGW_FUZZ_CHECK(SerializeRemoteFailure(*reparsed) == serialized, "serializing ",
                    Show(serialized), " again differs");
}

void CheckReplyBody(absl::string_view body) {
  const absl::StatusOr<Reply> reply = DecodeReply(body);
  if (!reply.ok()) {
    CELLGW_FUZZ_CHECK(reply.status().code() == absl::StatusCode::kInvalidArgument ||
                          reply.status().code() == absl::StatusCode::kFailedPrecondition,
                      "DecodeReply of ", Show(body), ": ", reply.status().ToString());
    return;
  }
  CELLGW_FUZZ_CHECK(json::Validate(reply->result_json).ok(), "result_json ",
                    Show(reply->result_json), " from ", Show(body));
  CELLGW_FUZZ_CHECK(IsValidUtf8(reply->msg_id), "msg_id ", Show(reply->msg_id));
  if (reply->failure.has_value()) CheckParsedFailure(*reply->failure, body);

  const RemoteFailure* failure = reply->failure ? &*reply->failure : nullptr;
  const absl::StatusOr<std::string> encoded =
      EncodeReply(reply->msg_id, reply->result_json, failure, reply->ending, "u");
  CELLGW_FUZZ_CHECK(encoded.ok(), "EncodeReply of the reply decoded from ", Show(body), ": ",
                    encoded.status().ToString());
  CELLGW_FUZZ_CHECK(IsPrintableAscii(*encoded), "encoded reply ", Show(*encoded));
  const absl::StatusOr<Reply> again = DecodeReply(*encoded);
  CELLGW_FUZZ_CHECK(again.ok(), "our own reply ", Show(*encoded), ": ", again.status().ToString());
  CELLGW_FUZZ_CHECK(again->msg_id == reply->msg_id && again->ending == reply->ending &&
                        again->result_json == PythonStyle(reply->result_json) &&
                        again->failure.has_value() == reply->failure.has_value() &&
                        again->IsHeartbeat() == reply->IsHeartbeat(),
                    "reply ", Show(body), " came back from ", Show(*encoded), " as msg_id ",
                    Show(again->msg_id), " ending ", again->ending, " result ",
                    Show(again->result_json));
  if (failure != nullptr) {
    CheckSameFailure(*failure, *again->failure, absl::StrCat("through ", Show(*encoded)));
  }
  const RemoteFailure* failure_again = again->failure ? &*again->failure : nullptr;
  const absl::StatusOr<std::string> encoded_again =
      EncodeReply(again->msg_id, again->result_json, failure_again, again->ending, "u");
  CELLGW_FUZZ_CHECK(encoded_again.ok() && *encoded_again == *encoded, "re-encoding ",
                    Show(*encoded), " differs");
}

void CheckFailureJson(absl::string_view text) {
  const absl::StatusOr<RemoteFailure> failure = ParseRemoteFailure(text);
  if (!failure.ok()) {
    CELLGW_FUZZ_CHECK(failure.status().code() == absl::StatusCode::kInvalidArgument &&
                          absl::StartsWith(failure.status().message(), "failure"),
                      "ParseRemoteFailure of ", Show(text), ": ", failure.status().ToString());
    return;
  }
  CheckParsedFailure(*failure, text);
}

// What SerializeRemoteFailure writes for `raw`, a container text that must start with `open`.
std::string ExpectedContainer(absl::string_view raw, char open, absl::string_view fallback) {
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(raw);
  std::string out;
  if (!trimmed.empty() && trimmed.front() == open && json::AppendPythonStyle(raw, &out).ok()) {
    return out;
  }
  return std::string(fallback);
}

void CheckSerializeAnything(absl::string_view input) {
  const std::vector<absl::string_view> parts = absl::StrSplit(input, '\n');
  const auto part = [&parts](size_t i) { return i < parts.size() ? parts[i] : ""; };
  RemoteFailure failure;
  failure.exception_class = std::string(part(0));
  failure.exception_module = std::string(part(1));
  failure.message = std::string(part(2));
  failure.args_json = std::string(part(3));
  failure.kwargs_json = std::string(part(4));
  for (size_t i = 5; i < parts.size(); ++i) failure.traceback.emplace_back(parts[i]);

  const std::string serialized = SerializeRemoteFailure(failure);
  CELLGW_FUZZ_CHECK(IsPrintableAscii(serialized), "serialized ", Show(serialized));
  const absl::StatusOr<RemoteFailure> parsed = ParseRemoteFailure(serialized);
  CELLGW_FUZZ_CHECK(parsed.ok(), "SerializeRemoteFailure wrote ", Show(serialized),
                    " which does not parse: ", parsed.status().ToString());
  const auto kept = [&](const std::string& written, const std::string& read) {
    CELLGW_FUZZ_CHECK(!IsValidUtf8(written) || written == read, Show(written), " came back as ",
                      Show(read), " through ", Show(serialized));
  };
  kept(failure.exception_class, parsed->exception_class);
  kept(failure.exception_module, parsed->exception_module);
  kept(failure.message, parsed->message);
  CELLGW_FUZZ_CHECK(parsed->traceback.size() == failure.traceback.size(), "traceback length");
  for (size_t i = 0; i < failure.traceback.size(); ++i) {
    kept(failure.traceback[i], parsed->traceback[i]);
  }
  CELLGW_FUZZ_CHECK(parsed->args_json == ExpectedContainer(failure.args_json, '[', "[]"),
                    "args ", Show(failure.args_json), " came back as ", Show(parsed->args_json));
  CELLGW_FUZZ_CHECK(parsed->kwargs_json == ExpectedContainer(failure.kwargs_json, '{', "{}"),
                    "kwargs ", Show(failure.kwargs_json), " came back as ",
                    Show(parsed->kwargs_json));
}

}  // namespace
}  // namespace cellgw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  cellgw::fuzz::CheckReplyBody(input);
  cellgw::fuzz::CheckFailureJson(input);
  cellgw::fuzz::CheckSerializeAnything(input);
  return 0;
}
