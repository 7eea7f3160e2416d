#include "fake_workato/fake_workato.h"

#include <httplib.h>
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace workato_connector::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "tok-good";
constexpr char kJsonType[] = "application/json; charset=utf-8";

FakeWorkspace SmallWorkspace() {
  FakeWorkspace ws;
  ws.id = 1234567;
  ws.name = "Acme \"Prod\"";
  FakeCollaborator owner;
  owner.id = 5'000'000'001;  // above 2^32
  owner.email = "Owner@Acme.example";
  owner.name = "José \"Pepe\" Müller\\李\n\t\x01";
  owner.external_id = "ext-1";
  owner.last_activity_at = "2025-02-03T04:05:06.7+05:30";
  owner.roles = {{"dev", "Environment admin", "environment"},
                 {"test", "Member", "environment"},
                 {"prod", "No access", "environment"}};
  FakeCollaborator never_active;
  never_active.id = 42;
  never_active.email = "analyst@acme.example";
  never_active.name = "Ann Analyst";
  never_active.grant_type = "federation_manager";
  never_active.roles = {{"dev", "Analyst", std::nullopt}};
  ws.collaborators = {owner, never_active};
  return ws;
}

class FakeWorkatoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.SetWorkspace(kToken, SmallWorkspace());
    port_ = fake_.Start();
    ASSERT_GT(port_, 0);
  }

  httplib::Result Get(const std::string& path, const std::string& token = kToken) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(std::chrono::seconds(10));
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client.Get(path.c_str(), headers);
  }

  FakeWorkato fake_;
  int port_ = 0;
};

std::string_view Str(simdjson::dom::element e) {
  std::string_view out;
  EXPECT_EQ(e.get_string().get(out), simdjson::SUCCESS);
  return out;
}

int64_t Int(simdjson::dom::element e) {
  int64_t out = 0;
  EXPECT_EQ(e.get_int64().get(out), simdjson::SUCCESS);
  return out;
}

TEST_F(FakeWorkatoTest, StartsOnLoopback) {
  EXPECT_EQ(fake_.port(), port_);
  EXPECT_EQ(fake_.BaseUrl(), "http://127.0.0.1:" + std::to_string(port_));
  // Already running.
  EXPECT_EQ(fake_.Start(), -1);
}

TEST_F(FakeWorkatoTest, UsersMeReturnsWorkspace) {
  auto res = Get("/api/users/me");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kJsonType);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS) << res->body;
  EXPECT_EQ(Int(doc["id"]), 1234567);
  EXPECT_EQ(Str(doc["name"]), "Acme \"Prod\"");
  EXPECT_EQ(Str(doc["plan_id"]), "enterprise");
  EXPECT_TRUE(doc["company_name"].is_null());
  EXPECT_TRUE(doc["avatar_url"].is_null());
  EXPECT_EQ(Int(doc["root_folder_id"]), 123);
  EXPECT_EQ(Int(doc["some_future_field"]["nested"].at(1)), 2);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kUsersMe), 1);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 0);
  EXPECT_EQ(fake_.LastAuthorizationHeader(), "Bearer tok-good");
}

TEST_F(FakeWorkatoTest, MembersRoundTripsEveryField) {
  auto res = Get("/api/members");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kJsonType);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS) << res->body;
  EXPECT_EQ(Int(doc["total"]), 2);
  simdjson::dom::array data;
  ASSERT_EQ(doc["data"].get_array().get(data), simdjson::SUCCESS);
  ASSERT_EQ(data.size(), 2u);

  simdjson::dom::element owner = data.at(0);
  EXPECT_EQ(Int(owner["id"]), 5'000'000'001);
  EXPECT_EQ(Str(owner["grant_type"]), "team");
  // Escaping survives a real parser byte for byte.
  EXPECT_EQ(Str(owner["name"]), "José \"Pepe\" Müller\\李\n\t\x01");
  EXPECT_EQ(Str(owner["email"]), "Owner@Acme.example");
  EXPECT_EQ(Str(owner["time_zone"]), "Pacific Time (US & Canada)");
  EXPECT_EQ(Str(owner["created_at"]), "2024-01-15T10:20:30.123-08:00");
  EXPECT_EQ(Str(owner["external_id"]), "ext-1");
  EXPECT_EQ(Str(owner["last_activity_log"]["event_type"]), "login");
  EXPECT_EQ(Str(owner["last_activity_log"]["created_at"]), "2025-02-03T04:05:06.7+05:30");
  EXPECT_GT(Int(owner["last_activity_log"]["id"]), 0);
  simdjson::dom::array roles;
  ASSERT_EQ(owner["roles"].get_array().get(roles), simdjson::SUCCESS);
  ASSERT_EQ(roles.size(), 3u);
  EXPECT_EQ(Str(roles.at(2)["environment_type"]), "prod");
  EXPECT_EQ(Str(roles.at(2)["role_name"]), "No access");
  EXPECT_EQ(Str(roles.at(2)["role_type"]), "environment");
  // Unknown fields are present so that parsers have to skip them.
  EXPECT_TRUE(owner["avatar_url"].is_null());
  EXPECT_EQ(Int(owner["extra"]["x"]), 1);

  simdjson::dom::element analyst = data.at(1);
  EXPECT_EQ(Int(analyst["id"]), 42);
  EXPECT_EQ(Str(analyst["grant_type"]), "federation_manager");
  EXPECT_TRUE(analyst["external_id"].is_null());
  EXPECT_TRUE(analyst["last_activity_log"].is_null());
  simdjson::dom::element role = analyst["roles"].at(0);
  EXPECT_EQ(Str(role["role_name"]), "Analyst");
  EXPECT_EQ(role["role_type"].error(), simdjson::NO_SUCH_FIELD);
}

