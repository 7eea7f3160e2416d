// The Store contract, as MemoryStore implements it, checked against every
// implementation: a new Store passes this suite before it is used.

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "memory_store.h"
#include "sqlite_store.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

enum class StoreKind { kMemory, kSqlite };

void PrintTo(StoreKind kind, std::ostream* os) {
  *os << (kind == StoreKind::kMemory ? "MemoryStore" : "SqliteStore");
}

std::string KindName(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param == StoreKind::kMemory ? "Memory" : "Sqlite";
}

v1::User Listed(int64_t id, const std::string& email, const std::string& role = "Admin") {
  v1::User user;
  user.set_id(id);
  user.set_email(email);
  user.set_name(absl::StrCat("User ", id));
  v1::EnvironmentRole* r = user.add_roles();
  r->set_environment("dev");
  r->set_role_name(role);
  r->set_role_type("environment");
  return user;
}

StoredConnection MakeConnection(const std::string& id, int64_t workspace_id,
                                v1::DataCenter dc = v1::DATA_CENTER_US) {
  StoredConnection stored;
  stored.connection.set_id(id);
  stored.connection.set_data_center(dc);
  stored.connection.set_workspace_id(workspace_id);
  stored.connection.set_workspace_name(absl::StrCat("Workspace ", workspace_id));
  stored.connection.set_display_name(absl::StrCat("Display ", id));
  stored.connection.set_state(v1::Connection::ACTIVE);
  stored.connection.mutable_create_time()->set_seconds(100);
  // Ciphertext is arbitrary bytes, NULs included.
  stored.sealed_token = std::string("sealed\0\xff\x01token-", 15) + id;
  return stored;
}

v1::SyncRun MakeRun(const std::string& connection_id, const std::string& id, int64_t start_seconds,
                    int32_t start_nanos = 0) {
  v1::SyncRun run;
  run.set_id(id);
  run.set_connection_id(connection_id);
  run.set_state(v1::SyncRun::SUCCEEDED);
  run.mutable_start_time()->set_seconds(start_seconds);
  run.mutable_start_time()->set_nanos(start_nanos);
  run.mutable_end_time()->set_seconds(start_seconds + 1);
  run.set_active_user_count(3);
  return run;
}

SyncRunKey KeyOf(const v1::SyncRun& run) {
  return {run.start_time().seconds() * 1000000 + run.start_time().nanos() / 1000, run.id()};
}

std::vector<std::string> RunIds(const std::vector<v1::SyncRun>& runs) {
  std::vector<std::string> ids;
  for (const v1::SyncRun& run : runs) ids.push_back(run.id());
  return ids;
}

std::vector<int64_t> UserIds(const std::vector<v1::User>& users) {
  std::vector<int64_t> ids;
  for (const v1::User& user : users) ids.push_back(user.id());
  return ids;
}

std::vector<std::string> ConnectionIds(const std::vector<v1::Connection>& connections) {
  std::vector<std::string> ids;
  for (const v1::Connection& c : connections) ids.push_back(c.id());
  return ids;
}

