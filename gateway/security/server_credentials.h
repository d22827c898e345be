// The gRPC server credentials for the gateway's listen address: plaintext, TLS or mutual TLS,
// from the `security.tls` section (gateway/config/security_config.h). Part of //gateway;
// GatewayServer calls it once at start-up.
#ifndef CELLGW_GATEWAY_SECURITY_SERVER_CREDENTIALS_H_
#define CELLGW_GATEWAY_SECURITY_SERVER_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "gateway/config/security_config.h"

namespace cellgw::gateway {

// Insecure credentials when `security` has no tls; otherwise TLS with the configured
// certificate chain and key, and, with a client_ca_file, client certificates verified
// against it: required (the handshake fails without one) or, with require_client_cert
// false, verified when sent. Never fails: the files were read and checked with the config.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const SecurityConfig& security);

// "plaintext", "tls" or "mutual tls" (required or optional client certificates), for the
// start-up log line.
std::string DescribeTransportSecurity(const SecurityConfig& security);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_SECURITY_SERVER_CREDENTIALS_H_
