#ifndef WORKATO_CONNECTOR_SERVER_ERRORS_H_
#define WORKATO_CONNECTOR_SERVER_ERRORS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace workato_connector {

// The ErrorInfo domain of every error this service returns.
inline constexpr absl::string_view kErrorDomain = "workato-connector";

// Stable machine-readable reasons (google.rpc.ErrorInfo.reason). Clients may
// switch on them; never rename one.
namespace reason {
inline constexpr absl::string_view kInvalidDataCenter = "INVALID_DATA_CENTER";
inline constexpr absl::string_view kInvalidApiToken = "INVALID_API_TOKEN";
inline constexpr absl::string_view kInvalidConnectionId = "INVALID_CONNECTION_ID";
inline constexpr absl::string_view kInvalidPageSize = "INVALID_PAGE_SIZE";
inline constexpr absl::string_view kInvalidPageToken = "INVALID_PAGE_TOKEN";
inline constexpr absl::string_view kTokenRejected = "TOKEN_REJECTED";
inline constexpr absl::string_view kMissingPermission = "MISSING_PERMISSION";
inline constexpr absl::string_view kConnectionNotFound = "CONNECTION_NOT_FOUND";
inline constexpr absl::string_view kNeedsReconnect = "NEEDS_RECONNECT";
inline constexpr absl::string_view kWorkatoUnavailable = "WORKATO_UNAVAILABLE";
inline constexpr absl::string_view kWorkatoRateLimited = "WORKATO_RATE_LIMITED";
inline constexpr absl::string_view kWorkatoBadResponse = "WORKATO_BAD_RESPONSE";
inline constexpr absl::string_view kWorkatoTlsError = "WORKATO_TLS_ERROR";
inline constexpr absl::string_view kWorkatoResponseTooLarge = "WORKATO_RESPONSE_TOO_LARGE";
inline constexpr absl::string_view kIncompleteListing = "INCOMPLETE_LISTING";
inline constexpr absl::string_view kOverloaded = "OVERLOADED";
inline constexpr absl::string_view kStorageError = "STORAGE_ERROR";
inline constexpr absl::string_view kCancelled = "CANCELLED";
// The gRPC caller (not the Workato token): no or an unknown caller token, or
// a token whose scope does not allow the method.
inline constexpr absl::string_view kCallerUnauthenticated = "CALLER_UNAUTHENTICATED";
inline constexpr absl::string_view kCallerPermissionDenied = "CALLER_PERMISSION_DENIED";
// Server configuration (flags, files) rejected at start.
inline constexpr absl::string_view kInvalidConfiguration = "INVALID_CONFIGURATION";
}  // namespace reason

// Metadata attached to an error and sent in ErrorInfo.metadata.
using ErrorMetadata = std::map<std::string, std::string>;

// MakeError builds a status with a stable reason and metadata attached as
// payloads, so that they survive being passed up the layers unchanged.
[[nodiscard]] absl::Status MakeError(absl::StatusCode code, absl::string_view reason,
                                     absl::string_view message, const ErrorMetadata& metadata = {});

// ErrorReason returns the reason attached by MakeError, or "" if none.
[[nodiscard]] std::string ErrorReason(const absl::Status& status);

// ErrorMetadataOf returns the metadata attached by MakeError.
[[nodiscard]] ErrorMetadata ErrorMetadataOf(const absl::Status& status);

// WithRetryDelay attaches a suggested retry delay (sent as google.rpc.RetryInfo).
[[nodiscard]] absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// RetryDelayOf returns the delay attached by WithRetryDelay, if any.
[[nodiscard]] std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);

// ToGrpcStatus converts at the gRPC edge: same code and message, plus a
// google.rpc.Status in the details with ErrorInfo (and RetryInfo when set).
// A status without a reason gets one derived from its code.
[[nodiscard]] grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_ERRORS_H_
