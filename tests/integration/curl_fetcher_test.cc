// CurlFetcher against the stand-in over real loopback sockets.
#include "curl_fetcher.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "errors.h"
#include "fake_workato/fake_workato.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

using testing::Endpoint;
using testing::FakeWorkato;
using testing::FakeWorkspace;
using testing::GenerateCollaborators;
using ::testing::HasSubstr;

class CurlFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeWorkspace ws;
    ws.id = 1;
    ws.name = "W";
    ws.collaborators = GenerateCollaborators(50);
    workato_.SetWorkspace("tok", ws);
    ASSERT_GT(workato_.Start(), 0);
  }

  HttpRequest Request(const std::string& path) {
    HttpRequest request;
    request.url = absl::StrCat(workato_.BaseUrl(), path);
    request.headers = {{"Authorization", "Bearer tok"}};
    request.deadline = absl::Now() + absl::Seconds(10);
    return request;
  }

  FakeWorkato workato_;
};

TEST_F(CurlFetcherTest, GetsBodyStatusAndHeaders) {
  CurlFetcher fetcher({});
  auto response = fetcher.Get(Request("/api/members"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status_code, 200);
  EXPECT_THAT(response->body, HasSubstr("\"total\":50"));
  EXPECT_THAT(response->Header("content-type"), HasSubstr("application/json"));
}

TEST_F(CurlFetcherTest, HttpErrorsAreResponsesNotFailures) {
  CurlFetcher fetcher({});
  HttpRequest request = Request("/api/members");
  request.headers = {{"Authorization", "Bearer wrong"}};
  auto response = fetcher.Get(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status_code, 401);
  workato_.FailNext(Endpoint::kMembers, 429, "{}", 1, {{"Retry-After", "7"}});
  response = fetcher.Get(Request("/api/members"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status_code, 429);
  EXPECT_EQ(response->Header("retry-after"), "7");
}

TEST_F(CurlFetcherTest, RefusedConnectionIsUnavailable) {
  CurlFetcher fetcher({});
  HttpRequest request = Request("/api/members");
  workato_.Stop();
  auto response = fetcher.Get(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(response.status()), reason::kWorkatoUnavailable);
}

TEST_F(CurlFetcherTest, OversizedBodyIsAbortedAsUnavailable) {
  CurlFetcherOptions options;
  options.max_response_bytes = 1000;
  CurlFetcher fetcher(options);
  auto response = fetcher.Get(Request("/api/members"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("larger than"));
}

TEST_F(CurlFetcherTest, DeadlineAbortsASlowAnswer) {
  workato_.SetDelay(Endpoint::kMembers, absl::Seconds(5));
  CurlFetcher fetcher({});
  HttpRequest request = Request("/api/members");
  request.deadline = absl::Now() + absl::Milliseconds(300);
  absl::Time start = absl::Now();
  auto response = fetcher.Get(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(CurlFetcherTest, RequestTimeoutIsUnavailable) {
  workato_.SetDelay(Endpoint::kMembers, absl::Seconds(5));
  CurlFetcherOptions options;
  options.request_timeout = absl::Milliseconds(300);
  CurlFetcher fetcher(options);
  auto response = fetcher.Get(Request("/api/members"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("in time"));
}

TEST_F(CurlFetcherTest, SendsUserAgent) {
  CurlFetcher fetcher({});
  ASSERT_TRUE(fetcher.Get(Request("/api/users/me")).ok());
  EXPECT_EQ(workato_.LastAuthorizationHeader(), "Bearer tok");
}

}  // namespace
}  // namespace workato_connector
