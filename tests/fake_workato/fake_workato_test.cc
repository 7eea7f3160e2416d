#include "fake_workato/fake_workato.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
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
using ::testing::Not;

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


// --- Connections, request headers and gzip ----------------------------------

httplib::Headers Auth(const std::string& token = kToken) {
  return {{"Authorization", "Bearer " + token}};
}

// Undoes gzip (RFC 1952); "<bad gzip>" if `in` is not a complete stream.
std::string Gunzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return "<bad gzip>";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buffer[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : "<bad gzip>";
}

// Sends GET `path` with `token` on a fresh connection and returns the raw
// bytes received until the server closes it, or only up to the end of the
// headers. Shows what an HTTP client library would hide: the exact framing.
std::string RawGet(int port, const std::string& path, const std::string& token,
                   bool headers_only = false) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                                "\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      while (!(headers_only && out.find("\r\n\r\n") != std::string::npos)) {
        const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        out.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return out;
}

// Splits a raw response into its header block and body.
std::pair<std::string, std::string> SplitResponse(const std::string& raw) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return {raw, ""};
  return {raw.substr(0, end + 2), raw.substr(end + 4)};
}

TEST_F(FakeWorkatoTest, KeepAliveReusesOneConnection) {
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(true);
  for (int i = 0; i < 10; ++i) {
    auto res = client.Get("/api/users/me", Auth());
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(fake_.ConnectionCount(), 1);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kUsersMe), 10);

  // Get() uses a new client, so a new connection, each time.
  ASSERT_TRUE(Get("/api/members"));
  ASSERT_TRUE(Get("/api/nope"));
  EXPECT_EQ(fake_.ConnectionCount(), 3);

  fake_.Reset();
  EXPECT_EQ(fake_.ConnectionCount(), 0);
  ASSERT_TRUE(client.Get("/api/users/me", Auth()));
  EXPECT_EQ(fake_.ConnectionCount(), 1);
}

TEST_F(FakeWorkatoTest, StopDoesNotWaitForIdleKeepAliveConnections) {
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(true);
  ASSERT_TRUE(client.Get("/api/users/me", Auth()));
  // The connection now idles in the server's 30 s keep-alive wait.
  const absl::Time start = absl::Now();
  fake_.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST_F(FakeWorkatoTest, CapturesUserAgentAndAcceptEncoding) {
  httplib::Client client("127.0.0.1", port_);
  httplib::Headers headers = Auth();
  headers.emplace("User-Agent", "workato-connector/1.2 (test)");
  headers.emplace("Accept-Encoding", "identity");
  ASSERT_TRUE(client.Get("/api/users/me", headers));
  EXPECT_EQ(fake_.LastUserAgent(), "workato-connector/1.2 (test)");
  EXPECT_EQ(fake_.LastAcceptEncoding(), "identity");

  // Unknown paths record them too; absent headers read as "".
  EXPECT_EQ(RawGet(port_, "/nope", kToken).substr(0, 12), "HTTP/1.1 404");
  EXPECT_EQ(fake_.LastUserAgent(), "");
  EXPECT_EQ(fake_.LastAcceptEncoding(), "");

  ASSERT_TRUE(client.Get("/api/members", headers));
  fake_.Reset();
  EXPECT_EQ(fake_.LastUserAgent(), "");
  EXPECT_EQ(fake_.LastAcceptEncoding(), "");
}

TEST_F(FakeWorkatoTest, GzipsWhenTheClientAcceptsIt) {
  const std::string members = MembersJson(SmallWorkspace().collaborators);
  httplib::Client client("127.0.0.1", port_);
  client.set_decompress(false);  // see the bytes on the wire
  httplib::Headers headers = Auth();
  headers.emplace("Accept-Encoding", "br;q=1.0, GZip;q=0.5");

  auto res = client.Get("/api/members", headers);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(res->get_header_value("Content-Type"), kJsonType);
  EXPECT_EQ(res->get_header_value("Content-Length"), std::to_string(res->body.size()));
  ASSERT_GE(res->body.size(), 2u);
  EXPECT_EQ(res->body.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(Gunzip(res->body), members);

  auto me = client.Get("/api/users/me", headers);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(Gunzip(me->body), UsersMeJson(SmallWorkspace()));
  // Errors are JSON too, and gzipped alike.
  httplib::Headers bad = Auth("tok-bad");
  bad.emplace("Accept-Encoding", "gzip");
  auto unauthorized = client.Get("/api/members", bad);
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
  EXPECT_EQ(Gunzip(unauthorized->body), R"({"message":"Unauthorized"})");
  EXPECT_EQ(fake_.GzipResponseCount(), 3);

  // No gzip unless asked for, or when refused with q=0.
  for (const char* accept : {"", "identity", "deflate, br", "gzip;q=0", "x-gzip; q=0.000"}) {
    httplib::Headers h = Auth();
    if (*accept != '\0') h.emplace("Accept-Encoding", accept);
    auto plain = client.Get("/api/members", h);
    ASSERT_TRUE(plain) << accept;
    EXPECT_FALSE(plain->has_header("Content-Encoding")) << accept;
    EXPECT_EQ(plain->body, members) << accept;
  }
  EXPECT_EQ(fake_.GzipResponseCount(), 3);

  // A client that decodes gzip, as libcurl does, sees the plain body.
  httplib::Client decoding("127.0.0.1", port_);
  auto decoded = decoding.Get("/api/members", headers);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->body, members);
  EXPECT_EQ(fake_.GzipResponseCount(), 4);

  // SetGzip(false) turns it off, and Reset() keeps that setting.
  fake_.SetGzip(false);
  fake_.Reset();
  auto off = client.Get("/api/members", headers);
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->has_header("Content-Encoding"));
  EXPECT_EQ(off->body, members);
  EXPECT_EQ(fake_.GzipResponseCount(), 0);
  EXPECT_EQ(fake_.LastAcceptEncoding(), "br;q=1.0, GZip;q=0.5");
}

