#include "snapshot_merge.h"

#include <vector>

#include "gtest/gtest.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;

v1::User Listed(int64_t id, const std::string& email, const std::string& role = "Admin") {
  v1::User user;
  user.set_id(id);
  user.set_email(email);
  user.set_name(email);
  auto* r = user.add_roles();
  r->set_environment("dev");
  r->set_role_name(role);
  return user;
}

const v1::User& ById(const MergedSnapshot& merged, int64_t id) {
  for (const auto& user : merged.users) {
    if (user.id() == id) return user;
  }
  static v1::User none;
  ADD_FAILURE() << "no user " << id;
  return none;
}

TEST(SnapshotMergeTest, FirstSyncAddsEveryoneActiveWithLicense) {
  absl::Time t1 = absl::FromUnixSeconds(1000);
  MergedSnapshot merged = MergeSnapshot({}, {Listed(2, "b@x"), Listed(1, "a@x")}, t1);
  EXPECT_EQ(merged.counts.active, 2);
  EXPECT_EQ(merged.counts.added, 2);
  EXPECT_EQ(merged.counts.updated, 0);
  EXPECT_EQ(merged.counts.removed, 0);
  ASSERT_EQ(merged.users.size(), 2u);
  EXPECT_EQ(merged.users[0].email(), "a@x");  // Sorted by email.
  for (const auto& user : merged.users) {
    EXPECT_EQ(user.state(), v1::User::ACTIVE);
    ASSERT_EQ(user.licenses_size(), 1);
    EXPECT_EQ(user.licenses(0), "Workato");
    EXPECT_EQ(user.first_seen_time().seconds(), 1000);
    EXPECT_FALSE(user.has_removed_time());
  }
}

TEST(SnapshotMergeTest, UnchangedResyncCountsNothing) {
  MergedSnapshot first = MergeSnapshot({}, {Listed(1, "a@x")}, absl::FromUnixSeconds(1));
  MergedSnapshot second = MergeSnapshot(first.users, {Listed(1, "a@x")}, absl::FromUnixSeconds(2));
  EXPECT_EQ(second.counts.added + second.counts.updated + second.counts.removed, 0);
  EXPECT_EQ(second.users[0].first_seen_time().seconds(), 1);
}

TEST(SnapshotMergeTest, ChangedRoleIsAnUpdate) {
  MergedSnapshot first = MergeSnapshot({}, {Listed(1, "a@x")}, absl::FromUnixSeconds(1));
  MergedSnapshot second =
      MergeSnapshot(first.users, {Listed(1, "a@x", "Operator")}, absl::FromUnixSeconds(2));
  EXPECT_EQ(second.counts.updated, 1);
  EXPECT_EQ(second.users[0].roles(0).role_name(), "Operator");
}

TEST(SnapshotMergeTest, MissingUserIsRemovedThenComesBack) {
  MergedSnapshot first =
      MergeSnapshot({}, {Listed(1, "a@x"), Listed(2, "b@x")}, absl::FromUnixSeconds(1));
  MergedSnapshot second = MergeSnapshot(first.users, {Listed(1, "a@x")}, absl::FromUnixSeconds(2));
  EXPECT_EQ(second.counts.removed, 1);
  EXPECT_EQ(second.counts.active, 1);
  const v1::User& gone = ById(second, 2);
  EXPECT_EQ(gone.state(), v1::User::REMOVED);
  EXPECT_EQ(gone.licenses_size(), 0);
  EXPECT_EQ(gone.removed_time().seconds(), 2);
  EXPECT_EQ(gone.roles_size(), 1);  // Last known details are kept.

  // Still missing: stays as it was, not removed again.
  MergedSnapshot third = MergeSnapshot(second.users, {Listed(1, "a@x")}, absl::FromUnixSeconds(3));
  EXPECT_EQ(third.counts.removed, 0);
  EXPECT_EQ(ById(third, 2).removed_time().seconds(), 2);

  // Listed again: active, first_seen kept, removed_time cleared; an update.
  MergedSnapshot fourth =
      MergeSnapshot(third.users, {Listed(1, "a@x"), Listed(2, "b@x")}, absl::FromUnixSeconds(4));
  EXPECT_EQ(fourth.counts.updated, 1);
  EXPECT_EQ(fourth.counts.added, 0);
  const v1::User& back = ById(fourth, 2);
  EXPECT_EQ(back.state(), v1::User::ACTIVE);
  EXPECT_EQ(back.first_seen_time().seconds(), 1);
  EXPECT_FALSE(back.has_removed_time());
  EXPECT_EQ(back.licenses(0), "Workato");
}

TEST(SnapshotMergeTest, DuplicateIdsCountOnce) {
  MergedSnapshot merged =
      MergeSnapshot({}, {Listed(1, "a@x"), Listed(1, "dup@x")}, absl::FromUnixSeconds(1));
  EXPECT_EQ(merged.counts.active, 1);
  ASSERT_EQ(merged.users.size(), 1u);
  EXPECT_EQ(merged.users[0].email(), "a@x");
}

TEST(SnapshotMergeTest, OrderIsEmailThenId) {
  MergedSnapshot merged = MergeSnapshot({}, {Listed(5, "b@x"), Listed(3, "a@x"), Listed(2, "b@x")},
                                        absl::FromUnixSeconds(1));
  ASSERT_EQ(merged.users.size(), 3u);
  EXPECT_EQ(merged.users[0].id(), 3);
  EXPECT_EQ(merged.users[1].id(), 2);
  EXPECT_EQ(merged.users[2].id(), 5);
  EXPECT_TRUE(IsAfter(merged.users[2], UserKey{"b@x", 2}));
  EXPECT_FALSE(IsAfter(merged.users[1], UserKey{"b@x", 2}));
}

}  // namespace
}  // namespace workato_connector
