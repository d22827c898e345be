#include "bridge/rpc_dispatcher.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/json_text.h"

namespace cellgw::bridge {
namespace {

constexpr absl::string_view kDispatcherModule = "oslo_messaging.rpc.dispatcher";
constexpr absl::string_view kDefaultVersion = "1.0";

// An integer as Python's int(text) reads it, kept as text so any size compares exactly.
struct PyInt {
  bool negative = false;
  std::string digits;  // no leading zeros; "0" for zero
};

// int(text) for ASCII input: surrounding whitespace, an optional sign, decimal digits with
// single underscores between them. Non-ASCII digits, which Python also accepts, are refused:
// no oslo client sends them, and refusing only changes the answer from a result to ValueError.
std::optional<PyInt> ParsePyInt(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  PyInt value;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    value.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  bool last_was_digit = false;
  for (char c : text) {
    if (c == '_') {
      if (!last_was_digit) return std::nullopt;
      last_was_digit = false;
      continue;
    }
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    if (!(value.digits.empty() && c == '0')) value.digits.push_back(c);
    last_was_digit = true;
  }
  if (!last_was_digit) return std::nullopt;
  if (value.digits.empty()) {
    value.digits = "0";
    value.negative = false;
  }
  return value;
}

int Compare(const PyInt& a, const PyInt& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  int magnitude = 0;
  if (a.digits.size() != b.digits.size()) {
    magnitude = a.digits.size() < b.digits.size() ? -1 : 1;
  } else {
    magnitude = a.digits.compare(b.digits);
    magnitude = magnitude < 0 ? -1 : (magnitude > 0 ? 1 : 0);
  }
  return a.negative ? -magnitude : magnitude;
}

PyInt FromUnsigned(uint32_t n) { return PyInt{false, absl::StrCat(n)}; }

// Python's repr() of a str, for ValueError's message: single quotes unless the text holds a
// single quote and no double quote; backslash, the quote, \t \n \r and other control bytes
// escaped; everything else (non-ASCII included) copied.
std::string PyRepr(absl::string_view text) {
  const bool use_double =
      text.find('\'') != absl::string_view::npos && text.find('"') == absl::string_view::npos;
  const char quote = use_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == quote) {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrFormat("\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  out.push_back(quote);
  return out;
}

// The outcome of oslo's version_is_compatible(imp_version, requested) for one endpoint:
// true/false, or the exception it raises while reading `requested`.
struct Compatibility {
  bool compatible = false;
  std::optional<RemoteFailure> raised;
};

std::optional<RemoteFailure> IntOrRaise(const std::vector<absl::string_view>& parts, size_t index,
                                        PyInt* out) {
  if (index >= parts.size()) {
    return DispatcherFailure("IndexError", "builtins", "list index out of range");
  }
  std::optional<PyInt> value = ParsePyInt(parts[index]);
  if (!value.has_value()) {
    return DispatcherFailure("ValueError", "builtins",
                             absl::StrCat("invalid literal for int() with base 10: ",
                                          PyRepr(parts[index])));
  }
  *out = *std::move(value);
  return std::nullopt;
}

// Mirrors oslo._utils.version_is_compatible step by step, including which part it reads
// first, so a malformed request version raises exactly when oslo's would.
Compatibility VersionIsCompatible(const Version& available, absl::string_view requested) {
  const std::vector<absl::string_view> parts = absl::StrSplit(requested, '.');
  Compatibility result;
  PyInt major;
  if ((result.raised = IntOrRaise(parts, 0, &major))) return result;
  if (Compare(major, FromUnsigned(available.major)) != 0) return result;
  PyInt minor;
  if ((result.raised = IntOrRaise(parts, 1, &minor))) return result;
  const int minor_order = Compare(minor, FromUnsigned(available.minor));
  if (minor_order > 0) return result;
  if (minor_order == 0 && parts.size() > 2) {
    PyInt revision;
    if ((result.raised = IntOrRaise(parts, 2, &revision))) return result;
    if (Compare(revision, FromUnsigned(available.revision)) > 0) return result;
  }
  result.compatible = true;
  return result;
}

}  // namespace

RemoteFailure DispatcherFailure(absl::string_view exception_class,
                                absl::string_view exception_module, absl::string_view message) {
  RemoteFailure failure;
  failure.exception_class = std::string(exception_class);
  failure.exception_module = std::string(exception_module);
  failure.message = std::string(message);
  // Python prints builtins' exceptions without their module.
  const std::string name = exception_module == "builtins"
                               ? std::string(exception_class)
                               : absl::StrCat(exception_module, ".", exception_class);
  failure.traceback = {"Traceback (most recent call last):\n",
                       "  File \"cellgw\", in dispatch (answered by the gateway)\n",
                       absl::StrCat(name, ": ", message, "\n")};
  std::string args = "[";
  json::AppendQuotedLossy(message, &args);
  args += "]";
  failure.args_json = std::move(args);
  failure.kwargs_json = "{}";
  return failure;
}

absl::StatusOr<RpcDispatcher> RpcDispatcher::Create(std::vector<RpcEndpoint> endpoints) {
  if (endpoints.empty()) {
    return absl::InvalidArgumentError("endpoints: at least one endpoint is required");
  }
  std::vector<Entry> entries;
  entries.reserve(endpoints.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    RpcEndpoint& endpoint = endpoints[i];
    const std::string field = absl::StrCat("endpoints[", i, "]");
    if (endpoint.namespace_.has_value() && endpoint.namespace_->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".namespace: empty (leave it unset for the default namespace)"));
    }
    absl::StatusOr<Version> version =
        ParseVersion(endpoint.version.empty() ? kDefaultVersion : endpoint.version);
    if (!version.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".version: ", version.status().message()));
    }
    Entry entry{std::move(endpoint.namespace_), *version, {}};
    for (size_t j = 0; j < endpoint.methods.size(); ++j) {
      const std::string& method = endpoint.methods[j];
      if (method.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".methods[", j, "]: empty"));
      }
      // An oslo endpoint's `target` attribute is its Target: no oslo server can expose a
      // method of that name, so no oslo client expects one.
      if (method == "target") {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ".methods[", j, "]: 'target' is reserved (an oslo endpoint's Target)"));
      }
      if (!entry.methods.insert(method).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".methods[", j, "]: '", method, "' is listed twice"));
      }
    }
    entries.push_back(std::move(entry));
  }
  return RpcDispatcher(std::move(entries));
}

