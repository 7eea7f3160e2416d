#include "errors.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace workato_connector {
namespace {

constexpr absl::string_view kReasonUrl = "workato-connector/reason";
constexpr absl::string_view kMetadataPrefix = "workato-connector/metadata/";
constexpr absl::string_view kRetryDelayUrl = "workato-connector/retry-delay-ms";

// A reason for statuses that did not come through MakeError (e.g. from a
// library), so every error still carries one.
std::string DefaultReason(absl::StatusCode code) {
  return absl::StrCat("UNSPECIFIED_", absl::StatusCodeToString(code));
}

}  // namespace

absl::Status MakeError(absl::StatusCode code, absl::string_view reason, absl::string_view message,
                       const ErrorMetadata& metadata) {
  absl::Status status(code, message);
  status.SetPayload(kReasonUrl, absl::Cord(reason));
  for (const auto& [key, value] : metadata) {
    status.SetPayload(absl::StrCat(kMetadataPrefix, key), absl::Cord(value));
  }
  return status;
}

std::string ErrorReason(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonUrl);
  return payload.has_value() ? std::string(*payload) : std::string();
}

ErrorMetadata ErrorMetadataOf(const absl::Status& status) {
  ErrorMetadata metadata;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (absl::StartsWith(url, kMetadataPrefix)) {
      metadata[std::string(url.substr(kMetadataPrefix.size()))] = std::string(value);
    }
  });
  return metadata;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  status.SetPayload(kRetryDelayUrl, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(delay))));
  return status;
}

std::optional<absl::Duration> RetryDelayOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryDelayUrl);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return absl::Milliseconds(ms);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(status.code()));
  details.set_message(std::string(status.message()));
  google::rpc::ErrorInfo info;
  std::string reason = ErrorReason(status);
  info.set_reason(reason.empty() ? DefaultReason(status.code()) : reason);
  info.set_domain(std::string(kErrorDomain));
  for (auto& [key, value] : ErrorMetadataOf(status)) {
    (*info.mutable_metadata())[key] = value;
  }
  details.add_details()->PackFrom(info);
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    const int64_t ms = absl::ToInt64Milliseconds(*delay);
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(ms / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
    details.add_details()->PackFrom(retry);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      details.SerializeAsString());
}

}  // namespace workato_connector
