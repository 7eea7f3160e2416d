#include "sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "errors.h"
#include "snapshot_merge.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;
namespace {

struct SqliteCloser {
  // close_v2 rather than close: it cannot fail on statements still open, it
  // defers until they are finalized.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using DbPtr = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A database records the version it has reached in PRAGMA user_version.
//
// Records are serialized protos so that fields added to the API need no
// migration; the other columns exist to be indexed. Emails and ids compare
// with SQLite's BINARY collation (memcmp), the same bytewise order as
// UserKeyLess and std::string.
//
// Migration N (1-based) brings the schema from version N-1 to N: its SQL,
// then its C++ step if it has one (for data SQL cannot compute). Append only.
struct Migration {
  const char* sql;
  absl::Status (*step)(SqliteStore::Db& db);
};

absl::Status SplitUsersTable(SqliteStore::Db& db);

constexpr Migration kMigrations[] = {
    {R"sql(
CREATE TABLE connections (
  id TEXT NOT NULL PRIMARY KEY,
  data_center INTEGER NOT NULL,
  workspace_id INTEGER NOT NULL,
  -- v1.Connection without last_sync.
  record BLOB NOT NULL,
  -- TokenCipher ciphertext: the plain token is never stored.
  sealed_token BLOB NOT NULL,
  -- v1.SyncRun most recently recorded (which may have been trimmed from
  -- sync_runs); NULL before the first.
  last_sync BLOB
);
-- Not UNIQUE: MemoryStore allows two ids for one workspace and so do we;
-- Connector serialises Connect so that it never creates them.
CREATE INDEX connections_by_workspace ON connections (data_center, workspace_id);

CREATE TABLE users (
  connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  id INTEGER NOT NULL,
  email TEXT NOT NULL,
  active INTEGER NOT NULL,
  -- v1.User, roles included.
  record BLOB NOT NULL,
  PRIMARY KEY (connection_id, id)
) WITHOUT ROWID;
-- ListUsers pages are keyset range scans of these.
CREATE INDEX users_by_email ON users (connection_id, email, id);
CREATE INDEX users_active_by_email ON users (connection_id, active, email, id);

CREATE TABLE sync_runs (
  connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  start_time_us INTEGER NOT NULL,
  -- v1.SyncRun.
  record BLOB NOT NULL,
  PRIMARY KEY (connection_id, id)
) WITHOUT ROWID;
CREATE INDEX sync_runs_newest_first ON sync_runs (connection_id, start_time_us DESC, id DESC);
)sql",
     nullptr},
    // 2: users split in two narrow-purpose tables, and per-connection counts.
    // - user_state is what a sync compares: a few columns per user, with the
    //   record's digest, so that a re-sync reads ~50 bytes per user, not the
    //   records, and writes only users whose digest changed.
    // - user_records is what ListUsers reads, clustered in list order (active
    //   users apart from removed ones): a page is one sequential range scan.
    // - the counts make a page's total_size a lookup instead of a COUNT(*).
    {R"sql(
ALTER TABLE connections ADD COLUMN active_users INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN all_users INTEGER NOT NULL DEFAULT 0;

-- No REFERENCES on these two: checking the parent of every row cost a
-- quarter of a 100k-user sync. ApplySnapshot checks the connection once, in
-- the transaction that writes the users, and DeleteConnection deletes them.
CREATE TABLE user_state (
  connection_id TEXT NOT NULL,
  id INTEGER NOT NULL,
  email TEXT NOT NULL,
  active INTEGER NOT NULL,
  -- first_seen_time in nanoseconds since the epoch.
  first_seen_ns INTEGER NOT NULL,
  -- RecordDigest of the user's record in user_records.
  digest INTEGER NOT NULL,
  -- ListingDigest of the collaborator's JSON at the last sync that mapped
  -- it; NULL when removed or not known.
  listing_digest INTEGER,
  PRIMARY KEY (connection_id, id)
) WITHOUT ROWID;

CREATE TABLE user_records (
  connection_id TEXT NOT NULL,
  active INTEGER NOT NULL,
  email TEXT NOT NULL,
  id INTEGER NOT NULL,
  -- v1.User, roles included.
  record BLOB NOT NULL,
  PRIMARY KEY (connection_id, active, email, id)
) WITHOUT ROWID;
)sql",
     SplitUsersTable},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == SqliteStore::kSchemaVersion,
              "one migration per schema version");

absl::Status NotFound(const std::string& id) {
  return MakeError(absl::StatusCode::kNotFound, reason::kConnectionNotFound,
                   absl::StrCat("connection \"", id, "\" does not exist"), {{"connection_id", id}});
}

// StorageError maps a SQLite result code once, here. Conditions that may pass
// (a full disk, an I/O hiccup, a lock held by another process) are
// UNAVAILABLE so that callers may retry; the rest (corruption, permissions,
// a file that is not a database) need an operator: FAILED_PRECONDITION.
absl::Status StorageError(int rc, sqlite3* db, absl::string_view operation) {
  absl::StatusCode code = absl::StatusCode::kFailedPrecondition;
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      code = absl::StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  std::string detail = sqlite3_errstr(rc);
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    // errmsg says more (e.g. which constraint), but only about the last error.
    std::string message = sqlite3_errmsg(db);
    if (message != detail) detail = absl::StrCat(message, " (", detail, ")");
  }
  return MakeError(code, reason::kStorageError,
                   absl::StrCat("storage: ", operation, " failed: ", detail),
                   {{"sqlite_code", absl::StrCat(rc)}});
}

absl::Status UnreadableRecord(absl::string_view what) {
  return MakeError(
      absl::StatusCode::kFailedPrecondition, reason::kStorageError,
      absl::StrCat("storage: a stored ", what, " cannot be parsed; the database may be damaged"));
}

// Serialize writes a record. Our records have no map fields, so the bytes are
// canonical: equal messages give equal bytes, which ApplySnapshot relies on
// to skip unchanged users.
absl::StatusOr<std::string> Serialize(const google::protobuf::MessageLite& message,
                                      absl::string_view what) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    return MakeError(absl::StatusCode::kInvalidArgument, reason::kStorageError,
                     absl::StrCat("storage: the ", what, " is too large to store"));
  }
  return bytes;
}

int64_t StartTimeMicros(const v1::SyncRun& run) {
  // The same conversion as MemoryStore, so both order history alike.
  return absl::ToUnixMicros(absl::FromUnixSeconds(run.start_time().seconds()) +
                            absl::Nanoseconds(run.start_time().nanos()));
}

// SqlLimit turns a page size into a LIMIT that fetches one extra row, which
// tells whether more follow. A negative page size means no limit, as in
// MemoryStore.
int64_t SqlLimit(int limit) { return limit < 0 ? -1 : int64_t{limit} + 1; }

// Statement is one use of a cached prepared statement: it binds, steps and
// reads columns, and resets the statement when it goes away so that no read
// stays open (an open read pins its WAL snapshot) and values do not linger.
class Statement {
 public:
  Statement(sqlite3_stmt* statement, sqlite3* db) : statement_(statement), db_(db) {}
  ~Statement() { Reset(); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Reset makes the statement ready to bind and run again.
  void Reset() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
    bind_rc_ = SQLITE_OK;
  }

