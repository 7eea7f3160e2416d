#include "page_token.h"

#include "errors.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

TEST(PageTokenTest, UserTokenRoundTrips) {
  std::string token = EncodeUserPageToken("conn_1", true, UserKey{"Ann@Example.com", 1LL << 40});
  auto key = DecodeUserPageToken(token, "conn_1", true);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->email, "Ann@Example.com");
  EXPECT_EQ(key->id, 1LL << 40);
}

TEST(PageTokenTest, BoundToConnectionAndFilter) {
  std::string token = EncodeUserPageToken("conn_1", false, UserKey{"a@x", 1});
  for (auto decoded :
       {DecodeUserPageToken(token, "conn_2", false), DecodeUserPageToken(token, "conn_1", true)}) {
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(decoded.status()), reason::kInvalidPageToken);
  }
}

TEST(PageTokenTest, GarbageAndCrossListTokensAreInvalid) {
  EXPECT_EQ(DecodeUserPageToken("%%%not-base64", "c", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeUserPageToken("AAAA", "c", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string connections_token = EncodeConnectionPageToken("conn_9");
  EXPECT_EQ(DecodeUserPageToken(connections_token, "c", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*DecodeConnectionPageToken(connections_token), "conn_9");
  EXPECT_FALSE(DecodeConnectionPageToken(EncodeUserPageToken("c", false, {"a", 1})).ok());
}

}  // namespace
}  // namespace workato_connector
