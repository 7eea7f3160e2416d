#include "memory_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "errors.h"
#include "snapshot_merge.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;
namespace {

absl::Status NotFound(const std::string& id) {
  return MakeError(absl::StatusCode::kNotFound, reason::kConnectionNotFound,
                   absl::StrCat("connection \"", id, "\" does not exist"), {{"connection_id", id}});
}

// Newest-first order compares (start time, id) descending.
std::pair<int64_t, std::string> SyncRunKeyOf(const v1::SyncRun& run) {
  return {absl::ToUnixMicros(absl::FromUnixSeconds(run.start_time().seconds()) +
                             absl::Nanoseconds(run.start_time().nanos())),
          run.id()};
}

}  // namespace

absl::StatusOr<StoredConnection> MemoryStore::GetConnection(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return NotFound(id);
  return it->second.stored;
}

absl::StatusOr<std::optional<StoredConnection>> MemoryStore::FindConnection(
    v1::DataCenter data_center, int64_t workspace_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, entry] : connections_) {
    const v1::Connection& c = entry.stored.connection;
    if (c.data_center() == data_center && c.workspace_id() == workspace_id) return entry.stored;
  }
  return std::nullopt;
}

absl::Status MemoryStore::PutConnection(const StoredConnection& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = connections_[connection.connection.id()];
  v1::SyncRun last_sync = entry.stored.connection.last_sync();
  bool had_sync = entry.stored.connection.has_last_sync();
  entry.stored = connection;
  if (had_sync) *entry.stored.connection.mutable_last_sync() = std::move(last_sync);
  return absl::OkStatus();
}

absl::StatusOr<ConnectionPage> MemoryStore::ListConnections(const std::string& after_id,
                                                            int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  ConnectionPage page;
  page.total_size = static_cast<int32_t>(connections_.size());
  for (auto it = connections_.upper_bound(after_id); it != connections_.end(); ++it) {
    if (static_cast<int>(page.connections.size()) == limit) {
      page.more = true;
      break;
    }
    page.connections.push_back(it->second.stored.connection);
  }
  return page;
}

absl::Status MemoryStore::DeleteConnection(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (connections_.erase(id) == 0) return NotFound(id);
  return absl::OkStatus();
}

absl::Status MemoryStore::SetConnectionState(const std::string& id, v1::Connection::State state,
                                             const std::string& message, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return NotFound(id);
  v1::Connection& c = it->second.stored.connection;
  c.set_state(state);
  c.set_state_message(message);
  *c.mutable_update_time() = ToTimestamp(now);
  return absl::OkStatus();
}

absl::Status MemoryStore::RecordSyncRun(const v1::SyncRun& run, int history_limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(run.connection_id());
  if (it == connections_.end()) return NotFound(run.connection_id());
  *it->second.stored.connection.mutable_last_sync() = run;
  std::deque<v1::SyncRun>& history = it->second.history;
  history.push_front(run);
  std::stable_sort(history.begin(), history.end(), [](const v1::SyncRun& a, const v1::SyncRun& b) {
    return SyncRunKeyOf(b) < SyncRunKeyOf(a);
  });
  while (static_cast<int>(history.size()) > std::max(1, history_limit)) history.pop_back();
  return absl::OkStatus();
}

absl::StatusOr<SyncRunPage> MemoryStore::ListSyncRuns(const std::string& connection_id,
                                                      const std::optional<SyncRunKey>& after,
                                                      int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return NotFound(connection_id);
  SyncRunPage page;
  for (const v1::SyncRun& run : it->second.history) {
    if (after.has_value() &&
        !(SyncRunKeyOf(run) < std::make_pair(after->start_time_us, after->id))) {
      continue;
    }
    if (static_cast<int>(page.runs.size()) == limit) {
      page.more = true;
      break;
    }
    page.runs.push_back(run);
  }
  return page;
}

