// How a caller reaches cellgw: address, TLS trust, client certificate and bearer token, from
// flags and CELLGW_* environment variables, the same way in every caller the project ships
// (cellgw-cli here; cellgw-go and cellgw-node read the same names).
//
//   flag             variable            meaning
//   --addr           CELLGW_ADDR         gateway address HOST:PORT (default 127.0.0.1:50051)
//   --ca-file        CELLGW_CA_FILE      PEM CAs for the gateway's certificate; turns TLS on
//   --cert-file      CELLGW_CERT_FILE    client certificate (PEM) for mutual TLS
//   --key-file       CELLGW_KEY_FILE     its private key (PEM)
//   --token          CELLGW_TOKEN        sent as `authorization: Bearer TOKEN` on every RPC
//
// A flag beats its variable. Any of the CA, certificate or key turns TLS on (without a CA file
// the system's roots are used). The token is sent over plaintext too, as the other callers do:
// the gateway decides whether it accepts that.
#ifndef CELLGW_CLIENT_CONNECTION_SETTINGS_H_
#define CELLGW_CLIENT_CONNECTION_SETTINGS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cellgw::client {

struct ConnectionSettings {
  std::string address = "127.0.0.1:50051";
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string token;

  bool tls() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// The settings the CELLGW_* variables give (unset or empty variables leave the default).
ConnectionSettings SettingsFromEnvironment();

// A channel to `settings.address` with TLS and the token as the settings ask.
// INVALID_ARGUMENT naming the flag ("--ca-file: cannot read /x: ...") when a file cannot be
// read, or when only one of --cert-file and --key-file is given.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ConnectionSettings& settings);

}  // namespace cellgw::client

#endif  // CELLGW_CLIENT_CONNECTION_SETTINGS_H_
