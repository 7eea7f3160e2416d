#ifndef WORKATO_CONNECTOR_SERVER_MEMORY_STORE_H_
#define WORKATO_CONNECTOR_SERVER_MEMORY_STORE_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store.h"

namespace workato_connector {

// MemoryStore keeps everything in process memory (--store=memory): gone on
// restart. Each connection's users are an immutable sorted snapshot swapped
// in whole, so readers never wait for a sync and never see half of one.
class MemoryStore : public Store {
 public:
  MemoryStore() = default;

  absl::StatusOr<StoredConnection> GetConnection(const std::string& id) override;
  absl::StatusOr<std::optional<StoredConnection>> FindConnection(
      ::workato::connector::v1::DataCenter data_center, int64_t workspace_id) override;
  absl::Status PutConnection(const StoredConnection& connection) override;
  absl::StatusOr<ConnectionPage> ListConnections(const std::string& after_id, int limit) override;
  absl::Status DeleteConnection(const std::string& id) override;
  absl::Status SetConnectionState(const std::string& id,
                                  ::workato::connector::v1::Connection::State state,
                                  const std::string& message, absl::Time now) override;
  absl::Status RecordSyncRun(const ::workato::connector::v1::SyncRun& run,
                             int history_limit) override;
  absl::StatusOr<SyncRunPage> ListSyncRuns(const std::string& connection_id,
                                           const std::optional<SyncRunKey>& after,
                                           int limit) override;
  absl::StatusOr<SyncCounts> ApplySnapshot(const std::string& connection_id,
                                           std::vector<ListedUser> listed,
                                           absl::Time now) override;
  absl::StatusOr<KnownListing> KnownListingDigests(const std::string& connection_id) override;
  absl::StatusOr<UserPage> ListUsers(const std::string& connection_id, bool show_removed,
                                     const std::optional<UserKey>& after, int limit) override;
  absl::StatusOr<UserRecordPage> ListUserRecords(const std::string& connection_id,
                                                 bool show_removed,
                                                 const std::optional<UserKey>& after,
                                                 int limit) override;

 private:
  struct UserSnapshot {
    std::vector<::workato::connector::v1::User> all;  // Sorted by (email, id).
    std::vector<size_t> active;                       // Indexes into `all`, in order.
  };
  struct Entry {
    StoredConnection stored;
    std::shared_ptr<const UserSnapshot> users = std::make_shared<UserSnapshot>();
    // Newest first.
    std::deque<::workato::connector::v1::SyncRun> history;
  };

  std::mutex mu_;
  std::map<std::string, Entry> connections_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_MEMORY_STORE_H_
