// Reading and checking the PEM files TLS is configured with: certificate chains, CA bundles
// and private keys, for the gRPC server (security.tls) and for broker connections (a cell's
// ssl_* keys). Part of //gateway's security; gateway/config/security_config.cc calls it while the
// config is read, so a missing, unreadable, encrypted or mismatched file stops cellgw at
// start-up (and fails --check-config) instead of at the first handshake.
//
// Errors say what is wrong without naming the file and never contain any of its bytes (a
// private key must not end up in a log); callers put the config key and path in front.
#ifndef CELLGW_GATEWAY_CONFIG_TLS_FILES_H_
#define CELLGW_GATEWAY_CONFIG_TLS_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cellgw::gateway {

// Largest PEM or tokens file read; real ones are a few KiB.
inline constexpr size_t kMaxSecurityFileBytes = 1 << 20;

// Reads a whole regular file of at most `max_bytes`. NOT_FOUND when it does not exist,
// INVALID_ARGUMENT for any other failure ("cannot open: Permission denied", "is not a
// regular file", "is larger than N bytes").
absl::StatusOr<std::string> ReadSecurityFile(const std::string& path,
                                             size_t max_bytes = kMaxSecurityFileBytes);

// Reads a PEM file of one or more X.509 certificates (a chain, leaf first, or a CA bundle).
// Returns its text; INVALID_ARGUMENT when it holds no certificate or one that does not
// parse, and the errors of ReadSecurityFile.
absl::StatusOr<std::string> ReadCertificateFile(const std::string& path);

// Reads an unencrypted PEM private key (PKCS#8 or traditional). Returns its text (a secret);
// INVALID_ARGUMENT when the key is encrypted (cellgw cannot prompt for a passphrase) or does
// not parse, and the errors of ReadSecurityFile.
absl::StatusOr<std::string> ReadPrivateKeyFile(const std::string& path);

// OK when `key_pem` is the private key of the first certificate in `chain_pem`;
// INVALID_ARGUMENT otherwise.
absl::Status CheckKeyMatchesCertificate(absl::string_view chain_pem, absl::string_view key_pem);

// Overwrites `secret` with zeros in a way the compiler cannot drop, then empties it, so a key
// or token read for checking does not linger in freed memory.
void WipeSecret(std::string& secret);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_CONFIG_TLS_FILES_H_
