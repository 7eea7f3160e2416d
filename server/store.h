#ifndef WORKATO_CONNECTOR_SERVER_STORE_H_
#define WORKATO_CONNECTOR_SERVER_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "user_record.h"
#include "workato/connector/v1/connector.pb.h"

namespace workato_connector {

// A connection as stored: the public record plus the sealed token (see
// TokenCipher), which never leaves the server.
struct StoredConnection {
  ::workato::connector::v1::Connection connection;
  std::string sealed_token;
};

// The keyset position of a user in list order (email, then id).
struct UserKey {
  std::string email;
  int64_t id = 0;
};

// What a sync changed.
struct SyncCounts {
  int32_t active = 0;
  int32_t added = 0;
  int32_t updated = 0;
  int32_t removed = 0;
};

struct UserPage {
  std::vector<::workato::connector::v1::User> users;
  // Users matching the filter over all pages.
  int32_t total_size = 0;
  // True when users follow the last one returned.
  bool more = false;
};

// A page of users as stored: each a serialized v1.User (see user_record.h),
// for callers that pass them on without reading them.
struct UserRecordPage {
  // The records one after another in `data` (one allocation per page, not
  // per user); record i ends at ends[i].
  std::string data;
  std::vector<size_t> ends;

  [[nodiscard]] size_t size() const { return ends.size(); }
  [[nodiscard]] absl::string_view record(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    return absl::string_view(data).substr(begin, ends[i] - begin);
  }
  void Add(absl::string_view record) {
    data.append(record.data(), record.size());
    ends.push_back(data.size());
  }

  // The key of the last record (for the next page); empty without records.
  UserKey last;
  int32_t total_size = 0;
  bool more = false;
};

// The keyset position of a sync run in history order (newest first).
struct SyncRunKey {
  int64_t start_time_us = 0;
  std::string id;
};

struct SyncRunPage {
  std::vector<::workato::connector::v1::SyncRun> runs;
  bool more = false;
};

struct ConnectionPage {
  std::vector<::workato::connector::v1::Connection> connections;
  int32_t total_size = 0;
  bool more = false;
};

// Store keeps connections and their user snapshots. Implementations are
// thread-safe. Errors: NOT_FOUND (CONNECTION_NOT_FOUND) for an unknown
// connection id; storage failures are UNAVAILABLE or FAILED_PRECONDITION
// (STORAGE_ERROR).
class Store {
 public:
  virtual ~Store() = default;

  [[nodiscard]] virtual absl::StatusOr<StoredConnection> GetConnection(const std::string& id) = 0;

  // FindConnection returns the connection of a workspace, if any.
  [[nodiscard]] virtual absl::StatusOr<std::optional<StoredConnection>> FindConnection(
      ::workato::connector::v1::DataCenter data_center, int64_t workspace_id) = 0;

  // PutConnection inserts or replaces a connection by id. Its users and its
  // last_sync are kept when it is replaced.
  [[nodiscard]] virtual absl::Status PutConnection(const StoredConnection& connection) = 0;

  // ListConnections returns connections ordered by id, starting after
  // `after_id` ("" for the first page).
  [[nodiscard]] virtual absl::StatusOr<ConnectionPage> ListConnections(const std::string& after_id,
                                                                       int limit) = 0;

  // DeleteConnection forgets a connection, its token and all its users.
  [[nodiscard]] virtual absl::Status DeleteConnection(const std::string& id) = 0;

  // SetConnectionState records the state (and a message for people).
  [[nodiscard]] virtual absl::Status SetConnectionState(
      const std::string& id, ::workato::connector::v1::Connection::State state,
      const std::string& message, absl::Time now) = 0;

  // RecordSyncRun stores a finished run as the connection's last_sync and
  // in its history, keeping only the newest `history_limit` runs.
  [[nodiscard]] virtual absl::Status RecordSyncRun(const ::workato::connector::v1::SyncRun& run,
                                                   int history_limit) = 0;

  // ListSyncRuns returns a connection's runs newest first (by start time,
  // then id), strictly after `after` when given.
  [[nodiscard]] virtual absl::StatusOr<SyncRunPage> ListSyncRuns(
      const std::string& connection_id, const std::optional<SyncRunKey>& after, int limit) = 0;

  // ApplySnapshot merges a complete listing (collaborators as Workato
  // listed them, see user_record.h) into the stored users (see
  // MergeSnapshot) and replaces them atomically: a reader sees either the
  // old users or the new ones. On any error nothing changes. An `unchanged`
  // entry must name a stored active user whose listing digest is the
  // entry's; otherwise the call fails with ABORTED (STORAGE_ERROR) - the
  // users changed since KnownListingDigests - and changes nothing.
  [[nodiscard]] virtual absl::StatusOr<SyncCounts> ApplySnapshot(
      const std::string& connection_id, std::vector<ListedUser> listed,
      absl::Time now) = 0;

  // KnownListingDigests returns the listing digests of the connection's
  // active users as of the last sync (see ListedUser): a store that keeps
  // none returns an empty map, and every collaborator is then mapped.
  [[nodiscard]] virtual absl::StatusOr<KnownListing> KnownListingDigests(
      const std::string& connection_id) = 0;

  // ListUsers returns up to `limit` users of a connection in (email, id)
  // order, strictly after `after` when given. Removed users only when
  // `show_removed`.
  [[nodiscard]] virtual absl::StatusOr<UserPage> ListUsers(const std::string& connection_id,
                                                           bool show_removed,
                                                           const std::optional<UserKey>& after,
                                                           int limit) = 0;

  // ListUserRecords is ListUsers without parsing: the same page, each user
  // as its serialized record.
  [[nodiscard]] virtual absl::StatusOr<UserRecordPage> ListUserRecords(
      const std::string& connection_id, bool show_removed, const std::optional<UserKey>& after,
      int limit) = 0;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_STORE_H_
