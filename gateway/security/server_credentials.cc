#include "gateway/security/server_credentials.h"

#include <grpc/grpc_security_constants.h>

namespace cellgw::gateway {

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const SecurityConfig& security) {
  if (!security.enabled || !security.tls.has_value()) return grpc::InsecureServerCredentials();
  const TlsServerConfig& tls = *security.tls;
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  if (!tls.client_ca_file.empty()) {
    request = tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  grpc::SslServerCredentialsOptions options(request);
  options.pem_root_certs = tls.client_ca_pem;
  options.pem_key_cert_pairs.push_back({tls.private_key_pem, tls.cert_chain_pem});
  return grpc::SslServerCredentials(options);
}

std::string DescribeTransportSecurity(const SecurityConfig& security) {
  if (!security.enabled || !security.tls.has_value()) return "plaintext";
  if (security.tls->client_ca_file.empty()) return "tls";
  return security.tls->require_client_cert ? "mutual tls (client certificate required)"
                                           : "mutual tls (client certificate optional)";
}

}  // namespace cellgw::gateway
