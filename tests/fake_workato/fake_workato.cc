#include "fake_workato/fake_workato.h"

// httplib::SSLServer exists only with CPPHTTPLIB_OPENSSL_SUPPORT. Debian's
// libcpp-httplib is a compiled library built with it (and with zlib and
// Brotli), and its pkg-config Cflags already define it for every target that
// links it, as they must: httplib's class layouts depend on these macros, so
// every translation unit has to agree with the library. Defining it here too
// only matters for a header-only httplib.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

// Bytes per write in BodyMode::kDrip: small enough that even a short body
// takes several intervals.
constexpr size_t kDripBytes = 16;
// Default size of a BodyMode::kHuge body.
constexpr int64_t kDefaultHugeBytes = int64_t{64} << 20;
// kHuge bodies are produced this much at a time.
constexpr size_t kHugeChunkBytes = 64 << 10;
// Idle keep-alive connections last this long, long enough for any test.
constexpr time_t kKeepAliveSeconds = 30;
constexpr size_t kKeepAliveMaxRequests = 1000;

// True if an Accept-Encoding value lets the response be gzipped: a "gzip" or
// "x-gzip" coding whose q-value, if any, is not zero.
bool AcceptsGzip(absl::string_view accept_encoding) {
  for (absl::string_view coding : absl::StrSplit(accept_encoding, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(coding, ';');
    const absl::string_view name = absl::StripAsciiWhitespace(parts[0]);
    if (!absl::EqualsIgnoreCase(name, "gzip") && !absl::EqualsIgnoreCase(name, "x-gzip")) {
      continue;
    }
    bool refused = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      const absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
      double q = 1;
      if (absl::StartsWithIgnoreCase(param, "q=") && absl::SimpleAtod(param.substr(2), &q) &&
          q <= 0) {
        refused = true;
      }
    }
    if (!refused) return true;
  }
  return false;
}

