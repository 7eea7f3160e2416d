#ifndef WORKATO_CONNECTOR_SERVER_CLOCK_H_
#define WORKATO_CONNECTOR_SERVER_CLOCK_H_

#include <functional>

#include "absl/time/time.h"

namespace workato_connector {

// What a call to Workato may take: the gRPC caller's deadline, and whether
// the caller has gone away (then the work stops and nothing is stored).
struct CallContext {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;

  [[nodiscard]] bool IsCancelled() const { return cancelled && cancelled(); }
};

// Clock is time as a parameter: the real one, or a fake in tests that
// records the sleeps asked for and returns at once.
class Clock {
 public:
  virtual ~Clock() = default;

  [[nodiscard]] virtual absl::Time Now() = 0;

  // Sleep waits `duration`, or less when `context` is cancelled meanwhile.
  virtual void Sleep(absl::Duration duration, const CallContext& context) = 0;

  // The process-wide real clock.
  [[nodiscard]] static Clock* Real();
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_CLOCK_H_
