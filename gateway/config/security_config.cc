#include "gateway/config/security_config.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/config/tls_files.h"
#include "gateway/config/yaml_values.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::gateway {
namespace {

// AMQP names (topics, exchanges) are at most 255 bytes; patterns need no more.
constexpr size_t kMaxPatternBytes = 255;
constexpr size_t kMaxNameBytes = 1024;

using yaml::Child;
using yaml::DisplayKey;
using yaml::Error;
using yaml::Index;
using yaml::KindOf;
using yaml::MapEntries;
using yaml::ReadBool;
using yaml::ReadString;
using yaml::UnknownKeyMessage;

// A file path in a message: escaped, whole unless absurdly long.
std::string DisplayPath(absl::string_view path) {
  constexpr size_t kMaxBytes = 1024;
  if (path.size() <= kMaxBytes) return absl::CHexEscape(path);
  return absl::StrCat(absl::CHexEscape(path.substr(0, kMaxBytes)), "...");
}

absl::StatusOr<std::string> ReadPath(const YAML::Node& node, absl::string_view path) {
  CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(node, path));
  if (text.empty()) return Error(path, "must be a file path, not empty");
  if (text.find('\0') != std::string::npos) return Error(path, "must not contain NUL bytes");
  return text;
}

// Whether a list may hold "" (servers and namespaces: "" matches the unset value).
enum class EmptyItems { kRefused, kAllowed };

// A non-empty list of strings of at most `max_bytes`, non-empty unless `empty` allows them.
absl::StatusOr<std::vector<std::string>> ReadStringList(const YAML::Node& node,
                                                        absl::string_view path, size_t max_bytes,
                                                        EmptyItems empty = EmptyItems::kRefused) {
  if (!node.IsSequence()) {
    return Error(path, absl::StrCat("must be a list of patterns, not ", KindOf(node)));
  }
  if (node.size() == 0) {
    return Error(path, "must not be an empty list (leave the key out, or write [\"*\"])");
  }
  std::vector<std::string> items;
  size_t i = 0;
  for (YAML::const_iterator it = node.begin(); it != node.end(); ++it, ++i) {
    const std::string item_path = Index(path, i);
    CELLGW_ASSIGN_OR_RETURN(std::string item, ReadString(*it, item_path));
    if (item.empty() && empty == EmptyItems::kRefused) return Error(item_path, "must not be empty");
    if (item.size() > max_bytes) {
      return Error(item_path, absl::StrCat("is longer than ", max_bytes, " bytes"));
    }
    items.push_back(std::move(item));
  }
  return items;
}

// Errors about a file: the key path, the quoted path, and why.
absl::Status FileError(absl::string_view key_path, const std::string& file,
                       const absl::Status& why) {
  return Error(key_path, absl::StrCat("cannot use \"", DisplayPath(file), "\": ", why.message()));
}

absl::StatusOr<TlsServerConfig> ParseTls(const YAML::Node& node, const std::string& path) {
  CELLGW_ASSIGN_OR_RETURN(
      auto entries, MapEntries(node, path, "TLS settings",
                               {"cert_file", "key_file", "client_ca_file", "require_client_cert"},
                               UnknownKeyMessage::kListAllowed));
  TlsServerConfig tls;
  bool has_require = false;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key == "cert_file") {
      CELLGW_ASSIGN_OR_RETURN(tls.cert_file, ReadPath(value, key_path));
    } else if (key == "key_file") {
      CELLGW_ASSIGN_OR_RETURN(tls.key_file, ReadPath(value, key_path));
    } else if (key == "client_ca_file") {
      CELLGW_ASSIGN_OR_RETURN(tls.client_ca_file, ReadPath(value, key_path));
    } else if (key == "require_client_cert") {
      CELLGW_ASSIGN_OR_RETURN(tls.require_client_cert, ReadBool(value, key_path));
      has_require = true;
    }
  }
  if (tls.cert_file.empty()) return Error(Child(path, "cert_file"), "required key is missing");
  if (tls.key_file.empty()) return Error(Child(path, "key_file"), "required key is missing");
  if (has_require && tls.client_ca_file.empty()) {
    return Error(Child(path, "require_client_cert"),
                 "only applies with client_ca_file (mutual TLS)");
  }

  absl::StatusOr<std::string> chain = ReadCertificateFile(tls.cert_file);
  if (!chain.ok()) return FileError(Child(path, "cert_file"), tls.cert_file, chain.status());
  tls.cert_chain_pem = *std::move(chain);
  absl::StatusOr<std::string> key = ReadPrivateKeyFile(tls.key_file);
  if (!key.ok()) return FileError(Child(path, "key_file"), tls.key_file, key.status());
  tls.private_key_pem = *std::move(key);
  absl::Status matches = CheckKeyMatchesCertificate(tls.cert_chain_pem, tls.private_key_pem);
  if (!matches.ok()) {
    return Error(Child(path, "key_file"),
                 absl::StrCat("\"", DisplayPath(tls.key_file), "\" does not match cert_file \"",
                              DisplayPath(tls.cert_file), "\": ", matches.message()));
  }
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadCertificateFile(tls.client_ca_file);
    if (!ca.ok()) {
      return FileError(Child(path, "client_ca_file"), tls.client_ca_file, ca.status());
    }
    tls.client_ca_pem = *std::move(ca);
  }
  return tls;
}

