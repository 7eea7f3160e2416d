// bench-micro: Google Benchmark micro-benchmarks of the server's hot pieces
// (issue 7), run by scripts/bench.sh with --benchmark_out=... (JSON).
//
// Each benchmark is small and uses only the server functions named in its
// comment, so that a change to one of them touches one benchmark:
//
//   BM_ParseCollaborators/N   workato_json.h: ParseCollaborators()
//   BM_ParseCollaboratorsInPlace/N
//                             workato_json.h: ParseCollaboratorsInPlace() (the
//                             body's copy, made for each iteration, not timed)
//   BM_EncodeUserPageToken    page_token.h:   EncodeUserPageToken()
//   BM_DecodeUserPageToken    page_token.h:   EncodeUserPageToken(), DecodeUserPageToken()
//   BM_ApplySnapshotFirst/N   sqlite_store.h: SqliteStore::Open(), PutConnection(),
//                             ApplySnapshot() (store.h: StoredConnection)
//   BM_ApplySnapshotUnchanged/N, BM_ApplySnapshotChanged1pct/N
//                             the same, on a store already holding the N users;
//                             Changed1pct also user_record.h: ToUser(),
//                             ToListedUser() to rename 1% of the users
//
// The store benchmarks get their users from ListedUsers() below (which goes
// through ParseCollaborators(), as a sync does, so it is whatever type
// CollaboratorListing::users is); if the type ApplySnapshot() takes changes,
// ListedUsers() and Changed() are the places to adapt.
//
// Bodies come from the Workato stand-in: GenerateCollaborators() and
// MembersJson() in tests/fake_workato/fake_workato.h, the same JSON the
// end-to-end benchmark's bench-workato serves.

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fake_workato/fake_workato.h"
#include "page_token.h"
#include "sqlite_store.h"
#include "store.h"
#include "user_record.h"
#include "workato/connector/v1/connector.pb.h"
#include "workato_json.h"

namespace wc = workato_connector;
namespace wt = workato_connector::testing;
namespace v1 = workato::connector::v1;