absl::StatusOr<SyncCounts> MemoryStore::ApplySnapshot(const std::string& connection_id,
                                                      std::vector<ListedUser> listed,
                                                      absl::Time now) {
  std::vector<v1::User> users(listed.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    if (listed[i].unchanged) {
      // KnownListingDigests never gives any here, so nothing can match.
      return MakeError(absl::StatusCode::kAborted, reason::kStorageError,
                       "storage: the stored users changed during the sync; sync again");
    }
    if (!ToUser(listed[i], &users[i])) {
      return MakeError(absl::StatusCode::kInvalidArgument, reason::kStorageError,
                       "storage: a listed user's record is not a User");
    }
  }
  listed.clear();
  std::shared_ptr<const UserSnapshot> before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = connections_.find(connection_id);
    if (it == connections_.end()) return NotFound(connection_id);
    before = it->second.users;
  }
  // Merge outside the lock: readers keep using `before` meanwhile.
  MergedSnapshot merged = MergeSnapshot(before->all, std::move(users), now);
  auto after = std::make_shared<UserSnapshot>();
  after->all = std::move(merged.users);
  for (size_t i = 0; i < after->all.size(); ++i) {
    if (after->all[i].state() == v1::User::ACTIVE) after->active.push_back(i);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return NotFound(connection_id);
  if (it->second.users != before) {
    return MakeError(absl::StatusCode::kAborted, reason::kStorageError,
                     "another sync of this connection stored its users first; sync again");
  }
  it->second.users = std::move(after);
  return merged.counts;
}

absl::StatusOr<UserPage> MemoryStore::ListUsers(const std::string& connection_id, bool show_removed,
                                                const std::optional<UserKey>& after, int limit) {
  std::shared_ptr<const UserSnapshot> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = connections_.find(connection_id);
    if (it == connections_.end()) return NotFound(connection_id);
    snapshot = it->second.users;
  }
  const std::vector<v1::User>& all = snapshot->all;
  UserPage page;
  auto emit = [&](const v1::User& user) {
    if (static_cast<int>(page.users.size()) == limit) {
      page.more = true;
      return false;
    }
    page.users.push_back(user);
    return true;
  };
  if (show_removed) {
    page.total_size = static_cast<int32_t>(all.size());
    auto begin = all.begin();
    if (after.has_value()) {
      begin = std::partition_point(all.begin(), all.end(),
                                   [&](const v1::User& u) { return !IsAfter(u, *after); });
    }
    for (auto it = begin; it != all.end() && emit(*it); ++it) {
    }
  } else {
    const std::vector<size_t>& active = snapshot->active;
    page.total_size = static_cast<int32_t>(active.size());
    auto begin = active.begin();
    if (after.has_value()) {
      begin = std::partition_point(active.begin(), active.end(),
                                   [&](size_t i) { return !IsAfter(all[i], *after); });
    }
    for (auto it = begin; it != active.end() && emit(all[*it]); ++it) {
    }
  }
  return page;
}

absl::StatusOr<UserRecordPage> MemoryStore::ListUserRecords(const std::string& connection_id,
                                                            bool show_removed,
                                                            const std::optional<UserKey>& after,
                                                            int limit) {
  absl::StatusOr<UserPage> page = ListUsers(connection_id, show_removed, after, limit);
  if (!page.ok()) return page.status();
  UserRecordPage records;
  records.total_size = page->total_size;
  records.more = page->more;
  for (const v1::User& user : page->users) records.Add(EncodeUserRecord(user));
  if (!page->users.empty()) records.last = UserKey{page->users.back().email(), page->users.back().id()};
  return records;
}

absl::StatusOr<KnownListing> MemoryStore::KnownListingDigests(const std::string& connection_id) {
  // Users are kept whole here; every sync maps every collaborator.
  std::lock_guard<std::mutex> lock(mu_);
  if (connections_.find(connection_id) == connections_.end()) return NotFound(connection_id);
  return KnownListing();
}

}  // namespace workato_connector
