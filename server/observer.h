#ifndef WORKATO_CONNECTOR_SERVER_OBSERVER_H_
#define WORKATO_CONNECTOR_SERVER_OBSERVER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "workato/connector/v1/connector.pb.h"

namespace workato_connector {

// Observer hears what the layers do, so that metrics can be kept without the
// layers knowing about Prometheus. Every method may be called from any
// thread; the default implementations do nothing.
class Observer {
 public:
  virtual ~Observer() = default;

  // One HTTP request to Workato finished: `http_status` is the status
  // answered, or 0 when none came (connection error, timeout, abort).
  virtual void OnWorkatoRequest(::workato::connector::v1::DataCenter /*dc*/,
                                absl::string_view /*endpoint*/, int /*http_status*/,
                                absl::Duration /*elapsed*/) {}

  // A request waited this long for the rate limiter.
  virtual void OnRateLimitWait(absl::Duration /*wait*/) {}

  // A gRPC call finished.
  virtual void OnRpc(absl::string_view /*method*/, absl::string_view /*code*/,
                     absl::Duration /*elapsed*/) {}

  // A sync run finished (any state); the user counts are what is stored
  // after it.
  virtual void OnSyncFinished(const ::workato::connector::v1::SyncRun& /*run*/,
                              int /*active_users*/, int /*removed_users*/) {}

  // A connection is known at start (with its stored counts), or was deleted.
  virtual void OnConnectionLoaded(const ::workato::connector::v1::Connection& /*connection*/,
                                  int /*active_users*/, int /*removed_users*/) {}
  virtual void OnConnectionDeleted(const std::string& /*connection_id*/) {}
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_OBSERVER_H_
