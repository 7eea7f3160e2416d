#include "connector.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "errors.h"
#include "google/protobuf/wire_format_lite.h"
#include "log.h"
#include "page_token.h"
#include "snapshot_merge.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;
namespace {

// ReleaseFreeMemory hands memory freed after a large listing back to the
// system. A sync of 100k collaborators frees a few hundred MB (body, parsed
// document, users) in many small blocks that glibc would otherwise keep, so
// the server's RSS would stay at its peak between syncs.
void ReleaseFreeMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

namespace {

std::string NewId(absl::string_view prefix) {
  absl::BitGen gen;
  return absl::StrFormat("%s%016x", prefix, absl::Uniform<uint64_t>(gen));
}

absl::Status RequireConnectionId(const std::string& id) {
  if (id.empty()) {
    return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidConnectionId,
                     "connection_id is required");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> EffectivePageSize(int32_t requested) {
  if (requested < 0) {
    return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidPageSize,
                     absl::StrCat("page_size must not be negative, got ", requested));
  }
  if (requested == 0) return Connector::kDefaultPageSize;
  return std::min<int>(requested, Connector::kMaxPageSize);
}

bool IsAuthFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnauthenticated ||
         status.code() == absl::StatusCode::kPermissionDenied;
}

absl::Status MissingPermission(const std::vector<std::string>& groups) {
  std::string list = absl::StrJoin(groups, "\" and \"");
  return MakeError(
      absl::StatusCode::kPermissionDenied, reason::kMissingPermission,
      absl::StrCat("the token is valid but its API client role lacks the \"", list,
                   "\" permission group", groups.size() > 1 ? "s" : "",
                   "; add it in Workspace admin > API clients > Client roles and connect again"),
      {{"permission_groups", absl::StrJoin(groups, ",")}});
}

// ExplainConnectFailure decides what failed when at least one of the two
// probes did. A 401 from both means a bad token (or the wrong data center);
// any other mix of 401/403 means a valid token whose role lacks a group.
absl::Status ExplainConnectFailure(const absl::Status& details, const absl::Status& members,
                                   DataCenter dc) {
  if (!details.ok() && !IsAuthFailure(details)) return details;
  if (!members.ok() && !IsAuthFailure(members)) return members;
  if (details.code() == absl::StatusCode::kUnauthenticated &&
      members.code() == absl::StatusCode::kUnauthenticated) {
    return MakeError(
        absl::StatusCode::kUnauthenticated, reason::kTokenRejected,
        absl::StrCat("Workato's ", DataCenterName(dc),
                     " data center rejected the API token; check that the workspace signs in at "
                     "that data center and that the token was copied whole"),
        {{"data_center", DataCenterName(dc)}});
  }
  std::vector<std::string> missing;
  if (!details.ok()) missing.emplace_back(kWorkspaceDetailsGroup);
  if (!members.ok()) missing.emplace_back(kWorkspaceCollaboratorsGroup);
  return MissingPermission(missing);
}

}  // namespace

Connector::Connector(const WorkatoClient* client, Store* store, TokenCipher cipher, Clock clock,
                     int sync_history, Observer* observer)
    : client_(client),
      store_(store),
      cipher_(std::move(cipher)),
      clock_(std::move(clock)),
      sync_history_(std::max(1, sync_history)),
      observer_(observer) {}

std::pair<int, int> Connector::UserCounts(const std::string& connection_id) {
  absl::StatusOr<UserPage> active = store_->ListUsers(connection_id, false, std::nullopt, 1);
  absl::StatusOr<UserPage> all = store_->ListUsers(connection_id, true, std::nullopt, 1);
  if (!active.ok() || !all.ok()) return {0, 0};
  return {active->total_size, all->total_size - active->total_size};
}

