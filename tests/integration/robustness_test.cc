// How the server rides through a slow, failing or rate-limited Workato:
// deadlines, cancellation, retries, and readers that never wait on syncs.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connector_server.h"
#include "fake_workato/fake_workato.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "testing/grpc_status.h"
#include "workato/connector/v1/connector.grpc.pb.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using testing::BodyMode;
using testing::Endpoint;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;
using ::testing::HasSubstr;
using testing::ReasonOf;
using testing::RetryDelayOf;

constexpr char kToken[] = "wrk-robust-token-0001";

class RobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeWorkspace ws;
    ws.id = 101;
    ws.name = "Robust";
    ws.collaborators = GenerateCollaborators(30, 3);
    workato_.SetWorkspace(kToken, ws);
    ASSERT_GT(workato_.Start(), 0);
    options_.listen = "127.0.0.1:0";
    options_.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
    options_.workato.initial_backoff = absl::Milliseconds(5);
    options_.workato.max_backoff = absl::Milliseconds(20);
  }

  void StartServer() {
    auto server = ConnectorServer::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::WorkatoConnector::NewStub(channel_);
  }

  static void SetTimeout(grpc::ClientContext* context, absl::Duration timeout) {
    context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  }

  std::string ConnectAndSync() {
    grpc::ClientContext connect_context;
    SetTimeout(&connect_context, absl::Seconds(20));
    v1::ConnectRequest request;
    request.set_data_center(v1::DATA_CENTER_US);
    request.set_api_token(kToken);
    v1::Connection connection;
    grpc::Status status = stub_->Connect(&connect_context, request, &connection);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::SyncRun run;
    EXPECT_TRUE(Sync(connection.id(), absl::Seconds(20), &run).ok());
    return connection.id();
  }

  grpc::Status Sync(const std::string& id, absl::Duration timeout, v1::SyncRun* run) {
    grpc::ClientContext context;
    SetTimeout(&context, timeout);
    v1::SyncRequest request;
    request.set_connection_id(id);
    return stub_->Sync(&context, request, run);
  }

  std::string UsersSnapshot(const std::string& id) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::ListUsersRequest request;
    request.set_connection_id(id);
    request.set_show_removed(true);
    request.set_page_size(1000);
    v1::ListUsersResponse response;
    EXPECT_TRUE(stub_->ListUsers(&context, request, &response).ok());
    return response.SerializeAsString();
  }

  FakeWorkato workato_;
  ServerOptions options_;
  std::unique_ptr<ConnectorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkatoConnector::Stub> stub_;
};

TEST_F(RobustnessTest, FiveHundredsThenSuccessIsRetriedTransparently) {
  StartServer();
  const std::string id = ConnectAndSync();
  workato_.Reset();
  workato_.FailNext(Endpoint::kMembers, 500, R"({"message":"oops"})", 1);
  workato_.FailNext(Endpoint::kMembers, 502, R"({"message":"oops"})", 1);
  workato_.FailNext(Endpoint::kMembers, 504, R"({"message":"oops"})", 1);
  v1::SyncRun run;
  grpc::Status status = Sync(id, absl::Seconds(20), &run);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers), 4);
}

TEST_F(RobustnessTest, RateLimitedWithRetryAfterIsWaitedFor) {
  StartServer();
  const std::string id = ConnectAndSync();
  workato_.Reset();
  workato_.FailNext(Endpoint::kMembers, 429, R"({"message":"Too many requests"})", 1,
                    {{"Retry-After", "1"}});
  const absl::Time start = absl::Now();
  v1::SyncRun run;
  grpc::Status status = Sync(id, absl::Seconds(20), &run);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));  // It did wait as asked.
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers), 2);
}

TEST_F(RobustnessTest, RateLimitedWithoutRetryAfterBacksOffThenGivesUpKeepingUsers) {
  options_.workato.max_attempts = 3;
  StartServer();
  const std::string id = ConnectAndSync();
  const std::string before = UsersSnapshot(id);
  workato_.Reset();
  workato_.FailNext(Endpoint::kMembers, 429, R"({"message":"Too many requests"})", 10);
  v1::SyncRun run;
  grpc::Status status = Sync(id, absl::Seconds(20), &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "WORKATO_RATE_LIMITED");
  EXPECT_THAT(status.error_message(), HasSubstr("after 3 attempts"));
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers), 3);
  EXPECT_EQ(UsersSnapshot(id), before);
}