// --- Body modes ---------------------------------------------------------------

TEST_F(FakeWorkatoTest, HangNeverAnswersButOnlyAfterAuth) {
  fake_.SetMembersBodyMode(BodyMode::kHang);
  auto unauthorized = Get("/api/members", "tok-bad");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
  auto details = Get("/api/users/me");
  ASSERT_TRUE(details);
  EXPECT_EQ(details->status, 200);

  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(std::chrono::milliseconds(300));
  const absl::Time start = absl::Now();
  auto hung = client.Get("/api/members", Auth());
  EXPECT_FALSE(hung);
  EXPECT_EQ(hung.error(), httplib::Error::Read);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 2);
}

TEST_F(FakeWorkatoTest, DripSendsTheBodySlowly) {
  const std::string body(64, 'x');  // four 16-byte writes, three intervals
  fake_.SetMembersBodyOverride(body);
  fake_.SetMembersBodyMode(BodyMode::kDrip, absl::Milliseconds(60));
  const absl::Time start = absl::Now();
  auto res = Get("/api/members");
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Length"), "64");
  EXPECT_EQ(res->body, body);
  EXPECT_GE(took, absl::Milliseconds(180));
  EXPECT_LT(took, absl::Seconds(2));

  // The normal body, gzipped when asked for.
  fake_.SetMembersBodyOverride(std::nullopt);
  fake_.SetMembersBodyMode(BodyMode::kDrip, absl::Microseconds(100));
  httplib::Client client("127.0.0.1", port_);
  httplib::Headers headers = Auth();
  headers.emplace("Accept-Encoding", "gzip");
  auto normal = client.Get("/api/members", headers);
  ASSERT_TRUE(normal);
  EXPECT_EQ(normal->get_header_value("Content-Encoding"), "gzip");
  EXPECT_EQ(normal->body, MembersJson(SmallWorkspace().collaborators));
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 2);
}

TEST_F(FakeWorkatoTest, CutShortPromisesMoreThanItSends) {
  const std::string members = MembersJson(SmallWorkspace().collaborators);
  fake_.SetMembersBodyMode(BodyMode::kCutShort);
  auto res = Get("/api/members");
  EXPECT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::Read);

  const auto [headers, body] = SplitResponse(RawGet(port_, "/api/members", kToken));
  EXPECT_THAT(headers, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(headers, HasSubstr("Content-Length: " + std::to_string(members.size()) + "\r\n"));
  EXPECT_EQ(body, members.substr(0, members.size() / 2));

  // Auth and scripted failures still come first.
  auto unauthorized = Get("/api/members", "tok-bad");
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
  fake_.FailNext(Endpoint::kMembers, 503);
  auto unavailable = Get("/api/members");
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->status, 503);
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 4);
}

