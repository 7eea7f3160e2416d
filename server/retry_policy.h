#ifndef WORKATO_CONNECTOR_SERVER_RETRY_POLICY_H_
#define WORKATO_CONNECTOR_SERVER_RETRY_POLICY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace workato_connector {

// IsTransient reports whether another attempt may succeed: connection
// errors, timeouts and HTTP 429, 500, 502, 503 and 504. Never 4xx (but 429),
// TLS failures, oversized or malformed answers, cancellation or a passed
// deadline.
[[nodiscard]] bool IsTransient(const absl::Status& status);

// RetryPolicy decides whether a failed operation may try again. One per
// operation: clone() the configured prototype.
class RetryPolicy {
 public:
  virtual ~RetryPolicy() = default;
  // OnFailure records a failure; false when no attempt may follow it.
  [[nodiscard]] virtual bool OnFailure(const absl::Status& status) = 0;
  [[nodiscard]] virtual std::unique_ptr<RetryPolicy> clone() const = 0;
};

// At most `max_attempts` attempts in all, transient failures only.
class LimitedAttemptsRetryPolicy : public RetryPolicy {
 public:
  explicit LimitedAttemptsRetryPolicy(int max_attempts) : max_attempts_(max_attempts) {}
  bool OnFailure(const absl::Status& status) override;
  std::unique_ptr<RetryPolicy> clone() const override {
    return std::make_unique<LimitedAttemptsRetryPolicy>(max_attempts_);
  }

 private:
  int max_attempts_;
  int failures_ = 0;
};

// BackoffPolicy says how long to wait before the next attempt.
class BackoffPolicy {
 public:
  virtual ~BackoffPolicy() = default;
  [[nodiscard]] virtual absl::Duration OnCompletion() = 0;
  [[nodiscard]] virtual std::unique_ptr<BackoffPolicy> clone() const = 0;
};

// Exponential backoff with full jitter: the n-th delay is uniform in
// [0, min(maximum, initial * multiplier^(n-1))]. Full jitter spreads retries
// of many clients apart (AWS architecture blog, "Exponential Backoff And
// Jitter").
class ExponentialBackoffPolicy : public BackoffPolicy {
 public:
  ExponentialBackoffPolicy(absl::Duration initial, absl::Duration maximum, double multiplier,
                           uint64_t seed = std::random_device()());
  absl::Duration OnCompletion() override;
  std::unique_ptr<BackoffPolicy> clone() const override;

  // The upper bound of the next delay (for tests).
  [[nodiscard]] absl::Duration current_limit() const { return current_; }

 private:
  absl::Duration initial_;
  absl::Duration maximum_;
  double multiplier_;
  absl::Duration current_;
  std::mt19937_64 random_;
};

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110), relative to `now`. nullopt when empty or malformed.
[[nodiscard]] std::optional<absl::Duration> ParseRetryAfter(absl::string_view value,
                                                            absl::Time now);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_RETRY_POLICY_H_