// Compresses `in` into a gzip stream (RFC 1952) in `out`. Done here rather
// than by httplib, whose own compression is fixed at build time and only
// applies to some Content-Types, so that tests control it.
bool GzipCompress(absl::string_view in, std::string* out) {
  z_stream zs{};
  // 15 + 16: the largest window, with a gzip header and trailer instead of a
  // zlib one.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  out->clear();
  char buffer[16 << 10];
  size_t fed = 0;
  int rc = Z_OK;
  do {
    if (zs.avail_in == 0 && fed < in.size()) {
      // avail_in is 32 bits wide, so feed large inputs in slices.
      const size_t slice = std::min<size_t>(in.size() - fed, size_t{1} << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
      zs.avail_in = static_cast<uInt>(slice);
      fed += slice;
    }
    const int flush = (fed == in.size() && zs.avail_in == 0) ? Z_FINISH : Z_NO_FLUSH;
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = static_cast<uInt>(sizeof(buffer));
    rc = deflate(&zs, flush);
    if (rc == Z_STREAM_ERROR) break;
    out->append(buffer, sizeof(buffer) - zs.avail_out);
  } while (rc != Z_STREAM_END);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// Shuts down every connection the server on 127.0.0.1:`port` has accepted.
// httplib 0.11 lets a worker wait out the whole keep-alive timeout on an idle
// connection even after Server::stop(), and exposes no accepted socket, so
// Stop() would otherwise block for as long as a client keeps a connection
// open. The sockets are found among this process's descriptors by their
// local address.
void ShutdownServerConnections(int port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  std::vector<int> fds;
  while (const dirent* entry = readdir(dir)) {
    int fd = -1;
    if (absl::SimpleAtoi(entry->d_name, &fd) && fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  for (int fd : fds) {
    // A worker may close `fd` and the number be reused at any time. A
    // duplicate pins whatever socket `fd` names now, so the checks and the
    // shutdown below apply to the same socket.
    const int pinned = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (pinned < 0) continue;
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    sockaddr_in peer{};
    socklen_t peer_len = sizeof(peer);
    if (getsockname(pinned, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
        local.sin_family == AF_INET && ntohs(local.sin_port) == port &&
        local.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
        // Connected: not the listening socket (already closed anyway).
        getpeername(pinned, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
      shutdown(pinned, SHUT_RDWR);
    }
    close(pinned);
  }
}

// Produces a syntactically valid /api/members body of about a given size
// piece by piece, so that even a body of gigabytes never sits in memory.
// Every element has the same length (fixed-width numbers, no activity log),
// which gives the exact Content-Length up front.
class HugeMembersBody {
 public:
  explicit HugeMembersBody(int64_t target_bytes) {
    if (target_bytes <= 0) target_bytes = kDefaultHugeBytes;
    template_.grant_type = "team";
    template_.roles = {{"dev", "Member", "environment"},
                       {"test", "Member", "environment"},
                       {"prod", "No access", "environment"}};
    std::string first;
    AppendElement(0, &first);
    element_size_ = first.size();
    // {"data":[ + elements and commas + ],"total":N} with N below 10^12.
    constexpr int64_t kOverhead = 9 + 10 + 12 + 1;
    count_ = std::max<int64_t>(0, (target_bytes - kOverhead) / static_cast<int64_t>(element_size_ + 1));
    count_ = std::min<int64_t>(count_, kMaxCount);
    suffix_ = absl::StrCat("],\"total\":", count_, "}");
    size_ = 9 + static_cast<size_t>(count_) * element_size_ +
            static_cast<size_t>(std::max<int64_t>(0, count_ - 1)) + suffix_.size();
  }

  // The exact body size.
  size_t size() const { return size_; }

  // The bytes following the first `offset` ones, which must be all those
  // returned so far; empty when done or on a mismatch.
  absl::string_view Next(size_t offset) {
    chunk_.clear();
    if (offset != produced_) return {};
    if (offset == 0) chunk_.append("{\"data\":[");
    while (chunk_.size() < kHugeChunkBytes && next_ < count_) {
      if (next_ > 0) chunk_.push_back(',');
      const size_t before = chunk_.size();
      AppendElement(next_++, &chunk_);
      // Would make the Content-Length a lie; better fail loudly.
      if (chunk_.size() - before != element_size_) return {};
    }
    if (next_ == count_ && !suffix_sent_) {
      chunk_.append(suffix_);
      suffix_sent_ = true;
    }
    produced_ += chunk_.size();
    return chunk_;
  }

 private:
  // Element numbers stay below 10^12 so that they fit the fixed widths.
  static constexpr int64_t kMaxCount = 999'999'999'999;

  void AppendElement(int64_t i, std::string* out) {
    char index[16];
    std::snprintf(index, sizeof(index), "%012lld", static_cast<long long>(i));
    template_.id = 1'000'000'000'000 + i;  // always 13 digits
    template_.email = absl::StrCat("huge.user.", index, "@acme.example");
    template_.name = absl::StrCat("Huge User ", index);
    template_.external_id = absl::StrCat("emp-", index);
    AppendCollaborator(out, template_);
  }

  FakeCollaborator template_;
  size_t element_size_ = 0;
  int64_t count_ = 0;
  std::string suffix_;
  size_t size_ = 0;
  int64_t next_ = 0;
  size_t produced_ = 0;
  bool suffix_sent_ = false;
  std::string chunk_;
};

// Owns what OpenSSL allocates.
struct OpenSslDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter>;

// Adds the extension `nid` = `value` (openssl.cnf syntax) to `cert`.
bool AddExtension(X509* cert, int nid, std::string value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  // value.data() is writable, for OpenSSL versions that take a char*.
  OpenSslPtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.data()));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

// Creates `path` with permissions `mode` and fills it with `write(FILE*)`.
template <typename WriteFn>
bool WritePemFile(const std::string& path, mode_t mode, WriteFn write) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  FILE* file = fdopen(fd, "w");
  if (file == nullptr) {
    close(fd);
    return false;
  }
  const bool written = write(file);
  return (std::fclose(file) == 0) && written;
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
  return StartServer(std::make_unique<httplib::Server>(), port, /*tls=*/false);
}

int FakeWorkato::StartTls(const std::string& cert_pem_file, const std::string& key_pem_file,
                          int port) {
  auto server = std::make_unique<httplib::SSLServer>(cert_pem_file.c_str(), key_pem_file.c_str());
  if (!server->is_valid()) return -1;
  return StartServer(std::move(server), port, /*tls=*/true);
}

int FakeWorkato::StartServer(std::unique_ptr<httplib::Server> server, int port, bool tls) {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (server_ != nullptr) return -1;
  // The warm-up server is plain HTTP, but the static it initialises is in the
  // request parser that HTTPS shares.
  if (kThreadSanitizer) InitializeHttplibStaticsForTsan();
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
  // httplib's defaults (5 requests, 5 s) would make a client that reuses its
  // connection look like one that does not; Stop() does not wait for idle
  // connections, so a long timeout costs nothing.
  server->set_keep_alive_max_count(kKeepAliveMaxRequests);
  server->set_keep_alive_timeout(kKeepAliveSeconds);
  // httplib writes the headers and the body separately; with Nagle's
  // algorithm the body then waits for the client's delayed ACK, about 40 ms
  // per request on a reused connection.
  server->set_tcp_nodelay(true);

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
    tls_ = tls;
    connections_.clear();
  }
  listener_done_.store(false);
  httplib::Server* raw = server.get();
  thread_ = std::thread([this, raw] {
    raw->listen_after_bind();
    listener_done_.store(true);
  });
  // The socket already accepts into its backlog, but Stop() only works once
  // the accept loop runs, so wait for it.
  while (!raw->is_running() && !listener_done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!raw->is_running()) {
    thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    port_ = 0;
    return -1;
  }
  server_ = std::move(server);
  return bound;
}

void FakeWorkato::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (server_ == nullptr) return;
  int port = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    port = port_;
  }
  // Wakes delayed, hanging and dripping handlers.
  stopping_cv_.notify_all();
  server_->stop();
  // listen_after_bind() returns only after its worker threads have closed
  // every connection, and they would wait out the keep-alive timeout on idle
  // ones. Shut them down until it returns: a connection accepted just before
  // stop() may only show up after the first pass.
  while (!listener_done_.load()) {
    ShutdownServerConnections(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  thread_.join();
  server_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  port_ = 0;
}

int FakeWorkato::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

std::string FakeWorkato::BaseUrl() const {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

void FakeWorkato::SetWorkspace(const std::string& token, FakeWorkspace ws) {
  std::lock_guard<std::mutex> lock(mu_);
  workspaces_[token] = std::move(ws);
  members_json_.erase(token);
}

void FakeWorkato::RemoveToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  workspaces_.erase(token);
  members_json_.erase(token);
}

void FakeWorkato::SetWorkspaceResolver(
    std::function<std::optional<FakeWorkspace>(const std::string& token)> resolver) {
  std::lock_guard<std::mutex> lock(mu_);
  workspace_resolver_ = std::move(resolver);
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

void FakeWorkato::SetMembersBodyMode(BodyMode mode, absl::Duration drip_interval,
                                     int64_t huge_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  members_body_mode_ = mode;
  drip_interval_ = drip_interval;
  huge_bytes_ = huge_bytes;
}

void FakeWorkato::SetGzip(bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  gzip_enabled_ = enabled;
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

std::string FakeWorkato::LastUserAgent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_user_agent_;
}

std::string FakeWorkato::LastAcceptEncoding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_accept_encoding_;
}

int FakeWorkato::ConnectionCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(connections_.size());
}

int FakeWorkato::GzipResponseCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gzip_response_count_;
}

void FakeWorkato::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  users_me_ = EndpointState{};
  members_ = EndpointState{};
  unknown_request_count_ = 0;
  members_body_override_.reset();
  members_json_.clear();
  members_body_mode_ = BodyMode::kNormal;
  drip_interval_ = absl::Milliseconds(200);
  huge_bytes_ = 0;
  gzip_response_count_ = 0;
  connections_.clear();
  last_authorization_.clear();
  last_user_agent_.clear();
  last_accept_encoding_.clear();
}

