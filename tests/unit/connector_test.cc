#include "connector.h"

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "memory_store.h"
#include "testing/fake_clock.h"
#include "testing/mock_http_fetcher.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using testing::MockHttpFetcher;
using ::testing::Not;
using testing::Response;
using ::testing::Return;
using testing::UrlEndsWith;

constexpr char kToken[] = "tok-good-0001";
constexpr char kWorkspace[] = R"({"id": 4242, "name": "Acme"})";

std::string Members(int n, int first_id = 1, int total_delta = 0) {
  std::string data;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&data, i ? "," : "", R"({"id": )", first_id + i, R"(, "email": "user)",
                    first_id + i, R"(@example.com", "name": "User", "roles": [)",
                    R"({"environment_type": "dev", "role_name": "Admin"}]})");
  }
  return absl::StrCat(R"({"data": [)", data, R"(], "total": )", n + total_delta, "}");
}

class ConnectorTest : public ::testing::Test {
 protected:
  ConnectorTest()
      : client_(&fetcher_, DataCenterEndpoints(), WorkatoClientOptions(), nullptr, &clock_),
        connector_(&client_, &store_, *TokenCipher::WithRandomKey()) {}

  // Makes both endpoints answer these for the next calls.
  void Serve(HttpResponse me, HttpResponse members) {
    ON_CALL(fetcher_, Get(UrlEndsWith("/api/users/me"))).WillByDefault(Return(me));
    ON_CALL(fetcher_, Get(UrlEndsWith("/api/members"))).WillByDefault(Return(members));
  }

  v1::Connection ConnectOk() {
    Serve(Response(200, kWorkspace), Response(200, Members(3)));
    v1::ConnectRequest request;
    request.set_data_center(v1::DATA_CENTER_US);
    request.set_api_token(kToken);
    auto connection = connector_.Connect(request, CallContext());
    EXPECT_TRUE(connection.ok()) << connection.status();
    return connection.value_or(v1::Connection());
  }

  absl::StatusOr<v1::SyncRun> SyncNow(const std::string& id) {
    absl::StatusOr<v1::SyncRun> result = absl::UnknownError("not called");
    v1::SyncRequest request;
    request.set_connection_id(id);
    connector_.Sync(request, CallContext(),
                    [&](absl::StatusOr<v1::SyncRun> r) { result = std::move(r); });
    return result;
  }

  std::vector<v1::User> AllUsers(const std::string& id, bool show_removed) {
    v1::ListUsersRequest request;
    request.set_connection_id(id);
    request.set_show_removed(show_removed);
    request.set_page_size(1000);
    auto response = connector_.ListUsers(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return {response->users().begin(), response->users().end()};
  }

  ::testing::NiceMock<MockHttpFetcher> fetcher_;
  testing::FakeClock clock_;
  WorkatoClient client_;
  MemoryStore store_;
  Connector connector_;
};

TEST_F(ConnectorTest, InvalidInputNeverReachesWorkato) {
  EXPECT_CALL(fetcher_, Get(_)).Times(0);
  v1::ConnectRequest request;
  request.set_api_token(kToken);
  auto no_dc = connector_.Connect(request, CallContext());
  EXPECT_EQ(no_dc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(no_dc.status()), reason::kInvalidDataCenter);
  request.set_data_center(static_cast<v1::DataCenter>(42));
  EXPECT_EQ(ErrorReason(connector_.Connect(request, CallContext()).status()),
            reason::kInvalidDataCenter);
  request.set_data_center(v1::DATA_CENTER_US);
  for (std::string token : {std::string(), std::string("a b"), std::string(2000, 'x')}) {
    request.set_api_token(token);
    auto result = connector_.Connect(request, CallContext());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(result.status()), reason::kInvalidApiToken);
  }
}

TEST_F(ConnectorTest, ConnectStoresTheWorkspace) {
  v1::Connection c = ConnectOk();
  EXPECT_THAT(c.id(), HasSubstr("conn_"));
  EXPECT_EQ(c.data_center(), v1::DATA_CENTER_US);
  EXPECT_EQ(c.workspace_id(), 4242);
  EXPECT_EQ(c.workspace_name(), "Acme");
  EXPECT_EQ(c.display_name(), "Acme");
  EXPECT_EQ(c.state(), v1::Connection::ACTIVE);
  EXPECT_TRUE(c.has_create_time());
  EXPECT_FALSE(c.has_last_sync());
  auto stored = store_.GetConnection(c.id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->sealed_token.find(kToken), std::string::npos);  // Never in plain text.
}

