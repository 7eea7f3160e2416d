// What only SqliteStore promises: persistence, minimal writes, schema
// versions, refusing unusable files, rollback on a full disk, and
// concurrency without "database is locked". The Store contract itself is
// checked by store_conformance_test.cc.

#include "sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using ::testing::HasSubstr;

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using RawDb = std::unique_ptr<sqlite3, SqliteCloser>;

// TempDb is a database path of its own, removed with its WAL files before
// and after the test.
class TempDb {
 public:
  explicit TempDb(const std::string& name)
      : path_(absl::StrCat(::testing::TempDir(), "sqlite_store_", name, "_", getpid(), ".db")) {
    Remove();
  }
  ~TempDb() { Remove(); }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;

  const std::string& path() const { return path_; }

 private:
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove(absl::StrCat(path_, suffix).c_str());
    }
  }

  std::string path_;
};

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path, int64_t max_page_count = 0) {
  SqliteStoreOptions options;
  options.path = path;
  options.max_page_count = max_page_count;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

absl::Status OpenStatus(const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  return SqliteStore::Open(options).status();
}

RawDb OpenRaw(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  RawDb db(raw);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errstr(rc);
  return db;
}

std::string RawPragma(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &raw, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, sqlite3_finalize);
  std::string value;
  if (sqlite3_step(statement.get()) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(statement.get(), 0);
    if (text != nullptr) value = reinterpret_cast<const char*>(text);
  }
  return value;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void ExpectStorageError(const absl::Status& status, absl::StatusCode code) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_EQ(ErrorReason(status), reason::kStorageError) << status;
}

v1::User Listed(int64_t id, const std::string& role = "Admin", size_t name_size = 12) {
  v1::User user;
  user.set_id(id);
  user.set_email(absl::StrCat("user", id % 97, "@example.com"));  // Shared emails too.
  user.set_name(std::string(name_size, static_cast<char>('a' + id % 26)));
  v1::EnvironmentRole* r = user.add_roles();
  r->set_environment("dev");
  r->set_role_name(role);
  return user;
}

std::vector<v1::User> ListedUsers(int count, const std::string& role = "Admin",
                                  size_t name_size = 12) {
  std::vector<v1::User> users;
  for (int i = 1; i <= count; ++i) users.push_back(Listed(i, role, name_size));
  return users;
}

StoredConnection MakeConnection(const std::string& id, int64_t workspace_id) {
  StoredConnection stored;
  stored.connection.set_id(id);
  stored.connection.set_data_center(v1::DATA_CENTER_EU);
  stored.connection.set_workspace_id(workspace_id);
  stored.connection.set_display_name(absl::StrCat("Display ", id));
  stored.connection.set_state(v1::Connection::ACTIVE);
  stored.sealed_token = std::string("\0\x01\xfe\xffsealed", 10) + id;
  return stored;
}

v1::SyncRun MakeRun(const std::string& connection_id, const std::string& id, int64_t start) {
  v1::SyncRun run;
  run.set_id(id);
  run.set_connection_id(connection_id);
  run.set_state(v1::SyncRun::SUCCEEDED);
  run.mutable_start_time()->set_seconds(start);
  run.mutable_start_time()->set_nanos(123456789);
  run.set_added_count(3);
  return run;
}

// Dump renders everything a store returns, bytes exactly, page by page.
std::string Dump(Store& store) {
  std::string out;
  absl::StatusOr<ConnectionPage> connections = store.ListConnections("", 100);
  EXPECT_TRUE(connections.ok()) << connections.status();
  if (!connections.ok()) return out;
  absl::StrAppend(&out, "connections ", connections->total_size, "\n");
  for (const v1::Connection& c : connections->connections) {
    absl::StatusOr<StoredConnection> stored = store.GetConnection(c.id());
    EXPECT_TRUE(stored.ok()) << stored.status();
    if (!stored.ok()) continue;
    absl::StrAppend(&out, "connection ", c.SerializeAsString(), stored->sealed_token,
                    stored->connection.SerializeAsString(), "\n");
    absl::StatusOr<SyncRunPage> runs = store.ListSyncRuns(c.id(), std::nullopt, 100);
    EXPECT_TRUE(runs.ok()) << runs.status();
    if (runs.ok()) {
      for (const v1::SyncRun& run : runs->runs) absl::StrAppend(&out, run.SerializeAsString());
    }
    for (bool show_removed : {false, true}) {
      std::optional<UserKey> after;
      for (;;) {
        absl::StatusOr<UserPage> page = store.ListUsers(c.id(), show_removed, after, 7);
        EXPECT_TRUE(page.ok()) << page.status();
        if (!page.ok() || page->users.empty()) break;
        absl::StrAppend(&out, "page ", page->total_size, page->more, ":");
        for (const v1::User& user : page->users) absl::StrAppend(&out, user.SerializeAsString());
        if (!page->more) break;
        after = UserKey{page->users.back().email(), page->users.back().id()};
      }
    }
  }
  return out;
}

