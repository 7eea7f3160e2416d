// libFuzzer target: the small parsers of untrusted text: API tokens, data
// center overrides and names, Retry-After headers, RFC 3339 times.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data_center.h"
#include "retry_policy.h"
#include "workato_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)workato_connector::ValidateApiToken(text);
  (void)workato_connector::ParseDataCenterName(text);
  workato_connector::DataCenterEndpoints endpoints;
  (void)endpoints.ApplyOverrides(text);
  auto delay = workato_connector::ParseRetryAfter(text, absl::FromUnixSeconds(1700000000));
  if (delay.has_value() && *delay < absl::ZeroDuration()) __builtin_trap();
  (void)workato_connector::ParseRfc3339(text);
  return 0;
}
