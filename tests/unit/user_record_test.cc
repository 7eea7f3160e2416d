#include "user_record.h"

#include <string>

#include "gtest/gtest.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;

v1::User FullUser() {
  v1::User user;
  user.set_id(42);
  user.set_email("ada@example.com");
  user.set_name("Ada");
  user.set_state(v1::User::ACTIVE);
  user.mutable_last_visit_time()->set_seconds(100);
  v1::EnvironmentRole* role = user.add_roles();
  role->set_environment("dev");
  role->set_role_name("Admin");
  role->set_role_type("environment");
  user.add_licenses("Workato");
  user.set_grant_type("team");
  user.set_external_id("x-1");
  user.set_time_zone("UTC");
  user.mutable_create_time()->set_seconds(50);
  user.mutable_first_seen_time()->set_seconds(60);
  user.mutable_first_seen_time()->set_nanos(7);
  return user;
}

TEST(UserRecordTest, RecordParsesBackToTheWholeUser) {
  const v1::User user = FullUser();
  v1::User parsed;
  ASSERT_TRUE(parsed.ParseFromString(EncodeUserRecord(user)));
  EXPECT_EQ(parsed.SerializeAsString(), user.SerializeAsString());

  v1::User removed = user;
  removed.set_state(v1::User::REMOVED);
  removed.clear_licenses();
  removed.mutable_removed_time()->set_seconds(70);
  ASSERT_TRUE(parsed.ParseFromString(EncodeUserRecord(removed)));
  EXPECT_EQ(parsed.SerializeAsString(), removed.SerializeAsString());
}

// A sync builds a listed user's record as its listed bytes plus the sync
// fields; that must be byte for byte the record of the same whole user, or
// every re-sync would count unchanged users as updated.
TEST(UserRecordTest, ListedBytesPlusSyncFieldsIsTheRecord) {
  const v1::User user = FullUser();
  ListedUser listed = ToListedUser(user);
  EXPECT_EQ(listed.id, 42);
  EXPECT_EQ(listed.email, "ada@example.com");
  std::string record = listed.record;
  AppendSyncFields(user, &record);
  EXPECT_EQ(record, EncodeUserRecord(user));

  v1::User collaborator;
  ASSERT_TRUE(ToUser(listed, &collaborator));
  EXPECT_EQ(collaborator.state(), v1::User::STATE_UNSPECIFIED);
  EXPECT_EQ(collaborator.licenses_size(), 0);
  EXPECT_FALSE(collaborator.has_first_seen_time());
  EXPECT_EQ(collaborator.roles(0).role_name(), "Admin");
}

TEST(UserRecordTest, DifferentUsersGiveDifferentRecords) {
  const v1::User user = FullUser();
  v1::User other = user;
  other.mutable_roles(0)->set_role_name("Operator");
  EXPECT_NE(EncodeUserRecord(user), EncodeUserRecord(other));
  other = user;
  other.mutable_first_seen_time()->set_nanos(8);
  EXPECT_NE(EncodeUserRecord(user), EncodeUserRecord(other));
}

}  // namespace
}  // namespace workato_connector
