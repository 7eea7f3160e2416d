#include "workato_json.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace workato_connector {
namespace {

namespace v1 = ::workato::connector::v1;

// UserOf parses a listed collaborator, checking that its keys are its
// record's and that the record holds none of the fields a sync sets.
v1::User UserOf(const ListedUser& listed) {
  v1::User user;
  EXPECT_TRUE(ToUser(listed, &user));
  EXPECT_EQ(listed.id, user.id());
  EXPECT_EQ(listed.email, user.email());
  EXPECT_EQ(user.state(), v1::User::STATE_UNSPECIFIED);
  EXPECT_EQ(user.licenses_size(), 0);
  EXPECT_FALSE(user.has_first_seen_time());
  EXPECT_FALSE(user.has_removed_time());
  return user;
}

constexpr char kMembers[] = R"json({
  "data": [
    {
      "id": 3000000001,
      "grant_type": "team",
      "name": "Zoë \"Z\" Ng",
      "email": "Zoe.Ng@Example.com",
      "time_zone": "Pacific Time (US & Canada)",
      "created_at": "2024-01-15T10:20:30.123-08:00",
      "external_id": "okta-42",
      "last_activity_log": {"id": 9, "event_type": "login", "created_at": "2026-11-30T08:00:00.5Z"},
      "roles": [
        {"environment_type": "dev", "role_name": "Environment admin", "role_type": "environment"},
        {"environment_type": "test", "role_name": "Member", "role_type": "environment"},
        {"environment_type": "prod", "role_name": "No access", "role_type": "environment"}
      ],
      "avatar_url": null,
      "future_field": {"nested": [1, 2, {"x": null}]}
    },
    {
      "id": "17",
      "grant_type": "federation_manager",
      "name": "Legacy Admin",
      "email": "admin@example.com",
      "time_zone": null,
      "created_at": "2020-02-29T23:59:59+05:30",
      "external_id": null,
      "last_activity_log": null,
      "roles": [{"environment_type": "dev", "role_name": "Admin"}]
    },
    {"id": 18}
  ],
  "total": 3,
  "extra": true
})json";

TEST(WorkatoJsonTest, MapsEveryCollaboratorField) {
  auto listing = ParseCollaborators(kMembers);
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->users.size(), 3u);
  EXPECT_EQ(listing->total, 3);

  const v1::User zoe = UserOf(listing->users[0]);
  EXPECT_EQ(zoe.id(), 3000000001LL);
  EXPECT_EQ(zoe.email(), "Zoe.Ng@Example.com");  // Case kept as Workato sent it.
  EXPECT_EQ(zoe.name(), "Zoë \"Z\" Ng");
  EXPECT_EQ(zoe.grant_type(), "team");
  EXPECT_EQ(zoe.external_id(), "okta-42");
  EXPECT_EQ(zoe.time_zone(), "Pacific Time (US & Canada)");
  // 2024-01-15T10:20:30.123-08:00 == 2024-01-15T18:20:30.123Z
  EXPECT_EQ(zoe.create_time().seconds(), 1705342830);
  EXPECT_EQ(zoe.create_time().nanos(), 123000000);
  ASSERT_TRUE(zoe.has_last_visit_time());
  EXPECT_EQ(zoe.last_visit_time().seconds(), 1796025600);
  EXPECT_EQ(zoe.last_visit_time().nanos(), 500000000);
  ASSERT_EQ(zoe.roles_size(), 3);
  EXPECT_EQ(zoe.roles(0).environment(), "dev");
  EXPECT_EQ(zoe.roles(0).role_name(), "Environment admin");
  EXPECT_EQ(zoe.roles(0).role_type(), "environment");
  EXPECT_EQ(zoe.roles(2).environment(), "prod");
  EXPECT_EQ(zoe.roles(2).role_name(), "No access");
  // The sync, not the parser, decides state and licenses.
  EXPECT_EQ(zoe.state(), v1::User::STATE_UNSPECIFIED);
  EXPECT_EQ(zoe.licenses_size(), 0);

  const v1::User legacy = UserOf(listing->users[1]);
  EXPECT_EQ(legacy.id(), 17);  // Numeric strings are tolerated.
  EXPECT_EQ(legacy.grant_type(), "federation_manager");
  EXPECT_EQ(legacy.external_id(), "");
  EXPECT_EQ(legacy.time_zone(), "");
  EXPECT_FALSE(legacy.has_last_visit_time());
  EXPECT_EQ(legacy.create_time().seconds(), 1583000999);  // 2020-02-29T18:29:59Z
  ASSERT_EQ(legacy.roles_size(), 1);
  EXPECT_EQ(legacy.roles(0).role_type(), "");

  const v1::User minimal = UserOf(listing->users[2]);
  EXPECT_EQ(minimal.id(), 18);
  EXPECT_EQ(minimal.email(), "");
  EXPECT_FALSE(minimal.has_create_time());
  EXPECT_EQ(minimal.roles_size(), 0);
}

