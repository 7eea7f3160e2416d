// Retries, backoff, Retry-After and rate limiting of WorkatoClient, on a fake
// clock: tests run instantly and assert the exact delays asked for.
#include <string>
#include <vector>

#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rate_limiter.h"
#include "retry_policy.h"
#include "testing/fake_clock.h"
#include "testing/mock_http_fetcher.h"
#include "workato_client.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using ::testing::_;
using ::testing::ElementsAre;
using testing::FakeClock;
using ::testing::HasSubstr;
using testing::MockHttpFetcher;
using testing::Response;
using ::testing::Return;

constexpr char kMembers[] = R"({"data": [{"id": 1, "email": "a@x"}], "total": 1})";

HttpResponse WithRetryAfter(long code, const std::string& value) {
  HttpResponse response = Response(code, "{}");
  response.headers.emplace_back("retry-after", value);
  return response;
}

class RetryTest : public ::testing::Test {
 protected:
  RetryTest() { options_.max_retry_after = absl::Seconds(60); }

  absl::StatusOr<CollaboratorListing> List(CallContext context = {}) {
    WorkatoClient client(&fetcher_, DataCenterEndpoints(), options_, limiter_, &clock_);
    return client.ListCollaborators(v1::DATA_CENTER_US, "tok", "US/1", context);
  }

  MockHttpFetcher fetcher_;
  FakeClock clock_;
  WorkatoClientOptions options_;
  RateLimiter* limiter_ = nullptr;
};

TEST_F(RetryTest, TransientThenSuccessBacksOffWithinExponentialBounds) {
  EXPECT_CALL(fetcher_, Get(_))
      .WillOnce(Return(Response(503, "{}")))
      .WillOnce(Return(Response(502, "{}")))
      .WillOnce(Return(MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable,
                                 "connection reset")))
      .WillOnce(Return(Response(200, kMembers)));
  auto listing = List();
  ASSERT_TRUE(listing.ok()) << listing.status();
  std::vector<absl::Duration> sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 3u);
  EXPECT_LE(sleeps[0], absl::Milliseconds(500));
  EXPECT_LE(sleeps[1], absl::Milliseconds(1000));
  EXPECT_LE(sleeps[2], absl::Milliseconds(2000));
}

TEST_F(RetryTest, EveryTransientFailureIsRetried) {
  for (long code : {429L, 500L, 502L, 503L, 504L}) {
    EXPECT_CALL(fetcher_, Get(_))
        .WillOnce(Return(Response(code, "{}")))
        .WillOnce(Return(Response(200, kMembers)));
    EXPECT_TRUE(List().ok()) << code;
  }
  EXPECT_CALL(fetcher_, Get(_))
      .WillOnce(Return(MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable,
                                 "Workato did not answer in time")))
      .WillOnce(Return(Response(200, kMembers)));
  EXPECT_TRUE(List().ok());
}

TEST_F(RetryTest, NeverRetriesClientErrorsOrHopelessFailures) {
  for (long code : {400L, 401L, 403L, 404L, 409L, 501L}) {
    EXPECT_CALL(fetcher_, Get(_)).WillOnce(Return(Response(code, "{}")));
    EXPECT_FALSE(List().ok()) << code;
  }
  for (auto why : {reason::kWorkatoTlsError, reason::kWorkatoResponseTooLarge}) {
    EXPECT_CALL(fetcher_, Get(_))
        .WillOnce(Return(MakeError(absl::StatusCode::kUnavailable, why, "no")));
    EXPECT_FALSE(List().ok()) << why;
  }
  EXPECT_CALL(fetcher_, Get(_))
      .WillOnce(Return(
          MakeError(absl::StatusCode::kDeadlineExceeded, reason::kWorkatoUnavailable, "late")));
  EXPECT_FALSE(List().ok());
  EXPECT_CALL(fetcher_, Get(_)).WillOnce(Return(Response(200, "not json")));
  EXPECT_FALSE(List().ok());
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(RetryTest, GivesUpAfterMaxAttempts) {
  options_.max_attempts = 3;
  EXPECT_CALL(fetcher_, Get(_)).Times(3).WillRepeatedly(Return(Response(500, "{}")));
  auto listing = List();
  EXPECT_EQ(listing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(listing.status()), reason::kWorkatoUnavailable);
  EXPECT_THAT(std::string(listing.status().message()), HasSubstr("after 3 attempts"));
  EXPECT_EQ(clock_.sleeps().size(), 2u);
}

TEST_F(RetryTest, RetryAfterSecondsIsWaitedExactly) {
  EXPECT_CALL(fetcher_, Get(_))
      .WillOnce(Return(WithRetryAfter(429, "7")))
      .WillOnce(Return(WithRetryAfter(503, "2")))
      .WillOnce(Return(Response(200, kMembers)));
  ASSERT_TRUE(List().ok());
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Seconds(7), absl::Seconds(2)));
}

