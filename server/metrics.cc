#include "metrics.h"

#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data_center.h"
#include "errors.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;
namespace {

constexpr char kService[] = "workato.connector.v1.WorkatoConnector";

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

const prometheus::Histogram::BucketBoundaries& RpcBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

const prometheus::Histogram::BucketBoundaries& WorkatoBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60};
  return *buckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_handled_(&prometheus::BuildCounter()
                        .Name("grpc_server_handled_total")
                        .Help("gRPC calls completed, by method and status code.")
                        .Register(*registry_)),
      rpc_seconds_(&prometheus::BuildHistogram()
                        .Name("grpc_server_handling_seconds")
                        .Help("Time from receiving a gRPC call to finishing it.")
                        .Register(*registry_)),
      workato_requests_(&prometheus::BuildCounter()
                             .Name("workato_requests_total")
                             .Help("HTTP requests to Workato, by answer (0 = no answer).")
                             .Register(*registry_)),
      workato_seconds_(&prometheus::BuildHistogram()
                            .Name("workato_request_duration_seconds")
                            .Help("Duration of HTTP requests to Workato.")
                            .Register(*registry_)),
      rate_limit_waits_(&prometheus::BuildCounter()
                             .Name("workato_rate_limit_waits_total")
                             .Help("Requests to Workato that waited for this server's limiter.")
                             .Register(*registry_)
                             .Add({})),
      rate_limit_wait_seconds_(&prometheus::BuildCounter()
                                    .Name("workato_rate_limit_wait_seconds_total")
                                    .Help("Time spent waiting for this server's limiter.")
                                    .Register(*registry_)
                                    .Add({})),
      sync_runs_(&prometheus::BuildCounter()
                      .Name("workato_sync_runs_total")
                      .Help("Sync runs finished, by result (SUCCEEDED or FAILED).")
                      .Register(*registry_)),
      users_(&prometheus::BuildGauge()
                  .Name("workato_users")
                  .Help("Stored users per connection and state (active, removed).")
                  .Register(*registry_)),
      last_success_(&prometheus::BuildGauge()
                         .Name("workato_last_successful_sync_timestamp_seconds")
                         .Help("When each connection last synced successfully (Unix time).")
                         .Register(*registry_)) {}

Metrics::~Metrics() = default;

absl::StatusOr<int> Metrics::Serve(const std::string& listen) {
  // civetweb (inside prometheus-cpp) reports a failed bind by throwing; this
  // is the one place that can throw, so it is caught right here.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    return MakeError(absl::StatusCode::kUnavailable, reason::kStorageError,
                     absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::OnWorkatoRequest(v1::DataCenter dc, absl::string_view endpoint, int http_status,
                               absl::Duration elapsed) {
  const std::string name = DataCenterName(dc);
  workato_requests_
      ->Add({{"data_center", name},
             {"endpoint", std::string(endpoint)},
             {"code", absl::StrCat(http_status)}})
      .Increment();
  workato_seconds_
      ->Add({{"data_center", name}, {"endpoint", std::string(endpoint)}}, WorkatoBuckets())
      .Observe(Seconds(elapsed));
}

void Metrics::OnRateLimitWait(absl::Duration wait) {
  rate_limit_waits_->Increment();
  rate_limit_wait_seconds_->Increment(Seconds(wait));
}

void Metrics::OnRpc(absl::string_view method, absl::string_view code, absl::Duration elapsed) {
  rpc_handled_
      ->Add({{"grpc_service", kService},
             {"grpc_method", std::string(method)},
             {"grpc_code", std::string(code)}})
      .Increment();
  rpc_seconds_
      ->Add({{"grpc_service", kService}, {"grpc_method", std::string(method)}}, RpcBuckets())
      .Observe(Seconds(elapsed));
}

void Metrics::SetUsers(const std::string& connection_id, int active, int removed) {
  std::lock_guard<std::mutex> lock(mu_);
  ConnectionSeries& series = connections_[connection_id];
  if (series.active == nullptr) {
    series.active = &users_->Add({{"connection_id", connection_id}, {"state", "active"}});
    series.removed = &users_->Add({{"connection_id", connection_id}, {"state", "removed"}});
  }
  series.active->Set(active);
  series.removed->Set(removed);
}

void Metrics::OnSyncFinished(const v1::SyncRun& run, int active_users, int removed_users) {
  const bool ok = run.state() == v1::SyncRun::SUCCEEDED;
  sync_runs_->Add({{"result", ok ? "SUCCEEDED" : "FAILED"}}).Increment();
  SetUsers(run.connection_id(), active_users, removed_users);
  if (ok) {
    std::lock_guard<std::mutex> lock(mu_);
    ConnectionSeries& series = connections_[run.connection_id()];
    if (series.last_success == nullptr) {
      series.last_success = &last_success_->Add({{"connection_id", run.connection_id()}});
    }
    series.last_success->Set(static_cast<double>(run.end_time().seconds()) +
                             run.end_time().nanos() / 1e9);
  }
}

void Metrics::OnConnectionLoaded(const v1::Connection& connection, int active_users,
                                 int removed_users) {
  SetUsers(connection.id(), active_users, removed_users);
  const v1::SyncRun& last = connection.last_sync();
  if (last.state() == v1::SyncRun::SUCCEEDED) {
    std::lock_guard<std::mutex> lock(mu_);
    ConnectionSeries& series = connections_[connection.id()];
    if (series.last_success == nullptr) {
      series.last_success = &last_success_->Add({{"connection_id", connection.id()}});
    }
    series.last_success->Set(static_cast<double>(last.end_time().seconds()) +
                             last.end_time().nanos() / 1e9);
  }
}

void Metrics::OnConnectionDeleted(const std::string& connection_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;
  if (it->second.active != nullptr) users_->Remove(it->second.active);
  if (it->second.removed != nullptr) users_->Remove(it->second.removed);
  if (it->second.last_success != nullptr) last_success_->Remove(it->second.last_success);
  connections_.erase(it);
}

}  // namespace workato_connector
