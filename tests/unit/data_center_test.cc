#include "data_center.h"

#include <string>

#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(DataCenterTest, PublicHostsPerDataCenter) {
  DataCenterEndpoints endpoints;
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_US), "https://www.workato.com");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_EU), "https://app.eu.workato.com");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_JP), "https://app.jp.workato.com");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_SG), "https://app.sg.workato.com");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_AU), "https://app.au.workato.com");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_IL), "https://app.il.workato.com");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_DEVELOPER_SANDBOX), "https://app.trial.workato.com");
}

TEST(DataCenterTest, UnspecifiedAndUnknownAreInvalidArgument) {
  DataCenterEndpoints endpoints;
  for (int value : {0, 8, 99, -1}) {
    auto url = endpoints.BaseUrl(static_cast<DataCenter>(value));
    ASSERT_FALSE(url.ok()) << value;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(url.status()), reason::kInvalidDataCenter);
  }
}

TEST(DataCenterTest, OverridesReplaceSchemeAndHost) {
  DataCenterEndpoints endpoints;
  ASSERT_TRUE(endpoints.ApplyOverrides("US=http://127.0.0.1:18080/, eu=https://[::1]:8443").ok());
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_US), "http://127.0.0.1:18080");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_EU), "https://[::1]:8443");
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_JP), "https://app.jp.workato.com");
}

TEST(DataCenterTest, BadOverridesAreRejectedWhole) {
  DataCenterEndpoints endpoints;
  EXPECT_FALSE(endpoints.ApplyOverrides("US=http://127.0.0.1:1,MARS=http://127.0.0.1:2").ok());
  EXPECT_FALSE(endpoints.ApplyOverrides("US=ftp://127.0.0.1").ok());
  EXPECT_FALSE(endpoints.ApplyOverrides("US").ok());
  EXPECT_EQ(*endpoints.BaseUrl(v1::DATA_CENTER_US), "https://www.workato.com");
}

TEST(DataCenterTest, NamesRoundTrip) {
  for (int value = 1; value <= 7; ++value) {
    auto dc = static_cast<DataCenter>(value);
    auto parsed = ParseDataCenterName(DataCenterName(dc));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, dc);
  }
  EXPECT_EQ(*ParseDataCenterName("data_center_developer_sandbox"),
            v1::DATA_CENTER_DEVELOPER_SANDBOX);
  EXPECT_FALSE(ParseDataCenterName("CN").ok());
  EXPECT_EQ(DataCenterName(v1::DATA_CENTER_UNSPECIFIED), "");
}

TEST(ApiTokenTest, AcceptsPrintableTokens) {
  EXPECT_TRUE(ValidateApiToken("wrkaus-0123456789abcdef").ok());
  EXPECT_TRUE(ValidateApiToken(std::string(1024, 'a')).ok());
}

TEST(ApiTokenTest, RejectsEmptyLongWhitespaceAndControl) {
  const std::string bad[] = {"",      std::string(1025, 'a'),     "abc def", "abc\tdef",
                             "abc\n", std::string("abc\0def", 7), "abc\x7f", "caf\xc3\xa9"};
  for (const std::string& token : bad) {
    absl::Status status = ValidateApiToken(token);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ErrorReason(status), reason::kInvalidApiToken);
    if (token.size() > 3) {
      EXPECT_THAT(std::string(status.message()), Not(HasSubstr(token)));
    }
  }
}

}  // namespace
}  // namespace workato_connector
