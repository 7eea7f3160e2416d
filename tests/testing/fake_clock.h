#ifndef WORKATO_CONNECTOR_TESTS_TESTING_FAKE_CLOCK_H_
#define WORKATO_CONNECTOR_TESTS_TESTING_FAKE_CLOCK_H_

#include <mutex>
#include <vector>

#include "clock.h"

namespace workato_connector::testing {

// FakeClock: time stands still unless a test advances it; Sleep records the
// delay asked for, advances time by it and returns at once.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Sleep(absl::Duration duration, const CallContext&) override {
    std::lock_guard<std::mutex> lock(mu_);
    sleeps_.push_back(duration);
    now_ += duration;
  }
  void Advance(absl::Duration duration) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += duration;
  }
  std::vector<absl::Duration> sleeps() {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  std::mutex mu_;
  absl::Time now_;
  std::vector<absl::Duration> sleeps_;
};

}  // namespace workato_connector::testing

#endif  // WORKATO_CONNECTOR_TESTS_TESTING_FAKE_CLOCK_H_
