// CurlFetcher against the stand-in over real loopback sockets.
#include "curl_fetcher.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "errors.h"
#include "fake_workato/fake_workato.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

using testing::BodyMode;
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

TEST_F(CurlFetcherTest, SendsUserAgentAndAcceptsGzip) {
  CurlFetcher fetcher({});
  auto response = fetcher.Get(Request("/api/members"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(workato_.LastAuthorizationHeader(), "Bearer tok");
  EXPECT_EQ(workato_.LastUserAgent(), absl::StrCat("workato-connector/", WC_VERSION));
  EXPECT_THAT(workato_.LastAcceptEncoding(), HasSubstr("gzip"));
  EXPECT_EQ(workato_.GzipResponseCount(), 1);              // Sent compressed...
  EXPECT_THAT(response->body, HasSubstr("\"total\":50"));  // ...and decoded.
}

TEST_F(CurlFetcherTest, ReusesOneConnectionForManyRequests) {
  CurlFetcher fetcher({});
  for (int i = 0; i < 10; ++i) {
    auto response = fetcher.Get(Request(i % 2 ? "/api/members" : "/api/users/me"));
    ASSERT_TRUE(response.ok());
    ASSERT_EQ(response->status_code, 200);
  }
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers) + workato_.RequestCount(Endpoint::kUsersMe),
            10);
  EXPECT_EQ(workato_.ConnectionCount(), 1);
}

TEST_F(CurlFetcherTest, BodyCutShortIsUnavailable) {
  workato_.SetMembersBodyMode(BodyMode::kCutShort);
  CurlFetcher fetcher({});
  auto response = fetcher.Get(Request("/api/members"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(response.status()), reason::kWorkatoUnavailable);
}

TEST_F(CurlFetcherTest, ConnectionDroppedMidBodyIsUnavailable) {
  workato_.SetMembersBodyMode(BodyMode::kDropMidBody);
  CurlFetcher fetcher({});
  auto response = fetcher.Get(Request("/api/members"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(response.status()), reason::kWorkatoUnavailable);
}

TEST_F(CurlFetcherTest, HugeBodyIsAbortedEarlyNotReadWhole) {
  workato_.SetMembersBodyMode(BodyMode::kHuge, absl::Milliseconds(200), int64_t{64} << 20);
  CurlFetcherOptions options;
  options.max_response_bytes = int64_t{1} << 20;
  CurlFetcher fetcher(options);
  auto response = fetcher.Get(Request("/api/members"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(response.status()), reason::kWorkatoResponseTooLarge);
}

TEST_F(CurlFetcherTest, DrippingBodyIsAbortedByTheLowSpeedLimit) {
  workato_.SetMembersBodyMode(BodyMode::kDrip, absl::Milliseconds(200));
  CurlFetcherOptions options;
  options.low_speed_bytes = 1000;  // The drip sends ~80 bytes a second.
  options.low_speed_time = absl::Seconds(1);
  CurlFetcher fetcher(options);
  const absl::Time start = absl::Now();
  auto response = fetcher.Get(Request("/api/members"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(CurlFetcherTest, CancellationAbortsAHangWithinAboutASecond) {
  workato_.SetMembersBodyMode(BodyMode::kHang);
  CurlFetcher fetcher({});
  HttpRequest request = Request("/api/members");
  const absl::Time start = absl::Now();
  request.cancelled = [start] { return absl::Now() - start > absl::Milliseconds(300); };
  auto response = fetcher.Get(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1800));
}

class CurlFetcherTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/wc-tls-" + std::to_string(::getpid());
    ASSERT_EQ(::system(("mkdir -p " + dir_).c_str()), 0);
    ASSERT_TRUE(testing::WriteSelfSignedCert(dir_, &cert_, &key_));
    FakeWorkspace ws;
    ws.id = 1;
    ws.name = "TLS";
    ws.collaborators = GenerateCollaborators(3);
    workato_.SetWorkspace("tok", ws);
    ASSERT_GT(workato_.StartTls(cert_, key_), 0);
  }
  void TearDown() override { (void)::system(("rm -rf " + dir_).c_str()); }

  HttpRequest Request() {
    HttpRequest request;
    request.url = absl::StrCat(workato_.BaseUrl(), "/api/members");
    request.headers = {{"Authorization", "Bearer tok"}};
    request.deadline = absl::Now() + absl::Seconds(10);
    return request;
  }

  std::string dir_, cert_, key_;
  FakeWorkato workato_;
};

TEST_F(CurlFetcherTlsTest, SelfSignedIsRefusedWithoutTheCaFile) {
  ASSERT_THAT(workato_.BaseUrl(), ::testing::StartsWith("https://127.0.0.1:"));
  CurlFetcher fetcher({});
  auto response = fetcher.Get(Request());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(response.status()), reason::kWorkatoTlsError);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("--workato_ca_file"));
  EXPECT_EQ(workato_.RequestCount(Endpoint::kMembers), 0);  // Nothing (no token) was sent.
}

TEST_F(CurlFetcherTlsTest, SelfSignedIsAcceptedWithTheCaFile) {
  CurlFetcherOptions options;
  options.ca_file = cert_;
  CurlFetcher fetcher(options);
  auto response = fetcher.Get(Request());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status_code, 200);
}

}  // namespace
}  // namespace workato_connector
