#ifndef WORKATO_CONNECTOR_SERVER_CALLER_TOKENS_H_
#define WORKATO_CONNECTOR_SERVER_CALLER_TOKENS_H_

#include <sys/types.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace workato_connector {

// What a caller may do: kRead allows the Get/List methods and reflection,
// kAdmin also Connect, Sync and DeleteConnection.
enum class CallerScope { kRead = 0, kAdmin = 1 };

// A caller's line of the tokens file, with its token kept only as a digest.
struct CallerEntry {
  std::string name;
  CallerScope scope = CallerScope::kRead;
  std::array<unsigned char, 32> token_sha256{};
};

// ParseCallerTokens parses the tokens file: one caller a line,
// "<name> <scope> <token>" separated by spaces or tabs, scope "read" or
// "admin"; a field starting with '#' starts a comment, blank lines are
// skipped. Errors name the line but never echo a token.
[[nodiscard]] absl::StatusOr<std::vector<CallerEntry>> ParseCallerTokens(absl::string_view text);

// CallerTokens authenticates gRPC callers against the tokens file and reloads
// it when it changes (Kubernetes swaps mounted Secrets in place), checking at
// most once per `reload_interval`. A file that became invalid is logged and
// the previous callers stay. Thread-safe.
class CallerTokens {
 public:
  // Load reads `path`; a missing or malformed file is an error.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CallerTokens>> Load(
      std::string path, absl::Duration reload_interval = absl::Seconds(1));

  // Authorize checks the value of the "authorization" metadata (nullopt when
  // absent) and returns the caller's name, or UNAUTHENTICATED (missing or
  // unknown token) / PERMISSION_DENIED (scope too narrow for `method`), with
  // the CALLER_* reasons. Tokens are compared in constant time.
  [[nodiscard]] absl::StatusOr<std::string> Authorize(
      std::optional<absl::string_view> authorization, CallerScope required,
      absl::string_view method);

  // How many callers the current set holds.
  [[nodiscard]] size_t size();

 private:
  // Identifies one version of the file without reading it.
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileStamp& other) const;
  };

  CallerTokens(std::string path, absl::Duration reload_interval)
      : path_(std::move(path)), reload_interval_(reload_interval) {}

  // ReadFile reads and parses the file, and stamps the version it read.
  [[nodiscard]] absl::StatusOr<std::vector<CallerEntry>> ReadFile(FileStamp* stamp) const;

  // MaybeReload re-reads the file when its stamp changed, at most once per
  // interval; callers arriving meanwhile keep using the current set.
  void MaybeReload();

  const std::string path_;
  const absl::Duration reload_interval_;

  // Guards only the pointer swap, so a reload never blocks a lookup.
  std::mutex entries_mutex_;
  std::shared_ptr<const std::vector<CallerEntry>> entries_;

  // Held (try_lock) by the one call that checks the file.
  std::mutex reload_mutex_;
  absl::Time last_check_ = absl::InfinitePast();
  FileStamp stamp_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_CALLER_TOKENS_H_