  // Bind* set parameter `index` (1-based); the first failure is reported by
  // Step. Text and blobs are bound without a copy (SQLITE_STATIC): the value
  // must stay alive and unchanged until the statement is reset, which every
  // use here ensures by binding variables that outlive the Statement.
  Statement& BindInt(int index, int64_t value) {
    return Check(sqlite3_bind_int64(statement_, index, value));
  }
  Statement& BindText(int index, absl::string_view value) {
    return Check(sqlite3_bind_text64(statement_, index, value.data(), value.size(),
                                     SQLITE_STATIC, SQLITE_UTF8));
  }
  // BindBlob never binds NULL: data() of an empty string_view may be null,
  // which SQLite would take for NULL.
  Statement& BindBlob(int index, absl::string_view value) {
    if (value.empty()) return Check(sqlite3_bind_zeroblob(statement_, index, 0));
    return Check(
        sqlite3_bind_blob64(statement_, index, value.data(), value.size(), SQLITE_STATIC));
  }
  Statement& BindNull(int index) { return Check(sqlite3_bind_null(statement_, index)); }

  // Step returns true with a row, false when done.
  [[nodiscard]] absl::StatusOr<bool> Step(absl::string_view operation) {
    if (bind_rc_ != SQLITE_OK) return StorageError(bind_rc_, db_, operation);
    int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return StorageError(rc, db_, operation);
  }

  // Run steps a statement that returns no rows.
  [[nodiscard]] absl::Status Run(absl::string_view operation) {
    absl::StatusOr<bool> row = Step(operation);
    return row.status();
  }

  [[nodiscard]] int64_t Int(int column) { return sqlite3_column_int64(statement_, column); }
  [[nodiscard]] bool IsNull(int column) {
    return sqlite3_column_type(statement_, column) == SQLITE_NULL;
  }
  // View reads a TEXT or BLOB column without copying: valid until the next
  // Step or Reset.
  [[nodiscard]] absl::string_view View(int column) {
    const void* data = sqlite3_column_blob(statement_, column);
    int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr || size <= 0) return absl::string_view();
    return absl::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
  }
  // Bytes reads a TEXT or BLOB column as it is stored.
  [[nodiscard]] std::string Bytes(int column) {
    const void* data = sqlite3_column_blob(statement_, column);
    int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr || size <= 0) return std::string();
    return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
  }
  // Parse reads a serialized record column.
  [[nodiscard]] bool Parse(int column, google::protobuf::MessageLite* message) {
    const void* data = sqlite3_column_blob(statement_, column);
    int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr || size <= 0) return message->ParseFromString(std::string());
    return message->ParseFromArray(data, size);
  }

 private:
  Statement& Check(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* statement_;
  sqlite3* db_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace

class SqliteStore::Db {
 public:
  explicit Db(DbPtr db) : db_(std::move(db)) {}

  sqlite3* get() { return db_.get(); }

  // Prepare returns `sql` (a constant: values are always bound) ready to
  // bind, preparing it on first use on this connection.
  // `operation` names what failed if preparing does (the first statement on
  // a file that is not a database fails here).
  [[nodiscard]] absl::StatusOr<std::unique_ptr<Statement>> Prepare(
      const char* sql, absl::string_view operation = "preparing a statement") {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      StatementPtr statement(raw);
      if (rc != SQLITE_OK) return StorageError(rc, db_.get(), operation);
      it = statements_.emplace(sql, std::move(statement)).first;
    }
    if (sqlite3_stmt_busy(it->second.get())) {
      // Two uses at once would reset each other: a bug here, not in storage.
      return absl::InternalError("storage: a prepared statement is used twice at once");
    }
    return std::make_unique<Statement>(it->second.get(), db_.get());
  }

  // Exec runs constant SQL that returns no rows.
  [[nodiscard]] absl::Status Exec(const char* sql, absl::string_view operation) {
    absl::StatusOr<std::unique_ptr<Statement>> statement = Prepare(sql, operation);
    if (!statement.ok()) return statement.status();
    return (*statement)->Run(operation);
  }

 private:
  DbPtr db_;
  // Declared after db_ so that the statements are finalized first.
  std::map<std::string, StatementPtr> statements_;
};

