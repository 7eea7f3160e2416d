#ifndef WORKATO_CONNECTOR_SERVER_METRICS_H_
#define WORKATO_CONNECTOR_SERVER_METRICS_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "observer.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace workato_connector {

// Metrics keeps the service's Prometheus metrics (prometheus-cpp) and serves
// them in the text format at /metrics:
//   grpc_server_handled_total{grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_service,grpc_method} (histogram)
//   workato_requests_total{data_center,endpoint,code}
//   workato_request_duration_seconds{data_center,endpoint} (histogram)
//   workato_rate_limit_waits_total, workato_rate_limit_wait_seconds_total
//   workato_sync_runs_total{result}
//   workato_users{connection_id,state}
//   workato_last_successful_sync_timestamp_seconds{connection_id}
class Metrics : public Observer {
 public:
  Metrics();
  ~Metrics() override;

  // Serve starts the HTTP endpoint on `listen` ("host:port"; port 0 picks
  // one) and returns the bound port. UNAVAILABLE when it cannot listen.
  [[nodiscard]] absl::StatusOr<int> Serve(const std::string& listen);

  void OnWorkatoRequest(::workato::connector::v1::DataCenter dc, absl::string_view endpoint,
                        int http_status, absl::Duration elapsed) override;
  void OnRateLimitWait(absl::Duration wait) override;
  void OnRpc(absl::string_view method, absl::string_view code, absl::Duration elapsed) override;
  void OnSyncFinished(const ::workato::connector::v1::SyncRun& run, int active_users,
                      int removed_users) override;
  void OnConnectionLoaded(const ::workato::connector::v1::Connection& connection, int active_users,
                          int removed_users) override;
  void OnConnectionDeleted(const std::string& connection_id) override;

 private:
  void SetUsers(const std::string& connection_id, int active, int removed);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* rpc_handled_;
  prometheus::Family<prometheus::Histogram>* rpc_seconds_;
  prometheus::Family<prometheus::Counter>* workato_requests_;
  prometheus::Family<prometheus::Histogram>* workato_seconds_;
  prometheus::Counter* rate_limit_waits_;
  prometheus::Counter* rate_limit_wait_seconds_;
  prometheus::Family<prometheus::Counter>* sync_runs_;
  prometheus::Family<prometheus::Gauge>* users_;
  prometheus::Family<prometheus::Gauge>* last_success_;

  // Per-connection series, so that a deleted connection's can be removed.
  std::mutex mu_;
  struct ConnectionSeries {
    prometheus::Gauge* active = nullptr;
    prometheus::Gauge* removed = nullptr;
    prometheus::Gauge* last_success = nullptr;
  };
  std::map<std::string, ConnectionSeries> connections_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_METRICS_H_
