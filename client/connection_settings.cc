#include "client/connection_settings.h"

#include <grpcpp/support/client_interceptor.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cellgw::client {
namespace {

void FromVariable(const char* name, std::string* value) {
  const char* set = std::getenv(name);
  if (set != nullptr && *set != '\0') *value = set;
}

absl::StatusOr<std::string> ReadFile(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  }
  return text.str();
}

// Adds the bearer token to every RPC's initial metadata. An interceptor rather than call
// credentials: gRPC sends call credentials over TLS only, and the other callers send the token
// over plaintext as well (the gateway decides).
class TokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class TokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  // Outlives every interceptor: the channel owns this factory.
  const std::string header_;
};

}  // namespace

ConnectionSettings SettingsFromEnvironment() {
  ConnectionSettings settings;
  FromVariable("CELLGW_ADDR", &settings.address);
  FromVariable("CELLGW_CA_FILE", &settings.ca_file);
  FromVariable("CELLGW_CERT_FILE", &settings.cert_file);
  FromVariable("CELLGW_KEY_FILE", &settings.key_file);
  FromVariable("CELLGW_TOKEN", &settings.token);
  return settings;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ConnectionSettings& settings) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (settings.tls()) {
    if (settings.cert_file.empty() != settings.key_file.empty()) {
      return absl::InvalidArgumentError(
          "--cert-file and --key-file: give both for a client certificate, or neither");
    }
    grpc::SslCredentialsOptions options;
    if (!settings.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFile("--ca-file", settings.ca_file);
      if (!ca.ok()) return ca.status();
      options.pem_root_certs = *std::move(ca);
    }
    if (!settings.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadFile("--cert-file", settings.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFile("--key-file", settings.key_file);
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *std::move(cert);
      options.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(options);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!settings.token.empty()) {
    interceptors.push_back(std::make_unique<TokenInterceptorFactory>(settings.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      settings.address, credentials, grpc::ChannelArguments(), std::move(interceptors));
}

}  // namespace cellgw::client