// The list is read in one pass; these are the cases a one-pass reader could
// get wrong: repeated members (the first counts, as with a lookup by name),
// escaped keys, members of unexpected types (tolerated as missing), and
// members this service does not read.
TEST(WorkatoJsonTest, OnePassReadingEdgeCases) {
  auto listing = ParseCollaborators(R"({"total": 2, "total": "x", "data": [
    {"\u0069d": 7, "id": 8, "email": "first@x", "email": "second@x", "name": 5,
     "roles": "admin", "last_activity_log": [], "created_at": 17,
     "skip": {"deep": [[[{"id": 9}]]], "s": "\"}]"}},
    {"roles": [{"role_name": "A", "role_name": "B"}, 3, null, {"environment_type": null}],
     "last_activity_log": {"created_at": null, "created_at": "2024-01-01T00:00:00Z"},
     "id": "12", "email": null}
  ], "data": "ignored"})");
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(listing->total, 2);
  ASSERT_EQ(listing->users.size(), 2u);
  const v1::User first = UserOf(listing->users[0]);
  EXPECT_EQ(first.id(), 7);
  EXPECT_EQ(first.email(), "first@x");
  EXPECT_EQ(first.name(), "");
  EXPECT_EQ(first.roles_size(), 0);
  EXPECT_FALSE(first.has_last_visit_time());
  EXPECT_FALSE(first.has_create_time());
  const v1::User second = UserOf(listing->users[1]);
  EXPECT_EQ(second.id(), 12);
  EXPECT_EQ(second.email(), "");
  ASSERT_EQ(second.roles_size(), 2);
  EXPECT_EQ(second.roles(0).role_name(), "A");
  EXPECT_EQ(second.roles(1).environment(), "");
  EXPECT_FALSE(second.has_last_visit_time());  // The first created_at (null) counts.
}

// With the listing digests of the last sync, a collaborator whose JSON is
// byte for byte the same is not mapped again; the digests are the same
// whichever way the listing was read.
TEST(WorkatoJsonTest, KnownCollaboratorsAreNotMappedAgain) {
  auto first = ParseCollaborators(kMembers);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->users.size(), 3u);
  for (const ListedUser& user : first->users) EXPECT_FALSE(user.unchanged);
  EXPECT_NE(first->users[0].listing_digest, first->users[1].listing_digest);

  // The second collaborator is known (as user 17); one unrelated digest too.
  KnownListing known = {{first->users[1].listing_digest, 17}, {12345, 99}};
  auto second = ParseCollaborators(kMembers, &known);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->users.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(second->users[i].listing_digest, first->users[i].listing_digest) << i;
  }
  EXPECT_TRUE(second->users[1].unchanged);
  EXPECT_EQ(second->users[1].id, 17);
  EXPECT_TRUE(second->users[1].record.empty());
  EXPECT_FALSE(second->users[0].unchanged);
  EXPECT_EQ(second->users[0].record, first->users[0].record);
  EXPECT_EQ(second->users[2].record, first->users[2].record);

  // One changed byte in a collaborator's JSON, even in a field this service
  // does not read, changes its digest.
  std::string changed = kMembers;
  changed.replace(changed.find("\"x\": null"), 9, "\"x\": true");
  auto third = ParseCollaborators(changed, &known);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE(third->users[0].listing_digest, first->users[0].listing_digest);
  EXPECT_EQ(third->users[0].record, first->users[0].record);
  EXPECT_TRUE(third->users[1].unchanged);

  // Errors are the same with or without known digests.
  const char* bad = R"({"data": [{"id": 1}, {"name": "no id"}]})";
  auto without = ParseCollaborators(bad);
  auto with = ParseCollaborators(bad, &known);
  ASSERT_FALSE(without.ok());
  ASSERT_FALSE(with.ok());
  EXPECT_EQ(without.status().message(), with.status().message());
}

TEST(WorkatoJsonTest, TotalIsOptional) {
  auto listing = ParseCollaborators("{\"data\": []}\r\n\t ");  // Whitespace may trail.
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_FALSE(listing->total.has_value());
}