TEST_F(RobustnessTest, RetryAfterLongerThanTheDeadlineFailsAtOnceWithRetryInfo) {
  StartServer();
  const std::string id = ConnectAndSync();
  const std::string before = UsersSnapshot(id);
  workato_.Reset();
  workato_.FailNext(Endpoint::kMembers, 429, "{}", 1, {{"Retry-After", "30"}});
  const absl::Time start = absl::Now();
  v1::SyncRun run;
  grpc::Status status = Sync(id, absl::Seconds(5), &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "WORKATO_RATE_LIMITED");
  EXPECT_EQ(RetryDelayOf(status), absl::Seconds(30));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // Did not sleep into the deadline.
  EXPECT_EQ(UsersSnapshot(id), before);
}

TEST_F(RobustnessTest, OwnRateLimitFailsFastWhenTheBudgetIsSpent) {
  options_.rate_limit_per_minute = 2;
  options_.rate_limit_burst = 2;  // Connect spends both collaborator requests.
  StartServer();
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::ConnectRequest request;
  request.set_data_center(v1::DATA_CENTER_US);
  request.set_api_token(kToken);
  v1::Connection connection;
  ASSERT_TRUE(stub_->Connect(&context, request, &connection).ok());
  v1::SyncRun run;
  ASSERT_TRUE(Sync(connection.id(), absl::Seconds(10), &run).ok());
  const int sent = workato_.RequestCount(Endpoint::kMembers);
  grpc::Status status = Sync(connection.id(), absl::Seconds(2), &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "WORKATO_RATE_LIMITED");
  EXPECT_TRUE(RetryDelayOf(status).has_value());
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers), sent);  // Nothing sent to Workato.
}

TEST_F(RobustnessTest, DeadlineAbortsAHangingWorkatoAndFreesTheThread) {
  options_.executor_threads = 1;
  StartServer();
  const std::string id = ConnectAndSync();
  const std::string before = UsersSnapshot(id);
  workato_.SetDelay(Endpoint::kMembers, absl::Seconds(60));
  const absl::Time start = absl::Now();
  v1::SyncRun run;
  grpc::Status status = Sync(id, absl::Seconds(1), &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // The only executor thread is free again: the next sync runs at once.
  workato_.SetDelay(Endpoint::kMembers, absl::ZeroDuration());
  status = Sync(id, absl::Seconds(5), &run);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(UsersSnapshot(id), before);
}

TEST_F(RobustnessTest, CancelledCallerAbortsTheTransferAndStoresNothing) {
  options_.executor_threads = 1;
  StartServer();
  const std::string id = ConnectAndSync();
  const std::string before = UsersSnapshot(id);
  // Workato now lists fewer users, but slowly; the caller gives up first.
  FakeWorkspace fewer;
  fewer.id = 101;
  fewer.name = "Robust";
  fewer.collaborators = GenerateCollaborators(10, 3);
  workato_.SetWorkspace(kToken, fewer);
  workato_.SetDelay(Endpoint::kMembers, absl::Seconds(60));
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(60));
  v1::SyncRequest request;
  request.set_connection_id(id);
  v1::SyncRun run;
  auto call = std::async(std::launch::async, [&] { return stub_->Sync(&context, request, &run); });
  absl::SleepFor(absl::Milliseconds(500));
  context.TryCancel();
  EXPECT_EQ(call.get().error_code(), grpc::StatusCode::CANCELLED);
  // Within about a second the transfer is aborted and the thread is free.
  workato_.SetDelay(Endpoint::kMembers, absl::ZeroDuration());
  EXPECT_EQ(UsersSnapshot(id), before);  // The cancelled sync stored nothing.
  const absl::Time start = absl::Now();
  v1::SyncRun next;
  grpc::Status status = Sync(id, absl::Seconds(10), &next);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(next.removed_count(), 20);
}

