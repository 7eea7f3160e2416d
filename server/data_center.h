#ifndef WORKATO_CONNECTOR_SERVER_DATA_CENTER_H_
#define WORKATO_CONNECTOR_SERVER_DATA_CENTER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "workato/connector/v1/connector.pb.h"

namespace workato_connector {

using DataCenter = ::workato::connector::v1::DataCenter;

// DataCenterName returns the short name of a data center ("US", "EU", ...,
// "DEVELOPER_SANDBOX"), or "" for UNSPECIFIED and unknown values.
[[nodiscard]] std::string DataCenterName(DataCenter dc);

// ParseDataCenterName is the inverse of DataCenterName (case-insensitive).
[[nodiscard]] absl::StatusOr<DataCenter> ParseDataCenterName(absl::string_view name);

// DataCenterEndpoints knows the API base URL (scheme and host, no path) of
// every data center, with optional overrides for tests and private
// deployments.
class DataCenterEndpoints {
 public:
  // The public Workato hosts, https only.
  DataCenterEndpoints();

  // Parses "DC=URL[,DC=URL...]" (e.g. "US=http://127.0.0.1:18080") and
  // replaces those data centers' base URLs. Plain http is accepted only here.
  [[nodiscard]] absl::Status ApplyOverrides(absl::string_view overrides);

  // BaseUrl returns the base URL, or INVALID_ARGUMENT (INVALID_DATA_CENTER)
  // for UNSPECIFIED or an unknown value.
  [[nodiscard]] absl::StatusOr<std::string> BaseUrl(DataCenter dc) const;

 private:
  std::map<int, std::string> base_urls_;
};

// ValidateApiToken checks a token locally, before anything reaches Workato:
// non-empty, at most 1024 bytes, printable ASCII with no whitespace or
// control characters. The error never contains the token.
[[nodiscard]] absl::Status ValidateApiToken(absl::string_view token);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_DATA_CENTER_H_
