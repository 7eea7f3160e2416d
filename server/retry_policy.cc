#include "retry_policy.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "errors.h"
#include "workato_client.h"

namespace workato_connector {

bool IsTransient(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnavailable) return false;
  const std::string why = ErrorReason(status);
  if (why != reason::kWorkatoUnavailable && why != reason::kWorkatoRateLimited) return false;
  switch (WorkatoClient::HttpStatusOf(status)) {
    case 0:  // No HTTP answer: connection refused or reset, timeout, cut short.
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

bool LimitedAttemptsRetryPolicy::OnFailure(const absl::Status& status) {
  ++failures_;
  return IsTransient(status) && failures_ < max_attempts_;
}

ExponentialBackoffPolicy::ExponentialBackoffPolicy(absl::Duration initial, absl::Duration maximum,
                                                   double multiplier, uint64_t seed)
    : initial_(initial),
      maximum_(maximum),
      multiplier_(multiplier),
      current_(std::min(initial, maximum)),
      random_(seed) {}

absl::Duration ExponentialBackoffPolicy::OnCompletion() {
  const int64_t limit_us = absl::ToInt64Microseconds(current_);
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(0, limit_us));
  absl::Duration delay = absl::Microseconds(jitter(random_));
  current_ = std::min(maximum_, current_ * multiplier_);
  return delay;
}

std::unique_ptr<BackoffPolicy> ExponentialBackoffPolicy::clone() const {
  return std::make_unique<ExponentialBackoffPolicy>(initial_, maximum_, multiplier_,
                                                    std::random_device()());
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  absl::Time when;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &when, &error)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), when - now);
}

}  // namespace workato_connector
