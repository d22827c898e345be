#include "gateway/config/security_config.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/security/test_pki.h"
#include "tests/support/subprocess.h"
#include "yaml-cpp/yaml.h"

namespace cellgw::gateway {
namespace {

using ::cellgw::testing::IssuedCertificate;
using ::cellgw::testing::TestCa;

constexpr char kSchedulerToken[] = "sched-SECRET-TOKEN-0123456789";

// Files shared by every test: two CAs, a server certificate, a client certificate, an
// encrypted key, a tokens file.
struct Files {
  std::string dir;
  std::string ca;
  std::string other_ca;
  IssuedCertificate server;
  IssuedCertificate other_server;  // signed by other_ca
  std::string encrypted_key;
  std::string tokens;
  std::string bad_tokens;
};

const Files& SharedFiles() {
  static const Files* files = [] {
    auto* f = new Files;
    f->dir = cellgw::testing::TestTmpDir() + "/security_config_test";
    absl::StatusOr<TestCa> ca = TestCa::Create(f->dir, "ca");
    absl::StatusOr<TestCa> other = TestCa::Create(f->dir, "other-ca");
    if (!ca.ok() || !other.ok()) {
      ADD_FAILURE() << ca.status() << other.status();
      return f;
    }
    f->ca = ca->ca_file();
    f->other_ca = other->ca_file();
    f->server = *ca->Issue("server", "/CN=localhost", {"DNS:localhost"});
    f->other_server = *other->Issue("server", "/CN=localhost", {"DNS:localhost"});
    f->encrypted_key = f->dir + "/encrypted.key";
    absl::Status encrypted =
        cellgw::testing::RunOpenssl({"pkey", "-in", f->server.key_file, "-aes256", "-passout",
                                     "pass:secret", "-out", f->encrypted_key},
                                    f->dir);
    if (!encrypted.ok()) ADD_FAILURE() << encrypted;
    f->tokens = f->dir + "/tokens";
    cellgw::testing::WriteFile(f->tokens, absl::StrCat("scheduler ", kSchedulerToken, "\n"))
        .IgnoreError();
    f->bad_tokens = f->dir + "/bad_tokens";
    cellgw::testing::WriteFile(f->bad_tokens, absl::StrCat(kSchedulerToken, "\n")).IgnoreError();
    return f;
  }();
  return *files;
}

// `yaml` with $CA, $OTHER_CA, $CERT, $KEY, $OTHER_CERT, $ENCRYPTED_KEY, $TOKENS,
// $BAD_TOKENS and $DIR replaced by the shared files' paths.
std::string Expand(const std::string& yaml) {
  const Files& f = SharedFiles();
  return absl::StrReplaceAll(yaml, {{"$OTHER_CA", f.other_ca},
                                    {"$OTHER_CERT", f.other_server.cert_file},
                                    {"$ENCRYPTED_KEY", f.encrypted_key},
                                    {"$BAD_TOKENS", f.bad_tokens},
                                    {"$CA", f.ca},
                                    {"$CERT", f.server.cert_file},
                                    {"$KEY", f.server.key_file},
                                    {"$TOKENS", f.tokens},
                                    {"$DIR", f.dir}});
}

absl::StatusOr<SecurityConfig> Parse(const std::string& yaml) {
  const YAML::Node root = YAML::Load(Expand(yaml));
  return ParseSecurityConfig(root["security"], "security");
}

constexpr char kFullConfig[] = R"(
security:
  tls:
    cert_file: $CERT
    key_file: $KEY
    client_ca_file: $CA
    require_client_cert: false
  tokens_file: $TOKENS
  policy:
    - identity: scheduler
      cells: ["cell*"]
      topics: [compute]
      methods: ["get_*", resize_instance]
      exchanges: [nova]
      kinds: [call, cast]
    - subject: "CN=conductor,O=cellgw test"
      cells: ["*"]
      topics: ["*"]
      methods: ["*"]
)";

TEST(ParseSecurityConfig, ReadsEveryKeyAndFile) {
  absl::StatusOr<SecurityConfig> config = Parse(kFullConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->enabled);
  EXPECT_TRUE(config->authenticates());
  ASSERT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->tls->cert_file, SharedFiles().server.cert_file);
  EXPECT_EQ(config->tls->key_file, SharedFiles().server.key_file);
  EXPECT_EQ(config->tls->client_ca_file, SharedFiles().ca);
  EXPECT_FALSE(config->tls->require_client_cert);
  EXPECT_NE(config->tls->cert_chain_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(config->tls->private_key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(config->tls->client_ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(config->tokens.Authenticate(kSchedulerToken), "scheduler");
  ASSERT_EQ(config->policy.size(), 2u);
  const Grant& scheduler = config->policy[0];
  EXPECT_EQ(scheduler.identity, "scheduler");
  EXPECT_EQ(scheduler.cells, std::vector<std::string>{"cell*"});
  EXPECT_EQ(scheduler.topics, std::vector<std::string>{"compute"});
  EXPECT_EQ(scheduler.methods, (std::vector<std::string>{"get_*", "resize_instance"}));
  EXPECT_EQ(scheduler.exchanges, std::vector<std::string>{"nova"});
  EXPECT_EQ(scheduler.kinds, (std::vector<RequestKind>{RequestKind::kCall, RequestKind::kCast}));
  const Grant& conductor = config->policy[1];
  EXPECT_EQ(conductor.subject, "CN=conductor,O=cellgw test");
  EXPECT_TRUE(conductor.identity.empty());
  EXPECT_TRUE(conductor.exchanges.empty());
  EXPECT_TRUE(conductor.kinds.empty());
}

TEST(ParseSecurityConfig, ReadsServersNamespacesAndContextRules) {
  absl::StatusOr<SecurityConfig> config = Parse(R"(
security:
  tokens_file: $TOKENS
  policy:
    - identity: scheduler
      cells: ["*"]
      topics: [compute]
      methods: ["*"]
      servers: ["", "compute-*"]
      namespaces: [""]
      context_deny: [is_admin, "role*"]
      context_set:
        user_id: "{identity}"
        via: cellgw {caller}
        is_admin: "false"
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const Grant& grant = config->policy[0];
  EXPECT_EQ(grant.servers, (std::vector<std::string>{"", "compute-*"}));
  EXPECT_EQ(grant.namespaces, std::vector<std::string>{""});
  EXPECT_EQ(grant.context.deny, (std::vector<std::string>{"is_admin", "role*"}));
  ASSERT_EQ(grant.context.set.size(), 3u);
  EXPECT_EQ(grant.context.set[0].first, "user_id");
  EXPECT_EQ(grant.context.set[0].second.Expand("scheduler", "token:scheduler"), "scheduler");
  EXPECT_EQ(grant.context.set[1].first, "via");
  EXPECT_EQ(grant.context.set[1].second.Expand("scheduler", "token:scheduler"),
            "cellgw token:scheduler");
  // Quoted, "false" is the text the operator meant.
  EXPECT_EQ(grant.context.set[2].second.Expand("scheduler", "token:scheduler"), "false");
}

TEST(ParseSecurityConfig, GrantsWithoutTheNewKeysKeepTheirMeaning) {
  absl::StatusOr<SecurityConfig> config = Parse(kFullConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  for (const Grant& grant : config->policy) {
    EXPECT_TRUE(grant.servers.empty());
    EXPECT_TRUE(grant.namespaces.empty());
    EXPECT_TRUE(grant.context.deny.empty());
    EXPECT_TRUE(grant.context.set.empty());
  }
}

TEST(ParseSecurityConfig, RequireClientCertDefaultsToTrue) {
  absl::StatusOr<SecurityConfig> config = Parse(R"(
security:
  tls: {cert_file: $CERT, key_file: $KEY, client_ca_file: $CA}
  policy: []
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->tls->require_client_cert);
  EXPECT_TRUE(config->authenticates());
  EXPECT_TRUE(config->policy.empty());
}

TEST(ParseSecurityConfig, TlsWithoutClientIdentificationEncryptsOnly) {
  absl::StatusOr<SecurityConfig> config = Parse(R"(
security:
  tls: {cert_file: $CERT, key_file: $KEY}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->enabled);
  EXPECT_FALSE(config->authenticates());
}

TEST(ParseSecurityConfig, TokensWithoutTlsAuthenticate) {
  absl::StatusOr<SecurityConfig> config = Parse(R"(
security:
  tokens_file: $TOKENS
  policy: [{identity: scheduler, cells: ["*"], topics: ["*"], methods: ["*"]}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->tls.has_value());
  EXPECT_TRUE(config->authenticates());
}

TEST(ParseSecurityConfig, GrantsForServeAloneNeedNoMethods) {
  absl::StatusOr<SecurityConfig> config = Parse(R"(
security:
  tokens_file: $TOKENS
  policy: [{identity: scheduler, cells: ["*"], topics: [compute], kinds: [serve]}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->policy.size(), 1u);
  EXPECT_EQ(config->policy[0].kinds, (std::vector<RequestKind>{RequestKind::kServe}));
  EXPECT_TRUE(config->policy[0].methods.empty());
}

TEST(ParseSecurityConfig, GrantsForNotifyAndSubscribeAloneNeedNoMethods) {
  absl::StatusOr<SecurityConfig> config = Parse(R"(
security:
  tokens_file: $TOKENS
  policy: [{identity: scheduler, cells: ["*"], topics: [notifications],
            kinds: [notify, subscribe]}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->policy.size(), 1u);
  EXPECT_EQ(config->policy[0].kinds,
            (std::vector<RequestKind>{RequestKind::kNotify, RequestKind::kSubscribe}));
  EXPECT_TRUE(config->policy[0].methods.empty());
  // A grant that also covers an RPC kind still needs them.
  absl::StatusOr<SecurityConfig> mixed = Parse(R"(
security:
  tokens_file: $TOKENS
  policy: [{identity: scheduler, cells: ["*"], topics: ["*"], kinds: [notify, cast]}]
)");
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(std::string(mixed.status().message()),
            "security.policy[0].methods: required key is missing");
}

TEST(SecurityConfig, DefaultIsDisabledAndDoesNotAuthenticate) {
  const SecurityConfig config;
  EXPECT_FALSE(config.enabled);
  EXPECT_FALSE(config.authenticates());
}

struct BadConfig {
  std::string yaml;
  std::string error;  // expected message, after Expand()
};

TEST(ParseSecurityConfig, ErrorsNameTheKeyPath) {
  const std::string grant = "cells: [\"*\"], topics: [\"*\"], methods: [\"*\"]";
  const std::string auth = "tokens_file: $TOKENS\n  ";
  const std::vector<BadConfig> cases = {
      {"security: []", "security: must be a map of security settings, not a list"},
      {"security: {}",
       "security: set tls, tokens_file or both (leave the whole section out to run without "
       "security, on a trusted network only)"},
      {"security: {tsl: {}}",
       "security.tsl: unknown key (expected one of tls, tokens_file, policy)"},
      {"security: {tokens_file: $TOKENS, tokens_file: $TOKENS, policy: []}",
       "security.tokens_file: key appears more than once"},
      {"security: {tls: {key_file: $KEY}}", "security.tls.cert_file: required key is missing"},
      {"security: {tls: {cert_file: $CERT}}", "security.tls.key_file: required key is missing"},
      {"security: {tls: {cert_file: \"\", key_file: $KEY}}",
       "security.tls.cert_file: must be a file path, not empty"},
      {"security: {tls: {cert_file: $DIR/missing.pem, key_file: $KEY}}",
       "security.tls.cert_file: cannot use \"$DIR/missing.pem\": No such file or directory"},
      {"security: {tls: {cert_file: $KEY, key_file: $KEY}}",
       "security.tls.cert_file: cannot use \"$KEY\": holds no PEM certificate (\"-----BEGIN "
       "CERTIFICATE-----\")"},
      {"security: {tls: {cert_file: $CERT, key_file: $CERT}}",
       "security.tls.key_file: cannot use \"$CERT\": holds no PEM private key that can be read "
       "(\"-----BEGIN PRIVATE KEY-----\")"},
      {"security: {tls: {cert_file: $CERT, key_file: $ENCRYPTED_KEY}}",
       "security.tls.key_file: cannot use \"$ENCRYPTED_KEY\": holds an encrypted private key; "
       "cellgw needs it unencrypted (protect the file with its permissions instead)"},
      {"security: {tls: {cert_file: $OTHER_CERT, key_file: $KEY}}",
       "security.tls.key_file: \"$KEY\" does not match cert_file \"$OTHER_CERT\": the private "
       "key does not belong to the (first) certificate"},
      {"security: {tls: {cert_file: $CERT, key_file: $KEY, client_ca_file: $DIR}}",
       "security.tls.client_ca_file: cannot use \"$DIR\": is not a regular file"},
      {"security: {tls: {cert_file: $CERT, key_file: $KEY, require_client_cert: true}}",
       "security.tls.require_client_cert: only applies with client_ca_file (mutual TLS)"},
      {"security: {tls: {cert_file: $CERT, key_file: $KEY, client_ca_file: $CA, "
       "require_client_cert: maybe}, policy: []}",
       "security.tls.require_client_cert: must be true or false"},
      {"security: {tokens_file: $BAD_TOKENS}",
       "security.tokens_file: cannot use \"$BAD_TOKENS\": line 1: expected \"<identity> "
       "<token>\" but found one field"},
      {"security: {tls: {cert_file: $CERT, key_file: $KEY}, policy: []}",
       "security.policy: needs callers to be identified: set tokens_file or "
       "tls.client_ca_file"},
      {"security: {tokens_file: $TOKENS}",
       "security.policy: required key is missing (a list of grants; [] grants nothing but "
       "ListCells)"},
      {"security: {tokens_file: $TOKENS, policy: {identity: scheduler}}",
       "security.policy: must be a list of grants, not a map"},
      {"security: {tokens_file: $TOKENS, policy: [{" + grant + "}]}",
       "security.policy[0]: needs exactly one of identity (a token's) and subject (a client "
       "certificate's)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, subject: x, " + grant +
           "}]}",
       "security.policy[0]: needs exactly one of identity (a token's) and subject (a client "
       "certificate's)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: schedular, " + grant + "}]}",
       "security.policy[0].identity: \"schedular\" has no token in tokens_file"},
      {"security: {tokens_file: $TOKENS, policy: [{subject: CN=x, " + grant + "}]}",
       "security.policy[0].subject: needs client certificates: set tls.client_ca_file"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, topics: [a], "
       "methods: [a]}]}",
       "security.policy[0].cells: required key is missing"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: [a], "
       "methods: [a]}]}",
       "security.policy[0].topics: required key is missing"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: [a], "
       "topics: [a]}]}",
       "security.policy[0].methods: required key is missing"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: [], "
       "topics: [a], methods: [a]}]}",
       "security.policy[0].cells: must not be an empty list (leave the key out, or write "
       "[\"*\"])"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: [a, \"\"], "
       "topics: [a], methods: [a]}]}",
       "security.policy[0].cells[1]: must not be empty"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: a, "
       "topics: [a], methods: [a]}]}",
       "security.policy[0].cells: must be a list of patterns, not a string"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: [[a]], "
       "topics: [a], methods: [a]}]}",
       "security.policy[0].cells[0]: must be a string, not a list"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", kinds: [call, list_cells]}]}",
       "security.policy[0].kinds[1]: must be call, cast, fanout, notify, subscribe or serve "
       "(ListCells "
       "needs no grant)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", server: [a]}]}",
       "security.policy[0].server: unknown key (expected one of identity, subject, cells, "
       "topics, methods, exchanges, kinds, servers, namespaces, context_deny, context_set)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", servers: []}]}",
       "security.policy[0].servers: must not be an empty list (leave the key out, or write "
       "[\"*\"])"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_deny: [is_admin, \"\"]}]}",
       "security.policy[0].context_deny[1]: must not be empty"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_deny: is_admin}]}",
       "security.policy[0].context_deny: must be a list of patterns, not a string"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_set: [user_id]}]}",
       "security.policy[0].context_set: must be a map of context keys and templates, not a "
       "list"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_set: {}}]}",
       "security.policy[0].context_set: must not be an empty map (leave the key out to set "
       "nothing)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_set: {user_id: \"{user}\"}}]}",
       "security.policy[0].context_set.user_id: unknown placeholder {user} (known: "
       "{identity}, {caller}; {{ and }} for literal braces)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_set: {is_admin: false}}]}",
       "security.policy[0].context_set.is_admin: must be a string template; YAML reads this "
       "as a boolean, null or number, yet the service would get the text \"false\" (quote "
       "it if that is meant, or refuse the key with context_deny)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_set: {quota: 12}}]}",
       "security.policy[0].context_set.quota: must be a string template; YAML reads this as "
       "a boolean, null or number, yet the service would get the text \"12\" (quote it if "
       "that is meant, or refuse the key with context_deny)"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, " + grant +
           ", context_set: {user_id: [a]}}]}",
       "security.policy[0].context_set.user_id: must be a string, not a list"},
      {"security: {tokens_file: $TOKENS, policy: [{identity: scheduler, cells: [" +
           std::string(256, 'a') + "], topics: [a], methods: [a]}]}",
       "security.policy[0].cells[0]: is longer than 255 bytes"},
  };
  for (const BadConfig& c : cases) {
    absl::StatusOr<SecurityConfig> config = Parse(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_EQ(std::string(config.status().message()), Expand(c.error)) << c.yaml;
    EXPECT_EQ(std::string(config.status().message()).find(kSchedulerToken), std::string::npos);
  }
}