TEST_F(FakeWorkatoTest, DropMidBodyBreaksTheChunkedTransfer) {
  const std::string members = MembersJson(SmallWorkspace().collaborators);
  fake_.SetMembersBodyMode(BodyMode::kDropMidBody);
  auto res = Get("/api/members");
  EXPECT_FALSE(res);

  const auto [headers, body] = SplitResponse(RawGet(port_, "/api/members", kToken));
  EXPECT_THAT(headers, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(headers, HasSubstr("Transfer-Encoding: chunked\r\n"));
  EXPECT_THAT(headers, Not(HasSubstr("Content-Length")));
  // One chunk with the first half, then no terminating zero-size chunk.
  const std::string half = members.substr(0, members.size() / 2);
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", half.size());
  EXPECT_EQ(body, size_line + half + "\r\n");
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 2);
}

TEST_F(FakeWorkatoTest, HugeStreamsAValidListingOfTheRequestedSize) {
  constexpr int64_t kBytes = int64_t{8} << 20;
  fake_.SetMembersBodyMode(BodyMode::kHuge, absl::Milliseconds(200), kBytes);
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers = Auth();
  headers.emplace("Accept-Encoding", "gzip");  // ignored: the size is the point
  auto res = client.Get("/api/members", headers);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_FALSE(res->has_header("Content-Encoding"));
  EXPECT_EQ(res->get_header_value("Content-Length"), std::to_string(res->body.size()));
  EXPECT_LE(res->body.size(), static_cast<size_t>(kBytes));
  EXPECT_GT(res->body.size(), static_cast<size_t>(kBytes) - 1024);
  ASSERT_FALSE(res->body.empty());
  EXPECT_EQ(res->body.back(), '}');
  EXPECT_EQ(fake_.GzipResponseCount(), 0);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS);
  simdjson::dom::array data;
  ASSERT_EQ(doc["data"].get_array().get(data), simdjson::SUCCESS);
  EXPECT_GT(data.size(), 10'000u);
  EXPECT_EQ(Int(doc["total"]), static_cast<int64_t>(data.size()));
  std::set<int64_t> ids;
  std::set<std::string_view> emails;
  for (simdjson::dom::element c : data) {
    ids.insert(Int(c["id"]));
    emails.insert(Str(c["email"]));
  }
  EXPECT_EQ(ids.size(), data.size());
  EXPECT_EQ(emails.size(), data.size());

  // The default size, read from the headers alone.
  fake_.SetMembersBodyMode(BodyMode::kHuge);
  const auto [default_headers, unused] =
      SplitResponse(RawGet(port_, "/api/members", kToken, /*headers_only=*/true));
  const size_t at = default_headers.find("Content-Length: ");
  ASSERT_NE(at, std::string::npos) << default_headers;
  const int64_t length = std::stoll(default_headers.substr(at + 16));
  EXPECT_LE(length, int64_t{64} << 20);
  EXPECT_GT(length, (int64_t{64} << 20) - 1024);

  // A tiny one is still valid.
  fake_.SetMembersBodyMode(BodyMode::kHuge, absl::Milliseconds(200), 1);
  auto tiny = Get("/api/members");
  ASSERT_TRUE(tiny);
  EXPECT_EQ(tiny->body, R"({"data":[],"total":0})");
  EXPECT_EQ(fake_.RequestCount(Endpoint::kMembers), 3);
}

TEST_F(FakeWorkatoTest, ResetRestoresTheNormalBody) {
  fake_.SetMembersBodyMode(BodyMode::kCutShort);
  fake_.Reset();
  auto res = Get("/api/members");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, MembersJson(SmallWorkspace().collaborators));
}

// Stop() returns promptly in every mode, with a request in flight and with the
// client reading as slowly as the server writes.
TEST(FakeWorkatoStopTest, StopIsPromptInEveryBodyMode) {
  for (BodyMode mode : {BodyMode::kNormal, BodyMode::kHang, BodyMode::kDrip, BodyMode::kCutShort,
                        BodyMode::kDropMidBody, BodyMode::kHuge}) {
    SCOPED_TRACE(static_cast<int>(mode));
    FakeWorkato fake;
    FakeWorkspace ws = SmallWorkspace();
    ws.collaborators = GenerateCollaborators(200);
    fake.SetWorkspace(kToken, std::move(ws));
    fake.SetMembersBodyMode(mode, absl::Milliseconds(200), int64_t{1} << 30);
    const int port = fake.Start();
    ASSERT_GT(port, 0);
    std::thread client([port] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_read_timeout(std::chrono::seconds(30));
      // Reads slowly, so that a huge body is still being sent at Stop().
      (void)c.Get("/api/members", Auth(), [](const char*, size_t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return true;
      });
    });
    while (fake.RequestCount(Endpoint::kMembers) == 0) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    absl::SleepFor(absl::Milliseconds(100));
    const absl::Time start = absl::Now();
    fake.Stop();
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
    client.join();
    // The client gave up or finished promptly too.
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
    EXPECT_EQ(fake.RequestCount(Endpoint::kMembers), 1);
  }
}

