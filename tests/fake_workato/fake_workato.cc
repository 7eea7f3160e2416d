#include "fake_workato/fake_workato.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace workato_connector::testing {
namespace {

constexpr char kContentType[] = "application/json; charset=utf-8";
constexpr char kUnauthorized[] = R"({"message":"Unauthorized"})";
constexpr char kForbidden[] = R"({"message":"Forbidden"})";
constexpr char kNotFound[] = R"({"message":"Not found"})";
constexpr absl::string_view kBearerPrefix = "Bearer ";

// Appends `s` as a JSON string literal. UTF-8 passes through untouched; only
// what JSON forbids raw (quote, backslash, control characters) is escaped.
void AppendJsonString(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (u < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xF]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonStringOrNull(std::string* out, const std::optional<std::string>& s) {
  if (s.has_value()) {
    AppendJsonString(out, *s);
  } else {
    out->append("null");
  }
}

// A stable activity-log id derived from the collaborator id, so repeated
// listings agree with each other like the real API's do.
int64_t ActivityLogId(int64_t collaborator_id) {
  const uint64_t mixed = static_cast<uint64_t>(collaborator_id) * 2654435761u;
  return static_cast<int64_t>(mixed % 9'000'000'000'000u) + 1;
}

void AppendCollaborator(std::string* out, const FakeCollaborator& c) {
  absl::StrAppend(out, "{\"id\":", c.id, ",\"grant_type\":");
  AppendJsonString(out, c.grant_type);
  // Unknown fields in the middle and at the end: parsers must skip them
  // wherever they appear.
  out->append(",\"avatar_url\":null,\"name\":");
  AppendJsonString(out, c.name);
  out->append(",\"email\":");
  AppendJsonString(out, c.email);
  out->append(",\"time_zone\":");
  AppendJsonString(out, c.time_zone);
  out->append(",\"created_at\":");
  AppendJsonString(out, c.created_at);
  out->append(",\"external_id\":");
  AppendJsonStringOrNull(out, c.external_id);
  out->append(",\"last_activity_log\":");
  if (c.last_activity_at.has_value()) {
    absl::StrAppend(out, "{\"id\":", ActivityLogId(c.id),
                    ",\"event_type\":\"login\",\"created_at\":");
    AppendJsonString(out, *c.last_activity_at);
    out->push_back('}');
  } else {
    out->append("null");
  }
  out->append(",\"roles\":[");
  bool first = true;
  for (const FakeRole& role : c.roles) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"environment_type\":");
    AppendJsonString(out, role.environment_type);
    out->append(",\"role_name\":");
    AppendJsonString(out, role.role_name);
    if (role.role_type.has_value()) {
      out->append(",\"role_type\":");
      AppendJsonString(out, *role.role_type);
    }
    out->push_back('}');
  }
  out->append("],\"extra\":{\"x\":1,\"tags\":[\"a\",{\"b\":null}]}}");
}

// --- GenerateCollaborators helpers -----------------------------------------

struct NamePart {
  const char* display;
  const char* ascii;  // for the email address
};

constexpr NamePart kFirstNames[] = {
    {"Alice", "alice"}, {"José", "jose"},         {"Zoë", "zoe"},
    {"Björn", "bjorn"}, {"Ólafur", "olafur"},     {"Анна", "anna"},
    {"李", "li"},       {"さくら", "sakura"},     {"Łukasz", "lukasz"},
    {"Renée", "renee"}, {"Mohammed", "mohammed"}, {"Priya", "priya"},
    {"Chen", "chen"},   {"محمد", "muhammad"},     {"Liam", "liam"},
    {"Emma", "emma"},   {"Sofía", "sofia"},       {"Noah", "noah"},
};
constexpr NamePart kLastNames[] = {
    {"Smith", "smith"},       {"García", "garcia"}, {"Müller", "muller"},
    {"O'Connor", "oconnor"},  {"Nguyễn", "nguyen"}, {"Wang", "wang"},
    {"Kowalski", "kowalski"}, {"Patel", "patel"},   {"Иванова", "ivanova"},
    {"山本", "yamamoto"},     {"Dubois", "dubois"}, {"Andersson", "andersson"},
    {"Okafor", "okafor"},     {"Rossi", "rossi"},
};
constexpr const char* kTimeZones[] = {
    "Pacific Time (US & Canada)",
    "Eastern Time (US & Canada)",
    "London",
    "Kolkata",
    "Tokyo",
    "UTC",
    "Berlin",
    "Sydney",
};
constexpr const char* kOffsets[] = {"Z", "+05:30", "-08:00", "+00:00", "-07:00", "+09:00"};
constexpr int kFractionDigits[] = {0, 1, 3, 6};

