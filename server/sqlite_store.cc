#include "sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
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

// Migration N (1-based) brings the schema from version N-1 to N. Append only:
// a database records the version it has reached in PRAGMA user_version.
//
// Records are serialized protos so that fields added to the API need no
// migration; the other columns exist to be indexed. Emails and ids compare
// with SQLite's BINARY collation (memcmp), the same bytewise order as
// UserKeyLess and std::string.
constexpr const char* kMigrations[] = {
    R"sql(
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

  // Bind* set parameter `index` (1-based); the first failure is reported by Step.
  Statement& BindInt(int index, int64_t value) {
    return Check(sqlite3_bind_int64(statement_, index, value));
  }
  Statement& BindText(int index, absl::string_view value) {
    return Check(sqlite3_bind_text64(statement_, index, value.data(), value.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  // BindBlob never binds NULL: data() of an empty string_view may be null,
  // which SQLite would take for NULL.
  Statement& BindBlob(int index, absl::string_view value) {
    if (value.empty()) return Check(sqlite3_bind_zeroblob(statement_, index, 0));
    return Check(
        sqlite3_bind_blob64(statement_, index, value.data(), value.size(), SQLITE_TRANSIENT));
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

constexpr char kSelectUsers[] = "SELECT id, record FROM users WHERE connection_id = ?1";
constexpr char kUpsertUser[] =
    "INSERT INTO users (connection_id, id, email, active, record) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (connection_id, id) DO UPDATE SET email = excluded.email,"
    " active = excluded.active, record = excluded.record";
constexpr char kCountUsers[] = "SELECT COUNT(*) FROM users WHERE connection_id = ?1";
constexpr char kCountActiveUsers[] =
    "SELECT COUNT(*) FROM users WHERE connection_id = ?1 AND active = 1";
// Keyset pages: a range scan of users_by_email / users_active_by_email.
constexpr char kListUsers[] =
    "SELECT record FROM users WHERE connection_id = ?1 ORDER BY email, id LIMIT ?2";
constexpr char kListUsersAfter[] =
    "SELECT record FROM users WHERE connection_id = ?1 AND (email, id) > (?3, ?4)"
    " ORDER BY email, id LIMIT ?2";
constexpr char kListActiveUsers[] =
    "SELECT record FROM users WHERE connection_id = ?1 AND active = 1"
    " ORDER BY email, id LIMIT ?2";
constexpr char kListActiveUsersAfter[] =
    "SELECT record FROM users WHERE connection_id = ?1 AND active = 1"
    " AND (email, id) > (?3, ?4) ORDER BY email, id LIMIT ?2";

// ConnectionExists looks the connection up inside the caller's transaction.
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
    if (int rc = sqlite3_exec(db.get(), kMigrations[version], nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
      return StorageError(rc, db.get(), absl::StrCat("migrating to schema ", version + 1));
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

SqliteStore::~SqliteStore() = default;

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(SqliteStoreOptions options) {
  if (options.path.empty()) {
    return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                     "storage: no database path given");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  absl::StatusOr<std::unique_ptr<Db>> writer = OpenWriter(options);
  if (!writer.ok()) return OpenFailure(writer.status(), options.path);
  store->writer_ = *std::move(writer);
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
  absl::StatusOr<std::unique_ptr<Statement>> erase = writer_->Prepare(kDeleteConnection);
  if (!erase.ok()) return erase.status();
  (*erase)->BindText(1, id);
  // One statement, one implicit transaction: the cascade to users and
  // sync_runs is all or nothing.
  if (absl::Status s = (*erase)->Run("deleting a connection"); !s.ok()) return s;
  if (sqlite3_changes(writer_->get()) == 0) return NotFound(id);
  return absl::OkStatus();
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
                                                      std::vector<v1::User> listed,
                                                      absl::Time now) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Db& db = *writer_;
  // One write transaction from the existence check to the last row: readers
  // see the old users or the new ones, and an error leaves the old ones.
  absl::StatusOr<std::unique_ptr<Transaction>> write = Transaction::Begin(db, kBeginWrite);
  if (!write.ok()) return write.status();
  absl::StatusOr<bool> exists = ConnectionExists(db, connection_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NotFound(connection_id);

  std::vector<v1::User> stored;
  // The stored bytes of each user: a merged user whose bytes are the same is
  // not written, so a re-sync writes only what changed.
  std::unordered_map<int64_t, std::string> stored_bytes;
  {
    absl::StatusOr<std::unique_ptr<Statement>> select = db.Prepare(kSelectUsers);
    if (!select.ok()) return select.status();
    (*select)->BindText(1, connection_id);
    for (;;) {
      absl::StatusOr<bool> row = (*select)->Step("reading users");
      if (!row.ok()) return row.status();
      if (!*row) break;
      std::string bytes = (*select)->Bytes(1);
      v1::User& user = stored.emplace_back();
      if (!user.ParseFromString(bytes)) return UnreadableRecord("user");
      stored_bytes.emplace((*select)->Int(0), std::move(bytes));
    }
  }
  MergedSnapshot merged = MergeSnapshot(stored, std::move(listed), now);
  stored.clear();

  absl::StatusOr<std::unique_ptr<Statement>> upsert = db.Prepare(kUpsertUser);
  if (!upsert.ok()) return upsert.status();
  Statement& s = **upsert;
  for (const v1::User& user : merged.users) {
    absl::StatusOr<std::string> bytes = Serialize(user, "user");
    if (!bytes.ok()) return bytes.status();
    auto it = stored_bytes.find(user.id());
    if (it != stored_bytes.end() && it->second == *bytes) continue;
    s.BindText(1, connection_id)
        .BindInt(2, user.id())
        .BindText(3, user.email())
        .BindInt(4, user.state() == v1::User::ACTIVE ? 1 : 0)
        .BindBlob(5, *bytes);
    if (absl::Status written = s.Run("storing users"); !written.ok()) return written;
    s.Reset();
  }
  if (absl::Status committed = (*write)->Commit(); !committed.ok()) return committed;
  return merged.counts;
}

absl::StatusOr<UserPage> SqliteStore::ListUsers(const std::string& connection_id, bool show_removed,
                                                const std::optional<UserKey>& after, int limit) {
  ReadLease lease = AcquireReader();
  Db& db = lease.db();
  // One read transaction: the count and the page come from one snapshot.
  absl::StatusOr<std::unique_ptr<Transaction>> read = Transaction::Begin(db, kBeginRead);
  if (!read.ok()) return read.status();
  absl::StatusOr<bool> exists = ConnectionExists(db, connection_id);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NotFound(connection_id);

  UserPage page;
  {
    absl::StatusOr<std::unique_ptr<Statement>> count =
        db.Prepare(show_removed ? kCountUsers : kCountActiveUsers);
    if (!count.ok()) return count.status();
    (*count)->BindText(1, connection_id);
    absl::StatusOr<bool> row = (*count)->Step("counting users");
    if (!row.ok()) return row.status();
    page.total_size = static_cast<int32_t>((*count)->Int(0));
  }
  const char* sql = show_removed ? (after.has_value() ? kListUsersAfter : kListUsers)
                                 : (after.has_value() ? kListActiveUsersAfter : kListActiveUsers);
  absl::StatusOr<std::unique_ptr<Statement>> list = db.Prepare(sql);
  if (!list.ok()) return list.status();
  (*list)->BindText(1, connection_id).BindInt(2, SqlLimit(limit));
  if (after.has_value()) (*list)->BindText(3, after->email).BindInt(4, after->id);
  if (absl::Status listed = ReadPage(**list, limit, "user", &page.users, &page.more);
      !listed.ok()) {
    return listed;
  }
  return page;
}

}  // namespace workato_connector