FakeWorkato::EndpointState& FakeWorkato::StateFor(Endpoint e) {
  return e == Endpoint::kUsersMe ? users_me_ : members_;
}

const FakeWorkato::EndpointState& FakeWorkato::StateFor(Endpoint e) const {
  return e == Endpoint::kUsersMe ? users_me_ : members_;
}

void FakeWorkato::RecordRequestLocked(const httplib::Request& req) {
  connections_.emplace(req.remote_addr, req.remote_port);
  last_authorization_ = req.get_header_value("Authorization");
  last_user_agent_ = req.get_header_value("User-Agent");
  last_accept_encoding_ = req.get_header_value("Accept-Encoding");
}

bool FakeWorkato::WaitForStop(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return stopping_cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return stopping_; });
}

void FakeWorkato::ServeUnknown(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++unknown_request_count_;
    RecordRequestLocked(req);
  }
  res.status = 404;
  res.set_content(kNotFound, kContentType);
}

void FakeWorkato::Serve(const httplib::Request& req, httplib::Response& res, Endpoint e) {
  std::unique_lock<std::mutex> lock(mu_);
  ++StateFor(e).request_count;
  RecordRequestLocked(req);

  const absl::Duration delay = StateFor(e).delay;
  if (delay > absl::ZeroDuration()) {
    // Releases mu_ while waiting; Stop() cuts the wait short.
    stopping_cv_.wait_for(lock, absl::ToChronoNanoseconds(delay), [this] { return stopping_; });
  }
  const bool gzip = gzip_enabled_ && AcceptsGzip(last_accept_encoding_);

  std::deque<ScriptedFailure>& failures = StateFor(e).failures;
  if (!failures.empty()) {
    ScriptedFailure& failure = failures.front();
    res.status = failure.status;
    for (const auto& [name, value] : failure.headers) {
      res.set_header(name.c_str(), value);
    }
    std::string body = failure.body;
    if (--failure.remaining <= 0) failures.pop_front();
    lock.unlock();
    SendBody(res, std::move(body), gzip, BodyMode::kNormal, absl::ZeroDuration());
    return;
  }

  const std::string& authorization = last_authorization_;
  const FakeWorkspace* ws = nullptr;
  std::optional<FakeWorkspace> resolved;  // SetWorkspaceResolver()'s answer
  std::string token;
  if (absl::StartsWith(authorization, kBearerPrefix)) {
    token = authorization.substr(kBearerPrefix.size());
    auto it = workspaces_.find(token);
    if (it != workspaces_.end()) {
      ws = &it->second;
    } else if (workspace_resolver_) {
      resolved = workspace_resolver_(token);
      if (resolved.has_value()) ws = &*resolved;
    }
  }
  if (ws == nullptr) {
    lock.unlock();
    res.status = 401;
    SendBody(res, kUnauthorized, gzip, BodyMode::kNormal, absl::ZeroDuration());
    return;
  }

  const bool allowed = e == Endpoint::kUsersMe ? ws->can_read_details : ws->can_read_collaborators;
  if (!allowed) {
    const bool as_401 = ws->missing_privilege_as_401;
    lock.unlock();
    res.status = as_401 ? 401 : 403;
    SendBody(res, as_401 ? kUnauthorized : kForbidden, gzip, BodyMode::kNormal,
             absl::ZeroDuration());
    return;
  }

  res.status = 200;
  if (e == Endpoint::kUsersMe) {
    std::string body = UsersMeJson(*ws);
    lock.unlock();
    SendBody(res, std::move(body), gzip, BodyMode::kNormal, absl::ZeroDuration());
    return;
  }

  const BodyMode mode = members_body_mode_;
  if (mode == BodyMode::kHang) {
    stopping_cv_.wait(lock, [this] { return stopping_; });
    lock.unlock();
    // Stop() shuts the connection down as well; failing the body makes sure
    // that no complete response goes out in the meantime.
    res.set_chunked_content_provider(kContentType,
                                     [](size_t, httplib::DataSink&) { return false; });
    return;
  }
  if (mode == BodyMode::kHuge) {
    auto huge = std::make_shared<HugeMembersBody>(huge_bytes_);
    lock.unlock();
    // One provider call per piece; httplib stops calling it on Stop().
    res.set_content_provider(huge->size(), kContentType,
                             [huge](size_t offset, size_t, httplib::DataSink& sink) {
                               const absl::string_view chunk = huge->Next(offset);
                               return !chunk.empty() && sink.write(chunk.data(), chunk.size());
                             });
    return;
  }
  std::shared_ptr<const std::string> body;
  if (members_body_override_.has_value()) {
    body = std::make_shared<const std::string>(*members_body_override_);
  } else if (resolved.has_value()) {
    body = std::make_shared<const std::string>(MembersJson(ws->collaborators));
  } else {
    std::shared_ptr<const std::string>& rendered = members_json_[token];
    if (rendered == nullptr) {
      rendered = std::make_shared<const std::string>(MembersJson(ws->collaborators));
    }
    body = rendered;
  }
  const absl::Duration drip_interval = drip_interval_;
  lock.unlock();
  SendBody(res, std::move(body), gzip, mode, drip_interval);
}

