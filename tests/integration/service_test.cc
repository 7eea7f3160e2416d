// End to end: the real server (ConnectorServer, CurlFetcher, MemoryStore) on
// a loopback port, the Workato stand-in on another, and real gRPC channels.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "connector_server.h"
#include "fake_workato/fake_workato.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "testing/grpc_status.h"
#include "testing/reflection.h"
#include "workato/connector/v1/connector.grpc.pb.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using testing::Endpoint;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;
using ::testing::HasSubstr;
using testing::LengthDelimited;
using ::testing::Not;
using testing::ReasonOf;
using testing::ReflectionCall;

constexpr char kToken[] = "wrk-test-token-0123456789";
constexpr char kOtherToken[] = "wrk-test-token-other-999";

// ReasonOf returns the ErrorInfo reason in a gRPC error's details.

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeWorkspace ws;
    ws.id = 3000000007;  // Above 2^31.
    ws.name = "Acme";
    ws.collaborators = GenerateCollaborators(25, 7);
    workato_.SetWorkspace(kToken, ws);
    ASSERT_GT(workato_.Start(), 0);
    StartServer();
  }

  void StartServer() {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
    options.executor_threads = 4;
    options.curl.request_timeout = absl::Seconds(20);
    // Real retries, quick backoff: a test waits milliseconds, not seconds.
    options.workato.initial_backoff = absl::Milliseconds(5);
    options.workato.max_backoff = absl::Milliseconds(20);
    auto server = ConnectorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::WorkatoConnector::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
    return context;
  }

  grpc::Status Connect(const std::string& token, v1::Connection* out,
                       v1::DataCenter dc = v1::DATA_CENTER_US) {
    v1::ConnectRequest request;
    request.set_data_center(dc);
    request.set_api_token(token);
    return stub_->Connect(Context().get(), request, out);
  }

  grpc::Status Sync(const std::string& id, v1::SyncRun* out) {
    v1::SyncRequest request;
    request.set_connection_id(id);
    return stub_->Sync(Context().get(), request, out);
  }

  std::vector<v1::User> AllUsers(const std::string& id, bool show_removed, int page_size = 7) {
    std::vector<v1::User> users;
    v1::ListUsersRequest request;
    request.set_connection_id(id);
    request.set_show_removed(show_removed);
    request.set_page_size(page_size);
    do {
      v1::ListUsersResponse response;
      grpc::Status status = stub_->ListUsers(Context().get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      users.insert(users.end(), response.users().begin(), response.users().end());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return users;
  }

  std::string ConnectedAndSynced() {
    v1::Connection connection;
    EXPECT_TRUE(Connect(kToken, &connection).ok());
    v1::SyncRun run;
    EXPECT_TRUE(Sync(connection.id(), &run).ok());
    return connection.id();
  }

  FakeWorkato workato_;
  std::unique_ptr<ConnectorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkatoConnector::Stub> stub_;
};

TEST_F(ServiceTest, ConnectSyncAndListEveryField) {
  v1::Connection connection;
  grpc::Status status = Connect(kToken, &connection);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(connection.workspace_id(), 3000000007);
  EXPECT_EQ(connection.workspace_name(), "Acme");
  EXPECT_EQ(connection.state(), v1::Connection::ACTIVE);
  EXPECT_EQ(workato_.LastAuthorizationHeader(), absl::StrCat("Bearer ", kToken));

  v1::SyncRun run;
  status = Sync(connection.id(), &run);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(run.state(), v1::SyncRun::SUCCEEDED);
  EXPECT_EQ(run.active_user_count(), 25);
  EXPECT_EQ(run.added_count(), 25);

  std::vector<v1::User> users = AllUsers(connection.id(), false);
  ASSERT_EQ(users.size(), 25u);
  const auto expected = GenerateCollaborators(25, 7);
  int without_visit = 0;
  for (const auto& want : expected) {
    auto it = std::find_if(users.begin(), users.end(),
                           [&](const v1::User& u) { return u.id() == want.id; });
    ASSERT_NE(it, users.end()) << want.id;
    EXPECT_EQ(it->email(), want.email);
    EXPECT_EQ(it->name(), want.name);
    EXPECT_EQ(it->grant_type(), want.grant_type);
    EXPECT_EQ(it->time_zone(), want.time_zone);
    EXPECT_EQ(it->external_id(), want.external_id.value_or(""));
    EXPECT_EQ(it->state(), v1::User::ACTIVE);
    EXPECT_EQ(it->has_last_visit_time(), want.last_activity_at.has_value());
    without_visit += want.last_activity_at.has_value() ? 0 : 1;
    EXPECT_TRUE(it->has_create_time());
    ASSERT_EQ(it->roles_size(), static_cast<int>(want.roles.size()));
    for (size_t r = 0; r < want.roles.size(); ++r) {
      EXPECT_EQ(it->roles(static_cast<int>(r)).environment(), want.roles[r].environment_type);
      EXPECT_EQ(it->roles(static_cast<int>(r)).role_name(), want.roles[r].role_name);
      EXPECT_EQ(it->roles(static_cast<int>(r)).role_type(), want.roles[r].role_type.value_or(""));
    }
    ASSERT_EQ(it->licenses_size(), 1);
    EXPECT_EQ(it->licenses(0), "Workato");
  }
  EXPECT_GT(without_visit, 0);  // The stand-in sends null last_activity_log for some.
}

TEST_F(ServiceTest, LocalValidationErrors) {
  v1::Connection out;
  grpc::Status status = Connect(kToken, &out, v1::DATA_CENTER_UNSPECIFIED);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "INVALID_DATA_CENTER");
  status = Connect(kToken, &out, static_cast<v1::DataCenter>(77));
  EXPECT_EQ(ReasonOf(status), "INVALID_DATA_CENTER");
  for (const std::string& token :
       {std::string(), std::string("has space"), std::string("ctl\x01"), std::string(1025, 'a')}) {
    status = Connect(token, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ReasonOf(status), "INVALID_API_TOKEN");
  }
  EXPECT_EQ(workato_.RequestCount(Endpoint::kUsersMe) + workato_.RequestCount(Endpoint::kMembers),
            0);
}