// Draws from mt19937 directly (not through std distributions, whose output
// differs between standard libraries) so a seed means the same data anywhere.
class Draw {
 public:
  explicit Draw(uint32_t seed) : engine_(seed) {}
  // A value in [0, n).
  int Below(int n) { return static_cast<int>(engine_() % static_cast<uint32_t>(n)); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(static_cast<int>(N))];
  }

 private:
  std::mt19937 engine_;
};

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') {
    s[0] = static_cast<char>(s[0] - 'a' + 'A');
  }
  return s;
}

std::string Uppercased(std::string s) {
  for (char& ch : s) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return s;
}

// An RFC 3339 timestamp in `year` with a random date, fraction length and
// offset.
std::string RandomTimestamp(Draw& draw, int year) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", year, 1 + draw.Below(12),
                1 + draw.Below(28), draw.Below(24), draw.Below(60), draw.Below(60));
  std::string out = buf;
  const int digits = draw.Pick(kFractionDigits);
  if (digits > 0) {
    out.push_back('.');
    for (int i = 0; i < digits; ++i) {
      out.push_back(static_cast<char>('0' + draw.Below(10)));
    }
  }
  out.append(draw.Pick(kOffsets));
  return out;
}

std::vector<FakeRole> RandomRoles(Draw& draw, int index) {
  if (index == 0) {
    // The owner administers every environment.
    return {{"dev", "Environment admin", "environment"},
            {"test", "Environment admin", "environment"},
            {"prod", "Environment admin", "environment"}};
  }
  if (index % 2 == 0) {
    static constexpr const char* kDevRoles[] = {"Environment admin", "Member", "Member"};
    static constexpr const char* kOtherRoles[] = {"Environment admin", "Member", "No access"};
    return {{"dev", draw.Pick(kDevRoles), "environment"},
            {"test", draw.Pick(kOtherRoles), "environment"},
            {"prod", draw.Pick(kOtherRoles), "environment"}};
  }
  static constexpr const char* kLegacyRoles[] = {"Admin", "Analyst", "Operator"};
  std::optional<std::string> role_type;
  if (index % 4 == 1) role_type = "privilege_group";
  return {{"dev", draw.Pick(kLegacyRoles), std::move(role_type)}};
}

// True in ThreadSanitizer builds (GCC defines __SANITIZE_THREAD__, Clang
// reports the feature).
#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

// Debian's libcpp-httplib is prebuilt without TSan, and its request parser
// keeps a function-local static (the set of known methods). Workers that read
// it after another worker initialised it synchronise through a guard check
// TSan cannot see, so TSan reports a race inside httplib. Initialising the
// static once on a throwaway server, whose threads are joined before any real
// server creates its own, gives TSan that happens-before edge.
void InitializeHttplibStaticsForTsan() {
  static std::once_flag once;
  std::call_once(once, [] {
    httplib::Server server;
    server.new_task_queue = [] { return new httplib::ThreadPool(1); };
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{}", kContentType);
    });
    const int port = server.bind_to_any_port("127.0.0.1");
    if (port <= 0) return;
    std::thread listener([&server] { server.listen_after_bind(); });
    while (!server.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    httplib::Client client("127.0.0.1", port);
    (void)client.Get("/");
    server.stop();
    listener.join();
  });
}

}  // namespace

// --- JSON bodies ------------------------------------------------------------

std::string MembersJson(const std::vector<FakeCollaborator>& collaborators,
                        std::optional<int64_t> total) {
  std::string out;
  // About 450 bytes per element; one allocation even for 100k elements.
  out.reserve(64 + collaborators.size() * 512);
  out.append("{\"data\":[");
  bool first = true;
  for (const FakeCollaborator& c : collaborators) {
    if (!first) out.push_back(',');
    first = false;
    AppendCollaborator(&out, c);
  }
  absl::StrAppend(&out, "],\"total\":", total.value_or(static_cast<int64_t>(collaborators.size())),
                  "}");
  return out;
}

