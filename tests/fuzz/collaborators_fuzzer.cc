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
  // Read again knowing every digest of the first reading: the same listing,
  // every collaborator skipped or mapped to the same bytes. (On-Demand does
  // not check the syntax of values it skips, so malformed input that one
  // way of reading accepts the other may reject; when both accept, they
  // must agree.)
  workato_connector::KnownListing known;
  for (const workato_connector::ListedUser& user : listing->users) {
    known.emplace(user.listing_digest, user.id);
  }
  auto again = workato_connector::ParseCollaborators(text, &known);
  if (again.ok() && again->users.size() != listed) __builtin_trap();
  for (size_t i = 0; again.ok() && i < listed; ++i) {
    const workato_connector::ListedUser& a = listing->users[i];
    const workato_connector::ListedUser& b = again->users[i];
    if (a.listing_digest != b.listing_digest) __builtin_trap();
    if (!b.unchanged && (a.record != b.record || a.id != b.id)) __builtin_trap();
  }
  auto first = workato_connector::MergeSnapshot({}, std::move(users), absl::FromUnixSeconds(1));
  if (first.users.size() > listed || first.counts.removed != 0) __builtin_trap();
  // Everyone gone: every user removed, nobody lost.
  auto second = workato_connector::MergeSnapshot(first.users, {}, absl::FromUnixSeconds(2));
  if (second.users.size() != first.users.size()) __builtin_trap();
  if (second.counts.removed != first.counts.active) __builtin_trap();
  return 0;
}
