#ifndef WORKATO_CONNECTOR_SERVER_SQLITE_STORE_H_
#define WORKATO_CONNECTOR_SERVER_SQLITE_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "store.h"

struct sqlite3;

namespace workato_connector {

struct SqliteStoreOptions {
  // The database file; its directory must exist.
  std::string path;
  absl::Duration busy_timeout = absl::Seconds(5);
  // Read-only connections for the List/Get calls (at least 1). WAL lets them
  // read while the writer writes, each from its own consistent snapshot.
  int read_connections = 4;
  // Test hook: PRAGMA max_page_count for the writer, to simulate a full disk
  // (0 = unlimited).
  int64_t max_page_count = 0;
};

// SqliteStore keeps everything in one SQLite database (--store=sqlite), so
// connections, users and sync history survive restarts and crashes. One
// writer connection serialises all writes (each Store call is one
// transaction); a small pool of read-only connections serves reads from WAL
// snapshots, so readers never wait for a sync and never see half of one.
// Semantics are those of MemoryStore.
class SqliteStore : public Store {
 public:
  // The schema version this build creates and understands (PRAGMA user_version).
  static constexpr int kSchemaVersion = 2;

  // Open opens (creating if needed), checks and migrates the database.
  // FAILED_PRECONDITION (STORAGE_ERROR), naming the path, when it cannot be
  // opened or written, is not a SQLite database, is corrupt, or has a schema
  // newer than this build.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      SqliteStoreOptions options);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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

  // Rows inserted, updated or deleted through the writer since Open, so
  // tests can check that a sync writes only what changed.
  [[nodiscard]] int64_t total_changes_for_testing();

  // One SQLite connection and its prepared statements, used by one thread at
  // a time. Public only so that the implementation's helpers can name it.
  class Db;

 private:
  // ReadLease hands a read connection back to the pool when it goes away.
  class ReadLease;

  SqliteStore() = default;

  // Acquire waits for a free read connection.
  [[nodiscard]] ReadLease AcquireReader();
  void ReleaseReader(Db* db);

  // Guards the writer: SQLite allows one writer at a time, and taking turns
  // here rather than in SQLite means no "database is locked".
  std::mutex write_mu_;
  std::unique_ptr<Db> writer_;

  std::mutex read_mu_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<Db>> readers_;  // Every read connection.
  std::vector<Db*> free_readers_;             // Guarded by read_mu_.

  // Checkpoints run on their own thread and connection, so that copying a
  // large sync's pages from the WAL into the database happens after its
  // RPC has answered rather than inside its commit. The writer's WAL hook
  // asks for one when the WAL reaches kCheckpointFrames pages.
  static constexpr int kCheckpointFrames = 1000;
  static int OnWalCommit(void* store, sqlite3* db, const char* name, int frames);
  void CheckpointLoop();
  std::unique_ptr<Db> checkpointer_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_wanted_;
  bool checkpoint_due_ = false;  // Guarded by checkpoint_mu_.
  bool stopping_ = false;        // Guarded by checkpoint_mu_.
  std::thread checkpoint_thread_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_SQLITE_STORE_H_