std::string UsersMeJson(const FakeWorkspace& ws) {
  std::string out;
  absl::StrAppend(&out, "{\"id\":", ws.id, ",\"name\":");
  AppendJsonString(&out, ws.name);
  out.append(
      ",\"created_at\":\"2021-03-04T05:06:07.000-08:00\""
      ",\"plan_id\":\"enterprise\""
      ",\"current_billing_period_start\":\"2025-01-01T00:00:00.000-08:00\""
      ",\"current_billing_period_end\":\"2026-01-01T00:00:00.000-08:00\""
      ",\"expert\":false,\"avatar_url\":null,\"recipes_count\":3"
      ",\"active_recipes_count\":1,\"company_name\":null,\"location\":null"
      ",\"last_seen\":\"2025-06-01T12:00:00.000-07:00\""
      ",\"contact_phone\":null,\"contact_email\":null,\"about_me\":null"
      ",\"email\":null,\"phone\":null,\"interested_applications\":[]"
      ",\"root_folder_id\":123,\"some_future_field\":{\"nested\":[1,2]}}");
  return out;
}

std::vector<FakeCollaborator> GenerateCollaborators(int n, uint32_t seed) {
  std::vector<FakeCollaborator> out;
  if (n <= 0) return out;
  out.reserve(static_cast<size_t>(n));
  Draw draw(seed);
  for (int i = 0; i < n; ++i) {
    FakeCollaborator c;
    // Distinct id ranges, each with a unique slot per index: some ids need
    // more than 32 bits, a few more than a double's 53-bit mantissa.
    const int64_t slot = int64_t{i} * 10 + draw.Below(10);
    if (i % 16 == 5) {
      c.id = 9'007'199'254'740'993 + slot;  // 2^53 + 1
    } else if (i % 4 == 1) {
      c.id = 3'000'000'000 + slot;
    } else {
      c.id = 100'000 + slot;
    }

    const NamePart& first = draw.Pick(kFirstNames);
    const NamePart& last = draw.Pick(kLastNames);
    c.name = absl::StrCat(first.display, " ", last.display);
    // The index keeps emails unique even compared case-insensitively.
    std::string local = absl::StrCat(first.ascii, ".", last.ascii, ".", i);
    if (i % 7 == 5) {
      c.email = Uppercased(absl::StrCat(local, "@acme.example"));
    } else if (i % 3 == 1) {
      c.email = absl::StrCat(Capitalized(first.ascii), ".", Capitalized(last.ascii), ".", i,
                             "@Acme.example");
    } else {
      c.email = absl::StrCat(local, "@acme.example");
    }

    c.grant_type = (i % 10 == 9) ? "federation_manager" : "team";
    c.time_zone = draw.Pick(kTimeZones);
    c.created_at = RandomTimestamp(draw, 2019 + draw.Below(6));
    if (i % 3 != 2) c.external_id = absl::StrCat("emp-", 4000 + i);
    if (i % 5 != 3) c.last_activity_at = RandomTimestamp(draw, 2025);
    c.roles = RandomRoles(draw, i);
    out.push_back(std::move(c));
  }
  return out;
}

// --- FakeWorkato ------------------------------------------------------------

FakeWorkato::FakeWorkato() = default;

FakeWorkato::~FakeWorkato() { Stop(); }

int FakeWorkato::Start(int port) {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (server_ != nullptr) return -1;
  if (kThreadSanitizer) InitializeHttplibStaticsForTsan();
  auto server = std::make_unique<httplib::Server>();
  server->Get("/api/users/me", [this](const httplib::Request& req, httplib::Response& res) {
    Serve(req, res, Endpoint::kUsersMe);
  });
  server->Get("/api/members", [this](const httplib::Request& req, httplib::Response& res) {
    Serve(req, res, Endpoint::kMembers);
  });
  auto unknown = [this](const httplib::Request& req, httplib::Response& res) {
    ServeUnknown(req, res);
  };
  server->Get(".*", unknown);
  server->Post(".*", unknown);
  server->Put(".*", unknown);
  server->Patch(".*", unknown);
  server->Delete(".*", unknown);
  // Whatever httplib rejects on its own (bad request line, unknown method)
  // still gets a JSON body, as Workato's errors do.
  server->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&,
                                                                    httplib::Response& res) {
    if (!res.body.empty()) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_content(res.status == 404 ? kNotFound : R"({"message":"Bad request"})", kContentType);
    return httplib::Server::HandlerResponse::Handled;
  }));

  // httplib's default also sets SO_REUSEPORT, which lets a second fake share
  // a busy port and silently take half its requests; keep only SO_REUSEADDR
  // so that a restart right after a stop still binds.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  // Loopback only: the fake must never be reachable from another machine.
  const int bound = port == 0 ? server->bind_to_any_port("127.0.0.1")
                              : (server->bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound <= 0) return -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    port_ = bound;
  }
  httplib::Server* raw = server.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // The socket already accepts into its backlog, but Stop() only works once
  // the accept loop runs, so wait for it.
  while (!raw->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  return bound;
}