TEST_F(ConnectorTest, ReconnectingReplacesTheTokenAndKeepsTheId) {
  v1::Connection first = ConnectOk();
  ASSERT_TRUE(SyncNow(first.id()).ok());
  v1::ConnectRequest request;
  request.set_data_center(v1::DATA_CENTER_US);
  request.set_api_token("tok-rotated-0002");
  request.set_display_name("Acme prod");
  auto second = connector_.Connect(request, CallContext());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->id(), first.id());
  EXPECT_EQ(second->display_name(), "Acme prod");
  EXPECT_TRUE(second->has_last_sync());  // History and users survive rotation.
  v1::ListConnectionsRequest list;
  EXPECT_EQ(connector_.ListConnections(list)->connections_size(), 1);
  // The next sync uses the new token.
  EXPECT_CALL(fetcher_, Get(_)).WillOnce(Invoke([](const HttpRequest& r) {
    EXPECT_EQ(r.headers[0].second, "Bearer tok-rotated-0002");
    return Response(200, Members(3));
  }));
  EXPECT_TRUE(SyncNow(first.id()).ok());
}

struct AuthCase {
  long me;
  long members;
  absl::StatusCode code;
  absl::string_view reason;
  std::vector<std::string> mentions;
};

TEST_F(ConnectorTest, ConnectTellsBadTokensFromMissingPermissions) {
  const AuthCase cases[] = {
      {401, 401, absl::StatusCode::kUnauthenticated, reason::kTokenRejected, {"data center"}},
      {200,
       401,
       absl::StatusCode::kPermissionDenied,
       reason::kMissingPermission,
       {"Workspace collaborators"}},
      {200,
       403,
       absl::StatusCode::kPermissionDenied,
       reason::kMissingPermission,
       {"Workspace collaborators"}},
      {401,
       200,
       absl::StatusCode::kPermissionDenied,
       reason::kMissingPermission,
       {"Workspace details"}},
      {403,
       200,
       absl::StatusCode::kPermissionDenied,
       reason::kMissingPermission,
       {"Workspace details"}},
      {403,
       403,
       absl::StatusCode::kPermissionDenied,
       reason::kMissingPermission,
       {"Workspace details", "Workspace collaborators"}},
      {401,
       403,
       absl::StatusCode::kPermissionDenied,
       reason::kMissingPermission,
       {"Workspace details", "Workspace collaborators"}},
      {200, 500, absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable, {"HTTP 500"}},
      {401, 503, absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable, {"HTTP 503"}},
      {200, 429, absl::StatusCode::kUnavailable, reason::kWorkatoRateLimited, {"rate limit"}},
  };
  for (const AuthCase& c : cases) {
    Serve(Response(c.me, c.me == 200 ? kWorkspace : R"({"message":"x"})"),
          Response(c.members, c.members == 200 ? Members(1) : R"({"message":"x"})"));
    v1::ConnectRequest request;
    request.set_data_center(v1::DATA_CENTER_US);
    request.set_api_token(kToken);
    auto result = connector_.Connect(request, CallContext());
    SCOPED_TRACE(absl::StrCat("me=", c.me, " members=", c.members));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), c.code);
    EXPECT_EQ(ErrorReason(result.status()), c.reason);
    for (const auto& text : c.mentions) {
      EXPECT_THAT(std::string(result.status().message()), HasSubstr(text));
    }
    EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(kToken)));
  }
  EXPECT_EQ(connector_.ListConnections({})->connections_size(), 0);
}