TEST_F(FakeWorkatoTest, RejectsMissingUnknownAndMalformedTokens) {
  auto missing = Get("/api/members", "");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->body, R"({"message":"Unauthorized"})");
  EXPECT_EQ(fake_.LastAuthorizationHeader(), "");

  auto unknown = Get("/api/users/me", "tok-bad");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);

  httplib::Client client("127.0.0.1", port_);
  auto basic = client.Get("/api/members", {{"Authorization", std::string("Basic ") + kToken}});
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 401);
  EXPECT_EQ(fake_.LastAuthorizationHeader(), "Basic tok-good");

  fake_.RemoveToken(kToken);
  auto removed = Get("/api/members");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, 401);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 3);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kUsersMe), 1);
}

TEST_F(FakeWorkatoTest, MissingPrivilegeIs403Or401) {
  FakeWorkspace ws = SmallWorkspace();
  ws.can_read_collaborators = false;
  fake_.SetWorkspace(kToken, ws);
  auto forbidden = Get("/api/members");
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_EQ(forbidden->body, R"({"message":"Forbidden"})");
  auto details = Get("/api/users/me");
  ASSERT_TRUE(details);
  EXPECT_EQ(details->status, 200);

  ws.missing_privilege_as_401 = true;
  fake_.SetWorkspace(kToken, ws);
  auto quirk = Get("/api/members");
  ASSERT_TRUE(quirk);
  EXPECT_EQ(quirk->status, 401);
  EXPECT_EQ(quirk->body, R"({"message":"Unauthorized"})");

  ws.can_read_collaborators = true;
  ws.can_read_details = false;
  ws.missing_privilege_as_401 = false;
  fake_.SetWorkspace(kToken, ws);
  auto no_details = Get("/api/users/me");
  ASSERT_TRUE(no_details);
  EXPECT_EQ(no_details->status, 403);
  auto members = Get("/api/members");
  ASSERT_TRUE(members);
  EXPECT_EQ(members->status, 200);
}

TEST_F(FakeWorkatoTest, FailNextScriptsFailuresInOrder) {
  fake_.FailNext(Endpoint::kMembers, 429, R"({"message":"Too many"})", 2, {{"Retry-After", "7"}});
  fake_.FailNext(Endpoint::kMembers, 503);

  for (int i = 0; i < 2; ++i) {
    auto res = Get("/api/members");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 429);
    EXPECT_EQ(res->get_header_value("Retry-After"), "7");
    EXPECT_EQ(res->body, R"({"message":"Too many"})");
    EXPECT_EQ(res->get_header_value("Content-Type"), kJsonType);
  }
  // Scripted failures come before auth: even a bad token sees them.
  auto unavailable = Get("/api/members", "tok-bad");
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->status, 503);
  EXPECT_THAT(unavailable->body, HasSubstr("Server error"));
  EXPECT_FALSE(unavailable->has_header("Retry-After"));

  // Other endpoints are unaffected, and the script is used up.
  auto details = Get("/api/users/me");
  ASSERT_TRUE(details);
  EXPECT_EQ(details->status, 200);
  auto ok = Get("/api/members");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 4);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kUsersMe), 1);
}

