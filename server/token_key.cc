#include "token_key.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "errors.h"

namespace workato_connector {
namespace {

constexpr char kGeneratedKeyName[] = "token.key";

absl::Status KeyError(absl::string_view message) {
  return MakeError(absl::StatusCode::kFailedPrecondition, reason::kStorageError, message);
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return KeyError(
        absl::StrCat("cannot read the token key file ", path, ": ", std::strerror(errno)));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return DecodeTokenKey(text, path);
}

// WriteNewKey creates `path` with mode 0600 (never overwriting one) holding
// the base64 of a fresh random key.
absl::StatusOr<std::string> WriteNewKey(const std::string& path) {
  std::string key(TokenCipher::kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return KeyError("no randomness to generate a token key");
  }
  const std::string text = absl::StrCat(absl::Base64Escape(key), "\n");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return KeyError(
        absl::StrCat("cannot create the token key file ", path, ": ", std::strerror(errno)));
  }
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                 ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return KeyError(absl::StrCat("cannot write the token key file ", path));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> DecodeTokenKey(absl::string_view text, absl::string_view source) {
  text = absl::StripAsciiWhitespace(text);
  std::string key;
  if (!absl::Base64Unescape(text, &key) && !absl::WebSafeBase64Unescape(text, &key)) {
    return KeyError(absl::StrCat("the token key from ", source, " is not base64"));
  }
  if (key.size() != TokenCipher::kKeyBytes) {
    return KeyError(absl::StrCat("the token key from ", source, " must be ", TokenCipher::kKeyBytes,
                                 " bytes, base64-encoded (it is ", key.size(),
                                 "); make one with: openssl rand -base64 32"));
  }
  return key;
}

absl::StatusOr<TokenKeys> LoadTokenKeys(const TokenKeyOptions& options) {
  std::string key;
  std::string source;
  bool generated = false;
  if (!options.key_file.empty()) {
    absl::StatusOr<std::string> read = ReadKeyFile(options.key_file);
    if (!read.ok()) return read.status();
    key = *std::move(read);
    source = "--token_key_file";
  } else if (!options.key_base64.empty()) {
    absl::StatusOr<std::string> decoded =
        DecodeTokenKey(options.key_base64, "WORKATO_CONNECTOR_TOKEN_KEY");
    if (!decoded.ok()) return decoded.status();
    key = *std::move(decoded);
    source = "WORKATO_CONNECTOR_TOKEN_KEY";
  } else if (!options.data_dir.empty()) {
    const std::string path = absl::StrCat(options.data_dir, "/", kGeneratedKeyName);
    struct stat info;
    if (::stat(path.c_str(), &info) == 0) {
      absl::StatusOr<std::string> read = ReadKeyFile(path);
      if (!read.ok()) return read.status();
      key = *std::move(read);
    } else {
      absl::StatusOr<std::string> created = WriteNewKey(path);
      if (!created.ok()) return created.status();
      key = *std::move(created);
      generated = true;
    }
    source = path;
  }

  absl::StatusOr<TokenCipher> current =
      key.empty() ? TokenCipher::WithRandomKey() : TokenCipher::FromKey(key);
  if (!current.ok()) return current.status();
  TokenKeys keys{*std::move(current), std::nullopt, key.empty() ? "random, in memory" : source,
                 generated};
  if (!options.previous_key_file.empty()) {
    absl::StatusOr<std::string> previous = ReadKeyFile(options.previous_key_file);
    if (!previous.ok()) return previous.status();
    absl::StatusOr<TokenCipher> cipher = TokenCipher::FromKey(*previous);
    if (!cipher.ok()) return cipher.status();
    keys.previous = *std::move(cipher);
  }
  return keys;
}

}  // namespace workato_connector