DispatchDecision RpcDispatcher::Dispatch(absl::string_view method,
                                         const std::optional<std::string>& namespace_,
                                         const std::optional<std::string>& version) const {
  const absl::string_view requested = version.has_value() ? *version : kDefaultVersion;
  DispatchDecision decision;
  bool found_compatible = false;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Entry& endpoint = endpoints_[i];
    if (endpoint.namespace_ != namespace_) continue;
    Compatibility compatibility = VersionIsCompatible(endpoint.version, requested);
    if (compatibility.raised.has_value()) {
      decision.failure = *std::move(compatibility.raised);
      return decision;
    }
    if (!compatibility.compatible) continue;
    // oslo's DefaultRPCAccessPolicy hides private methods even when the endpoint has them.
    if (endpoint.methods.contains(method) && !absl::StartsWith(method, "_")) {
      decision.endpoint = i;
      return decision;
    }
    found_compatible = true;
  }
  if (found_compatible) {
    decision.failure = DispatcherFailure(
        "NoSuchMethod", kDispatcherModule,
        absl::StrCat("Endpoint does not support RPC method ", method));
  } else {
    decision.failure = DispatcherFailure(
        "UnsupportedVersion", kDispatcherModule,
        absl::StrCat("Endpoint does not support RPC version ", requested,
                     method.empty() ? "" : absl::StrCat(". Attempted method: ", method)));
  }
  return decision;
}

}  // namespace cellgw::bridge