TEST_F(ConnectorTest, ConnectStopsAtUnreachableWorkato) {
  EXPECT_CALL(fetcher_, Get(UrlEndsWith("/api/users/me")))
      .WillOnce(Return(absl::UnavailableError("could not connect")));
  EXPECT_CALL(fetcher_, Get(UrlEndsWith("/api/members"))).Times(0);
  v1::ConnectRequest request;
  request.set_data_center(v1::DATA_CENTER_US);
  request.set_api_token(kToken);
  EXPECT_EQ(connector_.Connect(request, CallContext()).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ConnectorTest, SyncStoresUsersAndCounts) {
  v1::Connection c = ConnectOk();
  auto run = SyncNow(c.id());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->state(), v1::SyncRun::SUCCEEDED);
  EXPECT_EQ(run->active_user_count(), 3);
  EXPECT_EQ(run->added_count(), 3);
  EXPECT_TRUE(run->has_start_time());
  EXPECT_TRUE(run->has_end_time());
  EXPECT_EQ(AllUsers(c.id(), false).size(), 3u);
  auto fetched = connector_.GetConnection([&] {
    v1::GetConnectionRequest r;
    r.set_connection_id(c.id());
    return r;
  }());
  EXPECT_EQ(fetched->last_sync().id(), run->id());

  // One user leaves: removed, still listed with show_removed.
  Serve(Response(200, kWorkspace), Response(200, Members(2)));
  run = SyncNow(c.id());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->removed_count(), 1);
  EXPECT_EQ(run->active_user_count(), 2);
  EXPECT_EQ(AllUsers(c.id(), false).size(), 2u);
  std::vector<v1::User> all = AllUsers(c.id(), true);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].email(), "user3@example.com");
  EXPECT_EQ(all[2].state(), v1::User::REMOVED);
}

TEST_F(ConnectorTest, IncompleteListingsLeaveUsersUntouched) {
  v1::Connection c = ConnectOk();
  ASSERT_TRUE(SyncNow(c.id()).ok());
  const std::vector<v1::User> before = AllUsers(c.id(), true);
  const std::string bad[] = {Members(2, 1, 1), R"({"data": [], "total": 0})",
                             R"({"data": [{"id": 1}, )", "<html>oops</html>"};
  for (const std::string& body : bad) {
    Serve(Response(200, kWorkspace), Response(200, body));
    auto run = SyncNow(c.id());
    ASSERT_FALSE(run.ok()) << body;
    EXPECT_EQ(run.status().code(), absl::StatusCode::kUnavailable) << body;
    std::vector<v1::User> after = AllUsers(c.id(), true);
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].SerializeAsString(), before[i].SerializeAsString());
    }
  }
  v1::GetConnectionRequest get;
  get.set_connection_id(c.id());
  EXPECT_EQ(connector_.GetConnection(get)->last_sync().state(), v1::SyncRun::FAILED);
  EXPECT_EQ(connector_.GetConnection(get)->last_sync().error_reason(), "WORKATO_BAD_RESPONSE");
}

TEST_F(ConnectorTest, RevokedTokenNeedsReconnect) {
  v1::Connection c = ConnectOk();
  Serve(Response(401, "{}"), Response(401, "{}"));
  auto run = SyncNow(c.id());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(run.status()), reason::kNeedsReconnect);
  v1::GetConnectionRequest get;
  get.set_connection_id(c.id());
  EXPECT_EQ(connector_.GetConnection(get)->state(), v1::Connection::NEEDS_RECONNECT);
  // Connecting again with a working token makes it ACTIVE.
  EXPECT_EQ(ConnectOk().state(), v1::Connection::ACTIVE);
}

TEST_F(ConnectorTest, Sync401WithWorkingDetailsIsAMissingPermission) {
  v1::Connection c = ConnectOk();
  Serve(Response(200, kWorkspace), Response(401, "{}"));
  auto run = SyncNow(c.id());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("Workspace collaborators"));
  v1::GetConnectionRequest get;
  get.set_connection_id(c.id());
  EXPECT_EQ(connector_.GetConnection(get)->state(), v1::Connection::ACTIVE);
}

