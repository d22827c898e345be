#include "gateway/config/tls_files.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cellgw::gateway {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

BioPtr MemoryBio(absl::string_view text) {
  // Callers bound the text to kMaxSecurityFileBytes, far below INT_MAX.
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Refuses every passphrase request: without it OpenSSL would prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// Parses every certificate in `pem`; the first one is returned, the count in `count`.
absl::StatusOr<X509Ptr> ParseCertificates(absl::string_view pem, int* count) {
  if (pem.size() > kMaxSecurityFileBytes) return absl::InvalidArgumentError("is too large");
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  X509Ptr first;
  *count = 0;
  ERR_clear_error();
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (cert == nullptr) break;
    if (first == nullptr) first = std::move(cert);
    ++*count;
  }
  // Reading stops at the end of the data (PEM_R_NO_START_LINE) or at a block that is broken.
  const unsigned long error = ERR_peek_last_error();
  ERR_clear_error();
  const bool clean_end = error == 0 || (ERR_GET_LIB(error) == ERR_LIB_PEM &&
                                        ERR_GET_REASON(error) == PEM_R_NO_START_LINE);
  if (!clean_end) {
    return absl::InvalidArgumentError(
        absl::StrCat("holds a certificate that does not parse (after ", *count, " good ones)"));
  }
  if (first == nullptr) {
    return absl::InvalidArgumentError("holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")");
  }
  return first;
}

absl::StatusOr<KeyPtr> ParsePrivateKey(absl::string_view pem) {
  if (absl::StrContains(pem, "ENCRYPTED")) {
    return absl::InvalidArgumentError(
        "holds an encrypted private key; cellgw needs it unencrypted (protect the file "
        "with its permissions instead)");
  }
  if (pem.size() > kMaxSecurityFileBytes) return absl::InvalidArgumentError("is too large");
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return absl::ResourceExhaustedError("out of memory");
  ERR_clear_error();
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "holds no PEM private key that can be read (\"-----BEGIN PRIVATE KEY-----\")");
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> ReadSecurityFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO named by mistake must fail the S_ISREG check, not hang.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    const std::string why = std::generic_category().message(error);
    if (error == ENOENT) return absl::NotFoundError(why);
    return absl::InvalidArgumentError(absl::StrCat("cannot open: ", why));
  }
  std::string text;
  absl::Status status;
  struct stat info;
  if (fstat(fd, &info) != 0) {
    status = absl::InvalidArgumentError(
        absl::StrCat("cannot stat: ", std::generic_category().message(errno)));
  } else if (!S_ISREG(info.st_mode)) {
    status = absl::InvalidArgumentError("is not a regular file");
  } else {
    char buffer[16384];
    while (status.ok()) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::InvalidArgumentError(
            absl::StrCat("cannot read: ", std::generic_category().message(errno)));
      } else if (n == 0) {
        break;
      } else if (text.size() + static_cast<size_t>(n) > max_bytes) {
        status = absl::InvalidArgumentError(absl::StrCat("is larger than ", max_bytes, " bytes"));
      } else {
        text.append(buffer, static_cast<size_t>(n));
      }
    }
    OPENSSL_cleanse(buffer, sizeof(buffer));
  }
  close(fd);
  if (!status.ok()) return status;
  return text;
}

absl::StatusOr<std::string> ReadCertificateFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSecurityFile(path);
  if (!text.ok()) return text.status();
  int count = 0;
  absl::StatusOr<X509Ptr> first = ParseCertificates(*text, &count);
  if (!first.ok()) return first.status();
  return text;
}

absl::StatusOr<std::string> ReadPrivateKeyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSecurityFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<KeyPtr> key = ParsePrivateKey(*text);
  if (!key.ok()) {
    WipeSecret(*text);
    return key.status();
  }
  return text;
}

absl::Status CheckKeyMatchesCertificate(absl::string_view chain_pem, absl::string_view key_pem) {
  int count = 0;
  absl::StatusOr<X509Ptr> cert = ParseCertificates(chain_pem, &count);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<KeyPtr> key = ParsePrivateKey(key_pem);
  if (!key.ok()) return key.status();
  ERR_clear_error();
  const int matches = X509_check_private_key(cert->get(), key->get());
  ERR_clear_error();
  if (matches != 1) {
    return absl::InvalidArgumentError("the private key does not belong to the (first) certificate");
  }
  return absl::OkStatus();
}

void WipeSecret(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace cellgw::gateway
