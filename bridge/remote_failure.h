// A remote exception as oslo.messaging carries it (//bridge, used by envelope for replies).
// An oslo server that fails a call puts a JSON object describing the exception, serialized to a
// *string*, in the reply's "failure" key (wire spec §8). This module reads and writes that
// object; envelope.h handles the reply around it. Values that are arbitrary JSON (args, kwargs)
// stay raw JSON text, so nothing is converted on the way through.
#ifndef CELLGW_BRIDGE_REMOTE_FAILURE_H_
#define CELLGW_BRIDGE_REMOTE_FAILURE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::bridge {

struct RemoteFailure {
  std::string exception_class;         // failure["class"], e.g. "NoSuchMethod"
  std::string exception_module;        // failure["module"], e.g. "builtins"
  std::string message;                 // failure["message"], str(exception)
  std::vector<std::string> traceback;  // failure["tb"]: formatted traceback entries
  std::string args_json = "[]";        // failure["args"], raw JSON text of an array
  std::string kwargs_json = "{}";      // failure["kwargs"], raw JSON text of an object
};

// Parses the JSON object that oslo puts (as a string) in a reply's "failure" key, as tolerantly
// as oslo's client (which reads it with dict.get): a missing or null "class"/"module" gives "",
// a missing "message" gives "", a missing or null "tb" gives no traceback, a missing or null
// "args"/"kwargs" gives "[]"/"{}". Unknown keys are ignored; with duplicate keys the last one
// counts (as json.loads). Returns INVALID_ARGUMENT naming the field (e.g. "failure.class: ...")
// when `failure_json` is not a JSON object, when class/module/message are present with another
// type than string (a null message is refused too: oslo's client cannot handle it), when "tb"
// is not a list of strings, when "args" is not an array or "kwargs" not an object.
absl::StatusOr<RemoteFailure> ParseRemoteFailure(absl::string_view failure_json);

// oslo's serialization of `failure`: keys class, module, message, tb, args, kwargs in that
// order, Python json.dumps default style (the string oslo puts in "failure"). Never fails:
// text fields that are not valid UTF-8 get U+FFFD for each bad byte, and args_json/kwargs_json
// that are not a valid JSON array/object are written as [] / {}.
std::string SerializeRemoteFailure(const RemoteFailure& failure);

}  // namespace cellgw::bridge

#endif  // CELLGW_BRIDGE_REMOTE_FAILURE_H_