// --- TLS ------------------------------------------------------------------------

class FakeWorkatoTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "fake_workato_tls_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ASSERT_TRUE(WriteSelfSignedCert(dir_, &cert_, &key_));
  }
  void TearDown() override {
    std::remove(cert_.c_str());
    std::remove(key_.c_str());
    rmdir(dir_.c_str());
  }

  std::string dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(FakeWorkatoTlsTest, CertificateIsForLoopbackAndShortLived) {
  struct stat key_stat {};
  ASSERT_EQ(stat(key_.c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);

  FILE* f = std::fopen(cert_.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "127.0.0.1");
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "example.com", 0, 0, nullptr), 0);
  int days = -1;
  int seconds = -1;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
            1);
  EXPECT_EQ(days, 1);
  X509_free(cert);

  // Each call makes a new key.
  std::string other_cert, other_key;
  const std::string other_dir = dir_ + "/other";
  ASSERT_EQ(mkdir(other_dir.c_str(), 0700), 0);
  ASSERT_TRUE(WriteSelfSignedCert(other_dir, &other_cert, &other_key));
  std::ifstream a(key_), b(other_key);
  std::stringstream key_a, key_b;
  key_a << a.rdbuf();
  key_b << b.rdbuf();
  EXPECT_THAT(key_a.str(), HasSubstr("PRIVATE KEY"));
  EXPECT_NE(key_a.str(), key_b.str());
  std::remove(other_cert.c_str());
  std::remove(other_key.c_str());
  rmdir(other_dir.c_str());

  std::string unused;
  EXPECT_FALSE(WriteSelfSignedCert(dir_ + "/missing/dir", &unused, &unused));
}

TEST_F(FakeWorkatoTlsTest, ServesHttpsToClientsThatTrustTheCertificate) {
  FakeWorkato fake;
  fake.SetWorkspace(kToken, SmallWorkspace());
  const int port = fake.StartTls(cert_, key_);
  ASSERT_GT(port, 0);
  EXPECT_EQ(fake.BaseUrl(), "https://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(fake.StartTls(cert_, key_), -1);  // already running

  httplib::SSLClient trusting("127.0.0.1", port);
  trusting.set_ca_cert_path(cert_);
  trusting.enable_server_certificate_verification(true);
  trusting.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto res = trusting.Get("/api/members", Auth());
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, MembersJson(SmallWorkspace().collaborators));
  }
  EXPECT_EQ(fake.ConnectionCount(), 1);

  httplib::SSLClient untrusting("127.0.0.1", port);
  untrusting.enable_server_certificate_verification(true);
  auto rejected = untrusting.Get("/api/members", Auth());
  EXPECT_FALSE(rejected);
  EXPECT_EQ(rejected.error(), httplib::Error::SSLServerVerification);
  EXPECT_EQ(fake.RequestCount(Endpoint::kMembers), 3);

  // Plain HTTP to the TLS port gets nothing useful.
  httplib::Client plain("127.0.0.1", port);
  plain.set_read_timeout(std::chrono::seconds(2));
  auto res = plain.Get("/api/members", Auth());
  EXPECT_TRUE(!res || res->status != 200);

  // Body modes work over TLS too, and Stop() is prompt with a connection
  // idling in keep-alive.
  fake.SetMembersBodyMode(BodyMode::kCutShort);
  EXPECT_FALSE(trusting.Get("/api/members", Auth()));
  fake.SetMembersBodyMode(BodyMode::kNormal);
  ASSERT_TRUE(trusting.Get("/api/users/me", Auth()));
  const absl::Time start = absl::Now();
  fake.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));

  // Restarting without TLS serves plain HTTP again.
  const int plain_port = fake.Start();
  ASSERT_GT(plain_port, 0);
  EXPECT_EQ(fake.BaseUrl(), "http://127.0.0.1:" + std::to_string(plain_port));
}

TEST_F(FakeWorkatoTlsTest, UnloadableCertificateFailsToStart) {
  FakeWorkato fake;
  EXPECT_EQ(fake.StartTls(dir_ + "/none.pem", key_), -1);
  EXPECT_EQ(fake.StartTls(cert_, cert_), -1);  // no key in it
  EXPECT_EQ(fake.port(), 0);
  EXPECT_GT(fake.Start(), 0);
}

}  // namespace
}  // namespace workato_connector::testing
