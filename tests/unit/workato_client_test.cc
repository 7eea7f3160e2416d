#include "workato_client.h"

#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"
#include "testing/mock_http_fetcher.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using ::testing::_;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using testing::MockHttpFetcher;
using ::testing::Not;
using ::testing::Pair;
using testing::Response;
using ::testing::Return;

WorkatoClientOptions NoRetries() {
  WorkatoClientOptions options;
  options.max_attempts = 1;
  return options;
}

class WorkatoClientTest : public ::testing::Test {
 protected:
  WorkatoClientTest() : client_(&fetcher_, DataCenterEndpoints(), NoRetries(), nullptr, &clock_) {}
  MockHttpFetcher fetcher_;
  testing::FakeClock clock_;
  WorkatoClient client_;
};

TEST_F(WorkatoClientTest, SendsBearerTokenToTheDataCentersHost) {
  EXPECT_CALL(
      fetcher_,
      Get(AllOf(Field(&HttpRequest::url, "https://app.eu.workato.com/api/users/me"),
                Field(&HttpRequest::headers, Contains(Pair("Authorization", "Bearer tok-123"))))))
      .WillOnce(Return(Response(200, R"({"id": 7, "name": "Acme EU"})")));
  auto workspace = client_.GetWorkspace(v1::DATA_CENTER_EU, "tok-123", "US/1", CallContext());
  ASSERT_TRUE(workspace.ok()) << workspace.status();
  EXPECT_EQ(workspace->id, 7);
  EXPECT_EQ(workspace->name, "Acme EU");
}

TEST_F(WorkatoClientTest, ListsMembers) {
  EXPECT_CALL(fetcher_, Get(Field(&HttpRequest::url, "https://www.workato.com/api/members")))
      .WillOnce(Return(Response(200, R"({"data": [{"id": 1, "email": "a@x"}], "total": 1})")));
  auto listing = client_.ListCollaborators(v1::DATA_CENTER_US, "t", "US/1", CallContext());
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->users.size(), 1u);
}

struct HttpCase {
  long http;
  absl::StatusCode code;
  absl::string_view reason;
};

TEST_F(WorkatoClientTest, MapsHttpStatusesToCodes) {
  const HttpCase cases[] = {
      {401, absl::StatusCode::kUnauthenticated, reason::kTokenRejected},
      {403, absl::StatusCode::kPermissionDenied, reason::kMissingPermission},
      {429, absl::StatusCode::kUnavailable, reason::kWorkatoRateLimited},
      {500, absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable},
      {502, absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable},
      {503, absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable},
      {504, absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable},
      {400, absl::StatusCode::kUnavailable, reason::kWorkatoBadResponse},
      {404, absl::StatusCode::kUnavailable, reason::kWorkatoBadResponse},
      {302, absl::StatusCode::kUnavailable, reason::kWorkatoBadResponse},
  };
  for (const HttpCase& c : cases) {
    EXPECT_CALL(fetcher_, Get(_))
        .WillOnce(Return(Response(c.http, R"({"message": "secret-looking body"})")));
    auto listing =
        client_.ListCollaborators(v1::DATA_CENTER_US, "tk-9f8e7d", "US/1", CallContext());
    ASSERT_FALSE(listing.ok()) << c.http;
    EXPECT_EQ(listing.status().code(), c.code) << c.http;
    EXPECT_EQ(ErrorReason(listing.status()), c.reason) << c.http;
    EXPECT_EQ(WorkatoClient::HttpStatusOf(listing.status()), c.http);
    EXPECT_THAT(std::string(listing.status().message()), Not(HasSubstr("tk-9f8e7d")));
  }
}

TEST_F(WorkatoClientTest, TransportErrorsPassThrough) {
  EXPECT_CALL(fetcher_, Get(_)).WillOnce(Return(absl::UnavailableError("could not connect")));
  auto workspace = client_.GetWorkspace(v1::DATA_CENTER_US, "t", "US/1", CallContext());
  EXPECT_EQ(workspace.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(WorkatoClient::HttpStatusOf(workspace.status()), 0);
}

TEST_F(WorkatoClientTest, UnspecifiedDataCenterNeverCallsWorkato) {
  EXPECT_CALL(fetcher_, Get(_)).Times(0);
  auto workspace = client_.GetWorkspace(v1::DATA_CENTER_UNSPECIFIED, "t", "US/1", CallContext());
  EXPECT_EQ(workspace.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace workato_connector