// True for a plain (unquoted) YAML scalar that YAML's core schema reads as a boolean, null or
// number: `is_admin: false` must not silently become the string "false", which Python
// services treat as true.
bool LooksLikeNonString(const YAML::Node& node) {
  if (node.Tag() != "?") return false;  // quoted: a string for sure
  const std::string& text = node.Scalar();
  static const std::set<std::string> kWords = {
      "true", "True",  "TRUE", "false", "False", "FALSE", "null", "Null", "NULL",
      "~",    ".inf",  ".Inf", ".INF",  "-.inf", ".nan", ".NaN", ".NAN"};
  if (kWords.count(text) > 0) return true;
  double number = 0;
  return absl::SimpleAtod(text, &number) || absl::StartsWith(text, "0x") ||
         absl::StartsWith(text, "0o");
}

// context_set: a map of context key -> template (gateway/security/context_rules.h).
absl::StatusOr<std::vector<std::pair<std::string, ContextTemplate>>> ReadContextSet(
    const YAML::Node& node, const std::string& path) {
  CELLGW_ASSIGN_OR_RETURN(auto entries, MapEntries(node, path, "context keys and templates", {}));
  if (entries.empty()) {
    return Error(path, "must not be an empty map (leave the key out to set nothing)");
  }
  std::vector<std::pair<std::string, ContextTemplate>> set;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key.empty()) return Error(path, "a context key must not be empty");
    if (key.size() > kMaxPatternBytes) {
      return Error(key_path, absl::StrCat("the key is longer than ", kMaxPatternBytes, " bytes"));
    }
    CELLGW_ASSIGN_OR_RETURN(std::string text, ReadString(value, key_path));
    if (LooksLikeNonString(value)) {
      return Error(key_path, absl::StrCat("must be a string template; YAML reads this as a ",
                                          "boolean, null or number, yet the service would get "
                                          "the text \"",
                                          DisplayKey(text),
                                          "\" (quote it if that is meant, or refuse the key "
                                          "with context_deny)"));
    }
    if (text.size() > kMaxNameBytes) {
      return Error(key_path, absl::StrCat("is longer than ", kMaxNameBytes, " bytes"));
    }
    absl::StatusOr<ContextTemplate> parsed = ContextTemplate::Parse(text);
    if (!parsed.ok()) return Error(key_path, parsed.status().message());
    set.emplace_back(key, *std::move(parsed));
  }
  return set;
}

