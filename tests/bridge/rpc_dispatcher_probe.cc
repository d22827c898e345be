// rpc_dispatcher_probe: runs bridge::RpcDispatcher over cases read from stdin, one JSON object
// per line, and prints one JSON line per decision, for rpc_dispatcher_oracle_test.py, which
// asks oslo.messaging's own RPCDispatcher the same questions.
//
// In:  {"endpoints": [{"namespace": null | "ns", "version": "" | "X.Y", "methods": ["m", ...]}],
//       "method": "m", "namespace": null | "ns", "version": null | "X.Y"}
//      (a null "version" means the request had no version key)
// Out: {"endpoint": i}  or  {"class": "...", "module": "...", "message": "...", "args": [...]}
//      or {"error": "..."} when the case itself is malformed.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bridge/rpc_dispatcher.h"
#include "common/json_text.h"

namespace cellgw::bridge {
namespace {

absl::StatusOr<std::optional<std::string>> OptionalString(absl::string_view value) {
  if (json::KindOfValid(value) == json::Kind::kNull) return std::optional<std::string>();
  absl::StatusOr<std::string> text = json::Unquote(value);
  if (!text.ok()) return text.status();
  return std::optional<std::string>(*std::move(text));
}

absl::StatusOr<RpcEndpoint> ParseEndpoint(absl::string_view text) {
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(text);
  if (!members.ok()) return members.status();
  RpcEndpoint endpoint;
  for (const json::Member& member : *members) {
    if (member.key == "namespace") {
      absl::StatusOr<std::optional<std::string>> ns = OptionalString(member.value);
      if (!ns.ok()) return ns.status();
      endpoint.namespace_ = *ns;
    } else if (member.key == "version") {
      absl::StatusOr<std::string> version = json::Unquote(member.value);
      if (!version.ok()) return version.status();
      endpoint.version = *version;
    } else if (member.key == "methods") {
      absl::StatusOr<std::vector<absl::string_view>> methods = json::ArrayElements(member.value);
      if (!methods.ok()) return methods.status();
      for (absl::string_view method : *methods) {
        absl::StatusOr<std::string> name = json::Unquote(method);
        if (!name.ok()) return name.status();
        endpoint.methods.push_back(*name);
      }
    }
  }
  return endpoint;
}

std::string Decide(absl::string_view line) {
  absl::StatusOr<std::vector<json::Member>> members = json::ObjectMembers(line);
  if (!members.ok()) return std::string(members.status().message());
  std::vector<RpcEndpoint> endpoints;
  std::string method;
  std::optional<std::string> namespace_;
  std::optional<std::string> version;
  for (const json::Member& member : *members) {
    absl::Status status;
    if (member.key == "endpoints") {
      absl::StatusOr<std::vector<absl::string_view>> items = json::ArrayElements(member.value);
      if (!items.ok()) return std::string(items.status().message());
      for (absl::string_view item : *items) {
        absl::StatusOr<RpcEndpoint> endpoint = ParseEndpoint(item);
        if (!endpoint.ok()) return std::string(endpoint.status().message());
        endpoints.push_back(*std::move(endpoint));
      }
    } else if (member.key == "method") {
      absl::StatusOr<std::string> text = json::Unquote(member.value);
      if (!text.ok()) return std::string(text.status().message());
      method = *text;
    } else if (member.key == "namespace" || member.key == "version") {
      absl::StatusOr<std::optional<std::string>> text = OptionalString(member.value);
      if (!text.ok()) return std::string(text.status().message());
      (member.key == "namespace" ? namespace_ : version) = *text;
    }
  }
  absl::StatusOr<RpcDispatcher> dispatcher = RpcDispatcher::Create(std::move(endpoints));
  if (!dispatcher.ok()) return std::string(dispatcher.status().message());
  const DispatchDecision decision = dispatcher->Dispatch(method, namespace_, version);
  if (decision.endpoint.has_value()) return absl::StrCat("{\"endpoint\": ", *decision.endpoint, "}");
  std::string out = "{\"class\": ";
  json::AppendQuotedLossy(decision.failure.exception_class, &out);
  out += ", \"module\": ";
  json::AppendQuotedLossy(decision.failure.exception_module, &out);
  out += ", \"message\": ";
  json::AppendQuotedLossy(decision.failure.message, &out);
  absl::StrAppend(&out, ", \"args\": ", decision.failure.args_json, "}");
  return out;
}

}  // namespace
}  // namespace cellgw::bridge

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::string out = cellgw::bridge::Decide(line);
    if (out.empty() || out.front() != '{') {
      std::string quoted;
      cellgw::json::AppendQuotedLossy(out, &quoted);
      out = absl::StrCat("{\"error\": ", quoted, "}");
    }
    std::cout << out << "\n";
  }
  return 0;
}