absl::StatusOr<Connector::TokenCheck> Connector::CheckStoredTokens(const TokenCipher* previous) {
  TokenCheck check;
  std::string after;
  while (true) {
    absl::StatusOr<ConnectionPage> page = store_->ListConnections(after, kMaxPageSize);
    if (!page.ok()) return page.status();
    for (const v1::Connection& c : page->connections) {
      if (observer_ != nullptr) {
        auto [active, removed] = UserCounts(c.id());
        observer_->OnConnectionLoaded(c, active, removed);
      }
      absl::StatusOr<StoredConnection> stored = store_->GetConnection(c.id());
      if (!stored.ok()) continue;  // Deleted meanwhile.
      if (cipher_.Open(stored->sealed_token, c.id()).ok()) continue;
      absl::StatusOr<std::string> token =
          previous != nullptr ? previous->Open(stored->sealed_token, c.id())
                              : absl::StatusOr<std::string>(absl::FailedPreconditionError(""));
      if (token.ok()) {
        absl::StatusOr<std::string> sealed = cipher_.Seal(*token, c.id());
        if (!sealed.ok()) return sealed.status();
        stored->sealed_token = *std::move(sealed);
        if (absl::Status put = store_->PutConnection(*stored); !put.ok()) return put;
        ++check.resealed;
        continue;
      }
      ++check.unreadable;
      if (c.state() != v1::Connection::NEEDS_RECONNECT) {
        absl::Status marked = store_->SetConnectionState(
            c.id(), v1::Connection::NEEDS_RECONNECT,
            "the stored token cannot be decrypted with the server's token key (was the key "
            "changed without --previous_token_key_file?); Connect again with the token",
            clock_());
        if (!marked.ok()) return marked;
      }
      Log(LogLevel::kWarning, "stored token unreadable with the configured key",
          {{"connection_id", c.id()}});
    }
    if (!page->more || page->connections.empty()) break;
    after = page->connections.back().id();
  }
  return check;
}

absl::StatusOr<v1::Connection> Connector::Connect(const v1::ConnectRequest& request,
                                                  const CallContext& context) {
  const DataCenter dc = request.data_center();
  if (dc == v1::DATA_CENTER_UNSPECIFIED || DataCenterName(dc).empty()) {
    return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidDataCenter,
                     dc == v1::DATA_CENTER_UNSPECIFIED
                         ? "data_center is required: the data center your Workato workspace signs "
                           "in at (US, EU, JP, SG, AU, IL or DEVELOPER_SANDBOX)"
                         : absl::StrCat("unknown data_center value ", static_cast<int>(dc)));
  }
  if (absl::Status valid = ValidateApiToken(request.api_token()); !valid.ok()) return valid;
  const std::string& token = request.api_token();

  // The workspace (and so its request budget) is known only once
  // /api/users/me answers; until then the token's own budget is spent.
  absl::StatusOr<Workspace> workspace =
      client_->GetWorkspace(dc, token, WorkatoClient::TokenRateScope(dc, token), context);
  if (!workspace.ok() && !IsAuthFailure(workspace.status())) return workspace.status();
  absl::StatusOr<CollaboratorListing> members =
      client_->ListCollaborators(dc, token,
                                 workspace.ok() ? WorkatoClient::RateScope(dc, workspace->id)
                                                : WorkatoClient::TokenRateScope(dc, token),
                                 context);
  if (!workspace.ok() || !members.ok()) {
    return ExplainConnectFailure(workspace.status(), members.status(), dc);
  }
  // The listing only proved that the token may read collaborators; the
  // first Sync stores them.
  members = CollaboratorListing();
  ReleaseFreeMemory();
  if (context.IsCancelled()) {
    return MakeError(absl::StatusCode::kCancelled, reason::kCancelled,
                     "the caller cancelled the call; nothing was stored");
  }

  std::lock_guard<std::mutex> lock(connect_mu_);
  absl::StatusOr<std::optional<StoredConnection>> existing =
      store_->FindConnection(dc, workspace->id);
  if (!existing.ok()) return existing.status();
  const absl::Time now = clock_();
  StoredConnection stored;
  v1::Connection& c = stored.connection;
  if (existing->has_value()) {
    c = (*existing)->connection;
  } else {
    c.set_id(NewId("conn_"));
    c.set_data_center(dc);
    c.set_workspace_id(workspace->id);
    *c.mutable_create_time() = ToTimestamp(now);
  }
  c.set_workspace_name(workspace->name);
  if (!request.display_name().empty()) {
    c.set_display_name(request.display_name());
  } else if (c.display_name().empty()) {
    c.set_display_name(workspace->name);
  }
  c.set_state(v1::Connection::ACTIVE);
  c.clear_state_message();
  *c.mutable_update_time() = ToTimestamp(now);
  absl::StatusOr<std::string> sealed = cipher_.Seal(token, c.id());
  if (!sealed.ok()) return sealed.status();
  stored.sealed_token = *std::move(sealed);
  if (absl::Status put = store_->PutConnection(stored); !put.ok()) return put;
  Log(LogLevel::kInfo, existing->has_value() ? "connection token replaced" : "connection created",
      {{"connection_id", c.id()},
       {"data_center", DataCenterName(dc)},
       {"workspace_id", absl::StrCat(c.workspace_id())}});
  return store_->GetConnection(c.id()).value_or(stored).connection;
}

