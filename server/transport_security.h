#ifndef WORKATO_CONNECTOR_SERVER_TRANSPORT_SECURITY_H_
#define WORKATO_CONNECTOR_SERVER_TRANSPORT_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"

namespace workato_connector {

// TLS on the gRPC port. Empty files mean plaintext.
struct TlsOptions {
  // PEM certificate chain and private key of the server.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle; when set, clients must present a certificate it signed.
  std::string client_ca_file;
  // How often the files are checked for a new version (at least 1s).
  absl::Duration refresh_interval = absl::Seconds(60);
};

// ServerTransport is the credentials of the gRPC port plus what keeps them
// fresh: the file watcher re-reads the certificate, key and client CA, so a
// rotated Kubernetes Secret is served without a restart.
struct ServerTransport {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Null for plaintext. Owned here so that it lives as long as the server.
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> certificate_provider;
  bool tls = false;
  bool mutual_tls = false;
};

// MakeServerTransport checks the files once (so that a wrong path or a key
// not matching the certificate stops the start with a clear error) and
// builds plaintext or TLS (mTLS with a client CA) credentials.
[[nodiscard]] absl::StatusOr<ServerTransport> MakeServerTransport(const TlsOptions& options);

// IsLoopbackListenAddress tells whether a gRPC listen address ("host:port",
// "[v6]:port", "unix:path") is reachable only from this machine: 127.0.0.0/8,
// ::1, localhost, or a Unix socket.
[[nodiscard]] bool IsLoopbackListenAddress(absl::string_view listen);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_TRANSPORT_SECURITY_H_