TEST_F(FakeWorkatoTest, MembersBodyOverride) {
  fake_.SetMembersBodyOverride(R"({"data":[],"total":5)");
  auto res = Get("/api/members");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"data":[],"total":5)");

  // Auth still comes first.
  auto unauthorized = Get("/api/members", "tok-bad");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);

  fake_.SetMembersBodyOverride(std::nullopt);
  auto normal = Get("/api/members");
  ASSERT_TRUE(normal);
  EXPECT_THAT(normal->body, HasSubstr(R"("total":2})"));
}

TEST_F(FakeWorkatoTest, DelayAppliesPerEndpoint) {
  fake_.SetDelay(Endpoint::kMembers, absl::Milliseconds(300));
  absl::Time start = absl::Now();
  auto slow = Get("/api/members");
  const absl::Duration slow_took = absl::Now() - start;
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 200);
  EXPECT_GE(slow_took, absl::Milliseconds(300));

  start = absl::Now();
  auto fast = Get("/api/users/me");
  ASSERT_TRUE(fast);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300));
}

TEST_F(FakeWorkatoTest, StopWakesDelayedRequests) {
  fake_.SetDelay(Endpoint::kMembers, absl::Seconds(60));
  std::thread client([this] { (void)Get("/api/members"); });
  while (fake_.RequestCount(Endpoint::kMembers) == 0) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Time start = absl::Now();
  fake_.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  client.join();
  EXPECT_EQ(fake_.port(), 0);
}

TEST_F(FakeWorkatoTest, UnknownPathsAre404Json) {
  auto res = Get("/api/members/42");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body, R"({"message":"Not found"})");
  EXPECT_EQ(res->get_header_value("Content-Type"), kJsonType);

  httplib::Client client("127.0.0.1", port_);
  auto post = client.Post("/api/members", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);
  EXPECT_EQ(post->body, R"({"message":"Not found"})");
  EXPECT_EQ(fake_.UnknownRequestCount(), 2);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 0);
}

TEST_F(FakeWorkatoTest, ResetClearsScriptsButKeepsWorkspaces) {
  fake_.FailNext(Endpoint::kUsersMe, 500, R"({"message":"boom"})", 5);
  fake_.SetMembersBodyOverride("not json");
  fake_.SetDelay(Endpoint::kMembers, absl::Seconds(30));
  auto failed = Get("/api/users/me");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 500);

  fake_.Reset();
  EXPECT_EQ(fake_.RequestCount(Endpoint::kUsersMe), 0);
  EXPECT_EQ(fake_.LastAuthorizationHeader(), "");
  auto details = Get("/api/users/me");
  ASSERT_TRUE(details);
  EXPECT_EQ(details->status, 200);
  const absl::Time start = absl::Now();
  auto members = Get("/api/members");
  ASSERT_TRUE(members);
  EXPECT_EQ(members->status, 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(members->body, HasSubstr("\"data\":["));
}

TEST_F(FakeWorkatoTest, ServesWhileTestsChangeIt) {
  // Setters race with requests; meaningful under TSan.
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([this] {
      for (int i = 0; i < 10; ++i) {
        auto res = Get(i % 2 == 0 ? "/api/members" : "/api/users/me");
        ASSERT_TRUE(res);
        EXPECT_TRUE(res->status == 200 || res->status == 401 || res->status == 503) << res->status;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    FakeWorkspace ws = SmallWorkspace();
    ws.collaborators = GenerateCollaborators(i + 1, static_cast<uint32_t>(i));
    fake_.SetWorkspace(kToken, std::move(ws));
    if (i % 5 == 0) fake_.FailNext(Endpoint::kMembers, 503);
    if (i % 7 == 0) fake_.RemoveToken(kToken);
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 20);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kUsersMe), 20);
}

TEST(FakeWorkatoLifecycleTest, RestartsAndRefusesABusyPort) {
  FakeWorkato first;
  const int port = first.Start();
  ASSERT_GT(port, 0);
  FakeWorkato second;
  EXPECT_EQ(second.Start(port), -1);
  first.Stop();
  first.Stop();  // idempotent
  EXPECT_EQ(first.Start(port), port);
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/api/users/me");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST(MembersJsonTest, TotalCanBeForced) {
  const auto collaborators = GenerateCollaborators(3);
  EXPECT_THAT(MembersJson(collaborators), HasSubstr(R"(],"total":3})"));
  EXPECT_THAT(MembersJson(collaborators, 7), HasSubstr(R"(],"total":7})"));
  EXPECT_EQ(MembersJson({}), R"({"data":[],"total":0})");
}