void FakeWorkato::SendBody(httplib::Response& res, std::string body, bool gzip, BodyMode mode,
                           absl::Duration drip_interval) {
  SendBody(res, std::make_shared<const std::string>(std::move(body)), gzip, mode, drip_interval);
}

void FakeWorkato::SendBody(httplib::Response& res, std::shared_ptr<const std::string> body,
                           bool gzip, BodyMode mode, absl::Duration drip_interval) {
  if (gzip) {
    std::string compressed;
    if (GzipCompress(*body, &compressed)) {
      body = std::make_shared<const std::string>(std::move(compressed));
      res.set_header("Content-Encoding", "gzip");
      res.set_header("Vary", "Accept-Encoding");
      std::lock_guard<std::mutex> lock(mu_);
      ++gzip_response_count_;
    }
  }
  // A content provider with length 0 would make httplib close-delimit the
  // body; an empty body has nothing to drip or cut anyway.
  if (body->empty()) mode = BodyMode::kNormal;

  std::shared_ptr<const std::string> shared = std::move(body);
  const size_t half = shared->size() / 2;
  switch (mode) {
    case BodyMode::kDrip:
      res.set_content_provider(
          shared->size(), kContentType,
          [this, shared, drip_interval](size_t offset, size_t length, httplib::DataSink& sink) {
            // Returning false on Stop() aborts the response at once.
            if (offset > 0 && WaitForStop(drip_interval)) return false;
            return sink.write(shared->data() + offset, std::min(length, kDripBytes));
          });
      return;
    case BodyMode::kCutShort:
      // Promises the whole body in Content-Length; returning false after the
      // first half makes httplib close the connection.
      res.set_content_provider(shared->size(), kContentType,
                               [shared, half](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset >= half) return false;
                                 return sink.write(shared->data() + offset, half - offset);
                               });
      return;
    case BodyMode::kDropMidBody:
      // Same, but chunked: the client sees a chunk and then no final one.
      res.set_chunked_content_provider(kContentType,
                                       [shared, half](size_t offset, httplib::DataSink& sink) {
                                         if (offset >= half) return false;
                                         return sink.write(shared->data() + offset, half - offset);
                                       });
      return;
    case BodyMode::kNormal:
    case BodyMode::kHang:
    case BodyMode::kHuge:
      break;
  }
  if (res.status != 200) {
    // httplib answers other statuses with plain content only.
    res.set_content(*shared, kContentType);
    return;
  }
  // Served from `shared` itself: no copy of a large body.
  res.set_content_provider(shared->size(), kContentType,
                           [shared](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(shared->data() + offset, length);
                           });
}