void ExpectNotFound(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(ErrorReason(status), reason::kConnectionNotFound) << status;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (GetParam() == StoreKind::kMemory) {
      store_ = std::make_unique<MemoryStore>();
      return;
    }
    // Unique per test and process, so that parallel runs (ctest -j) never share a file.
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = absl::StrCat(::testing::TempDir(), "store_conformance_",
                         absl::StrReplaceAll(info->name(), {{"/", "_"}}), "_", getpid(), ".db");
    RemoveFiles();
    SqliteStoreOptions options;
    options.path = path_;
    absl::StatusOr<std::unique_ptr<SqliteStore>> opened = SqliteStore::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  void TearDown() override {
    store_.reset();
    if (!path_.empty()) RemoveFiles();
  }

  void RemoveFiles() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove(absl::StrCat(path_, suffix).c_str());
    }
  }

  void Put(const StoredConnection& connection) {
    ASSERT_TRUE(store_->PutConnection(connection).ok());
  }

  SyncCounts Apply(const std::string& connection_id, std::vector<v1::User> listed,
                   int64_t now_seconds) {
    absl::StatusOr<SyncCounts> counts =
        store_->ApplySnapshot(connection_id, ToListedUsers(listed), absl::FromUnixSeconds(now_seconds));
    EXPECT_TRUE(counts.ok()) << counts.status();
    return counts.value_or(SyncCounts{});
  }

  // ExpectSameAsRecords checks that ListUserRecords gives the same page as
  // ListUsers, each user as its record.
  void ExpectSameAsRecords(const UserPage& page, const std::string& connection_id,
                           bool show_removed, const std::optional<UserKey>& after, int page_size) {
    absl::StatusOr<UserRecordPage> records =
        store_->ListUserRecords(connection_id, show_removed, after, page_size);
    ASSERT_TRUE(records.ok()) << records.status();
    EXPECT_EQ(records->total_size, page.total_size);
    EXPECT_EQ(records->more, page.more);
    ASSERT_EQ(records->size(), page.users.size());
    for (size_t i = 0; i < page.users.size(); ++i) {
      v1::User user;
      ASSERT_TRUE(user.ParseFromString(std::string(records->record(i))));
      EXPECT_EQ(user.SerializeAsString(), page.users[i].SerializeAsString());
    }
    if (!page.users.empty()) {
      EXPECT_EQ(records->last.email, page.users.back().email());
      EXPECT_EQ(records->last.id, page.users.back().id());
    }
  }

  // AllUsers pages through ListUsers `page_size` at a time (and checks
  // ListUserRecords against each page).
  std::vector<v1::User> AllUsers(const std::string& connection_id, bool show_removed,
                                 int page_size) {
    std::vector<v1::User> users;
    std::optional<UserKey> after;
    for (int pages = 0; pages < 1000; ++pages) {
      absl::StatusOr<UserPage> page =
          store_->ListUsers(connection_id, show_removed, after, page_size);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->users.size()), page_size);
      ExpectSameAsRecords(*page, connection_id, show_removed, after, page_size);
      users.insert(users.end(), page->users.begin(), page->users.end());
      if (!page->more) break;
      EXPECT_FALSE(page->users.empty());
      if (page->users.empty()) break;
      after = UserKey{page->users.back().email(), page->users.back().id()};
    }
    return users;
  }

  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, UnknownConnectionIsNotFoundEverywhere) {
  ExpectNotFound(store_->GetConnection("conn_missing").status());
  ExpectNotFound(store_->DeleteConnection("conn_missing"));
  ExpectNotFound(store_->SetConnectionState("conn_missing", v1::Connection::NEEDS_RECONNECT, "x",
                                            absl::FromUnixSeconds(1)));
  ExpectNotFound(store_->RecordSyncRun(MakeRun("conn_missing", "run_1", 1), 10));
  ExpectNotFound(store_->ListSyncRuns("conn_missing", std::nullopt, 10).status());
  ExpectNotFound(
      store_->ApplySnapshot("conn_missing", ToListedUsers({Listed(1, "a@x")}), absl::FromUnixSeconds(1)).status());
  ExpectNotFound(store_->ListUsers("conn_missing", true, std::nullopt, 10).status());
  absl::StatusOr<std::optional<StoredConnection>> found =
      store_->FindConnection(v1::DATA_CENTER_US, 1);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->has_value());
}

TEST_P(StoreConformanceTest, PutThenGetRoundTripsConnectionAndSealedToken) {
  StoredConnection stored = MakeConnection("conn_a", 42, v1::DATA_CENTER_EU);
  stored.connection.set_state_message("why");
  Put(stored);
  absl::StatusOr<StoredConnection> got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.SerializeAsString(), stored.connection.SerializeAsString());
  EXPECT_EQ(got->sealed_token, stored.sealed_token);
  EXPECT_FALSE(got->connection.has_last_sync());
}

TEST_P(StoreConformanceTest, FindConnectionMatchesDataCenterAndWorkspace) {
  Put(MakeConnection("conn_us", 7, v1::DATA_CENTER_US));
  Put(MakeConnection("conn_eu", 7, v1::DATA_CENTER_EU));
  Put(MakeConnection("conn_us8", 8, v1::DATA_CENTER_US));

  absl::StatusOr<std::optional<StoredConnection>> found =
      store_->FindConnection(v1::DATA_CENTER_EU, 7);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->connection.id(), "conn_eu");
  EXPECT_EQ((*found)->sealed_token, MakeConnection("conn_eu", 7).sealed_token);

  found = store_->FindConnection(v1::DATA_CENTER_JP, 7);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->has_value());
  found = store_->FindConnection(v1::DATA_CENTER_US, 9);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->has_value());
}

