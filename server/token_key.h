#ifndef WORKATO_CONNECTOR_SERVER_TOKEN_KEY_H_
#define WORKATO_CONNECTOR_SERVER_TOKEN_KEY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "token_cipher.h"

namespace workato_connector {

// Where the key that seals API tokens at rest comes from.
struct TokenKeyOptions {
  // A file holding the base64 of 32 random bytes (--token_key_file).
  std::string key_file;
  // The same, as text (the WORKATO_CONNECTOR_TOKEN_KEY environment variable).
  std::string key_base64;
  // The key being rotated away from (--previous_token_key_file).
  std::string previous_key_file;
  // With neither of the first two: where to keep a generated key
  // (<data_dir>/token.key, mode 0600). Empty: a random key that lives only as
  // long as the process (for --store=memory).
  std::string data_dir;
};

struct TokenKeys {
  TokenCipher current;
  std::optional<TokenCipher> previous;
  // For the log: "--token_key_file", "WORKATO_CONNECTOR_TOKEN_KEY", a path,
  // or "random, in memory". Never the key.
  std::string source;
  // True when this start created the key file.
  bool generated = false;
};

// LoadTokenKeys resolves the keys. Errors (unreadable file, not base64, not
// 32 bytes) are FAILED_PRECONDITION and never contain key material.
[[nodiscard]] absl::StatusOr<TokenKeys> LoadTokenKeys(const TokenKeyOptions& options);

// DecodeTokenKey parses base64 (standard or URL-safe, surrounding whitespace
// ignored) of exactly 32 bytes. `source` names where it came from.
[[nodiscard]] absl::StatusOr<std::string> DecodeTokenKey(absl::string_view text,
                                                         absl::string_view source);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_TOKEN_KEY_H_