TEST_F(RetryTest, RetryAfterHttpDateIsWaitedUntil) {
  std::string date = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", clock_.Now() + absl::Seconds(30),
                                      absl::UTCTimeZone());
  EXPECT_CALL(fetcher_, Get(_))
      .WillOnce(Return(WithRetryAfter(429, date)))
      .WillOnce(Return(Response(200, kMembers)));
  ASSERT_TRUE(List().ok());
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Seconds(30)));
}

TEST_F(RetryTest, RetryAfterBeyondTheDeadlineFailsAtOnceWithRetryInfo) {
  EXPECT_CALL(fetcher_, Get(_)).WillOnce(Return(WithRetryAfter(429, "10")));
  CallContext context;
  context.deadline = clock_.Now() + absl::Seconds(5);
  auto listing = List(context);
  EXPECT_EQ(listing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(listing.status()), reason::kWorkatoRateLimited);
  EXPECT_EQ(RetryDelayOf(listing.status()), absl::Seconds(10));
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(RetryTest, RetryAfterBeyondTheCapFailsAtOnceWithRetryInfo) {
  options_.max_retry_after = absl::Seconds(60);
  EXPECT_CALL(fetcher_, Get(_)).WillOnce(Return(WithRetryAfter(503, "120")));
  auto listing = List();
  EXPECT_EQ(listing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(RetryDelayOf(listing.status()), absl::Seconds(120));
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(RetryTest, BackoffNeverSleepsPastTheDeadline) {
  options_.initial_backoff = absl::Seconds(10);
  options_.max_backoff = absl::Seconds(10);
  // Whatever the jitter draws, a delay above the deadline fails at once with
  // the delay as RetryInfo; one within it sleeps and retries.
  ON_CALL(fetcher_, Get(_)).WillByDefault(Return(Response(500, "{}")));
  EXPECT_CALL(fetcher_, Get(_)).Times(::testing::AtLeast(1));
  CallContext context;
  context.deadline = clock_.Now() + absl::Milliseconds(1);
  auto listing = List(context);
  EXPECT_EQ(listing.status().code(), absl::StatusCode::kUnavailable);
  for (absl::Duration slept : clock_.sleeps()) EXPECT_LE(slept, absl::Milliseconds(1));
}

TEST_F(RetryTest, BudgetBoundsTheAttempts) {
  options_.max_attempts = 100;
  options_.retry_budget = absl::Seconds(5);
  options_.initial_backoff = absl::Seconds(2);
  options_.max_backoff = absl::Seconds(2);
  ON_CALL(fetcher_, Get(_)).WillByDefault(Return(Response(500, "{}")));
  EXPECT_CALL(fetcher_, Get(_)).Times(::testing::Between(2, 100));
  EXPECT_FALSE(List().ok());
  absl::Duration total;
  for (absl::Duration slept : clock_.sleeps()) total += slept;
  EXPECT_LE(total, absl::Seconds(5));
}

TEST_F(RetryTest, CancelledCallerStopsBeforeFetching) {
  EXPECT_CALL(fetcher_, Get(_)).Times(0);
  CallContext context;
  context.cancelled = [] { return true; };
  EXPECT_EQ(List(context).status().code(), absl::StatusCode::kCancelled);
}

TEST(ExponentialBackoffTest, FullJitterUnderADoublingCappedLimit) {
  ExponentialBackoffPolicy backoff(absl::Milliseconds(500), absl::Seconds(4), 2.0, 42);
  const absl::Duration limits[] = {absl::Milliseconds(500), absl::Seconds(1), absl::Seconds(2),
                                   absl::Seconds(4), absl::Seconds(4)};
  for (absl::Duration limit : limits) {
    EXPECT_EQ(backoff.current_limit(), limit);
    absl::Duration delay = backoff.OnCompletion();
    EXPECT_GE(delay, absl::ZeroDuration());
    EXPECT_LE(delay, limit);
  }
  // Jitter really varies: many draws under one limit are not all equal.
  ExponentialBackoffPolicy flat(absl::Seconds(1), absl::Seconds(1), 2.0, 7);
  absl::Duration first = flat.OnCompletion();
  bool varied = false;
  for (int i = 0; i < 20 && !varied; ++i) varied = flat.OnCompletion() != first;
  EXPECT_TRUE(varied);
}

TEST(RetryAfterTest, SecondsAndDates) {
  absl::Time now = absl::FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:29:00 GMT", now), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
}

TEST(RateLimiterTest, BurstThenSteadyPaceNeverOverTheLimitPerMinute) {
  FakeClock clock;
  RateLimiter limiter(60, 5, &clock);
  const absl::Time start = clock.Now();
  std::vector<absl::Time> sent;
  for (int i = 0; i < 200; ++i) {
    auto wait = limiter.Reserve("US/1/members", absl::InfiniteFuture());
    ASSERT_TRUE(wait.ok());
    if (i < 5) {
      EXPECT_EQ(*wait, absl::ZeroDuration()) << i;
    }
    clock.Sleep(*wait, CallContext());
    sent.push_back(clock.Now());
  }
  // Any 60-second window holds at most 60 requests.
  for (size_t i = 0; i < sent.size(); ++i) {
    size_t in_window = 0;
    for (size_t j = i; j < sent.size() && sent[j] < sent[i] + absl::Minutes(1); ++j) ++in_window;
    EXPECT_LE(in_window, 60u) << i;
  }
  // And the pace is not needlessly slow: 200 requests in under 3.5 minutes.
  EXPECT_LT(sent.back() - start, absl::Seconds(210));
}

TEST(RateLimiterTest, KeysAreIndependentAndDeadlinesRefuseWithoutBooking) {
  FakeClock clock;
  RateLimiter limiter(2, 1, &clock);  // One request, then one every 30 s.
  ASSERT_EQ(*limiter.Reserve("a", absl::InfiniteFuture()), absl::ZeroDuration());
  EXPECT_EQ(*limiter.Reserve("b", absl::InfiniteFuture()), absl::ZeroDuration());
  auto refused = limiter.Reserve("a", clock.Now() + absl::Seconds(10));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(refused.status()), reason::kWorkatoRateLimited);
  EXPECT_EQ(RetryDelayOf(refused.status()), absl::Seconds(30));
  // The refusal booked nothing: the next request still waits 30 s, not 60.
  EXPECT_EQ(*limiter.Reserve("a", absl::InfiniteFuture()), absl::Seconds(30));
}

TEST_F(RetryTest, RateLimiterPacesRequestsThroughTheClient) {
  RateLimiter limiter(2, 1, &clock_);
  limiter_ = &limiter;
  EXPECT_CALL(fetcher_, Get(_)).Times(2).WillRepeatedly(Return(Response(200, kMembers)));
  ASSERT_TRUE(List().ok());
  ASSERT_TRUE(List().ok());
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Seconds(30)));
  // Too long a wait for the deadline: UNAVAILABLE with RetryInfo, no request.
  CallContext context;
  context.deadline = clock_.Now() + absl::Seconds(1);
  auto listing = List(context);
  EXPECT_EQ(ErrorReason(listing.status()), reason::kWorkatoRateLimited);
  EXPECT_TRUE(RetryDelayOf(listing.status()).has_value());
}

}  // namespace
}  // namespace workato_connector
