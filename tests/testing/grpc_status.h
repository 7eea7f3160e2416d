#ifndef WORKATO_CONNECTOR_TESTS_TESTING_GRPC_STATUS_H_
#define WORKATO_CONNECTOR_TESTS_TESTING_GRPC_STATUS_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace workato_connector::testing {

// ReasonOf returns the google.rpc.ErrorInfo reason in a gRPC error's
// details ("" when there is none), and checks its domain.
inline std::string ReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      EXPECT_EQ(info.domain(), "workato-connector");
      return info.reason();
    }
  }
  return "";
}

// RetryDelayOf returns the google.rpc.RetryInfo delay in a gRPC error's
// details, if any.
inline std::optional<absl::Duration> RetryDelayOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo info;
    if (any.UnpackTo(&info)) {
      return absl::Seconds(info.retry_delay().seconds()) +
             absl::Nanoseconds(info.retry_delay().nanos());
    }
  }
  return std::nullopt;
}

}  // namespace workato_connector::testing

#endif  // WORKATO_CONNECTOR_TESTS_TESTING_GRPC_STATUS_H_
