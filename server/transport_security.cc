#include "transport_security.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "errors.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace workato_connector {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::Status ConfigError(absl::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidConfiguration, message);
}

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError(absl::StrCat("--", flag, ": cannot read ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// CheckFiles parses the certificate, key and client CA the way the TLS stack
// will, so that mistakes show at start rather than as handshake failures.
absl::Status CheckFiles(const TlsOptions& options) {
  absl::StatusOr<std::string> cert_pem = ReadPem("tls_cert_file", options.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadPem("tls_key_file", options.key_file);
  if (!key_pem.ok()) return key_pem.status();
  BioPtr cert_bio = MemoryBio(*cert_pem);
  X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return ConfigError(
        absl::StrCat("--tls_cert_file ", options.cert_file, " holds no PEM certificate"));
  }
  BioPtr key_bio = MemoryBio(*key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return ConfigError(
        absl::StrCat("--tls_key_file ", options.key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return ConfigError(absl::StrCat("--tls_key_file ", options.key_file,
                                    " is not the key of the certificate in ", options.cert_file));
  }
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca_pem = ReadPem("tls_client_ca_file", options.client_ca_file);
    if (!ca_pem.ok()) return ca_pem.status();
    BioPtr ca_bio = MemoryBio(*ca_pem);
    X509Ptr ca(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
    if (ca == nullptr) {
      return ConfigError(absl::StrCat("--tls_client_ca_file ", options.client_ca_file,
                                      " holds no PEM certificate"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerTransport> MakeServerTransport(const TlsOptions& options) {
  ServerTransport transport;
  if (options.cert_file.empty() != options.key_file.empty()) {
    return ConfigError("--tls_cert_file and --tls_key_file go together: give both or neither");
  }
  if (options.cert_file.empty()) {
    if (!options.client_ca_file.empty()) {
      return ConfigError("--tls_client_ca_file needs --tls_cert_file and --tls_key_file");
    }
    transport.credentials = grpc::InsecureServerCredentials();
    return transport;
  }
  if (absl::Status checked = CheckFiles(options); !checked.ok()) return checked;
  const int64_t seconds = absl::ToInt64Seconds(options.refresh_interval);
  const unsigned int refresh =
      seconds < 1 ? 1u : (seconds > 86400 ? 86400u : static_cast<unsigned int>(seconds));
  // One watcher for all three files: the client CA is its "root" bundle.
  transport.certificate_provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          options.key_file, options.cert_file, options.client_ca_file, refresh);
  grpc::experimental::TlsServerCredentialsOptions tls(transport.certificate_provider);
  tls.watch_identity_key_cert_pairs();
  if (!options.client_ca_file.empty()) {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    transport.mutual_tls = true;
  } else {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  transport.credentials = grpc::experimental::TlsServerCredentials(tls);
  if (transport.credentials == nullptr) {
    return ConfigError("gRPC could not build TLS credentials from the given files");
  }
  transport.tls = true;
  return transport;
}

bool IsLoopbackListenAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) return true;
  absl::string_view host;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos) return false;
    host = listen.substr(1, close - 1);
  } else {
    const size_t colon = listen.rfind(':');
    host = colon == absl::string_view::npos ? listen : listen.substr(0, colon);
    // "::1:50051" without brackets is ambiguous: not trusted as loopback.
    if (host.find(':') != absl::string_view::npos) return false;
  }
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace workato_connector