namespace {

using Db = SqliteStore::Db;

// Transaction ends what it began: rolled back unless committed, so that every
// error path leaves the database as it was. A read transaction is never
// committed; rolling back a read changes nothing.
class Transaction {
 public:
  // Begin starts a read transaction ("BEGIN": the snapshot is taken at the
  // first read) or a write transaction ("BEGIN IMMEDIATE": the write lock is
  // taken now, so the transaction cannot fail later for want of it).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Transaction>> Begin(Db& db,
                                                                          const char* begin_sql) {
    if (absl::Status begun = db.Exec(begin_sql, "starting a transaction"); !begun.ok()) {
      return begun;
    }
    return std::unique_ptr<Transaction>(new Transaction(db));
  }
  ~Transaction() {
    // SQLite itself rolls back on some errors (a full disk, an I/O error).
    if (!committed_ && !sqlite3_get_autocommit(db_.get())) {
      (void)db_.Exec("ROLLBACK", "rolling back");
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  [[nodiscard]] absl::Status Commit() {
    absl::Status committed = db_.Exec("COMMIT", "committing");
    committed_ = committed.ok();
    return committed;
  }

 private:
  explicit Transaction(Db& db) : db_(db) {}

  Db& db_;
  bool committed_ = false;
};

constexpr char kBeginRead[] = "BEGIN";
constexpr char kBeginWrite[] = "BEGIN IMMEDIATE";

constexpr char kConnectionExists[] = "SELECT 1 FROM connections WHERE id = ?1";
constexpr char kSelectConnection[] =
    "SELECT record, sealed_token, last_sync FROM connections WHERE id = ?1";
// Ordered by id: the first of several, as MemoryStore finds it.
constexpr char kFindConnection[] =
    "SELECT record, sealed_token, last_sync FROM connections"
    " WHERE data_center = ?1 AND workspace_id = ?2 ORDER BY id LIMIT 1";
// Not INSERT OR REPLACE: REPLACE deletes the row first, and the cascade would
// take the users and the history with it. The stored last_sync wins.
constexpr char kUpsertConnection[] =
    "INSERT INTO connections (id, data_center, workspace_id, record, sealed_token, last_sync)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (id) DO UPDATE SET data_center = excluded.data_center,"
    " workspace_id = excluded.workspace_id, record = excluded.record,"
    " sealed_token = excluded.sealed_token,"
    " last_sync = COALESCE(connections.last_sync, excluded.last_sync)";
constexpr char kCountConnections[] = "SELECT COUNT(*) FROM connections";
constexpr char kListConnections[] =
    "SELECT record, last_sync FROM connections WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr char kDeleteConnection[] = "DELETE FROM connections WHERE id = ?1";
constexpr char kSelectConnectionRecord[] = "SELECT record FROM connections WHERE id = ?1";
constexpr char kUpdateConnectionRecord[] = "UPDATE connections SET record = ?2 WHERE id = ?1";
constexpr char kUpdateLastSync[] = "UPDATE connections SET last_sync = ?2 WHERE id = ?1";

constexpr char kUpsertSyncRun[] =
    "INSERT INTO sync_runs (connection_id, id, start_time_us, record) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (connection_id, id) DO UPDATE SET start_time_us = excluded.start_time_us,"
    " record = excluded.record";
constexpr char kTrimSyncRuns[] =
    "DELETE FROM sync_runs WHERE connection_id = ?1 AND id NOT IN"
    " (SELECT id FROM sync_runs WHERE connection_id = ?1"
    " ORDER BY start_time_us DESC, id DESC LIMIT ?2)";
constexpr char kListSyncRuns[] =
    "SELECT record FROM sync_runs WHERE connection_id = ?1"
    " ORDER BY start_time_us DESC, id DESC LIMIT ?2";
constexpr char kListSyncRunsAfter[] =
    "SELECT record FROM sync_runs WHERE connection_id = ?1"
    " AND (start_time_us, id) < (?3, ?4) ORDER BY start_time_us DESC, id DESC LIMIT ?2";

constexpr char kSelectUserState[] =
    "SELECT id, email, active, first_seen_ns, digest, listing_digest FROM user_state"
    " WHERE connection_id = ?1";
constexpr char kSelectListingDigests[] =
    "SELECT listing_digest, id FROM user_state WHERE connection_id = ?1 AND active = 1"
    " AND listing_digest IS NOT NULL";
constexpr char kSetListingDigest[] =
    "UPDATE user_state SET listing_digest = ?3 WHERE connection_id = ?1 AND id = ?2";
constexpr char kSelectActiveRecord[] =
    "SELECT record FROM user_records WHERE connection_id = ?1 AND active = 1 AND email = ?2"
    " AND id = ?3";
constexpr char kUpsertUserState[] =
    "INSERT INTO user_state (connection_id, id, email, active, first_seen_ns, digest,"
    " listing_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (connection_id, id)"
    " DO UPDATE SET email = excluded.email, active = excluded.active,"
    " first_seen_ns = excluded.first_seen_ns, digest = excluded.digest,"
    " listing_digest = excluded.listing_digest";
constexpr char kDeleteUserRecord[] =
    "DELETE FROM user_records WHERE connection_id = ?1 AND active = ?2 AND email = ?3 AND id = ?4";
constexpr char kPutUserRecord[] =
    "INSERT OR REPLACE INTO user_records (connection_id, active, email, id, record)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr char kDeleteUserStates[] = "DELETE FROM user_state WHERE connection_id = ?1";
constexpr char kDeleteUserRecords[] = "DELETE FROM user_records WHERE connection_id = ?1";
constexpr char kSetUserCounts[] =
    "UPDATE connections SET active_users = ?2, all_users = ?3 WHERE id = ?1";
constexpr char kSelectUserCounts[] =
    "SELECT active_users, all_users FROM connections WHERE id = ?1";
// Keyset pages: range scans of user_records' primary key, one per state.
// The first two read only the records (the usual page); the others also
// the keys, to merge both states in list order.
constexpr char kListActiveRecords[] =
    "SELECT record FROM user_records WHERE connection_id = ?1 AND active = ?2"
    " ORDER BY email, id LIMIT ?3";
constexpr char kListActiveRecordsAfter[] =
    "SELECT record FROM user_records WHERE connection_id = ?1 AND active = ?2"
    " AND (email, id) > (?4, ?5) ORDER BY email, id LIMIT ?3";
constexpr char kListRecords[] =
    "SELECT email, id, record FROM user_records WHERE connection_id = ?1 AND active = ?2"
    " ORDER BY email, id LIMIT ?3";
constexpr char kListRecordsAfter[] =
    "SELECT email, id, record FROM user_records WHERE connection_id = ?1 AND active = ?2"
    " AND (email, id) > (?4, ?5) ORDER BY email, id LIMIT ?3";

int64_t ToNanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000000 + t.nanos();
}

// UserRow is one user as both tables store it.
struct UserRow {
  int64_t id = 0;
  std::string email;
  bool active = false;
  int64_t first_seen_ns = 0;
  int64_t digest = 0;
  std::string record;
  std::optional<int64_t> listing_digest;
};

// UserRowOf encodes a user for storage (see user_record.h).
UserRow UserRowOf(const v1::User& user) {
  UserRow row;
  row.id = user.id();
  row.email = user.email();
  row.active = user.state() == v1::User::ACTIVE;
  row.first_seen_ns = ToNanos(user.first_seen_time());
  row.record = EncodeUserRecord(user);
  row.digest = RecordDigest(row.record);
  return row;
}

// ReadPage steps through a keyset query prepared with LIMIT SqlLimit(limit)
// and parses each row's record into `records`; the one extra row only tells
// that more follow.
template <typename Record>
absl::Status ReadPage(Statement& list, int limit, absl::string_view what,
                      std::vector<Record>* records, bool* more) {
  for (;;) {
    absl::StatusOr<bool> row = list.Step(absl::StrCat("listing ", what, "s"));
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
    if (static_cast<int>(records->size()) == limit) {
      *more = true;
      return absl::OkStatus();
    }
    if (!list.Parse(0, &records->emplace_back())) return UnreadableRecord(what);
  }
}

// ConnectionExists looks the connection up inside the caller's transaction.
absl::StatusOr<bool> ConnectionExists(Db& db, const std::string& id) {
  absl::StatusOr<std::unique_ptr<Statement>> exists = db.Prepare(kConnectionExists);
  if (!exists.ok()) return exists.status();
  (*exists)->BindText(1, id);
  return (*exists)->Step("looking up a connection");
}

// ReadConnection parses a (record, sealed_token, last_sync) row.
absl::StatusOr<StoredConnection> ReadConnection(Statement& row) {
  StoredConnection stored;
  if (!row.Parse(0, &stored.connection)) return UnreadableRecord("connection");
  stored.sealed_token = row.Bytes(1);
  if (!row.IsNull(2) && !row.Parse(2, stored.connection.mutable_last_sync())) {
    return UnreadableRecord("sync run");
  }
  return stored;
}

// Configure applies what every connection needs. busy_timeout only matters
// when another process holds a lock (or a checkpoint runs): this process
// writes through one connection at a time.
absl::Status Configure(Db& db, const SqliteStoreOptions& options) {
  int64_t timeout_ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(options.busy_timeout), 0,
                                           std::numeric_limits<int>::max());
  if (int rc = sqlite3_busy_timeout(db.get(), static_cast<int>(timeout_ms)); rc != SQLITE_OK) {
    return StorageError(rc, db.get(), "setting busy_timeout");
  }
  if (int rc = sqlite3_extended_result_codes(db.get(), 1); rc != SQLITE_OK) {
    return StorageError(rc, db.get(), "enabling extended result codes");
  }
  if (absl::Status s = db.Exec("PRAGMA foreign_keys = ON", "enabling foreign keys"); !s.ok()) {
    return s;
  }
  // NORMAL is durable across application crashes in WAL mode; only a power
  // loss may lose the last transactions, never consistency.
  return db.Exec("PRAGMA synchronous = NORMAL", "setting synchronous");
}

