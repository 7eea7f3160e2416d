#ifndef WORKATO_CONNECTOR_SERVER_TOKEN_CIPHER_H_
#define WORKATO_CONNECTOR_SERVER_TOKEN_CIPHER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace workato_connector {

// TokenCipher seals API tokens with AES-256-GCM so that no store ever holds
// one in plain text. The sealed form is nonce (12 bytes) | ciphertext | tag
// (16 bytes). Associated data (the connection id) binds a sealed token to its
// row: moved to another row, it no longer opens.
class TokenCipher {
 public:
  static constexpr size_t kKeyBytes = 32;

  // WithRandomKey makes a cipher under a fresh random key (for stores that
  // live no longer than the process).
  [[nodiscard]] static absl::StatusOr<TokenCipher> WithRandomKey();

  // FromKey takes a 32-byte raw key.
  [[nodiscard]] static absl::StatusOr<TokenCipher> FromKey(absl::string_view key);

  [[nodiscard]] absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                                 absl::string_view associated_data) const;

  // Open fails with FAILED_PRECONDITION when the key, the data or the
  // associated data do not match.
  [[nodiscard]] absl::StatusOr<std::string> Open(absl::string_view sealed,
                                                 absl::string_view associated_data) const;

 private:
  explicit TokenCipher(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_TOKEN_CIPHER_H_
