// oslo.messaging RPC message bodies (//bridge; used by the AMQP client/server code and by
// test peers). Encodes requests and replies byte for byte as oslo.messaging 14 does (the 2.0
// envelope of wire spec §6.1 around the inner message of §7 / §7.2), and decodes both the 2.0
// and the legacy 1.0 forms (§6.2). JSON values passing through (args, context values, results)
// are spliced as text, never converted, so big integers and unicode survive exactly.
//
// All functions are pure and thread-compatible.
#ifndef CELLGW_BRIDGE_ENVELOPE_H_
#define CELLGW_BRIDGE_ENVELOPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/remote_failure.h"
#include "common/json_text.h"

namespace cellgw::bridge {

// What a cast, fanout or call request carries. The views must outlive the EncodeRequest call.
struct RequestMessage {
  absl::string_view method;
  absl::string_view args_json;     // a JSON object's text; "" means {}
  absl::string_view context_json;  // a JSON object's text; "" means {}. Each member becomes
                                   // "_context_<key>", in order, values re-emitted Python-style,
                                   // null values kept
  absl::string_view namespace_;    // "" -> key omitted
  absl::string_view version;       // "" -> key omitted
  absl::string_view msg_id;        // "" -> a cast/fanout: no _msg_id, _reply_q, _timeout keys
  absl::string_view reply_q;       // required when msg_id is set
  std::optional<int64_t> call_monitor_timeout_s;  // "_timeout": integer or null (calls only)
  absl::string_view unique_id;                    // "_unique_id", written as given
};

// The exact AMQP body oslo.messaging 14 sends for `message`:
// {"oslo.version": "2.0", "oslo.message": "<inner JSON as a string>"}, the inner keys in the
// order method, args, [namespace], [version], [_msg_id, _reply_q, _timeout], _unique_id,
// _context_*, everything in Python json.dumps default style (pure ASCII). Duplicate keys in
// args_json/context_json collapse as in a Python dict.
// Returns INVALID_ARGUMENT naming the field: "args_json" / "context_json" when they are not
// valid JSON objects; "method", "namespace", "version", "msg_id", "reply_q", "unique_id" when
// not valid UTF-8; "reply_q" when msg_id is set and reply_q is empty (the server could not
// answer).
absl::StatusOr<std::string> EncodeRequest(const RequestMessage& message);

// Returns the inner message JSON text (an object) of `body`. A body object holding both keys
// "oslo.version" and "oslo.message" is a 2.0 envelope: the version must be accepted (§6.3:
// major 2, minor <= 0, revision <= 0, with Python int() parsing of each part; "2.0" and
// "2.0.0" pass) and the message is decoded from its JSON string. Any other object is a 1.0
// message and is returned as it is.
// Returns INVALID_ARGUMENT when the body is not a JSON object, "oslo.version" or
// "oslo.message" is not a string, or the inner message is not a JSON object;
// FAILED_PRECONDITION when the envelope version is malformed or unsupported ("2", "x.y",
// "2.1", "3.0", "1.0").
absl::StatusOr<std::string> UnwrapEnvelope(absl::string_view body);

struct Reply {
  std::string msg_id;                    // "_msg_id"
  std::string result_json = "null";      // raw JSON text of "result" (missing -> null)
  std::optional<RemoteFailure> failure;  // set when "failure" is a non-empty string
  bool ending = false;                   // "ending" is true
  // A call-monitor heartbeat: not ending, null result, no failure.
  bool IsHeartbeat() const;
};

// Decodes a reply body (2.0 or 1.0 form) with the rules of oslo's client (§7.4): "_msg_id"
// must be a string, "failure" must be present and be null or a string (an empty string means
// no failure), "ending" true/false/null/missing (null and missing mean false), "result" any
// JSON (missing means null). With duplicate keys the last one counts.
// Returns what UnwrapEnvelope returns for the envelope, and INVALID_ARGUMENT naming the key
// when a rule above is broken or the failure string does not parse (ParseRemoteFailure).
absl::StatusOr<Reply> DecodeReply(absl::string_view body);

// The request as a server sees it (used by the native echo server and test peers).
struct DecodedRequest {
  std::string method;                     // "" when missing or null (oslo answers those with a
                                          // failure, so the request is still returned)
  std::string args_json = "{}";           // raw JSON text of an object
  std::string context_json = "{}";        // the _context_ keys with the prefix stripped, rebuilt as
                                          // an object in order, values raw
  std::optional<std::string> namespace_;  // missing or null -> nullopt
  std::optional<std::string> version;     // missing or null -> nullopt
  std::string msg_id;                     // "" for casts (missing, null or "")
  std::string reply_q;                    // "" when missing or null
  std::optional<std::string> timeout_json;  // raw "_timeout" value when present
  std::string unique_id;                    // "" when missing or null
};

// Decodes a request body (2.0 or 1.0 form) the way oslo's server unpacks it (§7). With
// duplicate keys the last one counts, at the position of the first (Python dict).
// Returns what UnwrapEnvelope returns for the envelope, and INVALID_ARGUMENT naming the key
// when "args" is not an object, or "method", "namespace", "version", "_msg_id", "_reply_q",
// "_unique_id" is neither a string nor null.
absl::StatusOr<DecodedRequest> DecodeRequest(absl::string_view body);

// A reply exactly as oslo's server sends it: 2.0 envelope around {"result": ..., "failure":
// null or the SerializeRemoteFailure string, "ending": ..., "_msg_id": ..., "_unique_id": ...}.
// `result_json` is re-emitted Python-style; "" means null. A heartbeat is
// EncodeReply(id, "null", nullptr, false, unique_id).
// Returns INVALID_ARGUMENT naming "result_json" when it is not valid JSON, or "msg_id" /
// "unique_id" when they are not valid UTF-8.
absl::StatusOr<std::string> EncodeReply(absl::string_view msg_id, absl::string_view result_json,
                                        const RemoteFailure* failure, bool ending,
                                        absl::string_view unique_id);

// Building blocks shared with the other oslo message codecs (notification.h).

// The 2.0 envelope around `inner`, an oslo message already written in Python json.dumps style
// (pure ASCII): {"oslo.version": "2.0", "oslo.message": "<inner as a JSON string>"}.
std::string WrapEnvelope(absl::string_view inner);

// Appends `, "_context_<key>": <value>` for each member, in order, values re-emitted
// Python-style: what oslo's pack_context does with a request context. INVALID_ARGUMENT naming
// `field` when a key is not UTF-8 or a value is not valid JSON; `inner` may then hold part of
// the output.
absl::Status AppendPackedContext(const std::vector<json::Member>& context,
                                 absl::string_view field, std::string* inner);

// The "_context_*" members of an inner message as one JSON object, keys without the prefix,
// in order, values raw: what oslo's unpack_context hands to the endpoint. "{}" when there are
// none.
std::string UnpackContext(const std::vector<json::Member>& members);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_ENVELOPE_H_
