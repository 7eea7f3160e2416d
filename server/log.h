#ifndef WORKATO_CONNECTOR_SERVER_LOG_H_
#define WORKATO_CONNECTOR_SERVER_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace workato_connector {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogFields = std::vector<std::pair<std::string, std::string>>;

// SetLogLevel sets the lowest level written (default kInfo).
void SetLogLevel(LogLevel level);

// ParseLogLevel accepts "debug", "info", "warning", "error".
[[nodiscard]] bool ParseLogLevel(absl::string_view text, LogLevel* level);

// Log writes one JSON object per line to stderr: time, level, message and
// the fields. Callers never pass secrets (API tokens) in any of them.
void Log(LogLevel level, absl::string_view message, const LogFields& fields = {});

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_LOG_H_
