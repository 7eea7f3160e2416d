#include "grpc_service.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "errors.h"
#include "log.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;
namespace {

// ContextOf gives the layers below the caller's deadline and a way to see
// that the caller has gone (cancelled, or its deadline passed).
CallContext ContextOf(grpc::CallbackServerContext* context) {
  CallContext call;
  auto deadline = context->deadline();
  if (deadline < std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    call.deadline = absl::FromChrono(deadline);
  }
  call.cancelled = [context] { return context->IsCancelled(); };
  return call;
}

}  // namespace

// The log line names the method, caller, code and connection; requests
// (which may hold a token) and caller tokens are never logged.
template <typename T>
void WorkatoConnectorService::Finish(grpc::ServerUnaryReactor* reactor, const Rpc& rpc,
                                     const std::string& connection_id, absl::StatusOr<T> result,
                                     T* response) {
  absl::Status status = result.status();
  if (result.ok()) *response = *std::move(result);
  const absl::Duration elapsed = absl::Now() - rpc.start;
  const std::string code = absl::StatusCodeToString(status.code());
  if (observer_ != nullptr) observer_->OnRpc(rpc.method, code, elapsed);
  LogFields fields = {{"rpc_method", std::string(rpc.method)},
                      {"grpc_code", code},
                      {"duration_ms", absl::StrCat(absl::ToInt64Milliseconds(elapsed))}};
  if (!rpc.caller.empty()) fields.emplace_back("caller", rpc.caller);
  if (!connection_id.empty()) fields.emplace_back("connection_id", connection_id);
  if (!status.ok()) {
    fields.emplace_back("reason", ErrorReason(status));
    fields.emplace_back("error", std::string(status.message()));
  }
  Log(status.ok() ? LogLevel::kInfo : LogLevel::kWarning, "rpc finished", fields);
  reactor->Finish(ToGrpcStatus(status));
}

absl::Status WorkatoConnectorService::Authorize(grpc::CallbackServerContext* context,
                                                CallerScope required, Rpc* rpc) {
  if (callers_ == nullptr) return absl::OkStatus();
  std::optional<absl::string_view> authorization;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = absl::string_view(it->second.data(), it->second.size());
  }
  absl::StatusOr<std::string> caller = callers_->Authorize(authorization, required, rpc->method);
  if (caller.ok()) {
    rpc->caller = *std::move(caller);
    return absl::OkStatus();
  }
  // A known caller without the scope is still named in the log.
  ErrorMetadata metadata_of_error = ErrorMetadataOf(caller.status());
  if (auto it = metadata_of_error.find("caller"); it != metadata_of_error.end()) {
    rpc->caller = it->second;
  }
  return caller.status();
}

namespace {

absl::Status Overloaded() {
  return MakeError(absl::StatusCode::kResourceExhausted, reason::kOverloaded,
                   "the server has too many calls to Workato waiting; try again shortly");
}

}  // namespace

WorkatoConnectorService::WorkatoConnectorService(Connector* connector, Executor* executor,
                                                 Observer* observer, CallerTokens* callers)
    : connector_(connector), executor_(executor), observer_(observer), callers_(callers) {}

grpc::ServerUnaryReactor* WorkatoConnectorService::Connect(grpc::CallbackServerContext* context,
                                                           const v1::ConnectRequest* request,
                                                           v1::Connection* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"Connect", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kAdmin, &rpc); !denied.ok()) {
    Finish<v1::Connection>(reactor, rpc, "", denied, response);
    return reactor;
  }
  CallContext call = ContextOf(context);
  bool queued = executor_->TrySubmit([this, reactor, request, response, rpc, call] {
    absl::StatusOr<v1::Connection> result = connector_->Connect(*request, call);
    std::string id = result.ok() ? result->id() : "";
    Finish(reactor, rpc, id, std::move(result), response);
  });
  if (!queued) {
    Finish<v1::Connection>(reactor, rpc, "", Overloaded(), response);
  }
  return reactor;
}