namespace {

// The /api/members body for `n` generated collaborators (seed 1).
std::string MembersBody(int n) { return wt::MembersJson(wt::GenerateCollaborators(n, 1)); }

// --- (a) parsing and mapping a collaborator list -----------------------------

void BM_ParseCollaborators(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = MembersBody(n);
  for (auto _ : state) {
    absl::StatusOr<wc::CollaboratorListing> listing = wc::ParseCollaborators(body);
    if (!listing.ok()) {
      state.SkipWithError(std::string(listing.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(listing);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_ParseCollaborators)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_ParseCollaboratorsInPlace(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = MembersBody(n);
  for (auto _ : state) {
    state.PauseTiming();
    std::string copy = body;
    state.ResumeTiming();
    absl::StatusOr<wc::CollaboratorListing> listing = wc::ParseCollaboratorsInPlace(&copy);
    if (!listing.ok()) {
      state.SkipWithError(std::string(listing.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(listing);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseCollaboratorsInPlace)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// --- (b) page tokens -----------------------------------------------------------

const char kConnectionId[] = "conn_0123456789abcdef";

wc::UserKey SampleKey() {
  wc::UserKey key;
  key.email = "Zoë.Ångström.12345@acme.example";
  key.id = 9'007'199'254'740'993;
  return key;
}

void BM_EncodeUserPageToken(benchmark::State& state) {
  const std::string connection = kConnectionId;
  const wc::UserKey key = SampleKey();
  for (auto _ : state) {
    std::string token = wc::EncodeUserPageToken(connection, false, key);
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeUserPageToken);

void BM_DecodeUserPageToken(benchmark::State& state) {
  const std::string connection = kConnectionId;
  const std::string token = wc::EncodeUserPageToken(connection, false, SampleKey());
  for (auto _ : state) {
    absl::StatusOr<wc::UserKey> key = wc::DecodeUserPageToken(token, connection, false);
    if (!key.ok()) {
      state.SkipWithError(std::string(key.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(key);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeUserPageToken);

// --- (c) the SQLite store's snapshot write --------------------------------------

// What ApplySnapshot() takes: a listing's users.
using Listed = decltype(wc::CollaboratorListing::users);

// The users a sync of `n` generated collaborators hands to ApplySnapshot().
Listed ListedUsers(int n) {
  absl::StatusOr<wc::CollaboratorListing> listing = wc::ParseCollaborators(MembersBody(n));
  if (!listing.ok()) return {};
  return std::move(listing->users);
}

// `users` with every 100th one renamed (1% changed), `generation` making
// each call's names differ from the previous one's.
Listed Changed(Listed users, int generation) {
  for (size_t i = 0; i < users.size(); i += 100) {
    v1::User user;
    if (!wc::ToUser(users[i], &user)) continue;
    user.set_name(absl::StrCat("Changed", generation, " ", user.name()));
    users[i] = wc::ToListedUser(user);
  }
  return users;
}

// A fresh SQLite database in its own temp directory, holding one connection;
// everything is removed when it goes away.
class TempStore {
 public:
  TempStore() {
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "bench-micro-XXXXXX").string();
    if (mkdtemp(dir_template.data()) == nullptr) return;
    dir_ = dir_template;
    wc::SqliteStoreOptions options;
    options.path = dir_ + "/connector.db";
    absl::StatusOr<std::unique_ptr<wc::SqliteStore>> store = wc::SqliteStore::Open(options);
    if (!store.ok()) return;
    wc::StoredConnection c;
    c.connection.set_id(kConnectionId);
    c.connection.set_data_center(v1::DATA_CENTER_US);
    c.connection.set_workspace_id(1234567);
    c.connection.set_display_name("bench");
    c.connection.set_state(v1::Connection::ACTIVE);
    c.sealed_token = "sealed";
    if (!(*store)->PutConnection(c).ok()) return;
    store_ = *std::move(store);
  }
  ~TempStore() {
    store_.reset();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  wc::SqliteStore* get() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<wc::SqliteStore> store_;
};

// Applies `users`; false (and the benchmark skipped) on an error. The
// counts of the last call are the benchmark's added/updated counters, to
// check that the run did what it says.
bool Apply(benchmark::State& state, wc::SqliteStore* store, Listed users) {
  absl::StatusOr<wc::SyncCounts> counts =
      store->ApplySnapshot(kConnectionId, std::move(users), absl::Now());
  if (!counts.ok()) {
    state.SkipWithError(std::string(counts.status().message()).c_str());
    return false;
  }
  state.counters["added"] = counts->added;
  state.counters["updated"] = counts->updated;
  return true;
}

// First write: N users into an empty connection of a new database. Opening
// the database and copying the users are not timed.
void BM_ApplySnapshotFirst(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Listed users = ListedUsers(n);
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_unique<TempStore>();
    Listed copy = users;
    state.ResumeTiming();
    if (store->get() == nullptr) {
      state.SkipWithError("cannot open the store");
      break;
    }
    if (!Apply(state, store->get(), std::move(copy))) break;
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ApplySnapshotFirst)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Re-apply of the same N users (nothing changed).
void BM_ApplySnapshotUnchanged(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Listed users = ListedUsers(n);
  TempStore store;
  if (store.get() == nullptr || !Apply(state, store.get(), users)) {
    if (store.get() == nullptr) state.SkipWithError("cannot open the store");
    return;
  }
  for (auto _ : state) {
    state.PauseTiming();
    Listed copy = users;
    state.ResumeTiming();
    if (!Apply(state, store.get(), std::move(copy))) break;
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ApplySnapshotUnchanged)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Re-apply with 1% of the N users changed since the stored snapshot.
void BM_ApplySnapshotChanged1pct(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Listed users = ListedUsers(n);
  TempStore store;
  if (store.get() == nullptr || !Apply(state, store.get(), users)) {
    if (store.get() == nullptr) state.SkipWithError("cannot open the store");
    return;
  }
  int generation = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Listed changed = Changed(users, ++generation);
    state.ResumeTiming();
    if (!Apply(state, store.get(), std::move(changed))) break;
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ApplySnapshotChanged1pct)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