TEST_P(StoreConformanceTest, PutConnectionReplacesButKeepsUsersAndLastSync) {
  Put(MakeConnection("conn_a", 1));
  Apply("conn_a", {Listed(1, "a@x"), Listed(2, "b@x")}, 10);
  v1::SyncRun run = MakeRun("conn_a", "run_1", 10);
  ASSERT_TRUE(store_->RecordSyncRun(run, 10).ok());

  StoredConnection replacement = MakeConnection("conn_a", 1);
  replacement.connection.set_display_name("Renamed");
  replacement.sealed_token = "new-sealed-token";
  Put(replacement);

  absl::StatusOr<StoredConnection> got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.display_name(), "Renamed");
  EXPECT_EQ(got->sealed_token, "new-sealed-token");
  ASSERT_TRUE(got->connection.has_last_sync());
  EXPECT_EQ(got->connection.last_sync().SerializeAsString(), run.SerializeAsString());
  EXPECT_THAT(UserIds(AllUsers("conn_a", true, 10)), ElementsAre(1, 2));
  absl::StatusOr<SyncRunPage> runs = store_->ListSyncRuns("conn_a", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(RunIds(runs->runs), ElementsAre("run_1"));
}

TEST_P(StoreConformanceTest, PutConnectionKeepsStoredLastSyncOverAGivenOne) {
  StoredConnection first = MakeConnection("conn_a", 1);
  *first.connection.mutable_last_sync() = MakeRun("conn_a", "run_given", 5);
  Put(first);  // A new connection keeps the last_sync it is given...
  absl::StatusOr<StoredConnection> got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.last_sync().id(), "run_given");

  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_a", "run_recorded", 6), 10).ok());
  StoredConnection second = MakeConnection("conn_a", 1);
  *second.connection.mutable_last_sync() = MakeRun("conn_a", "run_stale", 1);
  Put(second);  // ...but a replacement never overwrites the stored one.
  got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.last_sync().id(), "run_recorded");
}

TEST_P(StoreConformanceTest, ListConnectionsPagesById) {
  for (const char* id : {"conn_d", "conn_b", "conn_e", "conn_a", "conn_c"}) {
    Put(MakeConnection(id, id[5]));
  }
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_b", "run_b", 3), 10).ok());

  absl::StatusOr<ConnectionPage> page = store_->ListConnections("", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(ConnectionIds(page->connections), ElementsAre("conn_a", "conn_b"));
  EXPECT_EQ(page->total_size, 5);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->connections[1].last_sync().id(), "run_b");

  page = store_->ListConnections("conn_b", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(ConnectionIds(page->connections), ElementsAre("conn_c", "conn_d"));
  EXPECT_TRUE(page->more);

  page = store_->ListConnections("conn_d", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(ConnectionIds(page->connections), ElementsAre("conn_e"));
  EXPECT_EQ(page->total_size, 5);
  EXPECT_FALSE(page->more);

  // after_id need not exist; exactly a page's worth leaves no more.
  page = store_->ListConnections("conn_bb", 3);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(ConnectionIds(page->connections), ElementsAre("conn_c", "conn_d", "conn_e"));
  EXPECT_FALSE(page->more);

  page = store_->ListConnections("conn_e", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->connections, IsEmpty());
  EXPECT_FALSE(page->more);
}

TEST_P(StoreConformanceTest, SetConnectionStateRecordsStateMessageAndTime) {
  Put(MakeConnection("conn_a", 1));
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_a", "run_1", 3), 10).ok());
  ASSERT_TRUE(store_
                  ->SetConnectionState("conn_a", v1::Connection::NEEDS_RECONNECT, "token rejected",
                                       absl::FromUnixSeconds(500))
                  .ok());
  absl::StatusOr<StoredConnection> got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.state(), v1::Connection::NEEDS_RECONNECT);
  EXPECT_EQ(got->connection.state_message(), "token rejected");
  EXPECT_EQ(got->connection.update_time().seconds(), 500);
  EXPECT_EQ(got->connection.last_sync().id(), "run_1");
  EXPECT_EQ(got->sealed_token, MakeConnection("conn_a", 1).sealed_token);
}

TEST_P(StoreConformanceTest, RecordSyncRunSetsLastSyncAndTrimsHistory) {
  Put(MakeConnection("conn_a", 1));
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_a", absl::StrCat("run_", i), 100 + i), 3).ok());
  }
  absl::StatusOr<StoredConnection> got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.last_sync().SerializeAsString(),
            MakeRun("conn_a", "run_5", 105).SerializeAsString());
  absl::StatusOr<SyncRunPage> runs = store_->ListSyncRuns("conn_a", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(RunIds(runs->runs), ElementsAre("run_5", "run_4", "run_3"));
  EXPECT_FALSE(runs->more);

  // last_sync is the run recorded last, even one older than the history
  // keeps.
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_a", "run_old", 50), 3).ok());
  got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->connection.last_sync().id(), "run_old");
  runs = store_->ListSyncRuns("conn_a", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(RunIds(runs->runs), ElementsAre("run_5", "run_4", "run_3"));

  // A limit below one still keeps the newest run.
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_a", "run_6", 106), 0).ok());
  runs = store_->ListSyncRuns("conn_a", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(RunIds(runs->runs), ElementsAre("run_6"));
}

TEST_P(StoreConformanceTest, ListSyncRunsNewestFirstWithKeysetPaging) {
  Put(MakeConnection("conn_a", 1));
  Put(MakeConnection("conn_b", 2));
  // Equal start times order by id, descending; microseconds count.
  std::vector<v1::SyncRun> recorded = {
      MakeRun("conn_a", "run_a", 200),       MakeRun("conn_a", "run_c", 200),
      MakeRun("conn_a", "run_b", 200),       MakeRun("conn_a", "run_z", 100),
      MakeRun("conn_a", "run_y", 200, 1000), MakeRun("conn_a", "run_x", 300)};
  for (const v1::SyncRun& run : recorded) ASSERT_TRUE(store_->RecordSyncRun(run, 100).ok());
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_b", "run_other", 250), 100).ok());

  const std::vector<std::string> expected = {"run_x", "run_y", "run_c", "run_b", "run_a", "run_z"};
  std::vector<std::string> seen;
  std::optional<SyncRunKey> after;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<SyncRunPage> page = store_->ListSyncRuns("conn_a", after, 4);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const std::string& id : RunIds(page->runs)) seen.push_back(id);
    if (!page->more) break;
    after = KeyOf(page->runs.back());
  }
  EXPECT_THAT(seen, ElementsAreArray(expected));

  absl::StatusOr<SyncRunPage> page =
      store_->ListSyncRuns("conn_a", SyncRunKey{200 * 1000000, "run_c"}, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(RunIds(page->runs), ElementsAre("run_b", "run_a"));
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->runs[0].SerializeAsString(), recorded[2].SerializeAsString());

  page = store_->ListSyncRuns("conn_a", std::nullopt, 6);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->runs.size(), 6u);
  EXPECT_FALSE(page->more);
}