TEST(ParseSecurityConfig, NoErrorContainsAnyPartOfAKey) {
  // The key file given where a certificate belongs, and a certificate whose key does not
  // match: neither message may quote the file.
  std::ifstream file(SharedFiles().server.key_file);
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string key_text = buffer.str();
  const std::string* key = &key_text;
  std::vector<std::string> key_lines;
  for (size_t start = 0, end; start < key->size(); start = end + 1) {
    end = key->find('\n', start);
    if (end == std::string::npos) end = key->size();
    const std::string line = key->substr(start, end - start);
    if (!line.empty() && line[0] != '-') key_lines.push_back(line);
  }
  ASSERT_FALSE(key_lines.empty());
  for (const char* yaml : {"security: {tls: {cert_file: $KEY, key_file: $KEY}}",
                           "security: {tls: {cert_file: $OTHER_CERT, key_file: $KEY}}",
                           "security: {tokens_file: $KEY}"}) {
    absl::StatusOr<SecurityConfig> config = Parse(yaml);
    ASSERT_FALSE(config.ok()) << yaml;
    for (const std::string& line : key_lines) {
      EXPECT_EQ(std::string(config.status().message()).find(line), std::string::npos)
          << config.status();
    }
  }
}

TEST(ParseSecurityConfig, WrongYamlTypesAreErrorsNotExceptions) {
  for (const char* yaml :
       {"security: ~", "security: text", "security: {tls: [a]}", "security: {tls: ~}",
        "security: {tokens_file: [a]}", "security: {tokens_file: {a: b}}", "security: {1: 2}",
        "security: {[a]: b}"}) {
    absl::StatusOr<SecurityConfig> config = Parse(yaml);
    EXPECT_FALSE(config.ok()) << yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_EQ(config.status().message().substr(0, 8), "security") << config.status();
  }
}