TEST_F(RobustnessTest, ReadersStayPromptWhileSyncsWaitOnASlowWorkato) {
  options_.executor_threads = 2;
  StartServer();
  const std::string id = ConnectAndSync();
  workato_.SetDelay(Endpoint::kMembers, absl::Seconds(3));
  // Four syncs of one connection share a run; a second connection's syncs
  // wait too. Meanwhile every read must answer well before the syncs end.
  std::vector<std::future<grpc::Status>> syncs;
  for (int i = 0; i < 4; ++i) {
    syncs.push_back(std::async(std::launch::async, [&] {
      v1::SyncRun run;
      return Sync(id, absl::Seconds(30), &run);
    }));
  }
  absl::SleepFor(absl::Milliseconds(200));
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (int i = 0; i < 10; ++i) {
    const absl::Time start = absl::Now();
    grpc::ClientContext list_context;
    SetTimeout(&list_context, absl::Seconds(10));
    v1::ListUsersRequest list;
    list.set_connection_id(id);
    v1::ListUsersResponse users;
    ASSERT_TRUE(stub_->ListUsers(&list_context, list, &users).ok());
    grpc::ClientContext get_context;
    SetTimeout(&get_context, absl::Seconds(10));
    v1::GetConnectionRequest get;
    get.set_connection_id(id);
    v1::Connection connection;
    ASSERT_TRUE(stub_->GetConnection(&get_context, get, &connection).ok());
    grpc::ClientContext health_context;
    SetTimeout(&health_context, absl::Seconds(10));
    grpc::health::v1::HealthCheckResponse serving;
    ASSERT_TRUE(health->Check(&health_context, {}, &serving).ok());
    // Far below the 3 s the syncs are stuck for: reads never queue behind them.
    EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << i;
  }
  for (auto& sync : syncs) EXPECT_TRUE(sync.get().ok());
}

struct BodyCase {
  const char* name;
  BodyMode mode;
  const char* reason;
};

TEST_F(RobustnessTest, BrokenBodiesFailTheSyncAndKeepUsers) {
  options_.curl.max_response_bytes = int64_t{4} << 20;
  options_.curl.low_speed_bytes = 1000;
  options_.curl.low_speed_time = absl::Seconds(1);
  options_.workato.max_attempts = 2;
  StartServer();
  const std::string id = ConnectAndSync();
  const std::string before = UsersSnapshot(id);
  const BodyCase cases[] = {
      {"cut short", BodyMode::kCutShort, "WORKATO_UNAVAILABLE"},
      {"dropped mid-body", BodyMode::kDropMidBody, "WORKATO_UNAVAILABLE"},
      {"huge", BodyMode::kHuge, "WORKATO_RESPONSE_TOO_LARGE"},
      {"dripping", BodyMode::kDrip, "WORKATO_UNAVAILABLE"},
  };
  for (const BodyCase& c : cases) {
    workato_.Reset();
    workato_.SetMembersBodyMode(c.mode, absl::Milliseconds(200), int64_t{64} << 20);
    v1::SyncRun run;
    grpc::Status status = Sync(id, absl::Seconds(20), &run);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << c.name;
    EXPECT_EQ(ReasonOf(status), c.reason) << c.name;
    EXPECT_EQ(UsersSnapshot(id), before) << c.name;
  }
  workato_.Reset();
  v1::SyncRun run;
  EXPECT_TRUE(Sync(id, absl::Seconds(20), &run).ok());  // Healthy again.
}

class TlsRobustnessTest : public RobustnessTest {
 protected:
  void SetUp() override {
    RobustnessTest::SetUp();
    dir_ = ::testing::TempDir() + "/wc-tls-" + std::to_string(::getpid());
    ASSERT_EQ(::system(("mkdir -p " + dir_).c_str()), 0);
    ASSERT_TRUE(testing::WriteSelfSignedCert(dir_, &cert_, &key_));
    workato_.Stop();
    ASSERT_GT(workato_.StartTls(cert_, key_), 0);
    options_.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
  }
  void TearDown() override { (void)::system(("rm -rf " + dir_).c_str()); }

  grpc::Status Connect() {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(20));
    v1::ConnectRequest request;
    request.set_data_center(v1::DATA_CENTER_US);
    request.set_api_token(kToken);
    v1::Connection connection;
    return stub_->Connect(&context, request, &connection);
  }

  std::string dir_, cert_, key_;
};

TEST_F(TlsRobustnessTest, SelfSignedWorkatoIsRefusedWithoutTheCaFile) {
  StartServer();
  grpc::Status status = Connect();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "WORKATO_TLS_ERROR");
  EXPECT_EQ(workato_.RequestCount(Endpoint::kUsersMe), 0);  // The token never left.
}

TEST_F(TlsRobustnessTest, SelfSignedWorkatoIsTrustedWithTheCaFile) {
  options_.curl.ca_file = cert_;
  StartServer();
  grpc::Status status = Connect();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace workato_connector
