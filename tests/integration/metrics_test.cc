// Scrapes /metrics after real RPCs and checks every family the service
// promises, with the values those RPCs must have produced.
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "connector_server.h"
#include "fake_workato/fake_workato.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "workato/connector/v1/connector.grpc.pb.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;

constexpr char kToken[] = "wrk-metrics-token-42";

// Value returns the value of the sample `name` whose labels include every
// `label="value"` pair given, or nullopt when there is no such sample.
std::optional<double> Value(const std::string& text, const std::string& name,
                            const std::vector<std::string>& labels) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!absl::StartsWith(line, name + "{") && !absl::StartsWith(line, name + " ")) continue;
    bool all = true;
    for (const std::string& label : labels) all = all && absl::StrContains(line, label);
    if (!all) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) return value;
  }
  return std::nullopt;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeWorkspace ws;
    ws.id = 31;
    ws.name = "Metrics";
    ws.collaborators = GenerateCollaborators(25, 5);
    workato_.SetWorkspace(kToken, ws);
    ASSERT_GT(workato_.Start(), 0);
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "127.0.0.1:0";
    options.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
    auto server = ConnectorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->metrics_port(), 0);
    stub_ = v1::WorkatoConnector::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  std::string Scrape() {
    httplib::Client client("127.0.0.1", server_->metrics_port());
    auto response = client.Get("/metrics");
    EXPECT_TRUE(response) << "scrape failed";
    if (!response) return "";
    EXPECT_EQ(response->status, 200);
    return response->body;
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  FakeWorkato workato_;
  std::unique_ptr<ConnectorServer> server_;
  std::unique_ptr<v1::WorkatoConnector::Stub> stub_;
};

TEST_F(MetricsTest, EveryFamilyCountsWhatHappened) {
  v1::ConnectRequest connect;
  connect.set_data_center(v1::DATA_CENTER_US);
  connect.set_api_token(kToken);
  v1::Connection connection;
  ASSERT_TRUE(stub_->Connect(Context().get(), connect, &connection).ok());
  v1::SyncRequest sync;
  sync.set_connection_id(connection.id());
  v1::SyncRun run;
  ASSERT_TRUE(stub_->Sync(Context().get(), sync, &run).ok());
  workato_.FailNext(testing::Endpoint::kMembers, 400, "{}", 1);  // Not retried: one failed run.
  ASSERT_FALSE(stub_->Sync(Context().get(), sync, &run).ok());
  v1::GetConnectionRequest missing;
  missing.set_connection_id("conn_nope");
  ASSERT_FALSE(stub_->GetConnection(Context().get(), missing, &connection).ok());

  const std::string text = Scrape();
  const std::string service = "grpc_service=\"workato.connector.v1.WorkatoConnector\"";
  EXPECT_EQ(Value(text, "grpc_server_handled_total",
                  {service, "grpc_method=\"Sync\"", "grpc_code=\"OK\""}),
            1);
  EXPECT_EQ(Value(text, "grpc_server_handled_total",
                  {"grpc_method=\"Sync\"", "grpc_code=\"UNAVAILABLE\""}),
            1);
  EXPECT_EQ(Value(text, "grpc_server_handled_total",
                  {"grpc_method=\"GetConnection\"", "grpc_code=\"NOT_FOUND\""}),
            1);
  EXPECT_EQ(Value(text, "grpc_server_handling_seconds_count", {service, "grpc_method=\"Sync\""}),
            2);
  EXPECT_EQ(Value(text, "workato_requests_total",
                  {"data_center=\"US\"", "endpoint=\"/api/members\"", "code=\"200\""}),
            2);  // Connect's check and the first sync.
  EXPECT_EQ(Value(text, "workato_requests_total", {"endpoint=\"/api/members\"", "code=\"400\""}),
            1);
  EXPECT_EQ(Value(text, "workato_requests_total", {"endpoint=\"/api/users/me\"", "code=\"200\""}),
            1);
  EXPECT_EQ(Value(text, "workato_request_duration_seconds_count",
                  {"data_center=\"US\"", "endpoint=\"/api/members\""}),
            3);
  EXPECT_EQ(Value(text, "workato_sync_runs_total", {"result=\"SUCCEEDED\""}), 1);
  EXPECT_EQ(Value(text, "workato_sync_runs_total", {"result=\"FAILED\""}), 1);
  const std::string id_label = absl::StrCat("connection_id=\"", connection.id(), "\"");
  EXPECT_EQ(Value(text, "workato_users", {id_label, "state=\"active\""}), 25);
  EXPECT_EQ(Value(text, "workato_users", {id_label, "state=\"removed\""}), 0);
  std::optional<double> last =
      Value(text, "workato_last_successful_sync_timestamp_seconds", {id_label});
  ASSERT_TRUE(last.has_value());
  EXPECT_NEAR(*last, absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()), 60);
  EXPECT_EQ(Value(text, "workato_rate_limit_waits_total", {}), 0);

  // A deleted connection's series go away with it.
  v1::DeleteConnectionRequest del;
  del.set_connection_id(connection.id());
  v1::DeleteConnectionResponse deleted;
  ASSERT_TRUE(stub_->DeleteConnection(Context().get(), del, &deleted).ok());
  const std::string after = Scrape();
  EXPECT_FALSE(Value(after, "workato_users", {id_label}).has_value());
  EXPECT_FALSE(Value(after, "workato_last_successful_sync_timestamp_seconds", {id_label}));
}

TEST_F(MetricsTest, RateLimitWaitsAreCounted) {
  server_.reset();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "127.0.0.1:0";
  options.workato_url_overrides = absl::StrCat("US=", workato_.BaseUrl());
  options.rate_limit_per_minute = 600;  // One every 0.1 s after a burst of 1.
  options.rate_limit_burst = 1;
  auto server = ConnectorServer::Start(options);
  ASSERT_TRUE(server.ok());
  server_ = *std::move(server);
  stub_ = v1::WorkatoConnector::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  v1::ConnectRequest connect;
  connect.set_data_center(v1::DATA_CENTER_US);
  connect.set_api_token(kToken);
  v1::Connection connection;
  ASSERT_TRUE(stub_->Connect(Context().get(), connect, &connection).ok());
  v1::SyncRequest sync;
  sync.set_connection_id(connection.id());
  v1::SyncRun run;
  ASSERT_TRUE(stub_->Sync(Context().get(), sync, &run).ok());  // Right after Connect's request.
  std::optional<double> waits = Value(Scrape(), "workato_rate_limit_waits_total", {});
  ASSERT_TRUE(waits.has_value());
  EXPECT_GE(*waits, 1);
}

}  // namespace
}  // namespace workato_connector