absl::StatusOr<std::unique_ptr<Db>> OpenConnection(const std::string& path, int flags,
                                                   const SqliteStoreOptions& options) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time, which the
  // store guarantees with its own locks.
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);  // Owned even on failure: open_v2 may allocate a handle anyway.
  if (rc != SQLITE_OK) return StorageError(rc, db.get(), "opening");
  auto connection = std::make_unique<Db>(std::move(db));
  if (absl::Status s = Configure(*connection, options); !s.ok()) return s;
  return connection;
}

// PragmaText reads the first column of the first row of a PRAGMA ("" if none).
absl::StatusOr<std::string> PragmaText(Db& db, const char* sql, absl::string_view operation) {
  absl::StatusOr<std::unique_ptr<Statement>> statement = db.Prepare(sql, operation);
  if (!statement.ok()) return statement.status();
  absl::StatusOr<bool> row = (*statement)->Step(operation);
  if (!row.ok()) return row.status();
  if (!*row) return std::string();
  return (*statement)->Bytes(0);
}

// Migrate brings the schema to kSchemaVersion, one migration per transaction.
absl::Status Migrate(Db& db) {
  for (;;) {
    absl::StatusOr<std::unique_ptr<Transaction>> transaction = Transaction::Begin(db, kBeginWrite);
    if (!transaction.ok()) return transaction.status();
    // Read inside the write transaction: another process may be migrating too.
    absl::StatusOr<std::string> text =
        PragmaText(db, "PRAGMA user_version", "reading the schema version");
    if (!text.ok()) return text.status();
    int version = 0;
    if (!absl::SimpleAtoi(*text, &version) || version < 0) {
      return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                       absl::StrCat("storage: unreadable schema version \"", *text, "\""));
    }
    if (version > SqliteStore::kSchemaVersion) {
      return MakeError(
          absl::StatusCode::kFailedPrecondition, reason::kStorageError,
          absl::StrCat("storage: schema version ", version, " is newer than this build knows (",
                       SqliteStore::kSchemaVersion,
                       "); run the newer server that wrote it, or restore a backup"));
    }
    if (version == SqliteStore::kSchemaVersion) return absl::OkStatus();
    // Migrations hold several statements: sqlite3_exec runs them all. They
    // and the PRAGMA below are constants, with no values from outside.
    const Migration& migration = kMigrations[version];
    if (int rc = sqlite3_exec(db.get(), migration.sql, nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
      return StorageError(rc, db.get(), absl::StrCat("migrating to schema ", version + 1));
    }
    if (migration.step != nullptr) {
      if (absl::Status stepped = migration.step(db); !stepped.ok()) return stepped;
    }
    // PRAGMA takes no bound parameters; the value is our own integer.
    std::string set_version = absl::StrCat("PRAGMA user_version = ", version + 1);
    if (int rc = sqlite3_exec(db.get(), set_version.c_str(), nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
      return StorageError(rc, db.get(), "recording the schema version");
    }
    if (absl::Status committed = (*transaction)->Commit(); !committed.ok()) return committed;
  }
}

// OpenWriter opens, checks and migrates the database through the writer.
absl::StatusOr<std::unique_ptr<Db>> OpenWriter(const SqliteStoreOptions& options) {
  absl::StatusOr<std::unique_ptr<Db>> writer =
      OpenConnection(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options);
  if (!writer.ok()) return writer.status();
  Db& db = **writer;
  // quick_check first, before anything writes to a file that may be damaged.
  absl::StatusOr<std::string> check = PragmaText(db, "PRAGMA quick_check", "checking the database");
  if (!check.ok()) return check.status();
  if (*check != "ok") {
    return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                     absl::StrCat("storage: the database is damaged (quick_check: ", *check,
                                  "); restore it from a backup, or move it away to start empty"));
  }
  absl::StatusOr<std::string> mode =
      PragmaText(db, "PRAGMA journal_mode = WAL", "switching to WAL mode");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                     absl::StrCat("storage: WAL mode is not available (journal mode \"", *mode,
                                  "\"); use a local file system"));
  }
  if (options.max_page_count > 0) {
    // PRAGMA takes no bound parameters; the value is an integer option.
    std::string pragma = absl::StrCat("PRAGMA max_page_count = ", options.max_page_count);
    if (int rc = sqlite3_exec(db.get(), pragma.c_str(), nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
      return StorageError(rc, db.get(), "setting max_page_count");
    }
  }
  if (absl::Status migrated = Migrate(db); !migrated.ok()) return migrated;
  // A sync writes its users in one transaction. With SQLite's default 2 MB
  // cache, a 100k-user transaction spills pages to the WAL and reads them
  // back all along; 32 MB holds the pages such a sync touches. Only the
  // writer has it: readers read a page at a time.
  if (absl::Status s = db.Exec("PRAGMA cache_size = -32768", "setting the cache size"); !s.ok()) {
    return s;
  }
  // The WAL file keeps the size of the largest transaction since the last
  // restart; past 16 MB it is cut back once a checkpoint has emptied it.
  absl::StatusOr<std::string> limit =
      PragmaText(db, "PRAGMA journal_size_limit = 16777216", "limiting the WAL file");
  if (!limit.ok()) return limit.status();
  return writer;
}

// OpenFailure explains, with the path, why the database cannot be used. Every
// cause needs an operator, whatever SQLite called it, so FAILED_PRECONDITION.
absl::Status OpenFailure(const absl::Status& cause, const std::string& path) {
  std::string advice;
  int64_t rc = 0;
  ErrorMetadata metadata = ErrorMetadataOf(cause);
  if (auto it = metadata.find("sqlite_code"); it != metadata.end()) {
    (void)absl::SimpleAtoi(it->second, &rc);
  }
  switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      advice = "check that its directory exists and that the server may write there";
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      advice =
          "it is not a SQLite database or is damaged: restore it from a backup, or move it "
          "away to start empty";
      break;
    case SQLITE_FULL:
    case SQLITE_IOERR:
      advice = "check the disk: free space, or look for I/O errors";
      break;
    case 0:  // Our own check (schema version, quick_check, WAL) says what to do.
      break;
    default:
      advice = "check the file and its directory";
      break;
  }
  metadata["path"] = path;
  return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                   absl::StrCat("cannot use the database ", path, ": ", cause.message(),
                                advice.empty() ? "" : "; ", advice),
                   metadata);
}

// WriteUserState and WriteUserRecord store one row of each table through
// the writer's cached statements.
absl::Status WriteUserState(Statement& s, const std::string& connection_id, const UserRow& row) {
  s.BindText(1, connection_id)
      .BindInt(2, row.id)
      .BindText(3, row.email)
      .BindInt(4, row.active ? 1 : 0)
      .BindInt(5, row.first_seen_ns)
      .BindInt(6, row.digest);
  if (row.listing_digest.has_value()) {
    s.BindInt(7, *row.listing_digest);
  } else {
    s.BindNull(7);
  }
  absl::Status written = s.Run("storing users");
  s.Reset();
  return written;
}

