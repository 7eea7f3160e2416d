// workato-connector-server: flags in, ConnectorServer out.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "connector_server.h"
#include "log.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC listen address (host:port).");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for TLS on the gRPC port (with --tls_key_file). Re-read when "
          "it changes, without a restart.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: require client certificates signed by it (mutual TLS).");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Seconds(60),
          "How often the TLS files are checked for a new version (at least 1s).");
ABSL_FLAG(std::string, caller_tokens_file, "",
          "File of callers allowed to use the API, one a line: \"<name> <scope> <token>\" with "
          "scope read (Get/List calls, reflection) or admin (also Connect, Sync, "
          "DeleteConnection); '#' starts a comment. Callers send \"authorization: Bearer "
          "<token>\". Re-read when it changes. Health stays open.");
ABSL_FLAG(bool, allow_insecure, false,
          "Allow listening on a non-loopback address with neither TLS nor caller tokens "
          "(anyone who reaches the port can use it).");
ABSL_FLAG(std::string, workato_url_override, "",
          "Replace data centers' API base URLs: DC=URL[,DC=URL...], e.g. "
          "US=http://127.0.0.1:18080. For tests and private deployments; the only way to use "
          "plain http.");
ABSL_FLAG(std::string, workato_ca_file, "",
          "Extra PEM CA bundle to trust for Workato (e.g. a TLS-inspecting proxy's CA).");
ABSL_FLAG(absl::Duration, workato_connect_timeout, absl::Seconds(10),
          "Timeout for opening a connection to Workato.");
ABSL_FLAG(absl::Duration, workato_request_timeout, absl::Seconds(60),
          "Timeout for one whole request to Workato (Workato itself gives up after ~40s).");
ABSL_FLAG(absl::Duration, workato_low_speed_time, absl::Seconds(30),
          "Abort a request to Workato that receives nothing for this long.");
ABSL_FLAG(int64_t, workato_max_response_bytes, int64_t{256} << 20,
          "Abort Workato responses larger than this many bytes.");
ABSL_FLAG(int, workato_max_attempts, 4,
          "Attempts per request to Workato; transient failures (connection errors, timeouts, "
          "429, 500, 502, 503, 504) are retried with exponential backoff and full jitter.");
ABSL_FLAG(absl::Duration, workato_retry_budget, absl::Seconds(90),
          "Total time one request to Workato may spend on attempts and backoff (never beyond "
          "the gRPC caller's deadline).");
ABSL_FLAG(absl::Duration, workato_initial_backoff, absl::Milliseconds(500),
          "Upper bound of the first backoff; it doubles per retry up to --workato_max_backoff.");
ABSL_FLAG(absl::Duration, workato_max_backoff, absl::Seconds(16), "Largest backoff bound.");
ABSL_FLAG(absl::Duration, workato_max_retry_after, absl::Seconds(60),
          "Longest Retry-After (429/503) waited for; a longer one fails the call at once with "
          "google.rpc.RetryInfo.");
ABSL_FLAG(int, workato_rate_limit_per_minute, 60,
          "Requests per minute this server sends per workspace and endpoint family (Workato's "
          "limit is 60).");
ABSL_FLAG(int, workato_rate_limit_burst, 5,
          "Requests that may go back to back before the per-minute pacing applies.");
ABSL_FLAG(int, executor_threads, 8, "Threads for calls that wait on Workato (Connect, Sync).");
ABSL_FLAG(int, executor_queue, 256,
          "Calls that may wait for an executor thread before RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, store, "sqlite:data/connector.db",
          "Where connections, users and sync history live: \"sqlite:PATH\" (durable; the "
          "directory is created) or \"memory\" (lost on restart).");
ABSL_FLAG(std::string, token_key_file, "",
          "File with the base64 of 32 random bytes (openssl rand -base64 32) that seals API "
          "tokens at rest (AES-256-GCM). Else $WORKATO_CONNECTOR_TOKEN_KEY; else a key is "
          "generated next to the SQLite database (mode 0600), with a warning.");
ABSL_FLAG(std::string, previous_token_key_file, "",
          "Key rotation: the old key's file. Tokens sealed under it are re-sealed under the "
          "current key at start.");
ABSL_FLAG(int, sync_history, 20, "Sync runs kept per connection (ListSyncRuns).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long calls in flight may take to finish.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9090",
          "Prometheus metrics (text format at /metrics) address; empty turns them off.");
ABSL_FLAG(std::string, log_level, "info", "Lowest log level written: debug, info, warning, error.");