TEST_P(StoreConformanceTest, ApplySnapshotCountsAddsUpdatesRemovalsAndComebacks) {
  Put(MakeConnection("conn_a", 1));
  SyncCounts first = Apply("conn_a", {Listed(1, "a@x"), Listed(2, "b@x"), Listed(3, "c@x")}, 10);
  EXPECT_EQ(first.active, 3);
  EXPECT_EQ(first.added, 3);
  EXPECT_EQ(first.updated, 0);
  EXPECT_EQ(first.removed, 0);

  SyncCounts same = Apply("conn_a", {Listed(3, "c@x"), Listed(1, "a@x"), Listed(2, "b@x")}, 20);
  EXPECT_EQ(same.active, 3);
  EXPECT_EQ(same.added + same.updated + same.removed, 0);

  // 1 changes role, 2 leaves, 4 arrives; a duplicate listing counts once.
  SyncCounts second = Apply(
      "conn_a",
      {Listed(1, "a@x", "Operator"), Listed(3, "c@x"), Listed(4, "d@x"), Listed(4, "d@x", "Other")},
      30);
  EXPECT_EQ(second.active, 3);
  EXPECT_EQ(second.added, 1);
  EXPECT_EQ(second.updated, 1);
  EXPECT_EQ(second.removed, 1);

  std::vector<v1::User> active = AllUsers("conn_a", false, 10);
  EXPECT_THAT(UserIds(active), ElementsAre(1, 3, 4));
  EXPECT_EQ(active[0].roles(0).role_name(), "Operator");
  EXPECT_EQ(active[0].first_seen_time().seconds(), 10);
  EXPECT_EQ(active[2].first_seen_time().seconds(), 30);
  EXPECT_EQ(active[2].roles(0).role_name(), "Admin");
  for (const v1::User& user : active) {
    EXPECT_EQ(user.state(), v1::User::ACTIVE);
    EXPECT_THAT(user.licenses(), ElementsAre("Workato"));
  }

  // Removed users are kept, listed only with show_removed.
  std::vector<v1::User> all = AllUsers("conn_a", true, 10);
  ASSERT_THAT(UserIds(all), ElementsAre(1, 2, 3, 4));
  const v1::User& removed = all[1];
  EXPECT_EQ(removed.state(), v1::User::REMOVED);
  EXPECT_THAT(removed.licenses(), IsEmpty());
  EXPECT_EQ(removed.removed_time().seconds(), 30);
  EXPECT_EQ(removed.first_seen_time().seconds(), 10);
  EXPECT_EQ(removed.roles(0).role_name(), "Admin");

  // Still missing: nothing changes, not even removed_time.
  SyncCounts still =
      Apply("conn_a", {Listed(1, "a@x", "Operator"), Listed(3, "c@x"), Listed(4, "d@x")}, 40);
  EXPECT_EQ(still.added + still.updated + still.removed, 0);
  EXPECT_EQ(AllUsers("conn_a", true, 10)[1].removed_time().seconds(), 30);

  // A comeback is an update, active again with its first_seen_time.
  SyncCounts back = Apply(
      "conn_a",
      {Listed(1, "a@x", "Operator"), Listed(2, "b@x"), Listed(3, "c@x"), Listed(4, "d@x")}, 50);
  EXPECT_EQ(back.active, 4);
  EXPECT_EQ(back.added, 0);
  EXPECT_EQ(back.updated, 1);
  EXPECT_EQ(back.removed, 0);
  std::vector<v1::User> after_back = AllUsers("conn_a", false, 10);
  ASSERT_THAT(UserIds(after_back), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(after_back[1].state(), v1::User::ACTIVE);
  EXPECT_FALSE(after_back[1].has_removed_time());
  EXPECT_EQ(after_back[1].first_seen_time().seconds(), 10);
}

TEST_P(StoreConformanceTest, UsersOfConnectionsAreSeparate) {
  Put(MakeConnection("conn_a", 1));
  Put(MakeConnection("conn_b", 2));
  Apply("conn_a", {Listed(1, "a@x"), Listed(2, "b@x")}, 10);
  Apply("conn_b", {Listed(1, "other@x")}, 10);
  Apply("conn_a", {Listed(2, "b@x")}, 20);
  std::vector<v1::User> b = AllUsers("conn_b", true, 10);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].email(), "other@x");
  EXPECT_EQ(b[0].state(), v1::User::ACTIVE);
}

