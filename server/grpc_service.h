#ifndef WORKATO_CONNECTOR_SERVER_GRPC_SERVICE_H_
#define WORKATO_CONNECTOR_SERVER_GRPC_SERVICE_H_

#include "caller_tokens.h"
#include "connector.h"
#include "executor.h"
#include "observer.h"
#include "workato/connector/v1/connector.grpc.pb.h"

namespace workato_connector {

// WorkatoConnectorService adapts Connector to gRPC's callback API. Calls
// that wait on Workato (Connect, Sync) run on the Executor; the others are
// quick store reads and finish on gRPC's thread. With caller tokens, every
// call is checked before any work: Get/List need the read scope, Connect,
// Sync and DeleteConnection admin.
// ListUsers is a raw method (ByteBuffer in and out): its response is built
// from the stored user records as they are, without parsing them into
// messages and serializing those again (Connector::ListUsersWire).
class WorkatoConnectorService final
    : public ::workato::connector::v1::WorkatoConnector::WithRawCallbackMethod_ListUsers<
          ::workato::connector::v1::WorkatoConnector::CallbackService> {
 public:
  // All must outlive the service; `observer` may be null, and `callers` null
  // lets every caller in (plaintext on loopback, or TLS/mTLS only).
  WorkatoConnectorService(Connector* connector, Executor* executor, Observer* observer = nullptr,
                          CallerTokens* callers = nullptr);

  grpc::ServerUnaryReactor* Connect(grpc::CallbackServerContext* context,
                                    const ::workato::connector::v1::ConnectRequest* request,
                                    ::workato::connector::v1::Connection* response) override;
  grpc::ServerUnaryReactor* GetConnection(
      grpc::CallbackServerContext* context,
      const ::workato::connector::v1::GetConnectionRequest* request,
      ::workato::connector::v1::Connection* response) override;
  grpc::ServerUnaryReactor* ListConnections(
      grpc::CallbackServerContext* context,
      const ::workato::connector::v1::ListConnectionsRequest* request,
      ::workato::connector::v1::ListConnectionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteConnection(
      grpc::CallbackServerContext* context,
      const ::workato::connector::v1::DeleteConnectionRequest* request,
      ::workato::connector::v1::DeleteConnectionResponse* response) override;
  grpc::ServerUnaryReactor* Sync(grpc::CallbackServerContext* context,
                                 const ::workato::connector::v1::SyncRequest* request,
                                 ::workato::connector::v1::SyncRun* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSyncRuns(
      grpc::CallbackServerContext* context,
      const ::workato::connector::v1::ListSyncRunsRequest* request,
      ::workato::connector::v1::ListSyncRunsResponse* response) override;

 private:
  // What the log line of one call needs besides its result.
  struct Rpc {
    absl::string_view method;
    absl::Time start;
    // The caller's name from the tokens file; "" without caller tokens.
    std::string caller;
  };

  // Authorize checks the caller's token for `required` and names the caller
  // in `rpc`; an error is the call's result.
  [[nodiscard]] absl::Status Authorize(grpc::CallbackServerContext* context, CallerScope required,
                                       Rpc* rpc);

  // Finish completes a call with its result, logs it and reports it.
  template <typename T>
  void Finish(grpc::ServerUnaryReactor* reactor, const Rpc& rpc, const std::string& connection_id,
              absl::StatusOr<T> result, T* response);

  Connector* connector_;
  Executor* executor_;
  Observer* observer_;
  CallerTokens* callers_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_GRPC_SERVICE_H_
