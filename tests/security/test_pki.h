// Throwaway X.509 certificate authorities and certificates for the security tests
// (tests/security), made with the openssl command line (/usr/bin/openssl) in a directory of
// the test's $TEST_TMPDIR. Every key is an unencrypted P-256 key; certificates are valid
// for two days and carry serverAuth and clientAuth, so one certificate can serve either end.
//
// Not thread-safe: one test thread makes its certificates before using them.
#ifndef CELLGW_TESTS_SECURITY_TEST_PKI_H_
#define CELLGW_TESTS_SECURITY_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cellgw::testing {

struct IssuedCertificate {
  std::string cert_file;  // PEM certificate (the leaf only)
  std::string key_file;   // its PEM private key
};

class TestCa {
 public:
  // Creates a CA with subject "/CN=<name>" under `dir`/<name>/ (created when missing).
  // INTERNAL with openssl's output when a command fails.
  static absl::StatusOr<TestCa> Create(const std::string& dir, const std::string& name);

  // Issues a certificate for `subject` (openssl -subj syntax, e.g. "/O=cellgw/CN=client1")
  // with the subjectAltName entries in `sans` (e.g. {"DNS:localhost", "IP:127.0.0.1"}; none
  // when empty), files <dir>/<name>/<file_stem>.pem and .key. INTERNAL on failure.
  absl::StatusOr<IssuedCertificate> Issue(const std::string& file_stem, const std::string& subject,
                                          const std::vector<std::string>& sans = {}) const;

  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }

 private:
  TestCa(std::string dir, std::string ca_file, std::string ca_key)
      : dir_(std::move(dir)), ca_file_(std::move(ca_file)), ca_key_(std::move(ca_key)) {}
  std::string dir_;
  std::string ca_file_;
  std::string ca_key_;
};

// Runs /usr/bin/openssl with `args` (captures in `work_dir`); INTERNAL quoting its output when
// it exits non-zero. For the odd extra file a test needs (an encrypted copy of a key).
absl::Status RunOpenssl(const std::vector<std::string>& args, const std::string& work_dir);

}  // namespace cellgw::testing

#endif  // CELLGW_TESTS_SECURITY_TEST_PKI_H_
