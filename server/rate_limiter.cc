#include "rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "errors.h"

namespace workato_connector {

namespace {

// After a full burst of B requests, the steady rate may add L - B more within
// the same minute; the interval is rounded up so that rounding can never
// squeeze one more request into a 60-second window.
absl::Duration SteadyInterval(int per_minute, int burst) {
  const int64_t slots = std::max(1, per_minute - burst + 1);
  const int64_t minute_ns = absl::ToInt64Nanoseconds(absl::Minutes(1));
  return absl::Nanoseconds((minute_ns + slots - 1) / slots);
}

}  // namespace

RateLimiter::RateLimiter(int per_minute, int burst, Clock* clock)
    : interval_(
          SteadyInterval(std::max(1, per_minute), std::clamp(burst, 1, std::max(1, per_minute)))),
      tolerance_(interval_ * (std::clamp(burst, 1, std::max(1, per_minute)) - 1)),
      clock_(clock) {}

absl::StatusOr<absl::Duration> RateLimiter::Reserve(const std::string& key, absl::Time deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  auto it = next_.find(key);
  const absl::Time tat = it == next_.end() ? now : std::max(it->second, now);
  const absl::Duration wait = std::max(absl::ZeroDuration(), tat - tolerance_ - now);
  if (now + wait > deadline) {
    return WithRetryDelay(
        MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoRateLimited,
                  absl::StrFormat("this workspace's Workato request budget is spent for now; the "
                                  "next request may go in %s, after the call's deadline",
                                  absl::FormatDuration(wait))),
        wait);
  }
  next_[key] = tat + interval_;
  return wait;
}

}  // namespace workato_connector
