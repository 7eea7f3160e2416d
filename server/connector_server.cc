#include "connector_server.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "log.h"
#include "memory_store.h"

namespace workato_connector {

absl::StatusOr<std::unique_ptr<ConnectorServer>> ConnectorServer::Start(
    ServerOptions options, std::unique_ptr<Store> store, std::unique_ptr<HttpFetcher> fetcher) {
  DataCenterEndpoints endpoints;
  if (absl::Status s = endpoints.ApplyOverrides(options.workato_url_overrides); !s.ok()) return s;
  absl::StatusOr<TokenCipher> cipher = TokenCipher::WithRandomKey();
  if (!cipher.ok()) return cipher.status();

  std::unique_ptr<ConnectorServer> server(new ConnectorServer());
  server->store_ = store != nullptr ? std::move(store) : std::make_unique<MemoryStore>();
  server->fetcher_ =
      fetcher != nullptr ? std::move(fetcher) : std::make_unique<CurlFetcher>(options.curl);
  server->rate_limiter_ = std::make_unique<RateLimiter>(options.rate_limit_per_minute,
                                                        options.rate_limit_burst, Clock::Real());
  server->client_ = std::make_unique<WorkatoClient>(server->fetcher_.get(), std::move(endpoints),
                                                    options.workato, server->rate_limiter_.get());
  server->connector_ =
      std::make_unique<Connector>(server->client_.get(), server->store_.get(), *std::move(cipher));
  server->executor_ = std::make_unique<Executor>(options.executor_threads, options.executor_queue);
  server->service_ =
      std::make_unique<WorkatoConnectorService>(server->connector_.get(), server->executor_.get());

  // grpc's built-in health service does not register the descriptor of
  // grpc.health.v1; touching the generated code links it in, so reflection
  // (and grpcurl) can describe and call Health.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (in use, or not an address here)"));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  Log(LogLevel::kInfo, "server listening",
      {{"listen", options.listen}, {"port", absl::StrCat(server->port_)}});
  return server;
}

ConnectorServer::~ConnectorServer() { Shutdown(absl::ZeroDuration()); }

void ConnectorServer::Shutdown(absl::Duration drain) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(drain));
  // Work still queued for Workato finishes (its reactors are cancelled) before
  // the layers it uses go away.
  executor_->Shutdown();
  Log(LogLevel::kInfo, "server stopped");
}

}  // namespace workato_connector
