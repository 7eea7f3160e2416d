#include "caller_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "errors.h"
#include "log.h"

namespace workato_connector {
namespace {

// Short tokens can be guessed; real ones come from `openssl rand`.
constexpr size_t kMinTokenLength = 16;
constexpr absl::string_view kBearer = "bearer ";

std::array<unsigned char, 32> Sha256(absl::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  // EVP_Digest cannot fail for SHA-256 on in-memory data short of OOM; a
  // zero digest then matches nothing that a real token hashes to.
  (void)EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

absl::string_view ScopeName(CallerScope scope) {
  return scope == CallerScope::kAdmin ? "admin" : "read";
}

absl::Status LineError(size_t line, absl::string_view why) {
  return MakeError(absl::StatusCode::kInvalidArgument, reason::kInvalidConfiguration,
                   absl::StrCat("caller tokens file, line ", line, ": ", why));
}

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + static_cast<int64_t>(t.tv_nsec);
}

}  // namespace

absl::StatusOr<std::vector<CallerEntry>> ParseCallerTokens(absl::string_view text) {
  std::vector<CallerEntry> entries;
  std::map<std::string, size_t> line_of_name;
  std::map<std::array<unsigned char, 32>, size_t> line_of_token;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<absl::string_view> fields;
    for (absl::string_view field :
         absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) {
      if (absl::StartsWith(field, "#")) break;
      fields.push_back(field);
    }
    if (fields.empty()) continue;
    if (fields.size() != 3) {
      return LineError(line_number, absl::StrCat("expected \"<name> <scope> <token>\", found ",
                                                 fields.size(), " fields"));
    }
    for (char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\r') {
        return LineError(line_number, "control character");
      }
    }
    CallerEntry entry;
    entry.name = std::string(fields[0]);
    if (fields[1] == "read") {
      entry.scope = CallerScope::kRead;
    } else if (fields[1] == "admin") {
      entry.scope = CallerScope::kAdmin;
    } else {
      return LineError(
          line_number,
          absl::StrCat("the scope must be \"read\" or \"admin\", found \"", fields[1], "\""));
    }
    if (fields[2].size() < kMinTokenLength) {
      return LineError(line_number,
                       absl::StrCat("the token of caller \"", entry.name, "\" is shorter than ",
                                    kMinTokenLength, " characters (use openssl rand -hex 32)"));
    }
    entry.token_sha256 = Sha256(fields[2]);
    if (auto [it, added] = line_of_name.emplace(entry.name, line_number); !added) {
      return LineError(line_number, absl::StrCat("caller \"", entry.name,
                                                 "\" is already named on line ", it->second));
    }
    if (auto [it, added] = line_of_token.emplace(entry.token_sha256, line_number); !added) {
      return LineError(line_number, absl::StrCat("the token is already used on line ", it->second));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

bool CallerTokens::FileStamp::operator==(const FileStamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         mtime_ns == other.mtime_ns && ctime_ns == other.ctime_ns;
}

absl::StatusOr<std::unique_ptr<CallerTokens>> CallerTokens::Load(std::string path,
                                                                 absl::Duration reload_interval) {
  std::unique_ptr<CallerTokens> tokens(new CallerTokens(std::move(path), reload_interval));
  FileStamp stamp;
  absl::StatusOr<std::vector<CallerEntry>> entries = tokens->ReadFile(&stamp);
  if (!entries.ok()) return entries.status();
  tokens->stamp_ = stamp;
  tokens->last_check_ = absl::Now();
  tokens->entries_ = std::make_shared<const std::vector<CallerEntry>>(*std::move(entries));
  return tokens;
}

absl::StatusOr<std::vector<CallerEntry>> CallerTokens::ReadFile(FileStamp* stamp) const {
  auto cannot_read = [this](absl::string_view why) {
    return MakeError(absl::StatusCode::kFailedPrecondition, reason::kInvalidConfiguration,
                     absl::StrCat("cannot read the caller tokens file ", path_, ": ", why));
  };
  struct stat info;
  if (::stat(path_.c_str(), &info) != 0) return cannot_read(std::strerror(errno));
  std::ifstream in(path_, std::ios::binary);
  if (!in) return cannot_read(std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return cannot_read("read error");
  stamp->device = info.st_dev;
  stamp->inode = info.st_ino;
  stamp->size = info.st_size;
  stamp->mtime_ns = Nanos(info.st_mtim);
  stamp->ctime_ns = Nanos(info.st_ctim);
  absl::StatusOr<std::vector<CallerEntry>> entries = ParseCallerTokens(text);
  if (!entries.ok()) {
    return MakeError(entries.status().code(), reason::kInvalidConfiguration,
                     absl::StrCat(path_, ": ", entries.status().message()));
  }
  return entries;
}

void CallerTokens::MaybeReload() {
  std::unique_lock<std::mutex> reload(reload_mutex_, std::try_to_lock);
  if (!reload.owns_lock()) return;
  const absl::Time now = absl::Now();
  if (now - last_check_ < reload_interval_) return;
  last_check_ = now;
  struct stat info;
  if (::stat(path_.c_str(), &info) == 0) {
    FileStamp current;
    current.device = info.st_dev;
    current.inode = info.st_ino;
    current.size = info.st_size;
    current.mtime_ns = Nanos(info.st_mtim);
    current.ctime_ns = Nanos(info.st_ctim);
    if (current == stamp_) return;
  }
  FileStamp stamp;
  absl::StatusOr<std::vector<CallerEntry>> entries = ReadFile(&stamp);
  if (!entries.ok()) {
    // Logged once per version of the file, not once per interval.
    if (!(stamp == stamp_)) {
      Log(LogLevel::kError, "caller tokens file not reloaded; the previous callers stay",
          {{"error", std::string(entries.status().message())}});
    }
    stamp_ = stamp;
    return;
  }
  stamp_ = stamp;
  const size_t count = entries->size();
  {
    std::lock_guard<std::mutex> lock(entries_mutex_);
    entries_ = std::make_shared<const std::vector<CallerEntry>>(*std::move(entries));
  }
  Log(LogLevel::kInfo, "caller tokens reloaded",
      {{"file", path_}, {"callers", absl::StrCat(count)}});
}

size_t CallerTokens::size() {
  std::lock_guard<std::mutex> lock(entries_mutex_);
  return entries_->size();
}

absl::StatusOr<std::string> CallerTokens::Authorize(std::optional<absl::string_view> authorization,
                                                    CallerScope required,
                                                    absl::string_view method) {
  if (!authorization.has_value()) {
    return MakeError(absl::StatusCode::kUnauthenticated, reason::kCallerUnauthenticated,
                     "no caller credentials: send the metadata \"authorization: Bearer <token>\"");
  }
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
    return MakeError(absl::StatusCode::kUnauthenticated, reason::kCallerUnauthenticated,
                     "the authorization metadata must be \"Bearer <token>\"");
  }
  const std::array<unsigned char, 32> digest =
      Sha256(absl::StripLeadingAsciiWhitespace(value.substr(kBearer.size())));

  MaybeReload();
  std::shared_ptr<const std::vector<CallerEntry>> entries;
  {
    std::lock_guard<std::mutex> lock(entries_mutex_);
    entries = entries_;
  }
  // Every entry is compared, over fixed-length digests, so that neither the
  // time taken nor an early exit tells how close a guess came.
  const CallerEntry* found = nullptr;
  for (const CallerEntry& entry : *entries) {
    if (CRYPTO_memcmp(entry.token_sha256.data(), digest.data(), digest.size()) == 0) {
      found = &entry;
    }
  }
  if (found == nullptr) {
    return MakeError(absl::StatusCode::kUnauthenticated, reason::kCallerUnauthenticated,
                     "unknown caller token");
  }
  if (static_cast<int>(found->scope) < static_cast<int>(required)) {
    return MakeError(
        absl::StatusCode::kPermissionDenied, reason::kCallerPermissionDenied,
        absl::StrCat("caller \"", found->name, "\" has scope ", ScopeName(found->scope), "; ",
                     method, " needs ", ScopeName(required)),
        {{"caller", found->name}, {"required_scope", std::string(ScopeName(required))}});
  }
  return found->name;
}

}  // namespace workato_connector