absl::StatusOr<v1::Connection> Connector::GetConnection(const v1::GetConnectionRequest& request) {
  if (absl::Status s = RequireConnectionId(request.connection_id()); !s.ok()) return s;
  absl::StatusOr<StoredConnection> stored = store_->GetConnection(request.connection_id());
  if (!stored.ok()) return stored.status();
  return std::move(stored->connection);
}

absl::StatusOr<v1::ListConnectionsResponse> Connector::ListConnections(
    const v1::ListConnectionsRequest& request) {
  absl::StatusOr<int> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  std::string after;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodeConnectionPageToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    after = *std::move(decoded);
  }
  absl::StatusOr<ConnectionPage> page = store_->ListConnections(after, *page_size);
  if (!page.ok()) return page.status();
  v1::ListConnectionsResponse response;
  response.set_total_size(page->total_size);
  for (v1::Connection& c : page->connections) *response.add_connections() = std::move(c);
  if (page->more && response.connections_size() > 0) {
    response.set_next_page_token(
        EncodeConnectionPageToken(response.connections(response.connections_size() - 1).id()));
  }
  return response;
}

absl::Status Connector::DeleteConnection(const v1::DeleteConnectionRequest& request) {
  if (absl::Status s = RequireConnectionId(request.connection_id()); !s.ok()) return s;
  absl::Status deleted = store_->DeleteConnection(request.connection_id());
  if (deleted.ok()) {
    Log(LogLevel::kInfo, "connection deleted", {{"connection_id", request.connection_id()}});
    if (observer_ != nullptr) observer_->OnConnectionDeleted(request.connection_id());
  }
  return deleted;
}

void Connector::Sync(const v1::SyncRequest& request, const CallContext& context,
                     SyncCallback done) {
  const std::string id = request.connection_id();
  if (absl::Status s = RequireConnectionId(id); !s.ok()) {
    done(s);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    std::vector<SyncWaiter>& waiters = syncs_in_flight_[id];
    waiters.push_back({std::move(done), context.cancelled});
    if (waiters.size() > 1) return;  // Joined the run in flight.
  }
  CallContext run_context;
  run_context.deadline = context.deadline;
  run_context.cancelled = [this, id] { return AllWaitersCancelled(id); };
  absl::StatusOr<v1::SyncRun> result = RunSync(id, run_context);
  std::vector<SyncWaiter> waiters;
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    auto it = syncs_in_flight_.find(id);
    waiters = std::move(it->second);
    syncs_in_flight_.erase(it);
  }
  for (SyncWaiter& waiter : waiters) waiter.done(result);
  ReleaseFreeMemory();
}

bool Connector::AllWaitersCancelled(const std::string& connection_id) {
  std::lock_guard<std::mutex> lock(sync_mu_);
  auto it = syncs_in_flight_.find(connection_id);
  if (it == syncs_in_flight_.end()) return false;
  for (const SyncWaiter& waiter : it->second) {
    if (!waiter.cancelled || !waiter.cancelled()) return false;
  }
  return true;
}