bool WriteSelfSignedCert(const std::string& dir, std::string* cert_file, std::string* key_file) {
  if (cert_file == nullptr || key_file == nullptr) return false;

  // EC P-256: quick to generate, accepted by every TLS stack.
  OpenSslPtr<EVP_PKEY_CTX> key_ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (key_ctx == nullptr || EVP_PKEY_keygen_init(key_ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(key_ctx.get(), NID_X9_62_prime256v1) <= 0 ||
      EVP_PKEY_keygen(key_ctx.get(), &raw_key) <= 0) {
    return false;
  }
  OpenSslPtr<EVP_PKEY> key(raw_key);

  OpenSslPtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), 2) != 1) return false;  // v3
  // A random serial, so that certificates of different runs never look like
  // one reissued certificate to a client that cached it.
  OpenSslPtr<BIGNUM> serial(BN_new());
  if (serial == nullptr || BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return false;
  }
  // Backdated a minute against clock skew between test processes.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 60 * 60) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return false;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return false;
  }
  // Clients match the host against subjectAltName, not the CN. The
  // certificate is its own CA so that clients can trust it directly.
  if (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash") ||
      !AddExtension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost")) {
    return false;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return false;

  const std::string cert_path = dir + "/fake_workato_cert.pem";
  const std::string key_path = dir + "/fake_workato_key.pem";
  // The key is readable by the owner only, as any private key should be.
  if (!WritePemFile(key_path, 0600,
                    [&](FILE* f) {
                      return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                                  nullptr) == 1;
                    }) ||
      !WritePemFile(cert_path, 0644,
                    [&](FILE* f) { return PEM_write_X509(f, cert.get()) == 1; })) {
    return false;
  }
  *cert_file = cert_path;
  *key_file = key_path;
  return true;
}

}  // namespace workato_connector::testing
