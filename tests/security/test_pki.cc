#include "tests/security/test_pki.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "tests/support/subprocess.h"

namespace cellgw::testing {
namespace {

constexpr char kOpenssl[] = "/usr/bin/openssl";

// The request config: subjects come from -subj, extensions from the named section.
constexpr char kCaConfig[] = R"([req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
)";

std::string LeafExtensions(const std::vector<std::string>& sans) {
  std::string text = R"([leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";
  if (!sans.empty()) absl::StrAppend(&text, "subjectAltName = ", absl::StrJoin(sans, ", "), "\n");
  return text;
}

}  // namespace

absl::Status RunOpenssl(const std::vector<std::string>& args, const std::string& work_dir) {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  CELLGW_ASSIGN_OR_RETURN(CommandResult result,
                          RunCommand(argv, ChildEnvironment({}, {"OPENSSL_CONF"}),
                                     work_dir + "/openssl", absl::Seconds(60)));
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat("openssl ", absl::StrJoin(args, " "), " exited ",
                                            result.exit_code, ": ", result.stderr_text,
                                            result.stdout_text));
  }
  return absl::OkStatus();
}

absl::StatusOr<TestCa> TestCa::Create(const std::string& dir, const std::string& name) {
  const std::string ca_dir = absl::StrCat(dir, "/", name);
  CELLGW_RETURN_IF_ERROR(MakeDirs(ca_dir));
  const std::string config = ca_dir + "/ca.cnf";
  CELLGW_RETURN_IF_ERROR(WriteFile(config, kCaConfig));
  TestCa ca(ca_dir, ca_dir + "/ca.pem", ca_dir + "/ca.key");
  CELLGW_RETURN_IF_ERROR(RunOpenssl({"req",
                                     "-x509",
                                     "-new",
                                     "-newkey",
                                     "ec",
                                     "-pkeyopt",
                                     "ec_paramgen_curve:prime256v1",
                                     "-nodes",
                                     "-keyout",
                                     ca.ca_key_,
                                     "-out",
                                     ca.ca_file_,
                                     "-days",
                                     "2",
                                     "-subj",
                                     absl::StrCat("/CN=", name),
                                     "-config",
                                     config,
                                     "-extensions",
                                     "ca_ext"},
                                    ca_dir));
  return ca;
}

absl::StatusOr<IssuedCertificate> TestCa::Issue(const std::string& file_stem,
                                                const std::string& subject,
                                                const std::vector<std::string>& sans) const {
  IssuedCertificate issued;
  issued.cert_file = absl::StrCat(dir_, "/", file_stem, ".pem");
  issued.key_file = absl::StrCat(dir_, "/", file_stem, ".key");
  const std::string csr = absl::StrCat(dir_, "/", file_stem, ".csr");
  const std::string extensions = absl::StrCat(dir_, "/", file_stem, ".ext");
  CELLGW_RETURN_IF_ERROR(WriteFile(extensions, LeafExtensions(sans)));
  CELLGW_RETURN_IF_ERROR(
      RunOpenssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", issued.key_file, "-out", csr, "-subj", subject, "-config",
                  absl::StrCat(dir_, "/ca.cnf")},
                 dir_));
  // A random serial: two certificates of one CA must never share one.
  CELLGW_RETURN_IF_ERROR(RunOpenssl(
      {"x509", "-req", "-in", csr, "-CA", ca_file_, "-CAkey", ca_key_, "-CAcreateserial", "-days",
       "2", "-out", issued.cert_file, "-extfile", extensions, "-extensions", "leaf_ext"},
      dir_));
  return issued;
}

}  // namespace cellgw::testing