absl::StatusOr<Grant> ParseGrant(const YAML::Node& node, const std::string& path) {
  CELLGW_ASSIGN_OR_RETURN(
      auto entries,
      MapEntries(node, path, "grant settings",
                 {"identity", "subject", "cells", "topics", "methods", "exchanges", "kinds",
                  "servers", "namespaces", "context_deny", "context_set"},
                 UnknownKeyMessage::kListAllowed));
  Grant grant;
  bool has_cells = false, has_topics = false, has_methods = false;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key == "identity" || key == "subject") {
      CELLGW_ASSIGN_OR_RETURN(std::string name, ReadString(value, key_path));
      if (name.empty()) return Error(key_path, "must not be empty");
      if (name.size() > kMaxNameBytes) {
        return Error(key_path, absl::StrCat("is longer than ", kMaxNameBytes, " bytes"));
      }
      (key == "identity" ? grant.identity : grant.subject) = std::move(name);
    } else if (key == "cells") {
      CELLGW_ASSIGN_OR_RETURN(grant.cells, ReadStringList(value, key_path, kMaxPatternBytes));
      has_cells = true;
    } else if (key == "topics") {
      CELLGW_ASSIGN_OR_RETURN(grant.topics, ReadStringList(value, key_path, kMaxPatternBytes));
      has_topics = true;
    } else if (key == "methods") {
      CELLGW_ASSIGN_OR_RETURN(grant.methods, ReadStringList(value, key_path, kMaxPatternBytes));
      has_methods = true;
    } else if (key == "exchanges") {
      CELLGW_ASSIGN_OR_RETURN(grant.exchanges, ReadStringList(value, key_path, kMaxPatternBytes));
    } else if (key == "servers") {
      CELLGW_ASSIGN_OR_RETURN(grant.servers, ReadStringList(value, key_path, kMaxPatternBytes,
                                                            EmptyItems::kAllowed));
    } else if (key == "namespaces") {
      CELLGW_ASSIGN_OR_RETURN(grant.namespaces, ReadStringList(value, key_path, kMaxPatternBytes,
                                                               EmptyItems::kAllowed));
    } else if (key == "context_deny") {
      CELLGW_ASSIGN_OR_RETURN(grant.context.deny,
                              ReadStringList(value, key_path, kMaxPatternBytes));
    } else if (key == "context_set") {
      CELLGW_ASSIGN_OR_RETURN(grant.context.set, ReadContextSet(value, key_path));
    } else if (key == "kinds") {
      CELLGW_ASSIGN_OR_RETURN(std::vector<std::string> kinds,
                              ReadStringList(value, key_path, kMaxPatternBytes));
      for (size_t i = 0; i < kinds.size(); ++i) {
        std::optional<RequestKind> kind = ParseRequestKind(kinds[i]);
        if (!kind.has_value()) {
          return Error(Index(key_path, i),
                       "must be call, cast, fanout, notify, subscribe or serve (ListCells "
                       "needs no grant)");
        }
        grant.kinds.push_back(*kind);
      }
    }
  }
  if (grant.identity.empty() == grant.subject.empty()) {
    return Error(path,
                 "needs exactly one of identity (a token's) and subject (a client "
                 "certificate's)");
  }
  if (!has_cells) return Error(Child(path, "cells"), "required key is missing");
  if (!has_topics) return Error(Child(path, "topics"), "required key is missing");
  // Notify, Subscribe and Serve have no method: a grant for those kinds alone needs no
  // `methods`.
  const bool needs_methods =
      grant.kinds.empty() ||
      std::any_of(grant.kinds.begin(), grant.kinds.end(), [](RequestKind kind) {
        return kind != RequestKind::kNotify && kind != RequestKind::kSubscribe &&
               kind != RequestKind::kServe;
      });
  if (!has_methods && needs_methods) {
    return Error(Child(path, "methods"), "required key is missing");
  }
  return grant;
}

absl::StatusOr<SecurityConfig> ParseSecurity(const YAML::Node& node, absl::string_view prefix) {
  const std::string path(prefix.empty() ? "security" : prefix);
  CELLGW_ASSIGN_OR_RETURN(
      auto entries, MapEntries(node, path, "security settings", {"tls", "tokens_file", "policy"},
                               UnknownKeyMessage::kListAllowed));
  SecurityConfig config;
  config.enabled = true;
  const YAML::Node* policy_node = nullptr;
  for (const auto& [key, value] : entries) {
    const std::string key_path = Child(path, key);
    if (key == "tls") {
      CELLGW_ASSIGN_OR_RETURN(config.tls, ParseTls(value, key_path));
    } else if (key == "tokens_file") {
      CELLGW_ASSIGN_OR_RETURN(config.tokens_file, ReadPath(value, key_path));
      absl::StatusOr<std::string> text = ReadSecurityFile(config.tokens_file);
      if (!text.ok()) return FileError(key_path, config.tokens_file, text.status());
      absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(*text);
      WipeSecret(*text);
      if (!tokens.ok()) return FileError(key_path, config.tokens_file, tokens.status());
      config.tokens = *std::move(tokens);
    } else if (key == "policy") {
      policy_node = &value;
    }
  }
  if (!config.tls.has_value() && config.tokens_file.empty()) {
    return Error(path,
                 "set tls, tokens_file or both (leave the whole section out to run "
                 "without security, on a trusted network only)");
  }

  const std::string policy_path = Child(path, "policy");
  if (!config.authenticates()) {
    if (policy_node != nullptr) {
      return Error(policy_path,
                   "needs callers to be identified: set tokens_file or "
                   "tls.client_ca_file");
    }
    return config;
  }
  if (policy_node == nullptr) {
    return Error(policy_path,
                 "required key is missing (a list of grants; [] grants nothing "
                 "but ListCells)");
  }
  if (!policy_node->IsSequence()) {
    return Error(policy_path, absl::StrCat("must be a list of grants, not ", KindOf(*policy_node)));
  }
  const std::vector<std::string> identities = config.tokens.Identities();
  const std::set<std::string> known(identities.begin(), identities.end());
  const bool certificates = config.tls.has_value() && !config.tls->client_ca_file.empty();
  size_t i = 0;
  for (YAML::const_iterator it = policy_node->begin(); it != policy_node->end(); ++it, ++i) {
    const std::string grant_path = Index(policy_path, i);
    CELLGW_ASSIGN_OR_RETURN(Grant grant, ParseGrant(*it, grant_path));
    if (!grant.identity.empty() && known.count(grant.identity) == 0) {
      return Error(
          Child(grant_path, "identity"),
          absl::StrCat("\"", DisplayKey(grant.identity), "\" has no token in ",
                       config.tokens_file.empty() ? "a tokens_file (none is set)" : "tokens_file"));
    }
    if (!grant.subject.empty() && !certificates) {
      return Error(Child(grant_path, "subject"),
                   "needs client certificates: set tls.client_ca_file");
    }
    config.policy.push_back(std::move(grant));
  }
  return config;
}

}  // namespace

