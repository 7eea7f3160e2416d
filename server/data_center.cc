#include "data_center.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "errors.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;

namespace {

struct KnownDataCenter {
  DataCenter dc;
  absl::string_view name;
  absl::string_view base_url;
};

// From the Workato API doc: every data center serves /api/ on its own host.
constexpr KnownDataCenter kDataCenters[] = {
    {v1::DATA_CENTER_US, "US", "https://www.workato.com"},
    {v1::DATA_CENTER_EU, "EU", "https://app.eu.workato.com"},
    {v1::DATA_CENTER_JP, "JP", "https://app.jp.workato.com"},
    {v1::DATA_CENTER_SG, "SG", "https://app.sg.workato.com"},
    {v1::DATA_CENTER_AU, "AU", "https://app.au.workato.com"},
    {v1::DATA_CENTER_IL, "IL", "https://app.il.workato.com"},
    {v1::DATA_CENTER_DEVELOPER_SANDBOX, "DEVELOPER_SANDBOX", "https://app.trial.workato.com"},
};

constexpr size_t kMaxTokenBytes = 1024;

absl::Status InvalidDataCenter(absl::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidDataCenter, message);
}

}  // namespace

std::string DataCenterName(DataCenter dc) {
  for (const auto& known : kDataCenters) {
    if (known.dc == dc) return std::string(known.name);
  }
  return "";
}

absl::StatusOr<DataCenter> ParseDataCenterName(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  absl::string_view short_name = absl::StripPrefix(upper, "DATA_CENTER_");
  for (const auto& known : kDataCenters) {
    if (known.name == short_name) return known.dc;
  }
  return InvalidDataCenter(absl::StrCat(
      "unknown data center \"", name, "\"; use one of US, EU, JP, SG, AU, IL, DEVELOPER_SANDBOX"));
}

DataCenterEndpoints::DataCenterEndpoints() {
  for (const auto& known : kDataCenters) base_urls_[known.dc] = std::string(known.base_url);
}

absl::Status DataCenterEndpoints::ApplyOverrides(absl::string_view overrides) {
  std::map<int, std::string> updated = base_urls_;
  for (absl::string_view entry : absl::StrSplit(overrides, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    absl::StatusOr<DataCenter> dc = ParseDataCenterName(kv.first);
    if (!dc.ok()) return dc.status();
    std::string url(absl::StripSuffix(absl::StripAsciiWhitespace(kv.second), "/"));
    if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
      return InvalidDataCenter(absl::StrCat(
          "override for ", kv.first, " must be an http:// or https:// URL, got \"", url, "\""));
    }
    updated[*dc] = std::move(url);
  }
  base_urls_ = std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<std::string> DataCenterEndpoints::BaseUrl(DataCenter dc) const {
  if (dc == v1::DATA_CENTER_UNSPECIFIED) {
    return InvalidDataCenter(
        "data_center is required: pick the data center your Workato workspace signs in at "
        "(US, EU, JP, SG, AU, IL or DEVELOPER_SANDBOX)");
  }
  auto it = base_urls_.find(dc);
  if (it == base_urls_.end()) {
    return InvalidDataCenter(absl::StrCat("unknown data center value ", static_cast<int>(dc)));
  }
  return it->second;
}

absl::Status ValidateApiToken(absl::string_view token) {
  auto invalid = [](absl::string_view message) {
    return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidApiToken, message);
  };
  if (token.empty()) {
    return invalid("api_token is required: create an API client in Workspace admin > API clients");
  }
  if (token.size() > kMaxTokenBytes) {
    return invalid(absl::StrCat("api_token is longer than ", kMaxTokenBytes, " bytes"));
  }
  for (char c : token) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return invalid(
          "api_token contains whitespace, control or non-ASCII characters; copy the token exactly "
          "as Workato showed it");
    }
  }
  return absl::OkStatus();
}

}  // namespace workato_connector