absl::Status WriteUserRecord(Statement& s, const std::string& connection_id, const UserRow& row) {
  s.BindText(1, connection_id)
      .BindInt(2, row.active ? 1 : 0)
      .BindText(3, row.email)
      .BindInt(4, row.id)
      .BindBlob(5, row.record);
  absl::Status written = s.Run("storing users");
  s.Reset();
  return written;
}

// SplitUsersTable is migration 2's data step: every user of the version 1
// `users` table into user_state and user_records, then the counts, then the
// old table goes. It runs inside the migration's transaction.
absl::Status SplitUsersTable(SqliteStore::Db& db) {
  absl::StatusOr<std::unique_ptr<Statement>> select =
      db.Prepare("SELECT connection_id, record FROM users ORDER BY connection_id, id");
  if (!select.ok()) return select.status();
  absl::StatusOr<std::unique_ptr<Statement>> state = db.Prepare(kUpsertUserState);
  if (!state.ok()) return state.status();
  absl::StatusOr<std::unique_ptr<Statement>> record = db.Prepare(kPutUserRecord);
  if (!record.ok()) return record.status();
  for (;;) {
    absl::StatusOr<bool> more = (*select)->Step("migrating users");
    if (!more.ok()) return more.status();
    if (!*more) break;
    v1::User user;
    if (!(*select)->Parse(1, &user)) return UnreadableRecord("user");
    const UserRow row = UserRowOf(user);
    const std::string connection_id = (*select)->Bytes(0);
    if (absl::Status s = WriteUserState(**state, connection_id, row); !s.ok()) return s;
    if (absl::Status s = WriteUserRecord(**record, connection_id, row); !s.ok()) return s;
  }
  (*select)->Reset();
  constexpr const char* kFinish = R"sql(
UPDATE connections SET
  active_users = (SELECT COUNT(*) FROM user_state s WHERE s.connection_id = connections.id
                  AND s.active = 1),
  all_users = (SELECT COUNT(*) FROM user_state s WHERE s.connection_id = connections.id);
DROP TABLE users;
)sql";
  if (int rc = sqlite3_exec(db.get(), kFinish, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
    return StorageError(rc, db.get(), "migrating users");
  }
  return absl::OkStatus();
}

}  // namespace

class SqliteStore::ReadLease {
 public:
  ReadLease(SqliteStore* store, Db* db) : store_(store), db_(db) {}
  ~ReadLease() { store_->ReleaseReader(db_); }
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;

  Db& db() { return *db_; }

 private:
  SqliteStore* store_;
  Db* db_;
};

SqliteStore::~SqliteStore() {
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(checkpoint_mu_);
      stopping_ = true;
    }
    checkpoint_wanted_.notify_one();
    checkpoint_thread_.join();
  }
  // Closing the last connection checkpoints what is left.
}

int SqliteStore::OnWalCommit(void* store, sqlite3* /*db*/, const char* /*name*/, int frames) {
  if (frames >= kCheckpointFrames) {
    auto* self = static_cast<SqliteStore*>(store);
    {
      std::lock_guard<std::mutex> lock(self->checkpoint_mu_);
      self->checkpoint_due_ = true;
    }
    self->checkpoint_wanted_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(checkpoint_mu_);
      checkpoint_wanted_.wait(lock, [this] { return checkpoint_due_ || stopping_; });
      if (stopping_) return;
      checkpoint_due_ = false;
    }
    // PASSIVE: copies what no reader still needs, never waits for anyone. A
    // failure is not fatal (the WAL keeps everything); the next commit asks
    // again.
    (void)sqlite3_wal_checkpoint_v2(checkpointer_->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                    nullptr, nullptr);
  }
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(SqliteStoreOptions options) {
  if (options.path.empty()) {
    return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                     "storage: no database path given");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  absl::StatusOr<std::unique_ptr<Db>> writer = OpenWriter(options);
  if (!writer.ok()) return OpenFailure(writer.status(), options.path);
  store->writer_ = *std::move(writer);
  absl::StatusOr<std::unique_ptr<Db>> checkpointer =
      OpenConnection(options.path, SQLITE_OPEN_READWRITE, options);
  if (!checkpointer.ok()) return OpenFailure(checkpointer.status(), options.path);
  store->checkpointer_ = *std::move(checkpointer);
  // Replaces SQLite's automatic checkpoint inside the committing call.
  sqlite3_wal_hook(store->writer_->get(), &SqliteStore::OnWalCommit, store.get());
  store->checkpoint_thread_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
  // Readers open after the writer made the file a WAL database with a schema.
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    absl::StatusOr<std::unique_ptr<Db>> reader =
        OpenConnection(options.path, SQLITE_OPEN_READONLY, options);
    if (!reader.ok()) return OpenFailure(reader.status(), options.path);
    store->free_readers_.push_back(reader->get());
    store->readers_.push_back(*std::move(reader));
  }
  return store;
}

SqliteStore::ReadLease SqliteStore::AcquireReader() {
  std::unique_lock<std::mutex> lock(read_mu_);
  reader_free_.wait(lock, [this] { return !free_readers_.empty(); });
  Db* db = free_readers_.back();
  free_readers_.pop_back();
  return ReadLease(this, db);
}

void SqliteStore::ReleaseReader(Db* db) {
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    free_readers_.push_back(db);
  }
  reader_free_.notify_one();
}

int64_t SqliteStore::total_changes_for_testing() {
  std::lock_guard<std::mutex> lock(write_mu_);
  return sqlite3_total_changes64(writer_->get());
}

absl::StatusOr<StoredConnection> SqliteStore::GetConnection(const std::string& id) {
  ReadLease lease = AcquireReader();
  absl::StatusOr<std::unique_ptr<Statement>> select = lease.db().Prepare(kSelectConnection);
  if (!select.ok()) return select.status();
  (*select)->BindText(1, id);
  absl::StatusOr<bool> row = (*select)->Step("reading a connection");
  if (!row.ok()) return row.status();
  if (!*row) return NotFound(id);
  return ReadConnection(**select);
}

absl::StatusOr<std::optional<StoredConnection>> SqliteStore::FindConnection(
    v1::DataCenter data_center, int64_t workspace_id) {
  ReadLease lease = AcquireReader();
  absl::StatusOr<std::unique_ptr<Statement>> find = lease.db().Prepare(kFindConnection);
  if (!find.ok()) return find.status();
  (*find)->BindInt(1, data_center).BindInt(2, workspace_id);
  absl::StatusOr<bool> row = (*find)->Step("finding a connection");
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  absl::StatusOr<StoredConnection> stored = ReadConnection(**find);
  if (!stored.ok()) return stored.status();
  return std::optional<StoredConnection>(*std::move(stored));
}

