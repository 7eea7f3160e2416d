#include "errors.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

TEST(ErrorsTest, ReasonAndMetadataSurviveToGrpc) {
  absl::Status status = MakeError(absl::StatusCode::kPermissionDenied, reason::kMissingPermission,
                                  "lacks a group", {{"permission_groups", "Workspace details"}});
  EXPECT_EQ(ErrorReason(status), "MISSING_PERMISSION");
  grpc::Status grpc_status = ToGrpcStatus(status);
  EXPECT_EQ(grpc_status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(grpc_status.error_message(), "lacks a group");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(grpc_status.error_details()));
  EXPECT_EQ(details.code(), 7);
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "MISSING_PERMISSION");
  EXPECT_EQ(info.domain(), "workato-connector");
  EXPECT_EQ(info.metadata().at("permission_groups"), "Workspace details");
}

TEST(ErrorsTest, PlainStatusGetsReasonFromCode) {
  grpc::Status grpc_status = ToGrpcStatus(absl::InternalError("boom"));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(grpc_status.error_details()));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "UNSPECIFIED_INTERNAL");
}

TEST(ErrorsTest, RetryDelayBecomesRetryInfo) {
  absl::Status status = WithRetryDelay(
      MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoRateLimited, "slow down"),
      absl::Milliseconds(2500));
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(ToGrpcStatus(status).error_details()));
  ASSERT_EQ(details.details_size(), 2);
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(1).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 2);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
}

TEST(ErrorsTest, OkStaysOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

}  // namespace
}  // namespace workato_connector
