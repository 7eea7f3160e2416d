#ifndef WORKATO_CONNECTOR_SERVER_CONNECTOR_H_
#define WORKATO_CONNECTOR_SERVER_CONNECTOR_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "observer.h"
#include "store.h"
#include "token_cipher.h"
#include "workato/connector/v1/connector.pb.h"
#include "workato_client.h"

namespace workato_connector {

// Connector is what the service does, apart from gRPC: it checks and keeps
// connections, syncs their collaborators into the Store and pages through
// them. Every method is thread-safe. Errors carry stable reasons (errors.h).
class Connector {
 public:
  using Clock = std::function<absl::Time()>;
  using SyncCallback = std::function<void(absl::StatusOr<::workato::connector::v1::SyncRun>)>;

  static constexpr int kDefaultPageSize = 100;
  static constexpr int kMaxPageSize = 1000;

  // How many sync runs of each connection are kept.
  static constexpr int kDefaultSyncHistory = 20;

  // `client` and `store` must outlive the Connector.
  Connector(const WorkatoClient* client, Store* store, TokenCipher cipher, Clock clock = &absl::Now,
            int sync_history = kDefaultSyncHistory, Observer* observer = nullptr);

  // CheckStoredTokens runs at start (and tells the Observer about every
  // stored connection): every stored token must open under the current key. One sealed under
  // `previous` (key rotation) is re-sealed under the current key; one that opens under neither
  // marks its connection NEEDS_RECONNECT. Returns how many were re-sealed and how many are lost.
  struct TokenCheck {
    int resealed = 0;
    int unreadable = 0;
  };
  [[nodiscard]] absl::StatusOr<TokenCheck> CheckStoredTokens(const TokenCipher* previous);

  // Connect validates locally, then checks the token against both endpoint
  // families, and stores the connection (replacing the token of an already
  // connected workspace, keeping its id). Blocks on Workato.
  [[nodiscard]] absl::StatusOr<::workato::connector::v1::Connection> Connect(
      const ::workato::connector::v1::ConnectRequest& request, const CallContext& context);

  [[nodiscard]] absl::StatusOr<::workato::connector::v1::Connection> GetConnection(
      const ::workato::connector::v1::GetConnectionRequest& request);

  [[nodiscard]] absl::StatusOr<::workato::connector::v1::ListConnectionsResponse> ListConnections(
      const ::workato::connector::v1::ListConnectionsRequest& request);

  [[nodiscard]] absl::Status DeleteConnection(
      const ::workato::connector::v1::DeleteConnectionRequest& request);

  // Sync runs a sync of the connection, or joins the one already running:
  // `done` is called exactly once with the run's result, on the thread that
  // ran it. Blocks on Workato when this call runs the sync. The run keeps the
  // deadline of the call that started it, and stops (storing nothing) only
  // once every caller waiting on it has cancelled.
  void Sync(const ::workato::connector::v1::SyncRequest& request, const CallContext& context,
            SyncCallback done);

  [[nodiscard]] absl::StatusOr<::workato::connector::v1::ListUsersResponse> ListUsers(
      const ::workato::connector::v1::ListUsersRequest& request);

  // ListUsersWire is ListUsers already serialized: the stored records go
  // into the response as they are, never parsed (the gRPC service's path).
  [[nodiscard]] absl::StatusOr<std::string> ListUsersWire(
      const ::workato::connector::v1::ListUsersRequest& request);

  [[nodiscard]] absl::StatusOr<::workato::connector::v1::ListSyncRunsResponse> ListSyncRuns(
      const ::workato::connector::v1::ListSyncRunsRequest& request);

 private:
  struct SyncWaiter {
    SyncCallback done;
    std::function<bool()> cancelled;
  };

  absl::StatusOr<::workato::connector::v1::SyncRun> RunSync(const std::string& connection_id,
                                                            const CallContext& context);
  // Why a collaborator listing failed, after probing the other endpoint
  // family when Workato answered 401.
  absl::Status ExplainListingFailure(const StoredConnection& stored, const std::string& token,
                                     absl::Status failure, const CallContext& context);
  // True once every caller waiting on the connection's sync has cancelled.
  bool AllWaitersCancelled(const std::string& connection_id);
  absl::Status CheckComplete(const std::string& connection_id, const CollaboratorListing& listing);
  // The stored active and removed users of a connection (for the Observer).
  std::pair<int, int> UserCounts(const std::string& connection_id);
  absl::Status MarkNeedsReconnect(const std::string& connection_id, const std::string& why);

  const WorkatoClient* client_;
  Store* store_;
  const TokenCipher cipher_;
  const Clock clock_;
  const int sync_history_;
  Observer* const observer_;

  // Serialises the find-seal-store step of Connect, so that two Connects of
  // one new workspace cannot create two connections.
  std::mutex connect_mu_;
  std::mutex sync_mu_;
  // Callers waiting on the sync in flight, per connection id.
  std::map<std::string, std::vector<SyncWaiter>> syncs_in_flight_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_CONNECTOR_H_