TEST(CellTlsKeys, AreTheOsloOptionNames) {
  for (absl::string_view key : {"ssl", "ssl_ca_file", "ssl_cert_file", "ssl_key_file"}) {
    EXPECT_TRUE(IsCellTlsKey(key)) << key;
  }
  for (absl::string_view key : {"ssl_version", "tls", "ssl_ca", "name"}) {
    EXPECT_FALSE(IsCellTlsKey(key)) << key;
  }
}

TEST(CellTlsKeys, ParseIntoCellOptions) {
  const YAML::Node cell = YAML::Load(
      Expand("{ssl: true, ssl_ca_file: $CA, ssl_cert_file: $CERT, ssl_key_file: $KEY, bad: [1]}"));
  bridge::CellOptions options;
  for (const char* key : {"ssl", "ssl_ca_file", "ssl_cert_file", "ssl_key_file"}) {
    ASSERT_TRUE(ParseCellTlsKey(key, cell[key], absl::StrCat("cells[0].", key), options).ok());
  }
  EXPECT_TRUE(options.ssl);
  EXPECT_EQ(options.ssl_ca_file, SharedFiles().ca);
  EXPECT_EQ(options.ssl_cert_file, SharedFiles().server.cert_file);
  EXPECT_EQ(options.ssl_key_file, SharedFiles().server.key_file);
  EXPECT_TRUE(CheckCellTls(options, "cells[0]").ok());

  EXPECT_EQ(ParseCellTlsKey("ssl", YAML::Load("yes please"), "cells[0].ssl", options).message(),
            "cells[0].ssl: must be true or false");
  EXPECT_EQ(ParseCellTlsKey("ssl_ca_file", cell["bad"], "cells[0].ssl_ca_file", options).message(),
            "cells[0].ssl_ca_file: must be a string, not a list");
  EXPECT_EQ(
      ParseCellTlsKey("ssl_ca_file", YAML::Load("\"\""), "cells[0].ssl_ca_file", options).message(),
      "cells[0].ssl_ca_file: must be a file path, not empty");
}