grpc::ServerUnaryReactor* WorkatoConnectorService::GetConnection(
    grpc::CallbackServerContext* context, const v1::GetConnectionRequest* request,
    v1::Connection* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"GetConnection", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kRead, &rpc); !denied.ok()) {
    Finish<v1::Connection>(reactor, rpc, "", denied, response);
    return reactor;
  }
  Finish(reactor, rpc, request->connection_id(), connector_->GetConnection(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* WorkatoConnectorService::ListConnections(
    grpc::CallbackServerContext* context, const v1::ListConnectionsRequest* request,
    v1::ListConnectionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"ListConnections", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kRead, &rpc); !denied.ok()) {
    Finish<v1::ListConnectionsResponse>(reactor, rpc, "", denied, response);
    return reactor;
  }
  Finish(reactor, rpc, "", connector_->ListConnections(*request), response);
  return reactor;
}

grpc::ServerUnaryReactor* WorkatoConnectorService::DeleteConnection(
    grpc::CallbackServerContext* context, const v1::DeleteConnectionRequest* request,
    v1::DeleteConnectionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"DeleteConnection", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kAdmin, &rpc); !denied.ok()) {
    Finish<v1::DeleteConnectionResponse>(reactor, rpc, "", denied, response);
    return reactor;
  }
  absl::Status deleted = connector_->DeleteConnection(*request);
  absl::StatusOr<v1::DeleteConnectionResponse> result =
      deleted.ok() ? absl::StatusOr<v1::DeleteConnectionResponse>(v1::DeleteConnectionResponse())
                   : absl::StatusOr<v1::DeleteConnectionResponse>(deleted);
  Finish(reactor, rpc, request->connection_id(), std::move(result), response);
  return reactor;
}

grpc::ServerUnaryReactor* WorkatoConnectorService::Sync(grpc::CallbackServerContext* context,
                                                        const v1::SyncRequest* request,
                                                        v1::SyncRun* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"Sync", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kAdmin, &rpc); !denied.ok()) {
    Finish<v1::SyncRun>(reactor, rpc, "", denied, response);
    return reactor;
  }
  CallContext call = ContextOf(context);
  bool queued = executor_->TrySubmit([this, reactor, request, response, rpc, call] {
    connector_->Sync(*request, call,
                     [this, reactor, request, response, rpc](absl::StatusOr<v1::SyncRun> result) {
                       Finish(reactor, rpc, request->connection_id(), std::move(result), response);
                     });
  });
  if (!queued) {
    Finish<v1::SyncRun>(reactor, rpc, request->connection_id(), Overloaded(), response);
  }
  return reactor;
}

grpc::ServerUnaryReactor* WorkatoConnectorService::ListUsers(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"ListUsers", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kRead, &rpc); !denied.ok()) {
    Finish<grpc::ByteBuffer>(reactor, rpc, "", denied, response);
    return reactor;
  }
  v1::ListUsersRequest parsed;
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request));
  if (!parsed.ParseFromZeroCopyStream(&reader)) {
    // What a typed method answers for a request it cannot parse.
    Finish<grpc::ByteBuffer>(reactor, rpc, "",
                             absl::InternalError("the request is not a ListUsersRequest"),
                             response);
    return reactor;
  }
  absl::StatusOr<std::string> wire = connector_->ListUsersWire(parsed);
  if (!wire.ok()) {
    Finish<grpc::ByteBuffer>(reactor, rpc, parsed.connection_id(), wire.status(), response);
    return reactor;
  }
  // The slice takes the string over: no copy of the page.
  auto* owned = new std::string(*std::move(wire));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* data) { delete static_cast<std::string*>(data); },
      owned);
  Finish(reactor, rpc, parsed.connection_id(),
         absl::StatusOr<grpc::ByteBuffer>(grpc::ByteBuffer(&slice, 1)), response);
  return reactor;
}

grpc::ServerUnaryReactor* WorkatoConnectorService::ListSyncRuns(
    grpc::CallbackServerContext* context, const v1::ListSyncRunsRequest* request,
    v1::ListSyncRunsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Rpc rpc{"ListSyncRuns", absl::Now(), ""};
  if (absl::Status denied = Authorize(context, CallerScope::kRead, &rpc); !denied.ok()) {
    Finish<v1::ListSyncRunsResponse>(reactor, rpc, "", denied, response);
    return reactor;
  }
  Finish(reactor, rpc, request->connection_id(), connector_->ListSyncRuns(*request), response);
  return reactor;
}

}  // namespace workato_connector