TEST(SqliteStoreTest, EverythingSurvivesReopening) {
  TempDb db("reopen");
  std::string before;
  {
    std::unique_ptr<SqliteStore> store = OpenOrDie(db.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->PutConnection(MakeConnection("conn_a", 1)).ok());
    ASSERT_TRUE(store->PutConnection(MakeConnection("conn_b", 2)).ok());
    ASSERT_TRUE(store->ApplySnapshot("conn_a", ToListedUsers(ListedUsers(120)), absl::FromUnixSeconds(10)).ok());
    std::vector<v1::User> fewer = ListedUsers(100, "Operator");
    ASSERT_TRUE(store->ApplySnapshot("conn_a", ToListedUsers(fewer), absl::FromUnixSeconds(20)).ok());
    ASSERT_TRUE(store->ApplySnapshot("conn_b", ToListedUsers(ListedUsers(3)), absl::FromUnixSeconds(30)).ok());
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE(store->RecordSyncRun(MakeRun("conn_a", absl::StrCat("run_", i), i), 2).ok());
    }
    ASSERT_TRUE(store
                    ->SetConnectionState("conn_b", v1::Connection::NEEDS_RECONNECT, "rejected",
                                         absl::FromUnixSeconds(40))
                    .ok());
    before = Dump(*store);
  }
  std::unique_ptr<SqliteStore> reopened = OpenOrDie(db.path());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Dump(*reopened), before);

  absl::StatusOr<StoredConnection> a = reopened->GetConnection("conn_a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->sealed_token, MakeConnection("conn_a", 1).sealed_token);
  EXPECT_EQ(a->connection.last_sync().id(), "run_3");
  absl::StatusOr<UserPage> all = reopened->ListUsers("conn_a", true, std::nullopt, 1000);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->total_size, 120);
  absl::StatusOr<UserPage> active = reopened->ListUsers("conn_a", false, std::nullopt, 1000);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(active->total_size, 100);
  absl::StatusOr<SyncRunPage> runs = reopened->ListSyncRuns("conn_a", std::nullopt, 10);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ(runs->runs.size(), 2u);
}

TEST(SqliteStoreTest, ResyncWritesOnlyTheChangedRows) {
  TempDb db("resync");
  std::unique_ptr<SqliteStore> store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutConnection(MakeConnection("conn_a", 1)).ok());

  int64_t start = store->total_changes_for_testing();
  ASSERT_TRUE(store->ApplySnapshot("conn_a", ToListedUsers(ListedUsers(1000)), absl::FromUnixSeconds(10)).ok());
  int64_t first = store->total_changes_for_testing() - start;
  EXPECT_GE(first, 1000);

  std::vector<v1::User> listed = ListedUsers(1000);
  listed[500].mutable_roles(0)->set_role_name("Operator");
  start = store->total_changes_for_testing();
  absl::StatusOr<SyncCounts> counts =
      store->ApplySnapshot("conn_a", ToListedUsers(listed), absl::FromUnixSeconds(20));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->updated, 1);
  // A changed user costs at most 3 row writes (its user_state row, its
  // record, and deleting the old record when the record moves to another
  // email or state), plus one for the connection's counts: 1000 users are
  // not rewritten.
  EXPECT_LE(store->total_changes_for_testing() - start, 3 * 1 + 1);

  start = store->total_changes_for_testing();
  ASSERT_TRUE(store->ApplySnapshot("conn_a", ToListedUsers(ListedUsers(999)), absl::FromUnixSeconds(30)).ok());
  // 501 changes back, 1000 is removed.
  EXPECT_LE(store->total_changes_for_testing() - start, 3 * 2 + 1);
}