TEST_F(ServiceTest, RejectedTokenAndMissingPermissions) {
  v1::Connection out;
  grpc::Status status = Connect("wrk-not-a-real-token", &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "TOKEN_REJECTED");
  EXPECT_THAT(status.error_message(), HasSubstr("data center"));

  FakeWorkspace ws;
  ws.id = 55;
  ws.name = "No members";
  ws.can_read_collaborators = false;  // 403
  workato_.SetWorkspace(kOtherToken, ws);
  status = Connect(kOtherToken, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(status), "MISSING_PERMISSION");
  EXPECT_THAT(status.error_message(), HasSubstr("Workspace collaborators"));

  ws.can_read_collaborators = true;
  ws.can_read_details = false;
  ws.missing_privilege_as_401 = true;  // Workato's quirk: 401 for a valid token.
  workato_.SetWorkspace(kOtherToken, ws);
  status = Connect(kOtherToken, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("Workspace details"));
}

TEST_F(ServiceTest, UnknownConnectionIsNotFoundEverywhere) {
  v1::Connection connection;
  v1::GetConnectionRequest get;
  get.set_connection_id("conn_nope");
  grpc::Status status = stub_->GetConnection(Context().get(), get, &connection);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(status), "CONNECTION_NOT_FOUND");
  v1::SyncRun run;
  EXPECT_EQ(Sync("conn_nope", &run).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListUsersRequest list;
  list.set_connection_id("conn_nope");
  v1::ListUsersResponse users;
  EXPECT_EQ(stub_->ListUsers(Context().get(), list, &users).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::DeleteConnectionRequest del;
  del.set_connection_id("conn_nope");
  v1::DeleteConnectionResponse deleted;
  EXPECT_EQ(stub_->DeleteConnection(Context().get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  get.clear_connection_id();
  EXPECT_EQ(stub_->GetConnection(Context().get(), get, &connection).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, FailedSyncsLeaveStoredUsersExactlyAsTheyWere) {
  const std::string id = ConnectedAndSynced();
  const std::vector<v1::User> before = AllUsers(id, true);
  ASSERT_EQ(before.size(), 25u);
  auto expect_unchanged = [&](const std::string& what) {
    std::vector<v1::User> after = AllUsers(id, true);
    ASSERT_EQ(after.size(), before.size()) << what;
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString()) << what;
    }
  };
  v1::SyncRun run;

  workato_.FailNext(Endpoint::kMembers, 503, R"({"message":"down"})", 4);  // Every attempt.
  grpc::Status status = Sync(id, &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "WORKATO_UNAVAILABLE");
  expect_unchanged("503");

  workato_.SetMembersBodyOverride(R"({"data": [{"id": 1, "email": "x@y"}], "total": 25})");
  status = Sync(id, &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "INCOMPLETE_LISTING");
  expect_unchanged("total mismatch");

  workato_.SetMembersBodyOverride(R"({"data": [], "total": 0})");
  status = Sync(id, &run);
  EXPECT_EQ(ReasonOf(status), "INCOMPLETE_LISTING");
  expect_unchanged("empty listing");

  workato_.SetMembersBodyOverride(R"({"data": [{"id": 1, "email": "x@y"})");
  status = Sync(id, &run);
  EXPECT_EQ(ReasonOf(status), "WORKATO_BAD_RESPONSE");
  expect_unchanged("cut short");
  workato_.SetMembersBodyOverride(std::nullopt);

  workato_.Stop();
  status = Sync(id, &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  expect_unchanged("Workato down");
}

TEST_F(ServiceTest, RevokedTokenAsksToReconnectThenRotationFixesIt) {
  const std::string id = ConnectedAndSynced();
  workato_.RemoveToken(kToken);
  v1::SyncRun run;
  grpc::Status status = Sync(id, &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "NEEDS_RECONNECT");
  v1::GetConnectionRequest get;
  get.set_connection_id(id);
  v1::Connection connection;
  ASSERT_TRUE(stub_->GetConnection(Context().get(), get, &connection).ok());
  EXPECT_EQ(connection.state(), v1::Connection::NEEDS_RECONNECT);
  EXPECT_EQ(connection.last_sync().state(), v1::SyncRun::FAILED);
  EXPECT_EQ(AllUsers(id, false).size(), 25u);  // Nothing lost.

  // The admin issues a new token for the same workspace: same connection.
  FakeWorkspace ws;
  ws.id = 3000000007;
  ws.name = "Acme";
  ws.collaborators = GenerateCollaborators(25, 7);
  workato_.SetWorkspace(kOtherToken, ws);
  ASSERT_TRUE(Connect(kOtherToken, &connection).ok());
  EXPECT_EQ(connection.id(), id);
  EXPECT_EQ(connection.state(), v1::Connection::ACTIVE);
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(workato_.LastAuthorizationHeader(), absl::StrCat("Bearer ", kOtherToken));
}

TEST_F(ServiceTest, RemovedUsersAndComebacks) {
  const std::string id = ConnectedAndSynced();
  FakeWorkspace ws;
  ws.id = 3000000007;
  ws.name = "Acme";
  auto all = GenerateCollaborators(25, 7);
  ws.collaborators.assign(all.begin(), all.begin() + 20);
  workato_.SetWorkspace(kToken, ws);
  v1::SyncRun run;
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.removed_count(), 5);
  EXPECT_EQ(AllUsers(id, false).size(), 20u);
  std::vector<v1::User> with_removed = AllUsers(id, true);
  ASSERT_EQ(with_removed.size(), 25u);
  int removed = 0;
  for (const auto& user : with_removed) {
    if (user.state() != v1::User::REMOVED) continue;
    ++removed;
    EXPECT_TRUE(user.has_removed_time());
    EXPECT_EQ(user.licenses_size(), 0);
  }
  EXPECT_EQ(removed, 5);
  ws.collaborators = all;
  workato_.SetWorkspace(kToken, ws);
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.updated_count(), 5);
  EXPECT_EQ(run.added_count(), 0);
  EXPECT_EQ(AllUsers(id, false).size(), 25u);
}

TEST_F(ServiceTest, PagingRules) {
  const std::string id = ConnectedAndSynced();
  v1::ListUsersRequest request;
  request.set_connection_id(id);
  request.set_page_size(-5);
  v1::ListUsersResponse response;
  grpc::Status status = stub_->ListUsers(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "INVALID_PAGE_SIZE");

  request.set_page_size(10);
  ASSERT_TRUE(stub_->ListUsers(Context().get(), request, &response).ok());
  EXPECT_EQ(response.users_size(), 10);
  EXPECT_EQ(response.total_size(), 25);
  request.set_page_token(response.next_page_token());
  request.set_show_removed(true);  // Another filter: the token does not apply.
  status = stub_->ListUsers(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "INVALID_PAGE_TOKEN");
  request.set_page_token("garbage!");
  EXPECT_EQ(ReasonOf(stub_->ListUsers(Context().get(), request, &response)), "INVALID_PAGE_TOKEN");

  // Every page size walks the same users in the same order.
  std::vector<v1::User> by_one = AllUsers(id, false, 1);
  std::vector<v1::User> by_all = AllUsers(id, false, 1000);
  ASSERT_EQ(by_one.size(), 25u);
  ASSERT_EQ(by_all.size(), 25u);
  for (size_t i = 0; i < by_one.size(); ++i) EXPECT_EQ(by_one[i].id(), by_all[i].id());
}

TEST_F(ServiceTest, SeveralAccountsAtOnce) {
  FakeWorkspace other;
  other.id = 77;
  other.name = "Other Co";
  other.collaborators = GenerateCollaborators(4, 99);
  workato_.SetWorkspace(kOtherToken, other);
  v1::Connection a, b;
  ASSERT_TRUE(Connect(kToken, &a).ok());
  ASSERT_TRUE(Connect(kOtherToken, &b).ok());
  EXPECT_NE(a.id(), b.id());
  v1::SyncRun run;
  ASSERT_TRUE(Sync(a.id(), &run).ok());
  ASSERT_TRUE(Sync(b.id(), &run).ok());
  EXPECT_EQ(AllUsers(a.id(), false).size(), 25u);
  EXPECT_EQ(AllUsers(b.id(), false).size(), 4u);

  v1::ListConnectionsRequest list;
  list.set_page_size(1);
  std::vector<std::string> ids;
  do {
    v1::ListConnectionsResponse response;
    ASSERT_TRUE(stub_->ListConnections(Context().get(), list, &response).ok());
    EXPECT_EQ(response.total_size(), 2);
    for (const auto& c : response.connections()) ids.push_back(c.id());
    list.set_page_token(response.next_page_token());
  } while (!list.page_token().empty());
  EXPECT_EQ(ids.size(), 2u);

  v1::DeleteConnectionRequest del;
  del.set_connection_id(a.id());
  v1::DeleteConnectionResponse deleted;
  ASSERT_TRUE(stub_->DeleteConnection(Context().get(), del, &deleted).ok());
  v1::ListUsersRequest users;
  users.set_connection_id(a.id());
  v1::ListUsersResponse response;
  EXPECT_EQ(stub_->ListUsers(Context().get(), users, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(AllUsers(b.id(), false).size(), 4u);
}

TEST_F(ServiceTest, ConcurrentSyncsShareOneRun) {
  v1::Connection connection;
  ASSERT_TRUE(Connect(kToken, &connection).ok());
  workato_.Reset();
  workato_.SetDelay(Endpoint::kMembers, absl::Milliseconds(500));
  auto sync = [&] {
    v1::SyncRun run;
    grpc::Status status = Sync(connection.id(), &run);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return run;
  };
  auto first = std::async(std::launch::async, sync);
  auto second = std::async(std::launch::async, sync);
  v1::SyncRun a = first.get();
  v1::SyncRun b = second.get();
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers), 1);
}

TEST_F(ServiceTest, TokenNeverInResponsesOrLogs) {
  ::testing::internal::CaptureStderr();
  std::string seen;
  v1::Connection connection;
  (void)Connect(kToken, &connection);
  seen += connection.SerializeAsString();
  v1::SyncRun run;
  (void)Sync(connection.id(), &run);
  seen += run.SerializeAsString();
  grpc::Status bad = Connect(absl::StrCat(kToken, "x"), &connection);
  seen += bad.error_message() + bad.error_details();
  grpc::Status invalid = Connect(absl::StrCat(kToken, " x"), &connection);
  seen += invalid.error_message() + invalid.error_details();
  v1::ListConnectionsResponse connections;
  (void)stub_->ListConnections(Context().get(), v1::ListConnectionsRequest(), &connections);
  seen += connections.SerializeAsString();
  for (const auto& user : AllUsers(connection.id(), true)) seen += user.SerializeAsString();
  v1::GetConnectionRequest get;
  get.set_connection_id(connection.id());
  v1::Connection got;
  (void)stub_->GetConnection(Context().get(), get, &got);
  seen += got.SerializeAsString();
  v1::ListSyncRunsRequest runs_request;
  runs_request.set_connection_id(connection.id());
  v1::ListSyncRunsResponse runs;
  (void)stub_->ListSyncRuns(Context().get(), runs_request, &runs);
  seen += runs.SerializeAsString();
  workato_.RemoveToken(kToken);
  grpc::Status revoked = Sync(connection.id(), &run);
  seen += revoked.error_message() + revoked.error_details();
  v1::DeleteConnectionRequest del;
  del.set_connection_id(connection.id());
  v1::DeleteConnectionResponse deleted;
  (void)stub_->DeleteConnection(Context().get(), del, &deleted);
  grpc::Status gone = stub_->DeleteConnection(Context().get(), del, &deleted);
  seen += gone.error_message() + gone.error_details();
  std::string logs = ::testing::internal::GetCapturedStderr();
  // Every RPC was logged, each line one JSON object with the core fields.
  for (const char* method : {"Connect", "Sync", "ListConnections", "ListUsers", "GetConnection",
                             "ListSyncRuns", "DeleteConnection"}) {
    EXPECT_THAT(logs, HasSubstr(absl::StrCat("\"rpc_method\":\"", method, "\""))) << method;
  }
  simdjson::dom::parser parser;
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(logs, '\n', absl::SkipEmpty())) {
    simdjson::dom::element element;
    ASSERT_EQ(parser.parse(std::string(line)).get(element), simdjson::SUCCESS) << line;
    for (const char* field : {"time", "level", "message"}) {
      EXPECT_EQ(element[field].error(), simdjson::SUCCESS) << field << " in " << line;
    }
    ++lines;
  }
  EXPECT_GT(lines, 10);
  EXPECT_THAT(seen, Not(HasSubstr(kToken)));
  EXPECT_THAT(logs, Not(HasSubstr(kToken)));
  EXPECT_THAT(logs, Not(HasSubstr("wrk-test-token")));
}