absl::StatusOr<SecurityConfig> ParseSecurityConfig(const YAML::Node& node,
                                                   absl::string_view path_prefix) {
  // yaml-cpp reports misuse by throwing; nothing may escape.
  try {
    return ParseSecurity(node, path_prefix);
  } catch (const YAML::Exception& e) {
    return Error(path_prefix.empty() ? "security" : path_prefix,
                 absl::StrCat("YAML error: ", e.msg));
  }
}

bool IsCellTlsKey(absl::string_view key) {
  return key == "ssl" || key == "ssl_ca_file" || key == "ssl_cert_file" || key == "ssl_key_file";
}

absl::Status ParseCellTlsKey(absl::string_view key, const YAML::Node& value,
                             absl::string_view key_path, bridge::CellOptions& cell) {
  try {
    if (key == "ssl") {
      CELLGW_ASSIGN_OR_RETURN(cell.ssl, ReadBool(value, key_path));
    } else if (key == "ssl_ca_file") {
      CELLGW_ASSIGN_OR_RETURN(cell.ssl_ca_file, ReadPath(value, key_path));
    } else if (key == "ssl_cert_file") {
      CELLGW_ASSIGN_OR_RETURN(cell.ssl_cert_file, ReadPath(value, key_path));
    } else if (key == "ssl_key_file") {
      CELLGW_ASSIGN_OR_RETURN(cell.ssl_key_file, ReadPath(value, key_path));
    } else {
      return Error(key_path, "not a TLS key");
    }
  } catch (const YAML::Exception& e) {
    return Error(key_path, absl::StrCat("YAML error: ", e.msg));
  }
  return absl::OkStatus();
}

absl::Status CheckCellTls(const bridge::CellOptions& cell, absl::string_view cell_path) {
  const std::string ca_path = Child(cell_path, "ssl_ca_file");
  const std::string cert_path = Child(cell_path, "ssl_cert_file");
  const std::string key_path = Child(cell_path, "ssl_key_file");
  if (!cell.ssl) {
    const std::string* set = !cell.ssl_ca_file.empty()     ? &ca_path
                             : !cell.ssl_cert_file.empty() ? &cert_path
                             : !cell.ssl_key_file.empty()  ? &key_path
                                                           : nullptr;
    if (set == nullptr) return absl::OkStatus();
    return Error(*set,
                 "is set but TLS to the broker is off (set ssl: true, or ?ssl=true in "
                 "the transport URL)");
  }
  if (cell.ssl_ca_file.empty()) {
    return Error(ca_path,
                 "required with ssl: cellgw always verifies the broker's certificate "
                 "(name the CA bundle that signed it; the system's is usually "
                 "/etc/ssl/certs/ca-certificates.crt)");
  }
  absl::StatusOr<std::string> ca = ReadCertificateFile(cell.ssl_ca_file);
  if (!ca.ok()) return FileError(ca_path, cell.ssl_ca_file, ca.status());
  if (cell.ssl_cert_file.empty() != cell.ssl_key_file.empty()) {
    return Error(cell.ssl_cert_file.empty() ? cert_path : key_path,
                 "required with the other one: a client certificate needs its key, and a key "
                 "its certificate");
  }
  if (cell.ssl_cert_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> chain = ReadCertificateFile(cell.ssl_cert_file);
  if (!chain.ok()) return FileError(cert_path, cell.ssl_cert_file, chain.status());
  absl::StatusOr<std::string> key = ReadPrivateKeyFile(cell.ssl_key_file);
  if (!key.ok()) return FileError(key_path, cell.ssl_key_file, key.status());
  absl::Status matches = CheckKeyMatchesCertificate(*chain, *key);
  WipeSecret(*key);
  if (!matches.ok()) {
    return Error(key_path,
                 absl::StrCat("\"", DisplayPath(cell.ssl_key_file),
                              "\" does not match "
                              "ssl_cert_file \"",
                              DisplayPath(cell.ssl_cert_file), "\": ", matches.message()));
  }
  return absl::OkStatus();
}

}  // namespace cellgw::gateway
