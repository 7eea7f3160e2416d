#include "connector_server.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "errors.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "log.h"
#include "memory_store.h"
#include "reflection_guard.h"
#include "sqlite_store.h"

namespace workato_connector {

namespace {

constexpr absl::string_view kSqlitePrefix = "sqlite:";

absl::Status MakeDirectories(const std::string& dir) {
  std::string path;
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    path = path.empty() && dir[0] == '/' ? absl::StrCat("/", part) : absl::StrCat(path, part);
    if (!part.empty() && ::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return MakeError(
          absl::StatusCode::kFailedPrecondition, reason::kStorageError,
          absl::StrCat("cannot create the data directory ", path, ": ", std::strerror(errno)));
    }
    path += "/";
  }
  return absl::OkStatus();
}

// OpenStore opens the store named by `spec`; `data_dir` gets the directory
// of a file-backed store ("" for memory).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& spec, std::string* data_dir) {
  data_dir->clear();
  if (spec == "memory") return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  if (!absl::StartsWith(spec, kSqlitePrefix) || spec.size() == kSqlitePrefix.size()) {
    return MakeError(
        absl::StatusCode::kInvalidArgument, reason::kStorageError,
        absl::StrCat("--store must be \"memory\" or \"sqlite:PATH\", got \"", spec, "\""));
  }
  SqliteStoreOptions sqlite;
  sqlite.path = spec.substr(kSqlitePrefix.size());
  const size_t slash = sqlite.path.rfind('/');
  *data_dir = slash == std::string::npos ? "." : sqlite.path.substr(0, std::max<size_t>(slash, 1));
  if (absl::Status made = MakeDirectories(*data_dir); !made.ok()) return made;
  absl::StatusOr<std::unique_ptr<SqliteStore>> opened = SqliteStore::Open(sqlite);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<Store>(*std::move(opened));
}

