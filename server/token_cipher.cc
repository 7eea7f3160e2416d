#include "token_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace workato_connector {
namespace {

constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

absl::Status CryptoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("token encryption failed: ", what));
}

}  // namespace

absl::StatusOr<TokenCipher> TokenCipher::WithRandomKey() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(Bytes(key), static_cast<int>(key.size())) != 1) {
    return CryptoError("no randomness for a key");
  }
  return TokenCipher(std::move(key));
}

absl::StatusOr<TokenCipher> TokenCipher::FromKey(absl::string_view key) {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a token key must be ", kKeyBytes, " bytes, got ", key.size()));
  }
  return TokenCipher(std::string(key));
}

absl::StatusOr<std::string> TokenCipher::Seal(absl::string_view plaintext,
                                              absl::string_view associated_data) const {
  std::string sealed(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  if (RAND_bytes(Bytes(sealed), kNonceBytes) != 1) return CryptoError("no randomness for a nonce");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), Bytes(sealed)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), Bytes(sealed) + kNonceBytes, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), Bytes(sealed) + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          Bytes(sealed) + kNonceBytes + plaintext.size()) != 1) {
    return CryptoError("AES-256-GCM seal");
  }
  return sealed;
}

absl::StatusOr<std::string> TokenCipher::Open(absl::string_view sealed,
                                              absl::string_view associated_data) const {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::FailedPreconditionError("the stored token is damaged");
  }
  size_t text_bytes = sealed.size() - kNonceBytes - kTagBytes;
  std::string plaintext(text_bytes, '\0');
  std::string tag(sealed.substr(kNonceBytes + text_bytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), Bytes(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), Bytes(plaintext), &len, Bytes(sealed) + kNonceBytes,
                        static_cast<int>(text_bytes)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, Bytes(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), Bytes(plaintext) + len, &len) != 1) {
    return absl::FailedPreconditionError(
        "the stored token cannot be decrypted with the configured key");
  }
  return plaintext;
}

}  // namespace workato_connector