TEST_P(StoreConformanceTest, ListUsersPagesInBytewiseEmailThenIdOrder) {
  Put(MakeConnection("conn_a", 1));
  // Upper case sorts before lower case, bytewise; equal emails order by id.
  Apply("conn_a",
        {Listed(10, "b@x"), Listed(11, "B@x"), Listed(12, "a@x"), Listed(5, "a@x"),
         Listed(13, "A@x"), Listed(14, "_@x"), Listed(15, "\xc3\xa9@x"), Listed(16, "ab@x"),
         Listed(3, "a@x"), Listed(17, "Z@x")},
        10);
  Apply("conn_a",
        {Listed(10, "b@x"), Listed(11, "B@x"), Listed(12, "a@x"), Listed(13, "A@x"),
         Listed(14, "_@x"), Listed(15, "\xc3\xa9@x"), Listed(16, "ab@x"), Listed(3, "a@x"),
         Listed(17, "Z@x")},
        20);  // 5 is removed.
  const std::vector<int64_t> all_order = {13, 11, 17, 14, 3, 5, 12, 16, 10, 15};
  const std::vector<int64_t> active_order = {13, 11, 17, 14, 3, 12, 16, 10, 15};
  for (int page_size : {1, 2, 3, 4, 100}) {
    SCOPED_TRACE(page_size);
    EXPECT_THAT(UserIds(AllUsers("conn_a", true, page_size)), ElementsAreArray(all_order));
    EXPECT_THAT(UserIds(AllUsers("conn_a", false, page_size)), ElementsAreArray(active_order));
  }

  absl::StatusOr<UserPage> page = store_->ListUsers("conn_a", true, std::nullopt, 3);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total_size, 10);
  EXPECT_TRUE(page->more);
  page = store_->ListUsers("conn_a", false, std::nullopt, 3);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total_size, 9);

  // Strictly after the key, which need not be a stored user; total_size is
  // over all pages.
  page = store_->ListUsers("conn_a", true, UserKey{"a@x", 4}, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(UserIds(page->users), ElementsAre(5, 12));
  EXPECT_EQ(page->total_size, 10);
  EXPECT_TRUE(page->more);
  page = store_->ListUsers("conn_a", false, UserKey{"a@x", 3}, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(UserIds(page->users), ElementsAre(12, 16));

  // The last page exactly: no more.
  page = store_->ListUsers("conn_a", true, UserKey{"b@x", 10}, 5);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(UserIds(page->users), ElementsAre(15));
  EXPECT_FALSE(page->more);
  page = store_->ListUsers("conn_a", true, UserKey{"\xc3\xa9@x", 15}, 5);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->users, IsEmpty());
  EXPECT_FALSE(page->more);
  EXPECT_EQ(page->total_size, 10);
}

