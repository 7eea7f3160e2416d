// The SQLite store through the whole server: restarts keep everything,
// tokens are sealed on disk under the configured key, keys rotate, and a
// wrong key loses nothing.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "connector_server.h"
#include "fake_workato/fake_workato.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "workato/connector/v1/connector.grpc.pb.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;
using ::testing::HasSubstr;

constexpr char kToken[] = "wrk-durable-secret-token-7f3a9c";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteKeyFile(const std::string& path, char fill) {
  std::ofstream(path) << absl::Base64Escape(std::string(32, fill)) << "\n";
}

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/wc-durable-", ::getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(std::system(absl::StrCat("rm -rf ", dir_).c_str()), 0);
    FakeWorkspace ws;
    ws.id = 777;
    ws.name = "Durable";
    ws.collaborators = GenerateCollaborators(40, 11);
    workato_.SetWorkspace(kToken, ws);
    ASSERT_GT(workato_.Start(), 0);
    options_.listen = "127.0.0.1:0";
    options_.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
    options_.store = absl::StrCat("sqlite:", dir_, "/data/connector.db");
    options_.sync_history = 3;
  }
  void TearDown() override {
    server_.reset();
    (void)std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  void StartServer() {
    server_.reset();
    auto server = ConnectorServer::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::WorkatoConnector::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  std::string Connect() {
    v1::ConnectRequest request;
    request.set_data_center(v1::DATA_CENTER_US);
    request.set_api_token(kToken);
    v1::Connection connection;
    grpc::Status status = stub_->Connect(Context().get(), request, &connection);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return connection.id();
  }

  grpc::Status Sync(const std::string& id, v1::SyncRun* run = nullptr) {
    v1::SyncRequest request;
    request.set_connection_id(id);
    v1::SyncRun ignored;
    return stub_->Sync(Context().get(), request, run != nullptr ? run : &ignored);
  }

  // Every page of every filter, serialized: what a reader would see.
  std::string Everything(const std::string& id) {
    std::string out;
    for (bool removed : {false, true}) {
      v1::ListUsersRequest request;
      request.set_connection_id(id);
      request.set_show_removed(removed);
      request.set_page_size(9);
      do {
        v1::ListUsersResponse response;
        grpc::Status status = stub_->ListUsers(Context().get(), request, &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        if (!status.ok()) return out;
        out += response.SerializeAsString();
        request.set_page_token(response.next_page_token());
      } while (!request.page_token().empty());
    }
    return out;
  }

  v1::Connection Get(const std::string& id) {
    v1::GetConnectionRequest request;
    request.set_connection_id(id);
    v1::Connection connection;
    EXPECT_TRUE(stub_->GetConnection(Context().get(), request, &connection).ok());
    return connection;
  }

  std::string dir_;
  FakeWorkato workato_;
  ServerOptions options_;
  std::unique_ptr<ConnectorServer> server_;
  std::unique_ptr<v1::WorkatoConnector::Stub> stub_;
};

TEST_F(DurabilityTest, RestartKeepsConnectionsUsersRemovedUsersAndHistory) {
  StartServer();
  const std::string id = Connect();
  ASSERT_TRUE(Sync(id).ok());
  FakeWorkspace fewer;
  fewer.id = 777;
  fewer.name = "Durable";
  fewer.collaborators = GenerateCollaborators(30, 11);
  workato_.SetWorkspace(kToken, fewer);
  v1::SyncRun run;
  ASSERT_TRUE(Sync(id, &run).ok());
  ASSERT_EQ(run.removed_count(), 10);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Sync(id).ok());  // 5 runs; 3 are kept.
  const std::string before = Everything(id);
  const v1::Connection connection = Get(id);

  StartServer();  // A new process would see the same: the store is the file.
  EXPECT_EQ(Everything(id), before);
  v1::Connection after = Get(id);
  EXPECT_EQ(after.SerializeAsString(), connection.SerializeAsString());
  v1::ListSyncRunsRequest runs;
  runs.set_connection_id(id);
  runs.set_page_size(2);
  v1::ListSyncRunsResponse page;
  ASSERT_TRUE(stub_->ListSyncRuns(Context().get(), runs, &page).ok());
  ASSERT_EQ(page.sync_runs_size(), 2);
  EXPECT_EQ(page.sync_runs(0).id(), connection.last_sync().id());  // Newest first.
  runs.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListSyncRuns(Context().get(), runs, &page).ok());
  EXPECT_EQ(page.sync_runs_size(), 1);  // History trimmed to --sync_history=3.
  EXPECT_TRUE(page.next_page_token().empty());
  // And the stored token still works after the restart.
  EXPECT_TRUE(Sync(id).ok());
}

