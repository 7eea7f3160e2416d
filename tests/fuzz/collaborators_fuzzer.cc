// libFuzzer target: whatever Workato (or anything posing as it) sends, the
// parsers and the merge never crash, leak or misbehave; a listing they accept
// merges into a consistent snapshot.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "snapshot_merge.h"
#include "workato_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)workato_connector::ParseWorkspace(text);
  auto listing = workato_connector::ParseCollaborators(text);
  if (!listing.ok()) return 0;
  const size_t listed = listing->users.size();
  std::vector<workato::connector::v1::User> users(listed);
  for (size_t i = 0; i < listed; ++i) {
    // Every accepted collaborator's record parses back to its own keys.
    if (!workato_connector::ToUser(listing->users[i], &users[i]) ||
        users[i].id() != listing->users[i].id || users[i].email() != listing->users[i].email) {
      __builtin_trap();
    }
  }
  auto first = workato_connector::MergeSnapshot({}, std::move(users), absl::FromUnixSeconds(1));
  if (first.users.size() > listed || first.counts.removed != 0) __builtin_trap();
  // Everyone gone: every user removed, nobody lost.
  auto second = workato_connector::MergeSnapshot(first.users, {}, absl::FromUnixSeconds(2));
  if (second.users.size() != first.users.size()) __builtin_trap();
  if (second.counts.removed != first.counts.active) __builtin_trap();
  return 0;
}