TEST(MembersJsonTest, HundredThousandCollaboratorsIsFastAndValid) {
  const auto collaborators = GenerateCollaborators(100'000);
  const absl::Time start = absl::Now();
  const std::string body = MembersJson(collaborators);
  // Generous enough for sanitizer builds; a stream-based writer takes far
  // longer.
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(Int(doc["total"]), 100'000);
  simdjson::dom::array data;
  ASSERT_EQ(doc["data"].get_array().get(data), simdjson::SUCCESS);
  EXPECT_EQ(data.size(), 100'000u);
}

TEST(GenerateCollaboratorsTest, DeterministicPerSeed) {
  const std::string a = MembersJson(GenerateCollaborators(50, 7));
  EXPECT_EQ(a, MembersJson(GenerateCollaborators(50, 7)));
  EXPECT_NE(a, MembersJson(GenerateCollaborators(50, 8)));
  EXPECT_TRUE(GenerateCollaborators(0).empty());
  EXPECT_TRUE(GenerateCollaborators(-3).empty());
}

TEST(GenerateCollaboratorsTest, CoversTheVariety) {
  const int n = 200;
  const auto collaborators = GenerateCollaborators(n);
  ASSERT_EQ(collaborators.size(), static_cast<size_t>(n));

  std::set<int64_t> ids;
  std::set<std::string> emails;
  int big_ids = 0, non_ascii_names = 0, mixed_case_emails = 0;
  int null_activity = 0, null_external = 0, federation = 0;
  int three_env = 0, legacy_dev_only = 0, legacy_without_type = 0;
  std::set<std::string> offsets;
  std::set<size_t> created_lengths;
  for (const FakeCollaborator& c : collaborators) {
    ids.insert(c.id);
    emails.insert(absl::AsciiStrToLower(c.email));
    if (c.id > int64_t{1} << 31) ++big_ids;
    for (char ch : c.name) {
      if (static_cast<unsigned char>(ch) >= 0x80) {
        ++non_ascii_names;
        break;
      }
    }
    if (c.email != absl::AsciiStrToLower(c.email)) ++mixed_case_emails;
    if (!c.last_activity_at.has_value()) ++null_activity;
    if (!c.external_id.has_value()) ++null_external;
    if (c.grant_type == "federation_manager") ++federation;
    EXPECT_TRUE(c.grant_type == "team" || c.grant_type == "federation_manager");
    for (const char* offset : {"Z", "+05:30", "-08:00"}) {
      if (absl::EndsWith(c.created_at, offset)) offsets.insert(offset);
    }
    created_lengths.insert(c.created_at.size());
    if (c.roles.size() == 3) {
      ++three_env;
      EXPECT_EQ(c.roles[0].environment_type, "dev");
      EXPECT_EQ(c.roles[1].environment_type, "test");
      EXPECT_EQ(c.roles[2].environment_type, "prod");
      for (const FakeRole& r : c.roles) {
        EXPECT_EQ(r.role_type, "environment");
        EXPECT_TRUE(r.role_name == "Environment admin" || r.role_name == "Member" ||
                    r.role_name == "No access")
            << r.role_name;
      }
    } else {
      ASSERT_EQ(c.roles.size(), 1u);
      ++legacy_dev_only;
      EXPECT_EQ(c.roles[0].environment_type, "dev");
      EXPECT_TRUE(c.roles[0].role_name == "Admin" || c.roles[0].role_name == "Analyst" ||
                  c.roles[0].role_name == "Operator");
      if (!c.roles[0].role_type.has_value()) ++legacy_without_type;
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(n));
  EXPECT_EQ(emails.size(), static_cast<size_t>(n));  // case-insensitively
  EXPECT_GT(big_ids, 0);
  EXPECT_GT(non_ascii_names, 0);
  EXPECT_GT(mixed_case_emails, 0);
  EXPECT_EQ(null_activity, n / 5);
  EXPECT_GT(null_external, 0);
  EXPECT_GT(federation, 0);
  EXPECT_LT(federation, n / 5);
  EXPECT_EQ(offsets.size(), 3u);
  EXPECT_GT(created_lengths.size(), 2u);  // fractions of different lengths
  EXPECT_GT(three_env, 0);
  EXPECT_GT(legacy_dev_only, 0);
  EXPECT_GT(legacy_without_type, 0);
  EXPECT_EQ(collaborators[0].roles[0].role_name, "Environment admin");
}

}  // namespace
}  // namespace workato_connector::testing