namespace {

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

absl::StatusOr<v1::SyncRun> Connector::RunSync(const std::string& connection_id,
                                               const CallContext& context) {
  absl::StatusOr<StoredConnection> stored = store_->GetConnection(connection_id);
  if (!stored.ok()) return stored.status();
  v1::SyncRun run;
  run.set_id(NewId("run_"));
  run.set_connection_id(connection_id);
  *run.mutable_start_time() = ToTimestamp(clock_());

  absl::Status outcome;
  // Where the time went, for the log: fetching and parsing the listing, and
  // storing it.
  int64_t listing_ms = 0;
  int64_t store_ms = 0;
  absl::StatusOr<std::string> token = cipher_.Open(stored->sealed_token, connection_id);
  if (!token.ok()) {
    outcome = MarkNeedsReconnect(
        connection_id, "the stored token cannot be decrypted with the server's key; Connect again");
  } else {
    const v1::Connection& c = stored->connection;
    const auto listing_start = std::chrono::steady_clock::now();
    // Collaborators whose JSON is as it was at the last sync are not mapped
    // again. Without the digests (a store error) every one is: slower, same
    // result.
    absl::StatusOr<KnownListing> known = store_->KnownListingDigests(connection_id);
    absl::StatusOr<CollaboratorListing> listing = client_->ListCollaborators(
        c.data_center(), *token, WorkatoClient::RateScope(c.data_center(), c.workspace_id()),
        context, known.ok() ? &*known : nullptr);
    listing_ms = MillisSince(listing_start);
    if (!listing.ok()) {
      outcome = ExplainListingFailure(*stored, *token, listing.status(), context);
    } else {
      outcome = CheckComplete(connection_id, *listing);
      if (outcome.ok() && context.IsCancelled()) {
        outcome = MakeError(absl::StatusCode::kCancelled, reason::kCancelled,
                            "every caller cancelled the sync; nothing was stored");
      }
      if (outcome.ok()) {
        const auto store_start = std::chrono::steady_clock::now();
        absl::StatusOr<SyncCounts> counts =
            store_->ApplySnapshot(connection_id, std::move(listing->users), clock_());
        store_ms = MillisSince(store_start);
        if (counts.ok()) {
          run.set_active_user_count(counts->active);
          run.set_added_count(counts->added);
          run.set_updated_count(counts->updated);
          run.set_removed_count(counts->removed);
        } else {
          outcome = counts.status();
        }
      }
    }
  }

  *run.mutable_end_time() = ToTimestamp(clock_());
  if (outcome.ok()) {
    run.set_state(v1::SyncRun::SUCCEEDED);
    if (stored->connection.state() != v1::Connection::ACTIVE) {
      // A sync that works proves the token works again.
      (void)store_->SetConnectionState(connection_id, v1::Connection::ACTIVE, "", clock_());
    }
  } else {
    run.set_state(v1::SyncRun::FAILED);
    run.set_error_reason(ErrorReason(outcome));
    run.set_error_message(std::string(outcome.message()));
  }
  if (absl::Status recorded = store_->RecordSyncRun(run, sync_history_);
      !recorded.ok() && outcome.ok()) {
    outcome = recorded;
  }
  if (observer_ != nullptr) {
    auto [active, removed] = UserCounts(connection_id);
    observer_->OnSyncFinished(run, active, removed);
  }
  Log(outcome.ok() ? LogLevel::kInfo : LogLevel::kWarning, "sync finished",
      {{"connection_id", connection_id},
       {"sync_run_id", run.id()},
       {"state", v1::SyncRun::State_Name(run.state())},
       {"active", absl::StrCat(run.active_user_count())},
       {"added", absl::StrCat(run.added_count())},
       {"updated", absl::StrCat(run.updated_count())},
       {"removed", absl::StrCat(run.removed_count())},
       {"listing_ms", absl::StrCat(listing_ms)},
       {"store_ms", absl::StrCat(store_ms)},
       {"reason", run.error_reason()}});
  if (!outcome.ok()) return outcome;
  return run;
}

absl::Status Connector::ExplainListingFailure(const StoredConnection& stored,
                                              const std::string& token, absl::Status failure,
                                              const CallContext& context) {
  if (failure.code() != absl::StatusCode::kUnauthenticated) return failure;
  // Workato answers 401 both for a dead token and for a live one lacking the
  // collaborators privilege: the other endpoint family tells them apart.
  const v1::Connection& c = stored.connection;
  absl::StatusOr<Workspace> workspace = client_->GetWorkspace(
      c.data_center(), token, WorkatoClient::RateScope(c.data_center(), c.workspace_id()), context);
  if (workspace.ok()) return MissingPermission({std::string(kWorkspaceCollaboratorsGroup)});
  if (workspace.status().code() == absl::StatusCode::kPermissionDenied) {
    return MissingPermission(
        {std::string(kWorkspaceDetailsGroup), std::string(kWorkspaceCollaboratorsGroup)});
  }
  if (workspace.status().code() != absl::StatusCode::kUnauthenticated) return workspace.status();
  return MarkNeedsReconnect(stored.connection.id(),
                            "Workato rejects the stored API token (it may have been revoked or "
                            "regenerated); Connect again with a new token");
}

absl::Status Connector::MarkNeedsReconnect(const std::string& connection_id,
                                           const std::string& why) {
  (void)store_->SetConnectionState(connection_id, v1::Connection::NEEDS_RECONNECT, why, clock_());
  return MakeError(absl::StatusCode::kFailedPrecondition, reason::kNeedsReconnect, why,
                   {{"connection_id", connection_id}});
}

absl::Status Connector::CheckComplete(const std::string& connection_id,
                                      const CollaboratorListing& listing) {
  const auto listed = static_cast<int64_t>(listing.users.size());
  if (listing.total.has_value() && *listing.total != listed) {
    return MakeError(absl::StatusCode::kUnavailable, reason::kIncompleteListing,
                     absl::StrCat("Workato's collaborator list holds ", listed,
                                  " entries but says its total is ", *listing.total,
                                  "; stored users were left unchanged, sync again later"));
  }
  if (listed == 0) {
    absl::StatusOr<UserPage> stored = store_->ListUsers(connection_id, false, std::nullopt, 1);
    if (!stored.ok()) return stored.status();
    if (stored->total_size > 0) {
      return MakeError(absl::StatusCode::kUnavailable, reason::kIncompleteListing,
                       "Workato listed no collaborators, but every workspace has at least its "
                       "owner; stored users were left unchanged, sync again later");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ListSyncRunsResponse> Connector::ListSyncRuns(
    const v1::ListSyncRunsRequest& request) {
  if (absl::Status s = RequireConnectionId(request.connection_id()); !s.ok()) return s;
  absl::StatusOr<int> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  std::optional<SyncRunKey> after;
  if (!request.page_token().empty()) {
    absl::StatusOr<SyncRunKey> key =
        DecodeSyncRunPageToken(request.page_token(), request.connection_id());
    if (!key.ok()) return key.status();
    after = *std::move(key);
  }
  absl::StatusOr<SyncRunPage> page =
      store_->ListSyncRuns(request.connection_id(), after, *page_size);
  if (!page.ok()) return page.status();
  v1::ListSyncRunsResponse response;
  for (v1::SyncRun& run : page->runs) *response.add_sync_runs() = std::move(run);
  if (page->more && response.sync_runs_size() > 0) {
    const v1::SyncRun& last = response.sync_runs(response.sync_runs_size() - 1);
    response.set_next_page_token(EncodeSyncRunPageToken(
        request.connection_id(),
        SyncRunKey{absl::ToUnixMicros(absl::FromUnixSeconds(last.start_time().seconds()) +
                                      absl::Nanoseconds(last.start_time().nanos())),
                   last.id()}));
  }
  return response;
}

absl::StatusOr<std::string> Connector::ListUsersWire(const v1::ListUsersRequest& request) {
  if (absl::Status s = RequireConnectionId(request.connection_id()); !s.ok()) return s;
  absl::StatusOr<int> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  std::optional<UserKey> after;
  if (!request.page_token().empty()) {
    absl::StatusOr<UserKey> key =
        DecodeUserPageToken(request.page_token(), request.connection_id(), request.show_removed());
    if (!key.ok()) return key.status();
    after = *std::move(key);
  }
  absl::StatusOr<UserRecordPage> page =
      store_->ListUserRecords(request.connection_id(), request.show_removed(), after, *page_size);
  if (!page.ok()) return page.status();
  // ListUsersResponse on the wire: each user as field 1 (its stored record
  // is a serialized User), then next_page_token (2) and total_size (3) -
  // the order protobuf itself writes them in.
  using google::protobuf::internal::WireFormatLite;
  constexpr uint8_t kUsersTag = WireFormatLite::MakeTag(
      v1::ListUsersResponse::kUsersFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  static_assert(kUsersTag < 0x80, "a one-byte tag");
  std::string wire;
  wire.reserve(page->data.size() + 6 * page->size() + 128);
  for (size_t i = 0; i < page->size(); ++i) {
    const absl::string_view record = page->record(i);
    wire.push_back(static_cast<char>(kUsersTag));
    for (uint64_t size = record.size(); ; size >>= 7) {  // Varint.
      if (size < 0x80) {
        wire.push_back(static_cast<char>(size));
        break;
      }
      wire.push_back(static_cast<char>((size & 0x7f) | 0x80));
    }
    wire.append(record.data(), record.size());
  }
  v1::ListUsersResponse tail;
  tail.set_total_size(page->total_size);
  if (page->more && page->size() > 0) {
    tail.set_next_page_token(
        EncodeUserPageToken(request.connection_id(), request.show_removed(), page->last));
  }
  tail.AppendToString(&wire);
  return wire;
}

absl::StatusOr<v1::ListUsersResponse> Connector::ListUsers(const v1::ListUsersRequest& request) {
  absl::StatusOr<std::string> wire = ListUsersWire(request);
  if (!wire.ok()) return wire.status();
  v1::ListUsersResponse response;
  if (!response.ParseFromString(*wire)) {
    return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError,
                     "storage: a stored user cannot be parsed; the database may be damaged");
  }
  return response;
}

}  // namespace workato_connector
