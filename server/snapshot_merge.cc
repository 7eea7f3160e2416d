#include "snapshot_merge.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "google/protobuf/util/message_differencer.h"

namespace workato_connector {
namespace v1 = ::workato::connector::v1;

bool UserKeyLess(const v1::User& a, const v1::User& b) {
  int cmp = a.email().compare(b.email());
  return cmp < 0 || (cmp == 0 && a.id() < b.id());
}

bool IsAfter(const v1::User& user, const UserKey& key) {
  int cmp = user.email().compare(key.email);
  return cmp > 0 || (cmp == 0 && user.id() > key.id);
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  int64_t seconds = absl::ToUnixSeconds(time);
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

MergedSnapshot MergeSnapshot(const std::vector<v1::User>& stored, std::vector<v1::User> listed,
                             absl::Time now) {
  const google::protobuf::Timestamp now_ts = ToTimestamp(now);
  std::unordered_map<int64_t, const v1::User*> stored_by_id;
  stored_by_id.reserve(stored.size());
  for (const v1::User& user : stored) stored_by_id.emplace(user.id(), &user);

  MergedSnapshot merged;
  merged.users.reserve(std::max(stored.size(), listed.size()));
  std::unordered_set<int64_t> listed_ids;
  listed_ids.reserve(listed.size());
  for (v1::User& user : listed) {
    if (!listed_ids.insert(user.id()).second) continue;
    user.set_state(v1::User::ACTIVE);
    user.clear_licenses();
    user.add_licenses(kWorkatoLicense);
    user.clear_removed_time();
    auto it = stored_by_id.find(user.id());
    if (it == stored_by_id.end()) {
      *user.mutable_first_seen_time() = now_ts;
      ++merged.counts.added;
    } else {
      *user.mutable_first_seen_time() = it->second->first_seen_time();
      if (!google::protobuf::util::MessageDifferencer::Equals(user, *it->second)) {
        ++merged.counts.updated;
      }
    }
    merged.users.push_back(std::move(user));
  }
  merged.counts.active = static_cast<int32_t>(merged.users.size());
  for (const v1::User& old : stored) {
    if (listed_ids.count(old.id()) != 0) continue;
    v1::User user = old;
    if (user.state() != v1::User::REMOVED) {
      user.set_state(v1::User::REMOVED);
      user.clear_licenses();
      *user.mutable_removed_time() = now_ts;
      ++merged.counts.removed;
    }
    merged.users.push_back(std::move(user));
  }
  std::sort(merged.users.begin(), merged.users.end(), UserKeyLess);
  return merged;
}

}  // namespace workato_connector