// A re-sync maps only collaborators whose JSON changed since the last sync
// (listing digests kept in the database, so across restarts too); every
// change still lands, and unchanged users stay exactly as they were.
TEST_F(DurabilityTest, ResyncMapsOnlyChangedCollaboratorsAndMissesNoChange) {
  StartServer();
  const std::string id = Connect();
  v1::SyncRun run;
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.added_count(), 40);
  const std::string before = Everything(id);
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.updated_count() + run.added_count() + run.removed_count(), 0);
  EXPECT_EQ(run.active_user_count(), 40);
  StartServer();  // Restarted: the digests come from the database.
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.updated_count() + run.added_count() + run.removed_count(), 0);
  EXPECT_EQ(Everything(id), before);

  FakeWorkspace ws;
  ws.id = 777;
  ws.name = "Durable";
  ws.collaborators = GenerateCollaborators(40, 11);
  std::vector<workato_connector::testing::FakeCollaborator> original = ws.collaborators;
  ws.collaborators[3].roles.at(0).role_name = "Changed role";
  ws.collaborators[7].name = "Renamed Seven";
  ws.collaborators[9].time_zone = "Tokyo";
  const int64_t gone = ws.collaborators[5].id;
  ws.collaborators.erase(ws.collaborators.begin() + 5);
  workato_.SetWorkspace(kToken, ws);
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.updated_count(), 3);
  EXPECT_EQ(run.removed_count(), 1);
  EXPECT_EQ(run.added_count(), 0);
  EXPECT_EQ(run.active_user_count(), 39);

  std::map<int64_t, v1::User> users;
  v1::ListUsersRequest request;
  request.set_connection_id(id);
  request.set_show_removed(true);
  request.set_page_size(100);
  v1::ListUsersResponse response;
  ASSERT_TRUE(stub_->ListUsers(Context().get(), request, &response).ok());
  for (const v1::User& user : response.users()) users[user.id()] = user;
  ASSERT_EQ(users.size(), 40u);
  EXPECT_EQ(users[original[3].id].roles(0).role_name(), "Changed role");
  EXPECT_EQ(users[original[7].id].name(), "Renamed Seven");
  EXPECT_EQ(users[original[9].id].time_zone(), "Tokyo");
  EXPECT_EQ(users[gone].state(), v1::User::REMOVED);
  EXPECT_EQ(users[original[4].id].name(), original[4].name);
  EXPECT_EQ(users[original[4].id].state(), v1::User::ACTIVE);

  // The removed one comes back with the same JSON as before: it is updated
  // (ACTIVE again), not skipped as unchanged.
  ws.collaborators.insert(ws.collaborators.begin() + 5, original[5]);
  workato_.SetWorkspace(kToken, ws);
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.updated_count(), 1);
  EXPECT_EQ(run.active_user_count(), 40);
  ASSERT_TRUE(Sync(id, &run).ok());
  EXPECT_EQ(run.updated_count() + run.added_count() + run.removed_count(), 0);
}