absl::Status SqliteStore::PutConnection(const StoredConnection& connection) {
  const v1::Connection& c = connection.connection;
  v1::Connection record = c;
  record.clear_last_sync();  // Kept in its own column, so that a replace keeps it.
  absl::StatusOr<std::string> record_bytes = Serialize(record, "connection");
  if (!record_bytes.ok()) return record_bytes.status();
  std::optional<std::string> last_sync_bytes;
  if (c.has_last_sync()) {
    absl::StatusOr<std::string> bytes = Serialize(c.last_sync(), "sync run");
    if (!bytes.ok()) return bytes.status();
    last_sync_bytes = *std::move(bytes);
  }

  std::lock_guard<std::mutex> lock(write_mu_);
  absl::StatusOr<std::unique_ptr<Statement>> upsert = writer_->Prepare(kUpsertConnection);
  if (!upsert.ok()) return upsert.status();
  Statement& s = **upsert;
  s.BindText(1, c.id())
      .BindInt(2, c.data_center())
      .BindInt(3, c.workspace_id())
      .BindBlob(4, *record_bytes)
      .BindBlob(5, connection.sealed_token);
  if (last_sync_bytes.has_value()) {
    s.BindBlob(6, *last_sync_bytes);
  } else {
    s.BindNull(6);
  }
  return s.Run("storing a connection");
}

absl::StatusOr<ConnectionPage> SqliteStore::ListConnections(const std::string& after_id,
                                                            int limit) {
  ReadLease lease = AcquireReader();
  Db& db = lease.db();
  // One read transaction: the count and the page come from one snapshot.
  absl::StatusOr<std::unique_ptr<Transaction>> read = Transaction::Begin(db, kBeginRead);
  if (!read.ok()) return read.status();
  ConnectionPage page;
  {
    absl::StatusOr<std::unique_ptr<Statement>> count = db.Prepare(kCountConnections);
    if (!count.ok()) return count.status();
    absl::StatusOr<bool> row = (*count)->Step("counting connections");
    if (!row.ok()) return row.status();
    page.total_size = static_cast<int32_t>((*count)->Int(0));
  }
  absl::StatusOr<std::unique_ptr<Statement>> list = db.Prepare(kListConnections);
  if (!list.ok()) return list.status();
  (*list)->BindText(1, after_id).BindInt(2, SqlLimit(limit));
  for (;;) {
    absl::StatusOr<bool> row = (*list)->Step("listing connections");
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(page.connections.size()) == limit) {
      page.more = true;
      break;
    }
    v1::Connection& c = page.connections.emplace_back();
    if (!(*list)->Parse(0, &c)) return UnreadableRecord("connection");
    if (!(*list)->IsNull(1) && !(*list)->Parse(1, c.mutable_last_sync())) {
      return UnreadableRecord("sync run");
    }
  }
  return page;
}

absl::Status SqliteStore::DeleteConnection(const std::string& id) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db& db = *writer_;
  // One transaction: the connection, its users and (by cascade) its history
  // go together or not at all.
  absl::StatusOr<std::unique_ptr<Transaction>> write = Transaction::Begin(db, kBeginWrite);
  if (!write.ok()) return write.status();
  {
    absl::StatusOr<std::unique_ptr<Statement>> erase = db.Prepare(kDeleteConnection);
    if (!erase.ok()) return erase.status();
    (*erase)->BindText(1, id);
    if (absl::Status s = (*erase)->Run("deleting a connection"); !s.ok()) return s;
    if (sqlite3_changes(db.get()) == 0) return NotFound(id);
  }
  for (const char* sql : {kDeleteUserStates, kDeleteUserRecords}) {
    absl::StatusOr<std::unique_ptr<Statement>> erase = db.Prepare(sql);
    if (!erase.ok()) return erase.status();
    (*erase)->BindText(1, id);
    if (absl::Status s = (*erase)->Run("deleting a connection's users"); !s.ok()) return s;
  }
  return (*write)->Commit();
}

absl::Status SqliteStore::SetConnectionState(const std::string& id, v1::Connection::State state,
                                             const std::string& message, absl::Time now) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db& db = *writer_;
  absl::StatusOr<std::unique_ptr<Transaction>> write = Transaction::Begin(db, kBeginWrite);
  if (!write.ok()) return write.status();
  v1::Connection record;
  {
    absl::StatusOr<std::unique_ptr<Statement>> select = db.Prepare(kSelectConnectionRecord);
    if (!select.ok()) return select.status();
    (*select)->BindText(1, id);
    absl::StatusOr<bool> row = (*select)->Step("reading a connection");
    if (!row.ok()) return row.status();
    if (!*row) return NotFound(id);
    if (!(*select)->Parse(0, &record)) return UnreadableRecord("connection");
  }
  record.set_state(state);
  record.set_state_message(message);
  *record.mutable_update_time() = ToTimestamp(now);
  absl::StatusOr<std::string> bytes = Serialize(record, "connection");
  if (!bytes.ok()) return bytes.status();
  {
    absl::StatusOr<std::unique_ptr<Statement>> update = db.Prepare(kUpdateConnectionRecord);
    if (!update.ok()) return update.status();
    (*update)->BindText(1, id).BindBlob(2, *bytes);
    if (absl::Status s = (*update)->Run("updating a connection"); !s.ok()) return s;
  }
  return (*write)->Commit();
}

absl::Status SqliteStore::RecordSyncRun(const v1::SyncRun& run, int history_limit) {
  absl::StatusOr<std::string> bytes = Serialize(run, "sync run");
  if (!bytes.ok()) return bytes.status();
  const std::string& connection_id = run.connection_id();

  std::lock_guard<std::mutex> lock(write_mu_);
  Db& db = *writer_;
  absl::StatusOr<std::unique_ptr<Transaction>> write = Transaction::Begin(db, kBeginWrite);
  if (!write.ok()) return write.status();
  {
    absl::StatusOr<std::unique_ptr<Statement>> update = db.Prepare(kUpdateLastSync);
    if (!update.ok()) return update.status();
    (*update)->BindText(1, connection_id).BindBlob(2, *bytes);
    if (absl::Status s = (*update)->Run("recording the last sync"); !s.ok()) return s;
    if (sqlite3_changes(db.get()) == 0) return NotFound(connection_id);
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> insert = db.Prepare(kUpsertSyncRun);
    if (!insert.ok()) return insert.status();
    (*insert)
        ->BindText(1, connection_id)
        .BindText(2, run.id())
        .BindInt(3, StartTimeMicros(run))
        .BindBlob(4, *bytes);
    if (absl::Status s = (*insert)->Run("recording a sync run"); !s.ok()) return s;
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> trim = db.Prepare(kTrimSyncRuns);
    if (!trim.ok()) return trim.status();
    (*trim)->BindText(1, connection_id).BindInt(2, std::max(1, history_limit));
    if (absl::Status s = (*trim)->Run("trimming sync history"); !s.ok()) return s;
  }
  return (*write)->Commit();
}