TEST_P(StoreConformanceTest, ListUsersOfConnectionWithoutUsersIsEmpty) {
  Put(MakeConnection("conn_a", 1));
  absl::StatusOr<UserPage> page = store_->ListUsers("conn_a", false, std::nullopt, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->users, IsEmpty());
  EXPECT_EQ(page->total_size, 0);
  EXPECT_FALSE(page->more);
}

TEST_P(StoreConformanceTest, ApplySnapshotStoresTheWholeRecord) {
  Put(MakeConnection("conn_a", 1));
  v1::User user = Listed(7, "full@x");
  user.set_grant_type("federation_manager");
  user.set_external_id("ext-7");
  user.set_time_zone("Europe/Paris");
  user.mutable_last_visit_time()->set_seconds(77);
  user.mutable_create_time()->set_seconds(7);
  v1::EnvironmentRole* prod = user.add_roles();
  prod->set_environment("prod");
  prod->set_role_name("No access");
  Apply("conn_a", {user}, 10);
  std::vector<v1::User> users = AllUsers("conn_a", false, 10);
  ASSERT_EQ(users.size(), 1u);
  user.set_state(v1::User::ACTIVE);
  user.add_licenses("Workato");
  user.mutable_first_seen_time()->set_seconds(10);
  EXPECT_EQ(users[0].SerializeAsString(), user.SerializeAsString());
}

TEST_P(StoreConformanceTest, DeleteConnectionRemovesUsersAndRuns) {
  Put(MakeConnection("conn_a", 1));
  Put(MakeConnection("conn_b", 2));
  Apply("conn_a", {Listed(1, "a@x"), Listed(2, "b@x")}, 10);
  Apply("conn_a", {Listed(1, "a@x")}, 20);
  Apply("conn_b", {Listed(1, "a@x")}, 10);
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_a", "run_1", 10), 10).ok());
  ASSERT_TRUE(store_->RecordSyncRun(MakeRun("conn_b", "run_b", 10), 10).ok());

  ASSERT_TRUE(store_->DeleteConnection("conn_a").ok());
  ExpectNotFound(store_->GetConnection("conn_a").status());
  ExpectNotFound(store_->DeleteConnection("conn_a"));
  absl::StatusOr<std::optional<StoredConnection>> found =
      store_->FindConnection(v1::DATA_CENTER_US, 1);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->has_value());

  // The same id again starts empty: no users, no history, no last_sync.
  Put(MakeConnection("conn_a", 1));
  absl::StatusOr<StoredConnection> got = store_->GetConnection("conn_a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->connection.has_last_sync());
  EXPECT_THAT(AllUsers("conn_a", true, 10), IsEmpty());
  absl::StatusOr<SyncRunPage> runs = store_->ListSyncRuns("conn_a", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(runs->runs, IsEmpty());

  // The other connection is untouched.
  EXPECT_EQ(AllUsers("conn_b", true, 10).size(), 1u);
  runs = store_->ListSyncRuns("conn_b", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_THAT(RunIds(runs->runs), ElementsAre("run_b"));
}

TEST_P(StoreConformanceTest, ApplySnapshotToDeletedConnectionWritesNothing) {
  Put(MakeConnection("conn_a", 1));
  ASSERT_TRUE(store_->DeleteConnection("conn_a").ok());
  ExpectNotFound(
      store_->ApplySnapshot("conn_a", ToListedUsers({Listed(1, "a@x")}), absl::FromUnixSeconds(10)).status());
  Put(MakeConnection("conn_a", 1));
  EXPECT_THAT(AllUsers("conn_a", true, 10), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreConformanceTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite), KindName);

}  // namespace
}  // namespace workato_connector