TEST(WorkatoJsonTest, MalformedListingsAreBadResponses) {
  const char* bad[] = {"",
                       "not json",
                       R"({"data": [{"id": 1}])",  // Cut short.
                       R"([])",
                       R"({"total": 1})",
                       R"({"data": {"id": 1}})",
                       R"({"data": [{"name": "no id"}], "total": 1})",
                       R"({"data": [{"id": 1.5}], "total": 1})",
                       R"({"data": ["x"], "total": 1})",
                       R"({"data": [], "total": "many"})",
                       R"({"data": [{"id": 1, "name": "a}], "total": 1})",
                       R"({"data": [{"id": 1, "x": [1, 2}], "total": 1})",
                       R"({"data": [{"id": 1, "roles": [{"role_name": "A"]}]})",
                       R"({"data": [{"id": 1}], "total": 1}})"};
  for (const char* json : bad) {
    auto listing = ParseCollaborators(json);
    ASSERT_FALSE(listing.ok()) << json;
    EXPECT_EQ(listing.status().code(), absl::StatusCode::kUnavailable) << json;
    EXPECT_EQ(ErrorReason(listing.status()), reason::kWorkatoBadResponse) << json;
  }
}

TEST(WorkatoJsonTest, WorkspaceDetails) {
  auto workspace = ParseWorkspace(
      R"({"id": 4294967296, "name": "Acme", "plan_id": null, "company_name": null,
          "recipes_count": 3, "unknown": {"a": [1]}})");
  ASSERT_TRUE(workspace.ok()) << workspace.status();
  EXPECT_EQ(workspace->id, 4294967296LL);
  EXPECT_EQ(workspace->name, "Acme");
  EXPECT_FALSE(ParseWorkspace(R"({"name": "no id"})").ok());
  EXPECT_FALSE(ParseWorkspace("<html>").ok());
}

TEST(WorkatoJsonTest, Rfc3339Variants) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01Z")->seconds(), 1);
  EXPECT_EQ(ParseRfc3339("1970-01-01T01:00:01+01:00")->seconds(), 1);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.000001Z")->nanos(), 1000);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:01.123456789-00:00")->nanos(), 123456789);
  EXPECT_FALSE(ParseRfc3339("yesterday").has_value());
  EXPECT_FALSE(ParseRfc3339("").has_value());
}

// ParseRfc3339 has a fast path for the usual shape; whatever it accepts it
// must read exactly as absl::ParseTime (the general path) does, and what
// absl rejects it must reject too.
TEST(WorkatoJsonTest, Rfc3339FastPathAgreesWithAbsl) {
  std::mt19937 random(7);
  auto pick = [&](const std::vector<std::string>& choices) {
    return choices[random() % choices.size()];
  };
  auto two = [&](int max) { return absl::StrFormat("%02d", static_cast<int>(random() % max)); };
  int fast_shapes = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = absl::StrCat(
        pick({"1970", "1969", "2000", "2024", "2100", "1900", "0001", "9999", "2023"}), "-",
        pick({"01", "02", "03", "04", "06", "09", "11", "12", "00", "13", two(14)}), "-",
        pick({"01", "28", "29", "30", "31", "32", "00", two(33)}), pick({"T", "T", "T", "t", " "}),
        pick({"00", "12", "23", "24", two(25)}), ":", pick({"00", "59", "60", two(61)}), ":",
        pick({"00", "59", "60", two(61)}),
        pick({"", "", ".5", ".123", ".000001", ".123456789", ".1234567891", ".", ".x"}),
        pick({"Z", "Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+23:59", "+24:00", "-1:00",
              "+0530", ""}));
    if (text.size() >= 20 && text[10] == 'T') ++fast_shapes;
    SCOPED_TRACE(text);
    absl::Time time;
    std::string error;
    const bool absl_ok = absl::ParseTime(absl::RFC3339_full, text, &time, &error);
    std::optional<google::protobuf::Timestamp> ours = ParseRfc3339(text);
    ASSERT_EQ(ours.has_value(), absl_ok);
    if (!absl_ok) continue;
    const int64_t seconds = absl::ToUnixSeconds(time);
    EXPECT_EQ(ours->seconds(), seconds);
    EXPECT_EQ(ours->nanos(), absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds)));
  }
  EXPECT_GT(fast_shapes, 10000);  // The fast path really was exercised.
}

}  // namespace
}  // namespace workato_connector