TEST_F(ServiceTest, HealthIsServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Context().get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServiceTest, ReflectionListsAndDescribesServicesIncludingHealth) {
  // ServerReflectionRequest.list_services = 7; response field 6 holds
  // ServiceResponse entries (field 1) with a name (field 1).
  testing::ReflectionResult listed = ReflectionCall(channel_.get(), 7, "*");
  ASSERT_TRUE(listed.status.ok()) << listed.status.error_message();
  std::string answer = listed.answer;
  std::vector<std::string> names;
  for (const auto& list : LengthDelimited(answer, 6)) {
    for (const auto& service : LengthDelimited(list, 1)) {
      for (const auto& name : LengthDelimited(service, 1)) names.push_back(name);
    }
  }
  EXPECT_THAT(names, ::testing::Contains("workato.connector.v1.WorkatoConnector"));
  EXPECT_THAT(names, ::testing::Contains("grpc.health.v1.Health"));
  // file_containing_symbol = 4; a file_descriptor_response is field 4, an
  // error_response field 7.
  for (const char* symbol : {"grpc.health.v1.Health", "workato.connector.v1.WorkatoConnector"}) {
    testing::ReflectionResult described = ReflectionCall(channel_.get(), 4, symbol);
    EXPECT_TRUE(described.status.ok()) << symbol;
    answer = described.answer;
    EXPECT_FALSE(LengthDelimited(answer, 4).empty()) << symbol;
    EXPECT_TRUE(LengthDelimited(answer, 7).empty()) << symbol;
  }
}

}  // namespace
}  // namespace workato_connector
