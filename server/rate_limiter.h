#ifndef WORKATO_CONNECTOR_SERVER_RATE_LIMITER_H_
#define WORKATO_CONNECTOR_SERVER_RATE_LIMITER_H_

#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clock.h"

namespace workato_connector {

// RateLimiter keeps this service under Workato's limit of N requests a
// minute per workspace and endpoint family. Each key is a token bucket that
// holds `burst` requests and refills at (N - burst) a minute, so that no
// 60-second window ever carries more than N requests. Thread-safe: every
// Connect and Sync of a workspace shares its buckets.
class RateLimiter {
 public:
  RateLimiter(int per_minute, int burst, Clock* clock);

  // Reserve books one request for `key` and returns how long to wait before
  // sending it. When that wait would pass `deadline`, nothing is booked and
  // the result is UNAVAILABLE (WORKATO_RATE_LIMITED) with the wait as
  // RetryInfo, so the caller fails at once instead of sleeping into its
  // deadline.
  [[nodiscard]] absl::StatusOr<absl::Duration> Reserve(const std::string& key, absl::Time deadline);

 private:
  const absl::Duration interval_;   // Between requests once the burst is spent.
  const absl::Duration tolerance_;  // How far ahead of schedule a burst may run.
  Clock* const clock_;
  std::mutex mu_;
  // Per key, the theoretical time of the next request at the steady rate
  // (the generic cell rate algorithm's TAT).
  std::map<std::string, absl::Time> next_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_RATE_LIMITER_H_
