// tls_files: reading security files (size, kind, missing), certificate and key files
// (chains, traditional and PKCS#8 keys, encrypted keys, broken blocks), the key-certificate
// check, errors that never quote the file, and WipeSecret. Certificates and keys are made
// with openssl (tests/security/test_pki) in the test's temporary directory.
#include "gateway/config/tls_files.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/security/test_pki.h"
#include "tests/support/subprocess.h"

namespace cellgw::gateway {
namespace {

using ::cellgw::testing::IssuedCertificate;
using ::cellgw::testing::TestCa;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Slurp(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSecurityFile(path);
  EXPECT_TRUE(text.ok()) << path << ": " << text.status();
  return text.ok() ? *text : "";
}

// One CA, two leaves it issued, and the key forms made from the first leaf's key.
struct Pki {
  std::string dir;
  std::string ca_file;
  IssuedCertificate leaf;
  IssuedCertificate other_leaf;
  std::string traditional_key;  // "BEGIN EC PRIVATE KEY"
  std::string encrypted_key;    // PKCS#8, encrypted with a passphrase
};

class TlsFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki;
    pki_->dir = cellgw::testing::TestTmpDir() + "/tls_files_test";
    absl::StatusOr<TestCa> ca = TestCa::Create(pki_->dir, "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    pki_->ca_file = ca->ca_file();
    absl::StatusOr<IssuedCertificate> leaf = ca->Issue("leaf", "/CN=leaf", {"DNS:localhost"});
    absl::StatusOr<IssuedCertificate> other = ca->Issue("other", "/CN=other");
    ASSERT_TRUE(leaf.ok() && other.ok()) << leaf.status() << other.status();
    pki_->leaf = *leaf;
    pki_->other_leaf = *other;
    pki_->traditional_key = pki_->dir + "/traditional.key";
    ASSERT_TRUE(cellgw::testing::RunOpenssl(
                    {"ec", "-in", leaf->key_file, "-out", pki_->traditional_key}, pki_->dir)
                    .ok());
    pki_->encrypted_key = pki_->dir + "/encrypted.key";
    ASSERT_TRUE(cellgw::testing::RunOpenssl({"pkey", "-in", leaf->key_file, "-aes256",
                                             "-passout", "pass:secret", "-out",
                                             pki_->encrypted_key},
                                            pki_->dir)
                    .ok());
  }
  static void TearDownTestSuite() { delete pki_; }

  // Writes `contents` to a fresh file of the test directory and returns its path.
  static std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = absl::StrCat(pki_->dir, "/", name);
    EXPECT_TRUE(cellgw::testing::WriteFile(path, contents).ok());
    return path;
  }

  static Pki* pki_;
};

Pki* TlsFilesTest::pki_ = nullptr;

// ---------------------------------------------------------------------------------------------
// ReadSecurityFile

TEST_F(TlsFilesTest, ReadSecurityFileReturnsEveryByteOfAFileLargerThanOneRead) {
  std::string contents;
  for (int i = 0; contents.size() < 100000; ++i) absl::StrAppend(&contents, i, "\n");
  contents.push_back('\0');
  contents.append("after a NUL");
  absl::StatusOr<std::string> read = ReadSecurityFile(Write("large", contents));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, contents);
}

TEST_F(TlsFilesTest, ReadSecurityFileOfAMissingFileIsNotFound) {
  EXPECT_EQ(ReadSecurityFile(pki_->dir + "/no such file").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TlsFilesTest, ReadSecurityFileThatCannotBeOpenedIsInvalidArgumentSayingWhy) {
  // A path through a regular file: open() fails with ENOTDIR, whoever runs the test.
  const absl::Status status = ReadSecurityFile(Write("plain", "x") + "/below").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("cannot open: Not a directory"));
}

TEST_F(TlsFilesTest, ReadSecurityFileRefusesADirectory) {
  const absl::Status status = ReadSecurityFile(pki_->dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is not a regular file"));
}

TEST_F(TlsFilesTest, ReadSecurityFileRefusesAFifoWithoutWaitingForAWriter) {
  const std::string fifo = pki_->dir + "/fifo";
  unlink(fifo.c_str());  // left by an earlier run in the same directory
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const absl::Status status = ReadSecurityFile(fifo).status();  // would block without O_NONBLOCK
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is not a regular file"));
}

TEST_F(TlsFilesTest, ReadSecurityFileTakesUpToMaxBytesAndRefusesMore) {
  const std::string path = Write("ten", "0123456789");
  EXPECT_TRUE(ReadSecurityFile(path, 10).ok());
  const absl::Status status = ReadSecurityFile(path, 9).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is larger than 9 bytes"));
}

// ---------------------------------------------------------------------------------------------
// ReadCertificateFile

TEST_F(TlsFilesTest, ReadCertificateFileReturnsTheTextOfAChain) {
  const std::string chain = Slurp(pki_->leaf.cert_file) + Slurp(pki_->ca_file);
  absl::StatusOr<std::string> read = ReadCertificateFile(Write("chain.pem", chain));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, chain);
}