// Listing digests: kept for active users, used for `unchanged` entries,
// and an `unchanged` entry that does not match what is stored fails the
// whole snapshot without changing anything.
TEST(SqliteStoreTest, UnchangedEntriesNeedTheirStoredListingDigest) {
  TempDb db("listing_digests");
  std::unique_ptr<SqliteStore> store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutConnection(MakeConnection("conn_a", 1)).ok());
  std::vector<ListedUser> listed = ToListedUsers(ListedUsers(3));
  for (ListedUser& user : listed) user.listing_digest = 1000 + user.id;
  ASSERT_TRUE(store->ApplySnapshot("conn_a", listed, absl::FromUnixSeconds(10)).ok());
  absl::StatusOr<KnownListing> known = store->KnownListingDigests("conn_a");
  ASSERT_TRUE(known.ok()) << known.status();
  EXPECT_EQ(*known, (KnownListing{{1001, 1}, {1002, 2}, {1003, 3}}));
  EXPECT_EQ(store->KnownListingDigests("conn_missing").status().code(),
            absl::StatusCode::kNotFound);
  const std::string before = Dump(*store);

  // 1 and 2 unchanged, 3 gone: only 3 is written (removed).
  std::vector<ListedUser> next(2);
  next[0] = ListedUser{1, "", "", 1001, true};
  next[1] = ListedUser{2, "", "", 1002, true};
  absl::StatusOr<SyncCounts> counts =
      store->ApplySnapshot("conn_a", next, absl::FromUnixSeconds(20));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->active, 2);
  EXPECT_EQ(counts->removed, 1);
  EXPECT_EQ(counts->updated + counts->added, 0);
  known = store->KnownListingDigests("conn_a");
  ASSERT_TRUE(known.ok());
  EXPECT_EQ(*known, (KnownListing{{1001, 1}, {1002, 2}}));  // Removed users are not known.

  // A stale digest, a removed user and an unknown user all abort.
  const std::string after = Dump(*store);
  for (const ListedUser& stale : {ListedUser{1, "", "", 999, true},
                                  ListedUser{3, "", "", 1003, true},
                                  ListedUser{42, "", "", 1042, true}}) {
    std::vector<ListedUser> bad = {ListedUser{2, "", "", 1002, true}, stale};
    absl::Status status = store->ApplySnapshot("conn_a", bad, absl::FromUnixSeconds(30)).status();
    ExpectStorageError(status, absl::StatusCode::kAborted);
    EXPECT_EQ(Dump(*store), after);
  }
  EXPECT_NE(before, after);
}

