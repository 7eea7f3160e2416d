#ifndef WORKATO_CONNECTOR_SERVER_CONNECTOR_SERVER_H_
#define WORKATO_CONNECTOR_SERVER_CONNECTOR_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "caller_tokens.h"
#include "connector.h"
#include "curl_fetcher.h"
#include "executor.h"
#include "grpc_service.h"
#include "grpcpp/server.h"
#include "http_fetcher.h"
#include "metrics.h"
#include "rate_limiter.h"
#include "store.h"
#include "token_key.h"
#include "transport_security.h"
#include "workato_client.h"

namespace workato_connector {

// Everything the server is configured with; main() fills it from flags.
struct ServerOptions {
  std::string listen = "0.0.0.0:50051";
  // TLS (and mTLS with a client CA) on the gRPC port; plaintext when empty.
  TlsOptions tls;
  // "<name> <scope> <token>" lines (see ParseCallerTokens); "" lets every
  // caller in. Checked for changes at most once per interval.
  std::string caller_tokens_file;
  absl::Duration caller_tokens_reload_interval = absl::Seconds(1);
  // Listening beyond loopback with neither TLS nor caller tokens is refused
  // unless this is set.
  bool allow_insecure = false;
  // "DC=URL[,DC=URL...]", see DataCenterEndpoints::ApplyOverrides.
  std::string workato_url_overrides;
  CurlFetcherOptions curl;
  WorkatoClientOptions workato;
  // Requests per minute per workspace and endpoint family, and the burst.
  int rate_limit_per_minute = 60;
  int rate_limit_burst = 5;
  int executor_threads = 8;
  size_t executor_queue = 256;
  // "memory", or "sqlite:PATH" (its directory is created, mode 0700).
  std::string store = "memory";
  // Keys sealing tokens at rest. With a SQLite store and no key given, one is
  // generated in the database's directory.
  TokenKeyOptions token_keys;
  int sync_history = Connector::kDefaultSyncHistory;
  // Prometheus /metrics address ("host:port", port 0 picks one); "" = off.
  std::string metrics_listen;
};

// ConnectorServer wires the layers together and serves them over gRPC, with
// the health service (open to all, for probes) and server reflection (read
// scope when caller tokens are on).
class ConnectorServer {
 public:
  // Start builds and starts the server. `store` and `fetcher` default to the
  // store named by options.store and a CurlFetcher; tests may pass their own.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ConnectorServer>> Start(
      ServerOptions options, std::unique_ptr<Store> store = nullptr,
      std::unique_ptr<HttpFetcher> fetcher = nullptr);

  ~ConnectorServer();

  // The port actually bound (useful with "127.0.0.1:0").
  [[nodiscard]] int port() const { return port_; }
  // The metrics port actually bound, or 0 when metrics are off.
  [[nodiscard]] int metrics_port() const { return metrics_port_; }

  // Shutdown marks health NOT_SERVING, refuses new calls, lets calls in
  // flight finish until `drain` passes, then cancels the rest.
  void Shutdown(absl::Duration drain);

 private:
  ConnectorServer() = default;

  std::unique_ptr<CallerTokens> callers_;
  ServerTransport transport_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<HttpFetcher> fetcher_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  std::unique_ptr<WorkatoClient> client_;
  std::unique_ptr<Connector> connector_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<WorkatoConnectorService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_CONNECTOR_SERVER_H_