TEST_F(TlsFilesTest, ReadCertificateFileWithoutACertificateIsRefused) {
  for (const std::string& path : {Write("empty.pem", ""), pki_->leaf.key_file}) {
    const absl::Status status = ReadCertificateFile(path).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(status.message(), HasSubstr("holds no PEM certificate")) << path;
  }
}

TEST_F(TlsFilesTest, ReadCertificateFileWithABrokenCertificateAfterAGoodOneIsRefused) {
  const std::string broken = Slurp(pki_->leaf.cert_file) +
                             "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n"
                             "-----END CERTIFICATE-----\n";
  const absl::Status status = ReadCertificateFile(Write("broken.pem", broken)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("does not parse (after 1 good ones)"));
}

TEST_F(TlsFilesTest, ReadCertificateFileOfAMissingFileIsNotFound) {
  EXPECT_EQ(ReadCertificateFile(pki_->dir + "/none.pem").status().code(),
            absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// ReadPrivateKeyFile

TEST_F(TlsFilesTest, ReadPrivateKeyFileReadsPkcs8AndTraditionalKeys) {
  for (const std::string& path : {pki_->leaf.key_file, pki_->traditional_key}) {
    absl::StatusOr<std::string> key = ReadPrivateKeyFile(path);
    ASSERT_TRUE(key.ok()) << path << ": " << key.status();
    EXPECT_EQ(*key, Slurp(path));
  }
  EXPECT_THAT(Slurp(pki_->traditional_key), HasSubstr("BEGIN EC PRIVATE KEY"));
  EXPECT_THAT(Slurp(pki_->leaf.key_file), HasSubstr("BEGIN PRIVATE KEY"));
}

TEST_F(TlsFilesTest, ReadPrivateKeyFileRefusesAnEncryptedKeySayingSo) {
  const absl::Status status = ReadPrivateKeyFile(pki_->encrypted_key).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("encrypted private key"));
}

TEST_F(TlsFilesTest, ReadPrivateKeyFileRefusesWhatIsNoKey) {
  const absl::Status status = ReadPrivateKeyFile(pki_->leaf.cert_file).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("holds no PEM private key"));
}

TEST_F(TlsFilesTest, ErrorsNeverQuoteTheFile) {
  constexpr char kSecret[] = "c2VjcmV0LWtleS1tYXRlcmlhbA";
  const std::string text = absl::StrCat("-----BEGIN PRIVATE KEY-----\n", kSecret,
                                        "\n-----END PRIVATE KEY-----\n");
  const std::string path = Write("secret.key", text);
  for (const absl::Status& status :
       {ReadPrivateKeyFile(path).status(), ReadCertificateFile(path).status(),
        CheckKeyMatchesCertificate(text, text),
        CheckKeyMatchesCertificate(Slurp(pki_->leaf.cert_file), text)}) {
    EXPECT_FALSE(status.ok());
    EXPECT_THAT(status.message(), Not(HasSubstr(kSecret)));
    EXPECT_THAT(status.message(), Not(HasSubstr(path)));
  }
}

// ---------------------------------------------------------------------------------------------
// CheckKeyMatchesCertificate

TEST_F(TlsFilesTest, CheckKeyMatchesCertificateAcceptsTheLeafsKeyInEitherForm) {
  const std::string chain = Slurp(pki_->leaf.cert_file) + Slurp(pki_->ca_file);
  EXPECT_TRUE(CheckKeyMatchesCertificate(chain, Slurp(pki_->leaf.key_file)).ok());
  EXPECT_TRUE(CheckKeyMatchesCertificate(chain, Slurp(pki_->traditional_key)).ok());
}

TEST_F(TlsFilesTest, CheckKeyMatchesCertificateComparesWithTheFirstCertificateOnly) {
  // The right certificate is in the chain, but not first.
  const std::string chain = Slurp(pki_->other_leaf.cert_file) + Slurp(pki_->leaf.cert_file);
  const absl::Status status = CheckKeyMatchesCertificate(chain, Slurp(pki_->leaf.key_file));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("does not belong to the (first) certificate"));
}

TEST_F(TlsFilesTest, CheckKeyMatchesCertificateRefusesWhatDoesNotParse) {
  const std::string cert = Slurp(pki_->leaf.cert_file);
  const std::string key = Slurp(pki_->leaf.key_file);
  EXPECT_THAT(CheckKeyMatchesCertificate("", key).message(), HasSubstr("no PEM certificate"));
  EXPECT_THAT(CheckKeyMatchesCertificate(cert, "").message(), HasSubstr("no PEM private key"));
  EXPECT_THAT(CheckKeyMatchesCertificate(cert, Slurp(pki_->encrypted_key)).message(),
              HasSubstr("encrypted"));
}

// ---------------------------------------------------------------------------------------------
// WipeSecret

TEST(WipeSecretTest, ZeroesTheBytesAndEmptiesTheString) {
  std::string secret(1000, 'k');  // on the heap, not in the small-string buffer
  const char* bytes = secret.data();
  WipeSecret(secret);
  EXPECT_TRUE(secret.empty());
  // clear() keeps the buffer, so the zeroed bytes can be looked at where they were.
  ASSERT_EQ(secret.data(), bytes);
  EXPECT_EQ(std::string(bytes, 1000), std::string(1000, '\0'));
}

}  // namespace
}  // namespace cellgw::gateway