// A database written by schema version 1 (one `users` table) is migrated
// in place: every user keeps its record, the counts are filled in, and a
// re-sync of the same listing finds nothing changed.
TEST(SqliteStoreTest, MigratesVersion1Users) {
  TempDb db("migrate_v1");
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
    RawDb v1db(raw);
    // Schema version 1 as it shipped.
    const char* schema = R"sql(
PRAGMA journal_mode = WAL;
CREATE TABLE connections (id TEXT NOT NULL PRIMARY KEY, data_center INTEGER NOT NULL,
  workspace_id INTEGER NOT NULL, record BLOB NOT NULL, sealed_token BLOB NOT NULL,
  last_sync BLOB);
CREATE INDEX connections_by_workspace ON connections (data_center, workspace_id);
CREATE TABLE users (connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  id INTEGER NOT NULL, email TEXT NOT NULL, active INTEGER NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (connection_id, id)) WITHOUT ROWID;
CREATE INDEX users_by_email ON users (connection_id, email, id);
CREATE INDEX users_active_by_email ON users (connection_id, active, email, id);
CREATE TABLE sync_runs (connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  id TEXT NOT NULL, start_time_us INTEGER NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (connection_id, id)) WITHOUT ROWID;
CREATE INDEX sync_runs_newest_first ON sync_runs (connection_id, start_time_us DESC, id DESC);
PRAGMA user_version = 1;
)sql";
    ASSERT_EQ(sqlite3_exec(raw, schema, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(raw);
    StoredConnection c = MakeConnection("conn_a", 1);
    v1::User active = Listed(1);
    active.set_state(v1::User::ACTIVE);
    active.add_licenses("Workato");
    active.mutable_first_seen_time()->set_seconds(5);
    active.mutable_first_seen_time()->set_nanos(7);
    v1::User removed = Listed(2);
    removed.set_state(v1::User::REMOVED);
    removed.mutable_first_seen_time()->set_seconds(5);
    removed.mutable_removed_time()->set_seconds(6);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw,
                                 "INSERT INTO connections (id, data_center, workspace_id, record,"
                                 " sealed_token) VALUES ('conn_a', 2, 1, ?1, ?2)",
                                 -1, &insert, nullptr),
              SQLITE_OK);
    std::string record = c.connection.SerializeAsString();
    sqlite3_bind_blob(insert, 1, record.data(), static_cast<int>(record.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(insert, 2, c.sealed_token.data(), static_cast<int>(c.sealed_token.size()),
                      SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_finalize(insert);
    for (const v1::User* user : {&active, &removed}) {
      ASSERT_EQ(sqlite3_prepare_v2(raw,
                                   "INSERT INTO users (connection_id, id, email, active, record)"
                                   " VALUES ('conn_a', ?1, ?2, ?3, ?4)",
                                   -1, &insert, nullptr),
                SQLITE_OK);
      std::string bytes = user->SerializeAsString();
      sqlite3_bind_int64(insert, 1, user->id());
      sqlite3_bind_text(insert, 2, user->email().c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(insert, 3, user->state() == v1::User::ACTIVE ? 1 : 0);
      sqlite3_bind_blob(insert, 4, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
      EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE);
      sqlite3_finalize(insert);
    }
  }

  std::unique_ptr<SqliteStore> store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  absl::StatusOr<UserPage> page = store->ListUsers("conn_a", false, std::nullopt, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total_size, 1);
  ASSERT_EQ(page->users.size(), 1u);
  EXPECT_EQ(page->users[0].id(), 1);
  EXPECT_EQ(page->users[0].first_seen_time().nanos(), 7);
  page = store->ListUsers("conn_a", true, std::nullopt, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total_size, 2);
  ASSERT_EQ(page->users.size(), 2u);
  EXPECT_EQ(page->users[1].state(), v1::User::REMOVED);
  EXPECT_EQ(page->users[1].removed_time().seconds(), 6);

  // The same listing again: the migrated record digests match; what is
  // written is the counts and the user's listing digest (which a version 1
  // database did not keep).
  int64_t start = store->total_changes_for_testing();
  absl::StatusOr<SyncCounts> counts =
      store->ApplySnapshot("conn_a", ToListedUsers({Listed(1)}), absl::FromUnixSeconds(100));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->active, 1);
  EXPECT_EQ(counts->added + counts->updated + counts->removed, 0);
  EXPECT_EQ(store->total_changes_for_testing() - start, 2);

  store.reset();
  RawDb raw = OpenRaw(db.path());
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(RawPragma(raw.get(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'users'"), "0");
  EXPECT_EQ(RawPragma(raw.get(), "PRAGMA user_version"), "2");
}

TEST(SqliteStoreTest, RecordsSchemaVersionInWalMode) {
  TempDb db("version");
  ASSERT_NE(OpenOrDie(db.path()), nullptr);
  RawDb raw = OpenRaw(db.path());
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(RawPragma(raw.get(), "PRAGMA user_version"), absl::StrCat(SqliteStore::kSchemaVersion));
  EXPECT_EQ(RawPragma(raw.get(), "PRAGMA journal_mode"), "wal");
}

TEST(SqliteStoreTest, RefusesNewerSchema) {
  TempDb db("newer");
  ASSERT_NE(OpenOrDie(db.path()), nullptr);
  {
    RawDb raw = OpenRaw(db.path());
    ASSERT_NE(raw, nullptr);
    ASSERT_EQ(sqlite3_exec(raw.get(), "PRAGMA user_version = 99", nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  absl::Status status = OpenStatus(db.path());
  ExpectStorageError(status, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(db.path()));
  EXPECT_THAT(status.message(), HasSubstr("99"));
  EXPECT_THAT(status.message(), HasSubstr("newer"));
}

TEST(SqliteStoreTest, RefusesAFileThatIsNotADatabaseWithoutTouchingIt) {
  TempDb db("garbage");
  std::string garbage;
  for (int i = 0; i < 1024; ++i) garbage += "not a database!\n";
  WriteFile(db.path(), garbage);
  absl::Status status = OpenStatus(db.path());
  ExpectStorageError(status, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(db.path()));
  EXPECT_THAT(status.message(), HasSubstr("backup"));
  EXPECT_EQ(ReadFile(db.path()), garbage);
}

TEST(SqliteStoreTest, RefusesAPathThatCannotBeCreated) {
  TempDb file("not_a_dir");
  WriteFile(file.path(), "a regular file");
  // Tests run as root, for whom permissions are no obstacle: a path under a
  // regular file fails for everyone (ENOTDIR).
  const std::string path = absl::StrCat(file.path(), "/db");
  absl::Status status = OpenStatus(path);
  ExpectStorageError(status, absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("directory"));

  ExpectStorageError(OpenStatus(""), absl::StatusCode::kFailedPrecondition);
}

TEST(SqliteStoreTest, FullDiskRollsTheWholeSnapshotBack) {
  TempDb db("full");
  std::unique_ptr<SqliteStore> store = OpenOrDie(db.path(), /*max_page_count=*/40);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutConnection(MakeConnection("conn_a", 1)).ok());
  ASSERT_TRUE(store->ApplySnapshot("conn_a", ToListedUsers(ListedUsers(20)), absl::FromUnixSeconds(10)).ok());
  const std::string before = Dump(*store);

  // The first 20 change too, so the failed write is not only appends.
  absl::StatusOr<SyncCounts> counts =
      store->ApplySnapshot("conn_a", ToListedUsers(ListedUsers(3000, "Operator", 200)), absl::FromUnixSeconds(20));
  ExpectStorageError(counts.status(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(counts.status().message(), HasSubstr("full"));
  EXPECT_EQ(Dump(*store), before);

  // The store still works once the snapshot fits.
  counts = store->ApplySnapshot("conn_a", ToListedUsers(ListedUsers(20, "Operator")), absl::FromUnixSeconds(30));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->updated, 20);
}

TEST(SqliteStoreTest, ConcurrentSyncsAndReadersNeverFail) {
  TempDb db("concurrent");
  std::unique_ptr<SqliteStore> store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  constexpr int kConnections = 4;
  constexpr int kUsers = 150;
  constexpr int kSyncsEach = 25;
  auto users_of = [](int gen) { return kUsers + gen % 3; };
  for (int c = 0; c < kConnections; ++c) {
    ASSERT_TRUE(store->PutConnection(MakeConnection(absl::StrCat("conn_", c), c)).ok());
    ASSERT_TRUE(store
                    ->ApplySnapshot(absl::StrCat("conn_", c), ToListedUsers(ListedUsers(kUsers, "gen0")),
                                    absl::FromUnixSeconds(1))
                    .ok());
  }

  std::mutex errors_mu;
  std::vector<std::string> errors;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(errors_mu);
    errors.push_back(what);
  };
  std::atomic<int> writers_left{kConnections};
  std::atomic<int> operations{0};

  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      const std::string id = absl::StrCat("conn_", c);
      for (int gen = 1; gen <= kSyncsEach; ++gen) {
        // Every user changes each generation, and the count with it: whole
        // snapshots to tear.
        absl::StatusOr<SyncCounts> counts = store->ApplySnapshot(
            id, ToListedUsers(ListedUsers(users_of(gen), absl::StrCat("gen", gen))), absl::FromUnixSeconds(gen));
        if (!counts.ok()) fail(counts.status().ToString());
        absl::Status recorded =
            store->RecordSyncRun(MakeRun(id, absl::StrCat("run_", gen), gen), 5);
        if (!recorded.ok()) fail(recorded.ToString());
        operations += 2;
      }
      --writers_left;
    });
  }
  for (int r = 0; r < 4; ++r) {
    threads.emplace_back([&, r] {
      int rounds = 0;
      while (writers_left.load() > 0 || rounds < 3) {
        const std::string id = absl::StrCat("conn_", (r + rounds) % kConnections);
        std::optional<UserKey> after;
        for (;;) {
          absl::StatusOr<UserPage> page = store->ListUsers(id, false, after, 40);
          ++operations;
          if (!page.ok()) {
            fail(page.status().ToString());
            break;
          }
          // One page is one snapshot: a single generation of roles, and the
          // count of that generation.
          if (page->users.empty()) {
            fail("an empty page");
            break;
          }
          const std::string& role = page->users[0].roles(0).role_name();
          int gen = 0;
          if (!absl::SimpleAtoi(absl::string_view(role).substr(3), &gen)) fail(role);
          if (page->total_size != users_of(gen)) {
            fail(absl::StrCat("total_size ", page->total_size, " with ", role));
          }
          for (const v1::User& user : page->users) {
            if (user.roles(0).role_name() != role) fail("a page mixes two snapshots");
          }
          if (!page->more || page->users.empty()) break;
          after = UserKey{page->users.back().email(), page->users.back().id()};
        }
        absl::StatusOr<StoredConnection> got = store->GetConnection(id);
        if (!got.ok()) fail(got.status().ToString());
        absl::StatusOr<ConnectionPage> connections = store->ListConnections("", 10);
        if (!connections.ok()) fail(connections.status().ToString());
        operations += 2;
        ++rounds;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_THAT(errors, ::testing::IsEmpty());
  EXPECT_GE(operations.load(), 200);
  for (int c = 0; c < kConnections; ++c) {
    absl::StatusOr<UserPage> page =
        store->ListUsers(absl::StrCat("conn_", c), false, std::nullopt, 1);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->users[0].roles(0).role_name(), absl::StrCat("gen", kSyncsEach));
    absl::StatusOr<SyncRunPage> runs =
        store->ListSyncRuns(absl::StrCat("conn_", c), std::nullopt, 10);
    ASSERT_TRUE(runs.ok()) << runs.status();
    EXPECT_EQ(runs->runs.size(), 5u);
  }
}

}  // namespace
}  // namespace workato_connector