struct CellCase {
  bridge::CellOptions options;
  std::string error;  // "" = valid; else the expected message after Expand()
};

bridge::CellOptions TlsCell(bool ssl, const std::string& ca, const std::string& cert,
                            const std::string& key) {
  bridge::CellOptions options;
  options.name = "cell1";
  options.ssl = ssl;
  options.ssl_ca_file = Expand(ca);
  options.ssl_cert_file = Expand(cert);
  options.ssl_key_file = Expand(key);
  return options;
}

TEST(CheckCellTls, RequiresAVerifiableSetupAndRefusesUnusedFiles) {
  const std::vector<CellCase> cases = {
      {TlsCell(false, "", "", ""), ""},
      {TlsCell(true, "$CA", "", ""), ""},
      {TlsCell(true, "$CA", "$CERT", "$KEY"), ""},
      {TlsCell(true, "", "", ""),
       "cells[2].ssl_ca_file: required with ssl: cellgw always verifies the broker's "
       "certificate (name the CA bundle that signed it; the system's is usually "
       "/etc/ssl/certs/ca-certificates.crt)"},
      {TlsCell(false, "$CA", "", ""),
       "cells[2].ssl_ca_file: is set but TLS to the broker is off (set ssl: true, or "
       "?ssl=true in the transport URL)"},
      {TlsCell(false, "", "", "$KEY"),
       "cells[2].ssl_key_file: is set but TLS to the broker is off (set ssl: true, or "
       "?ssl=true in the transport URL)"},
      {TlsCell(true, "$CA", "$CERT", ""),
       "cells[2].ssl_key_file: required with the other one: a client certificate needs its "
       "key, and a key its certificate"},
      {TlsCell(true, "$CA", "", "$KEY"),
       "cells[2].ssl_cert_file: required with the other one: a client certificate needs its "
       "key, and a key its certificate"},
      {TlsCell(true, "$DIR/nope.pem", "", ""),
       "cells[2].ssl_ca_file: cannot use \"$DIR/nope.pem\": No such file or directory"},
      {TlsCell(true, "$CA", "$OTHER_CERT", "$KEY"),
       "cells[2].ssl_key_file: \"$KEY\" does not match ssl_cert_file \"$OTHER_CERT\": the "
       "private key does not belong to the (first) certificate"},
      {TlsCell(true, "$CA", "$CERT", "$ENCRYPTED_KEY"),
       "cells[2].ssl_key_file: cannot use \"$ENCRYPTED_KEY\": holds an encrypted private key; "
       "cellgw needs it unencrypted (protect the file with its permissions instead)"},
  };
  for (const CellCase& c : cases) {
    const absl::Status status = CheckCellTls(c.options, "cells[2]");
    if (c.error.empty()) {
      EXPECT_TRUE(status.ok()) << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(std::string(status.message()), Expand(c.error));
    }
  }
}

}  // namespace
}  // namespace cellgw::gateway