// CheckExposure refuses a port reachable from other machines that lets
// anyone in: the server holds tokens that open customers' workspaces.
absl::Status CheckExposure(const ServerOptions& options) {
  if (IsLoopbackListenAddress(options.listen)) return absl::OkStatus();
  const bool tls = !options.tls.cert_file.empty();
  const bool callers = !options.caller_tokens_file.empty();
  if (!tls && !callers) {
    if (!options.allow_insecure) {
      return MakeError(
          absl::StatusCode::kFailedPrecondition, reason::kInvalidConfiguration,
          absl::StrCat("refusing to listen on ", options.listen,
                       " (not loopback) without TLS or caller tokens: anyone who reaches the port "
                       "could read every connected workspace's users and run its API token. Set "
                       "--caller_tokens_file and/or --tls_cert_file with --tls_key_file, listen "
                       "on 127.0.0.1, or pass --allow_insecure"));
    }
    Log(LogLevel::kWarning,
        "--allow_insecure: serving plaintext with no caller credentials beyond loopback; anyone "
        "who reaches the port can use every connected workspace",
        {{"listen", options.listen}});
  } else if (callers && !tls) {
    Log(LogLevel::kWarning,
        "caller tokens travel in plaintext beyond loopback; add --tls_cert_file and "
        "--tls_key_file unless the network is otherwise encrypted",
        {{"listen", options.listen}});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectorServer>> ConnectorServer::Start(
    ServerOptions options, std::unique_ptr<Store> store, std::unique_ptr<HttpFetcher> fetcher) {
  DataCenterEndpoints endpoints;
  if (absl::Status s = endpoints.ApplyOverrides(options.workato_url_overrides); !s.ok()) return s;
  if (absl::Status s = CheckExposure(options); !s.ok()) return s;

  std::unique_ptr<ConnectorServer> server(new ConnectorServer());
  absl::StatusOr<ServerTransport> transport = MakeServerTransport(options.tls);
  if (!transport.ok()) return transport.status();
  server->transport_ = *std::move(transport);
  if (!options.caller_tokens_file.empty()) {
    absl::StatusOr<std::unique_ptr<CallerTokens>> callers =
        CallerTokens::Load(options.caller_tokens_file, options.caller_tokens_reload_interval);
    if (!callers.ok()) return callers.status();
    server->callers_ = *std::move(callers);
    Log(LogLevel::kInfo, "caller tokens loaded",
        {{"file", options.caller_tokens_file},
         {"callers", absl::StrCat(server->callers_->size())}});
  }
  server->metrics_ = std::make_unique<Metrics>();
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<int> port = server->metrics_->Serve(options.metrics_listen);
    if (!port.ok()) return port.status();
    server->metrics_port_ = *port;
  }
  std::string data_dir;
  if (store == nullptr) {
    absl::StatusOr<std::unique_ptr<Store>> opened = OpenStore(options.store, &data_dir);
    if (!opened.ok()) return opened.status();
    store = *std::move(opened);
  }
  server->store_ = std::move(store);
  TokenKeyOptions key_options = options.token_keys;
  if (key_options.data_dir.empty()) key_options.data_dir = data_dir;
  absl::StatusOr<TokenKeys> keys = LoadTokenKeys(key_options);
  if (!keys.ok()) return keys.status();
  if (keys->generated) {
    Log(LogLevel::kWarning,
        "generated a token encryption key next to the database; in production supply your own "
        "with --token_key_file or WORKATO_CONNECTOR_TOKEN_KEY (from a Kubernetes Secret)",
        {{"key_file", keys->source}});
  } else {
    Log(LogLevel::kInfo, "token encryption key loaded", {{"source", keys->source}});
  }
  server->fetcher_ =
      fetcher != nullptr ? std::move(fetcher) : std::make_unique<CurlFetcher>(options.curl);
  server->rate_limiter_ = std::make_unique<RateLimiter>(options.rate_limit_per_minute,
                                                        options.rate_limit_burst, Clock::Real());
  server->client_ = std::make_unique<WorkatoClient>(server->fetcher_.get(), std::move(endpoints),
                                                    options.workato, server->rate_limiter_.get(),
                                                    Clock::Real(), server->metrics_.get());
  server->connector_ = std::make_unique<Connector>(server->client_.get(), server->store_.get(),
                                                   std::move(keys->current), &absl::Now,
                                                   options.sync_history, server->metrics_.get());
  absl::StatusOr<Connector::TokenCheck> check =
      server->connector_->CheckStoredTokens(keys->previous ? &*keys->previous : nullptr);
  if (!check.ok()) return check.status();
  if (check->resealed > 0 || check->unreadable > 0) {
    Log(check->unreadable > 0 ? LogLevel::kWarning : LogLevel::kInfo, "stored tokens checked",
        {{"resealed_under_new_key", absl::StrCat(check->resealed)},
         {"unreadable_need_reconnect", absl::StrCat(check->unreadable)}});
  }
  server->executor_ = std::make_unique<Executor>(options.executor_threads, options.executor_queue);
  server->service_ =
      std::make_unique<WorkatoConnectorService>(server->connector_.get(), server->executor_.get(),
                                                server->metrics_.get(), server->callers_.get());

  // grpc's built-in health service does not register the descriptor of
  // grpc.health.v1; touching the generated code links it in, so reflection
  // (and grpcurl) can describe and call Health.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, server->transport_.credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  if (server->callers_ != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> guards;
    guards.push_back(std::make_unique<ReflectionGuardFactory>(server->callers_.get()));
    builder.experimental().SetInterceptorCreators(std::move(guards));
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (in use, or not an address here)"));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  Log(LogLevel::kInfo, "server listening",
      {{"listen", options.listen},
       {"port", absl::StrCat(server->port_)},
       {"tls", server->transport_.mutual_tls ? "mutual" : (server->transport_.tls ? "on" : "off")},
       {"caller_tokens", server->callers_ != nullptr ? "on" : "off"},
       {"metrics_port", absl::StrCat(server->metrics_port_)}});
  return server;
}

ConnectorServer::~ConnectorServer() { Shutdown(absl::ZeroDuration()); }

void ConnectorServer::Shutdown(absl::Duration drain) {
  if (shut_down_) return;
  shut_down_ = true;
  // A Start that failed half-way has only some of the parts.
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(drain));
  }
  // Work still queued for Workato finishes (its reactors are cancelled) before
  // the layers it uses go away.
  if (executor_ != nullptr) executor_->Shutdown();
  if (server_ == nullptr) return;
  Log(LogLevel::kInfo, "server stopped");
}

}  // namespace workato_connector
