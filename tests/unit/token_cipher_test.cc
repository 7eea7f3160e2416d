#include "token_cipher.h"

#include <string>

#include "gtest/gtest.h"

namespace workato_connector {
namespace {

TEST(TokenCipherTest, SealsAndOpens) {
  auto cipher = TokenCipher::WithRandomKey();
  ASSERT_TRUE(cipher.ok());
  auto sealed = cipher->Seal("secret-token-value", "conn_1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("secret-token-value"), std::string::npos);
  EXPECT_EQ(*cipher->Open(*sealed, "conn_1"), "secret-token-value");
}

TEST(TokenCipherTest, NonceMakesEachSealDifferent) {
  auto cipher = TokenCipher::WithRandomKey();
  EXPECT_NE(*cipher->Seal("t", "c"), *cipher->Seal("t", "c"));
}

TEST(TokenCipherTest, WrongRowWrongKeyAndTamperingFail) {
  auto cipher = TokenCipher::WithRandomKey();
  auto other = TokenCipher::WithRandomKey();
  std::string sealed = *cipher->Seal("secret", "conn_1");
  EXPECT_EQ(cipher->Open(sealed, "conn_2").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(other->Open(sealed, "conn_1").status().code(), absl::StatusCode::kFailedPrecondition);
  std::string tampered = sealed;
  tampered[14] = static_cast<char>(tampered[14] ^ 1);
  EXPECT_FALSE(cipher->Open(tampered, "conn_1").ok());
  EXPECT_FALSE(cipher->Open("short", "conn_1").ok());
}

TEST(TokenCipherTest, KeyMustBe32Bytes) {
  EXPECT_FALSE(TokenCipher::FromKey("short").ok());
  EXPECT_TRUE(TokenCipher::FromKey(std::string(32, 'k')).ok());
}

}  // namespace
}  // namespace workato_connector