namespace {

constexpr char kEnvPrefix[] = "WORKATO_CONNECTOR_";

int Fail(const std::string& message) {
  workato_connector::Log(workato_connector::LogLevel::kError, message);
  return 2;
}

// ApplyEnvironment sets every flag named in the environment as
// WORKATO_CONNECTOR_<FLAG_NAME> (e.g. WORKATO_CONNECTOR_LOG_LEVEL=debug), so
// that a Kubernetes ConfigMap can configure the server; flags given on the
// command line are parsed afterwards and win.
bool ApplyEnvironment(std::string* error) {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    const std::string variable = absl::StrCat(kEnvPrefix, absl::AsciiStrToUpper(name));
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    std::string why;
    if (!flag->ParseFrom(value, &why)) {
      *error = absl::StrCat(variable, ": ", why);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves the workato.connector.v1.WorkatoConnector gRPC API. Logs are JSON lines on stderr.\n"
      "Every flag can also be set in the environment as WORKATO_CONNECTOR_<FLAG_NAME>, e.g.\n"
      "WORKATO_CONNECTOR_LOG_LEVEL=debug; the command line wins.");
  std::string env_error;
  if (!ApplyEnvironment(&env_error)) return Fail(env_error);
  absl::ParseCommandLine(argc, argv);

  workato_connector::LogLevel level;
  if (!workato_connector::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return Fail(absl::StrCat("--log_level must be debug, info, warning or error"));
  }
  workato_connector::SetLogLevel(level);

  workato_connector::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.tls.refresh_interval = absl::GetFlag(FLAGS_tls_refresh_interval);
  if (options.tls.refresh_interval < absl::Seconds(1)) {
    return Fail("--tls_refresh_interval must be at least 1s");
  }
  options.caller_tokens_file = absl::GetFlag(FLAGS_caller_tokens_file);
  options.allow_insecure = absl::GetFlag(FLAGS_allow_insecure);
  options.workato_url_overrides = absl::GetFlag(FLAGS_workato_url_override);
  options.curl.ca_file = absl::GetFlag(FLAGS_workato_ca_file);
  options.curl.connect_timeout = absl::GetFlag(FLAGS_workato_connect_timeout);
  options.curl.request_timeout = absl::GetFlag(FLAGS_workato_request_timeout);
  options.curl.low_speed_time = absl::GetFlag(FLAGS_workato_low_speed_time);
  options.curl.max_response_bytes = absl::GetFlag(FLAGS_workato_max_response_bytes);
  options.workato.max_attempts = absl::GetFlag(FLAGS_workato_max_attempts);
  options.workato.retry_budget = absl::GetFlag(FLAGS_workato_retry_budget);
  options.workato.initial_backoff = absl::GetFlag(FLAGS_workato_initial_backoff);
  options.workato.max_backoff = absl::GetFlag(FLAGS_workato_max_backoff);
  options.workato.max_retry_after = absl::GetFlag(FLAGS_workato_max_retry_after);
  options.rate_limit_per_minute = absl::GetFlag(FLAGS_workato_rate_limit_per_minute);
  options.rate_limit_burst = absl::GetFlag(FLAGS_workato_rate_limit_burst);
  if (options.workato.max_attempts < 1 || options.rate_limit_per_minute < 1 ||
      options.rate_limit_burst < 1) {
    return Fail(
        "--workato_max_attempts, --workato_rate_limit_per_minute and --workato_rate_limit_burst "
        "must be at least 1");
  }
  options.store = absl::GetFlag(FLAGS_store);
  options.token_keys.key_file = absl::GetFlag(FLAGS_token_key_file);
  options.token_keys.previous_key_file = absl::GetFlag(FLAGS_previous_token_key_file);
  if (const char* env = std::getenv("WORKATO_CONNECTOR_TOKEN_KEY"); env != nullptr) {
    options.token_keys.key_base64 = env;
  }
  options.sync_history = absl::GetFlag(FLAGS_sync_history);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.executor_threads = absl::GetFlag(FLAGS_executor_threads);
  options.executor_queue = static_cast<size_t>(absl::GetFlag(FLAGS_executor_queue));
  if (options.executor_threads < 1 || absl::GetFlag(FLAGS_executor_queue) < 1) {
    return Fail("--executor_threads and --executor_queue must be at least 1");
  }

  // Block the stop signals before any thread starts, so that only sigwait
  // below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = workato_connector::ConnectorServer::Start(std::move(options));
  if (!server.ok()) return Fail(std::string(server.status().message()));

  int received = 0;
  sigwait(&signals, &received);
  workato_connector::Log(workato_connector::LogLevel::kInfo, "stopping",
                         {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown(absl::GetFlag(FLAGS_drain_timeout));
  return 0;
}