void FakeWorkato::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (server_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  server_->stop();
  // listen_after_bind() returns only after its worker threads finished the
  // requests in flight.
  thread_.join();
  server_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  port_ = 0;
}

int FakeWorkato::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

std::string FakeWorkato::BaseUrl() const { return absl::StrCat("http://127.0.0.1:", port()); }

void FakeWorkato::SetWorkspace(const std::string& token, FakeWorkspace ws) {
  std::lock_guard<std::mutex> lock(mu_);
  workspaces_[token] = std::move(ws);
}

void FakeWorkato::RemoveToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  workspaces_.erase(token);
}

void FakeWorkato::FailNext(Endpoint e, int status, std::string body, int count,
                           std::vector<std::pair<std::string, std::string>> headers) {
  if (count <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  StateFor(e).failures.push_back(
      ScriptedFailure{status, std::move(body), count, std::move(headers)});
}

void FakeWorkato::SetMembersBodyOverride(std::optional<std::string> body) {
  std::lock_guard<std::mutex> lock(mu_);
  members_body_override_ = std::move(body);
}

void FakeWorkato::SetDelay(Endpoint e, absl::Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  StateFor(e).delay = d;
}

int FakeWorkato::RequestCount(Endpoint e) const {
  std::lock_guard<std::mutex> lock(mu_);
  return StateFor(e).request_count;
}

int FakeWorkato::UnknownRequestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unknown_request_count_;
}

std::string FakeWorkato::LastAuthorizationHeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_authorization_;
}

void FakeWorkato::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  users_me_ = EndpointState{};
  members_ = EndpointState{};
  unknown_request_count_ = 0;
  members_body_override_.reset();
  last_authorization_.clear();
}

FakeWorkato::EndpointState& FakeWorkato::StateFor(Endpoint e) {
  return e == Endpoint::kUsersMe ? users_me_ : members_;
}

const FakeWorkato::EndpointState& FakeWorkato::StateFor(Endpoint e) const {
  return e == Endpoint::kUsersMe ? users_me_ : members_;
}

void FakeWorkato::ServeUnknown(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++unknown_request_count_;
    last_authorization_ = req.get_header_value("Authorization");
  }
  res.status = 404;
  res.set_content(kNotFound, kContentType);
}

void FakeWorkato::Serve(const httplib::Request& req, httplib::Response& res, Endpoint e) {
  std::unique_lock<std::mutex> lock(mu_);
  ++StateFor(e).request_count;
  last_authorization_ = req.get_header_value("Authorization");

  const absl::Duration delay = StateFor(e).delay;
  if (delay > absl::ZeroDuration()) {
    // Releases mu_ while waiting; Stop() cuts the wait short.
    stopping_cv_.wait_for(lock, absl::ToChronoNanoseconds(delay), [this] { return stopping_; });
  }

  std::deque<ScriptedFailure>& failures = StateFor(e).failures;
  if (!failures.empty()) {
    ScriptedFailure& failure = failures.front();
    res.status = failure.status;
    for (const auto& [name, value] : failure.headers) {
      res.set_header(name.c_str(), value);
    }
    res.set_content(failure.body, kContentType);
    if (--failure.remaining <= 0) failures.pop_front();
    return;
  }

  const std::string& authorization = last_authorization_;
  const FakeWorkspace* ws = nullptr;
  if (absl::StartsWith(authorization, kBearerPrefix)) {
    auto it = workspaces_.find(authorization.substr(kBearerPrefix.size()));
    if (it != workspaces_.end()) ws = &it->second;
  }
  if (ws == nullptr) {
    res.status = 401;
    res.set_content(kUnauthorized, kContentType);
    return;
  }

  const bool allowed = e == Endpoint::kUsersMe ? ws->can_read_details : ws->can_read_collaborators;
  if (!allowed) {
    res.status = ws->missing_privilege_as_401 ? 401 : 403;
    res.set_content(ws->missing_privilege_as_401 ? kUnauthorized : kForbidden, kContentType);
    return;
  }

  res.status = 200;
  if (e == Endpoint::kUsersMe) {
    res.set_content(UsersMeJson(*ws), kContentType);
  } else if (members_body_override_.has_value()) {
    res.set_content(*members_body_override_, kContentType);
  } else {
    res.set_content(MembersJson(ws->collaborators), kContentType);
  }
}

}  // namespace workato_connector::testing