absl::StatusOr<SyncRunPage> SqliteStore::ListSyncRuns(const std::string& connection_id,
                                                      const std::optional<SyncRunKey>& after,
                                                      int limit) {
  ReadLease lease = AcquireReader();
  Db& db = lease.db();
  absl::StatusOr<std::unique_ptr<Transaction>> read = Transaction::Begin(db, kBeginRead);
  if (!read.ok()) return read.status();
  absl::StatusOr<bool> exists = ConnectionExists(db, connection_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NotFound(connection_id);

  absl::StatusOr<std::unique_ptr<Statement>> list =
      db.Prepare(after.has_value() ? kListSyncRunsAfter : kListSyncRuns);
  if (!list.ok()) return list.status();
  (*list)->BindText(1, connection_id).BindInt(2, SqlLimit(limit));
  if (after.has_value()) (*list)->BindInt(3, after->start_time_us).BindText(4, after->id);
  SyncRunPage page;
  if (absl::Status listed = ReadPage(**list, limit, "sync run", &page.runs, &page.more);
      !listed.ok()) {
    return listed;
  }
  return page;
}

absl::StatusOr<SyncCounts> SqliteStore::ApplySnapshot(const std::string& connection_id,
                                                      std::vector<ListedUser> listed,
                                                      absl::Time now) {
  // The semantics are MergeSnapshot's (MemoryStore uses it as it is); here
  // the stored side is user_state, so that a sync compares digests instead
  // of reading every record, and writes only users that changed.
  const int64_t now_ns = absl::ToUnixNanos(now);
  std::lock_guard<std::mutex> lock(write_mu_);
  Db& db = *writer_;
  // One write transaction from the existence check to the last row: readers
  // see the old users or the new ones, and an error leaves the old ones.
  absl::StatusOr<std::unique_ptr<Transaction>> write = Transaction::Begin(db, kBeginWrite);
  if (!write.ok()) return write.status();
  absl::StatusOr<bool> exists = ConnectionExists(db, connection_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NotFound(connection_id);

  struct Stored {
    std::string email;
    bool active = false;
    bool listed = false;
    int64_t first_seen_ns = 0;
    int64_t digest = 0;
    std::optional<int64_t> listing_digest;
  };
  std::unordered_map<int64_t, Stored> stored;
  {
    absl::StatusOr<std::unique_ptr<Statement>> select = db.Prepare(kSelectUserState);
    if (!select.ok()) return select.status();
    (*select)->BindText(1, connection_id);
    for (;;) {
      absl::StatusOr<bool> row = (*select)->Step("reading users");
      if (!row.ok()) return row.status();
      if (!*row) break;
      Stored& user = stored[(*select)->Int(0)];
      user.email = (*select)->Bytes(1);
      user.active = (*select)->Int(2) != 0;
      user.first_seen_ns = (*select)->Int(3);
      user.digest = (*select)->Int(4);
      if (!(*select)->IsNull(5)) user.listing_digest = (*select)->Int(5);
    }
  }

  // Every user whose record changes, with where its record was (when it
  // moves in user_records: another email or state).
  struct Change {
    UserRow row;
    const Stored* before = nullptr;
  };
  std::vector<Change> changes;
  SyncCounts counts;
  std::unordered_set<int64_t> new_ids;
  // A listed user's record: its listed bytes, then these sync fields.
  v1::User sync_fields;
  sync_fields.set_state(v1::User::ACTIVE);
  sync_fields.add_licenses(kWorkatoLicense);
  std::string record;
  // Users whose record is the same but whose JSON text changed (a field
  // this service does not read): only their listing digest is written.
  std::vector<std::pair<int64_t, int64_t>> new_listing_digests;
  for (ListedUser& user : listed) {
    auto it = stored.find(user.id);
    if (user.unchanged) {
      if (it == stored.end() || !it->second.active ||
          it->second.listing_digest != user.listing_digest) {
        return MakeError(absl::StatusCode::kAborted, reason::kStorageError,
                         "storage: the stored users changed during the sync; sync again");
      }
      if (it->second.listed) continue;  // Listed twice: the first entry wins.
      it->second.listed = true;
      ++counts.active;
      continue;
    }
    if (it != stored.end()) {
      if (it->second.listed) continue;  // Listed twice: the first entry wins.
      it->second.listed = true;
    } else if (!new_ids.insert(user.id).second) {
      continue;
    }
    ++counts.active;
    const bool known = it != stored.end();
    const int64_t first_seen_ns = known ? it->second.first_seen_ns : now_ns;
    *sync_fields.mutable_first_seen_time() = ToTimestamp(absl::FromUnixNanos(first_seen_ns));
    record.assign(user.record);
    AppendSyncFields(sync_fields, &record);
    const int64_t digest = RecordDigest(record);
    if (known && digest == it->second.digest) {
      if (it->second.listing_digest != user.listing_digest) {
        new_listing_digests.emplace_back(user.id, user.listing_digest);
      }
      continue;
    }
    ++(known ? counts.updated : counts.added);
    changes.push_back({UserRow{user.id, std::move(user.email), true, first_seen_ns, digest, record,
                               user.listing_digest},
                       known ? &it->second : nullptr});
  }
  std::vector<ListedUser>().swap(listed);  // Done with it: free it before writing.

  // Stored active users missing from the listing become REMOVED; their
  // record is read back to keep everything else in it.
  {
    absl::StatusOr<std::unique_ptr<Statement>> select = db.Prepare(kSelectActiveRecord);
    if (!select.ok()) return select.status();
    const google::protobuf::Timestamp now_ts = ToTimestamp(now);
    for (const auto& [id, user] : stored) {
      if (user.listed || !user.active) continue;
      (*select)->BindText(1, connection_id).BindText(2, user.email).BindInt(3, id);
      absl::StatusOr<bool> found = (*select)->Step("reading users");
      if (!found.ok()) return found.status();
      v1::User removed;
      if (!*found || !(*select)->Parse(0, &removed)) return UnreadableRecord("user");
      (*select)->Reset();
      removed.set_state(v1::User::REMOVED);
      removed.clear_licenses();
      *removed.mutable_removed_time() = now_ts;
      ++counts.removed;
      changes.push_back({UserRowOf(removed), &user});
    }
  }

  // Each table is written in its own key order: B-tree inserts in order
  // append to the same few pages instead of touching pages all over.
  std::vector<const Change*> order;
  order.reserve(changes.size());
  for (const Change& change : changes) order.push_back(&change);
  {
    std::sort(order.begin(), order.end(),
              [](const Change* a, const Change* b) { return a->row.id < b->row.id; });
    absl::StatusOr<std::unique_ptr<Statement>> upsert = db.Prepare(kUpsertUserState);
    if (!upsert.ok()) return upsert.status();
    for (const Change* change : order) {
      if (absl::Status s = WriteUserState(**upsert, connection_id, change->row); !s.ok()) return s;
    }
  }
  if (!new_listing_digests.empty()) {
    std::sort(new_listing_digests.begin(), new_listing_digests.end());
    absl::StatusOr<std::unique_ptr<Statement>> update = db.Prepare(kSetListingDigest);
    if (!update.ok()) return update.status();
    for (const auto& [id, listing_digest] : new_listing_digests) {
      (*update)->BindText(1, connection_id).BindInt(2, id).BindInt(3, listing_digest);
      if (absl::Status s = (*update)->Run("storing users"); !s.ok()) return s;
      (*update)->Reset();
    }
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> erase = db.Prepare(kDeleteUserRecord);
    if (!erase.ok()) return erase.status();
    for (const Change& change : changes) {
      const Stored* before = change.before;
      if (before == nullptr ||
          (before->active == change.row.active && before->email == change.row.email)) {
        continue;  // Same key: the put below replaces the record in place.
      }
      (*erase)
          ->BindText(1, connection_id)
          .BindInt(2, before->active ? 1 : 0)
          .BindText(3, before->email)
          .BindInt(4, change.row.id);
      if (absl::Status s = (*erase)->Run("storing users"); !s.ok()) return s;
      (*erase)->Reset();
    }
  }
  {
    std::sort(order.begin(), order.end(), [](const Change* a, const Change* b) {
      const UserRow& x = a->row;
      const UserRow& y = b->row;
      if (x.active != y.active) return x.active < y.active;
      int cmp = x.email.compare(y.email);
      return cmp < 0 || (cmp == 0 && x.id < y.id);
    });
    absl::StatusOr<std::unique_ptr<Statement>> put = db.Prepare(kPutUserRecord);
    if (!put.ok()) return put.status();
    for (const Change* change : order) {
      if (absl::Status s = WriteUserRecord(**put, connection_id, change->row); !s.ok()) return s;
    }
  }
  {
    absl::StatusOr<std::unique_ptr<Statement>> set = db.Prepare(kSetUserCounts);
    if (!set.ok()) return set.status();
    (*set)
        ->BindText(1, connection_id)
        .BindInt(2, counts.active)
        .BindInt(3, static_cast<int64_t>(stored.size()) + counts.added);
    if (absl::Status s = (*set)->Run("storing users"); !s.ok()) return s;
  }
  if (absl::Status committed = (*write)->Commit(); !committed.ok()) return committed;
  return counts;
}

absl::StatusOr<KnownListing> SqliteStore::KnownListingDigests(const std::string& connection_id) {
  ReadLease lease = AcquireReader();
  Db& db = lease.db();
  absl::StatusOr<std::unique_ptr<Transaction>> read = Transaction::Begin(db, kBeginRead);
  if (!read.ok()) return read.status();
  absl::StatusOr<bool> exists = ConnectionExists(db, connection_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NotFound(connection_id);
  absl::StatusOr<std::unique_ptr<Statement>> select = db.Prepare(kSelectListingDigests);
  if (!select.ok()) return select.status();
  (*select)->BindText(1, connection_id);
  KnownListing known;
  for (;;) {
    absl::StatusOr<bool> row = (*select)->Step("reading users");
    if (!row.ok()) return row.status();
    if (!*row) break;
    known.emplace((*select)->Int(0), (*select)->Int(1));
  }
  return known;
}

namespace {

// ReadUsers reads one page of users for ListUsers and ListUserRecords:
// `emit(record)` gets each user's record in list order (the view lasts only
// for the call) and returns false when the record is unreadable.
template <typename Emit>
absl::Status ReadUsers(Db& db, const std::string& connection_id, bool show_removed,
                       const std::optional<UserKey>& after, int limit, int32_t* total_size,
                       bool* more, Emit emit) {
  // One read transaction: the count and the page come from one snapshot.
  absl::StatusOr<std::unique_ptr<Transaction>> read = Transaction::Begin(db, kBeginRead);
  if (!read.ok()) return read.status();
  {
    absl::StatusOr<std::unique_ptr<Statement>> count = db.Prepare(kSelectUserCounts);
    if (!count.ok()) return count.status();
    (*count)->BindText(1, connection_id);
    absl::StatusOr<bool> row = (*count)->Step("counting users");
    if (!row.ok()) return row.status();
    if (!*row) return NotFound(connection_id);
    *total_size = static_cast<int32_t>((*count)->Int(show_removed ? 1 : 0));
  }
  // Each state's users are one range scan of user_records.
  auto scan = [&](bool active, bool keys, auto&& on_row) -> absl::Status {
    absl::StatusOr<std::unique_ptr<Statement>> list =
        db.Prepare(keys ? (after.has_value() ? kListRecordsAfter : kListRecords)
                        : (after.has_value() ? kListActiveRecordsAfter : kListActiveRecords));
    if (!list.ok()) return list.status();
    (*list)->BindText(1, connection_id).BindInt(2, active ? 1 : 0).BindInt(3, SqlLimit(limit));
    if (after.has_value()) (*list)->BindText(4, after->email).BindInt(5, after->id);
    for (;;) {
      absl::StatusOr<bool> row = (*list)->Step("listing users");
      if (!row.ok()) return row.status();
      if (!*row || !on_row(**list)) return absl::OkStatus();
    }
  };
  int emitted = 0;
  bool readable = true;
  if (!show_removed) {
    // The common case: rows go straight from SQLite to `emit`.
    absl::Status scanned = scan(true, false, [&](Statement& row) {
      if (emitted == limit) {
        *more = true;
        return false;
      }
      ++emitted;
      readable = emit(row.View(0));
      return readable;
    });
    if (!scanned.ok()) return scanned;
    return readable ? absl::OkStatus() : UnreadableRecord("user");
  }
  // With removed users: the next rows of each state, merged in list order.
  struct Row {
    std::string email;
    int64_t id;
    std::string record;
  };
  std::vector<Row> rows[2];  // [0] removed, [1] active.
  for (int active : {0, 1}) {
    absl::Status scanned = scan(active == 1, true, [&](Statement& row) {
      rows[active].push_back({row.Bytes(0), row.Int(1), row.Bytes(2)});
      return true;
    });
    if (!scanned.ok()) return scanned;
  }
  size_t next[2] = {0, 0};
  while (next[0] < rows[0].size() || next[1] < rows[1].size()) {
    int take = next[0] == rows[0].size() ? 1 : 0;
    if (take == 0 && next[1] < rows[1].size()) {
      const Row& removed = rows[0][next[0]];
      const Row& active = rows[1][next[1]];
      int cmp = active.email.compare(removed.email);
      take = cmp < 0 || (cmp == 0 && active.id < removed.id) ? 1 : 0;
    }
    if (emitted == limit) {
      *more = true;
      break;
    }
    ++emitted;
    const Row& row = rows[take][next[take]++];
    if (!emit(row.record)) return UnreadableRecord("user");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UserPage> SqliteStore::ListUsers(const std::string& connection_id, bool show_removed,
                                                const std::optional<UserKey>& after, int limit) {
  ReadLease lease = AcquireReader();
  UserPage page;
  absl::Status read =
      ReadUsers(lease.db(), connection_id, show_removed, after, limit, &page.total_size,
                &page.more, [&](absl::string_view record) {
                  return page.users.emplace_back().ParseFromArray(record.data(),
                                                                  static_cast<int>(record.size()));
                });
  if (!read.ok()) return read;
  return page;
}

absl::StatusOr<UserRecordPage> SqliteStore::ListUserRecords(const std::string& connection_id,
                                                            bool show_removed,
                                                            const std::optional<UserKey>& after,
                                                            int limit) {
  ReadLease lease = AcquireReader();
  UserRecordPage page;
  absl::Status read =
      ReadUsers(lease.db(), connection_id, show_removed, after, limit, &page.total_size,
                &page.more, [&](absl::string_view record) {
                  page.Add(record);
                  return true;
                });
  if (!read.ok()) return read;
  if (page.size() > 0) {
    // The next page starts after the last user: its key is in its record.
    v1::User last;
    const absl::string_view bytes = page.record(page.size() - 1);
    if (!last.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return UnreadableRecord("user");
    }
    page.last = UserKey{last.email(), last.id()};
  }
  return page;
}

}  // namespace workato_connector
