#ifndef WORKATO_CONNECTOR_SERVER_SNAPSHOT_MERGE_H_
#define WORKATO_CONNECTOR_SERVER_SNAPSHOT_MERGE_H_

#include <vector>

#include "absl/time/time.h"
#include "store.h"
#include "workato/connector/v1/connector.pb.h"

namespace workato_connector {

// The license every active Workato collaborator holds.
inline constexpr char kWorkatoLicense[] = "Workato";

struct MergedSnapshot {
  // Every user to store, sorted by (email, id).
  std::vector<::workato::connector::v1::User> users;
  SyncCounts counts;
};

// MergeSnapshot applies a complete listing to the stored users:
// - a listed user is ACTIVE with the "Workato" license; first_seen_time is
//   kept from the stored user, or `now` for a new one; removed_time cleared;
// - a stored ACTIVE user missing from the listing becomes REMOVED:
//   removed_time = now, licenses cleared, everything else kept;
// - a stored REMOVED user still missing stays exactly as it was.
// Counts: added = new ids, updated = stored users whose record changed
// (including coming back), removed = newly removed. A collaborator listed
// twice counts once (the first entry wins).
[[nodiscard]] MergedSnapshot MergeSnapshot(
    const std::vector<::workato::connector::v1::User>& stored,
    std::vector<::workato::connector::v1::User> listed, absl::Time now);

// UserKeyLess orders users by (email, id): the list order.
[[nodiscard]] bool UserKeyLess(const ::workato::connector::v1::User& a,
                               const ::workato::connector::v1::User& b);

// IsAfter reports whether `user` comes strictly after `key` in list order.
[[nodiscard]] bool IsAfter(const ::workato::connector::v1::User& user, const UserKey& key);

// ToTimestamp converts an absl::Time to a protobuf Timestamp.
[[nodiscard]] google::protobuf::Timestamp ToTimestamp(absl::Time time);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_SNAPSHOT_MERGE_H_