TEST_F(DurabilityTest, TokenNeverOnDiskInPlainText) {
  StartServer();
  const std::string id = Connect();
  ASSERT_TRUE(Sync(id).ok());
  ASSERT_TRUE(Sync(id).ok());
  // Before and after a checkpoint: the WAL and the main file.
  for (int round = 0; round < 2; ++round) {
    DIR* dir = ::opendir(absl::StrCat(dir_, "/data").c_str());
    ASSERT_NE(dir, nullptr);
    int files = 0;
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      ++files;
      std::string bytes = ReadAll(absl::StrCat(dir_, "/data/", name));
      EXPECT_EQ(bytes.find(kToken), std::string::npos) << name;
      EXPECT_EQ(bytes.find("durable-secret"), std::string::npos) << name;
    }
    ::closedir(dir);
    EXPECT_GE(files, 2);  // The database and the generated key at least.
    StartServer();        // Reopening checkpoints the WAL into the main file.
  }
}

TEST_F(DurabilityTest, GeneratedKeyIsPrivateAndReused) {
  StartServer();
  const std::string id = Connect();
  struct stat info;
  ASSERT_EQ(::stat(absl::StrCat(dir_, "/data/token.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  StartServer();
  EXPECT_EQ(Get(id).state(), v1::Connection::ACTIVE);  // Same key: token readable.
  EXPECT_TRUE(Sync(id).ok());
}

TEST_F(DurabilityTest, WrongKeyLosesNothingAndAsksToReconnect) {
  const std::string key_a = absl::StrCat(dir_, "/a.key");
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir_).c_str()), 0);
  WriteKeyFile(key_a, 'a');
  options_.token_keys.key_file = key_a;
  StartServer();
  const std::string id = Connect();
  ASSERT_TRUE(Sync(id).ok());
  const std::string before = Everything(id);

  options_.token_keys.key_base64 = absl::Base64Escape(std::string(32, 'b'));
  options_.token_keys.key_file.clear();
  StartServer();  // Starts fine despite the wrong key.
  v1::Connection connection = Get(id);
  EXPECT_EQ(connection.state(), v1::Connection::NEEDS_RECONNECT);
  EXPECT_THAT(connection.state_message(), HasSubstr("key"));
  EXPECT_EQ(Everything(id), before);  // Users untouched.
  grpc::Status status = Sync(id);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Connecting again with the token repairs it under the new key.
  EXPECT_EQ(Connect(), id);
  EXPECT_TRUE(Sync(id).ok());
}

TEST_F(DurabilityTest, KeyRotationResealsUnderTheNewKey) {
  const std::string key_a = absl::StrCat(dir_, "/a.key");
  const std::string key_b = absl::StrCat(dir_, "/b.key");
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir_).c_str()), 0);
  WriteKeyFile(key_a, 'a');
  WriteKeyFile(key_b, 'b');
  options_.token_keys.key_file = key_a;
  StartServer();
  const std::string id = Connect();

  options_.token_keys.key_file = key_b;
  options_.token_keys.previous_key_file = key_a;
  StartServer();
  EXPECT_EQ(Get(id).state(), v1::Connection::ACTIVE);
  EXPECT_TRUE(Sync(id).ok());

  // Re-sealed: the old key is no longer needed.
  options_.token_keys.previous_key_file.clear();
  StartServer();
  EXPECT_EQ(Get(id).state(), v1::Connection::ACTIVE);
  EXPECT_TRUE(Sync(id).ok());
}

TEST_F(DurabilityTest, BadStoreOrKeyFailsAtStartWithAClearError) {
  options_.store = "sqlite:/proc/version/connector.db";  // Under a file: cannot exist.
  auto server = ConnectorServer::Start(options_);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", dir_, " && head -c 8192 /dev/urandom > ", dir_,
                                     "/garbage.db")
                            .c_str()),
            0);
  options_.store = absl::StrCat("sqlite:", dir_, "/garbage.db");
  server = ConnectorServer::Start(options_);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);

  options_.store = absl::StrCat("sqlite:", dir_, "/ok.db");
  options_.token_keys.key_base64 = "not base64 at all!";
  server = ConnectorServer::Start(options_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("base64"));
  options_.token_keys.key_base64 = absl::Base64Escape("short");
  server = ConnectorServer::Start(options_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("32 bytes"));
}

}  // namespace
}  // namespace workato_connector