TEST_F(ConnectorTest, UnknownConnectionIsNotFound) {
  EXPECT_EQ(SyncNow("conn_missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SyncNow("").status().code(), absl::StatusCode::kInvalidArgument);
  v1::ListUsersRequest list;
  list.set_connection_id("conn_missing");
  EXPECT_EQ(connector_.ListUsers(list).status().code(), absl::StatusCode::kNotFound);
  v1::DeleteConnectionRequest del;
  del.set_connection_id("conn_missing");
  EXPECT_EQ(ErrorReason(connector_.DeleteConnection(del)), reason::kConnectionNotFound);
}

TEST_F(ConnectorTest, ConcurrentSyncsShareOneRun) {
  v1::Connection c = ConnectOk();
  ASSERT_FALSE(c.id().empty());  // Else no sync would reach the blocking fetch.
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  EXPECT_CALL(fetcher_, Get(UrlEndsWith("/api/members"))).WillOnce(Invoke([&](const HttpRequest&) {
    entered.set_value();
    released.wait();
    return Response(200, Members(3));
  }));
  absl::StatusOr<v1::SyncRun> first, second;
  std::thread runner([&] { first = SyncNow(c.id()); });
  entered.get_future().wait();
  std::promise<void> joined;
  std::future<void> joined_future = joined.get_future();
  v1::SyncRequest request;
  request.set_connection_id(c.id());
  // Joins the run in flight: returns at once, its callback fires later.
  connector_.Sync(request, CallContext(), [&](absl::StatusOr<v1::SyncRun> r) {
    second = std::move(r);
    joined.set_value();
  });
  EXPECT_EQ(joined_future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  release.set_value();
  runner.join();
  joined_future.wait();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->id(), second->id());
}

TEST_F(ConnectorTest, PagesAreStableKeysetPages) {
  v1::Connection c = ConnectOk();
  Serve(Response(200, kWorkspace), Response(200, Members(250)));
  ASSERT_TRUE(SyncNow(c.id()).ok());
  v1::ListUsersRequest request;
  request.set_connection_id(c.id());
  request.set_page_size(100);
  auto page1 = connector_.ListUsers(request);
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(page1->users_size(), 100);
  EXPECT_EQ(page1->total_size(), 250);
  ASSERT_FALSE(page1->next_page_token().empty());

  // A sync between pages removes a user already returned and one still to come.
  Serve(Response(200, kWorkspace), Response(200, Members(248, 3)));
  ASSERT_TRUE(SyncNow(c.id()).ok());

  std::vector<std::string> seen;
  for (const auto& u : page1->users()) seen.push_back(u.email());
  request.set_page_token(page1->next_page_token());
  while (!request.page_token().empty()) {
    auto page = connector_.ListUsers(request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& u : page->users()) seen.push_back(u.email());
    request.set_page_token(page->next_page_token());
  }
  std::vector<std::string> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(seen, sorted);  // Ordered, so nothing repeated across pages...
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
  // ...and every user that stayed was returned.
  for (int id = 3; id <= 250; ++id) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), absl::StrCat("user", id, "@example.com")),
              seen.end())
        << id;
  }
}

TEST_F(ConnectorTest, PageSizeRules) {
  v1::Connection c = ConnectOk();
  Serve(Response(200, kWorkspace), Response(200, Members(1200)));
  ASSERT_TRUE(SyncNow(c.id()).ok());
  v1::ListUsersRequest request;
  request.set_connection_id(c.id());
  EXPECT_EQ(connector_.ListUsers(request)->users_size(), 100);  // Default.
  request.set_page_size(5000);
  EXPECT_EQ(connector_.ListUsers(request)->users_size(), 1000);  // Clamped.
  request.set_page_size(-1);
  EXPECT_EQ(ErrorReason(connector_.ListUsers(request).status()), reason::kInvalidPageSize);
  // A token is bound to its connection and filter.
  request.set_page_size(10);
  std::string token = connector_.ListUsers(request)->next_page_token();
  request.set_page_token(token);
  request.set_show_removed(true);
  EXPECT_EQ(ErrorReason(connector_.ListUsers(request).status()), reason::kInvalidPageToken);
}

TEST_F(ConnectorTest, DeleteForgetsConnectionAndUsers) {
  v1::Connection c = ConnectOk();
  ASSERT_TRUE(SyncNow(c.id()).ok());
  v1::DeleteConnectionRequest del;
  del.set_connection_id(c.id());
  ASSERT_TRUE(connector_.DeleteConnection(del).ok());
  v1::ListUsersRequest list;
  list.set_connection_id(c.id());
  EXPECT_EQ(connector_.ListUsers(list).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(store_.GetConnection(c.id()).ok());
}

}  // namespace
}  // namespace workato_connector
