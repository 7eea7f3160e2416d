#include "clock.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace workato_connector {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }

  void Sleep(absl::Duration duration, const CallContext& context) override {
    // Short slices, so that a cancelled caller frees its thread within ~100 ms.
    const absl::Time end = absl::Now() + duration;
    for (absl::Time now = absl::Now(); now < end && !context.IsCancelled(); now = absl::Now()) {
      absl::SleepFor(std::min(end - now, absl::Milliseconds(100)));
    }
  }
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* const clock = new RealClock();
  return clock;
}

}  // namespace workato_connector
