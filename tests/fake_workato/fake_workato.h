// A stand-in for the Workato Developer API (GET /api/users/me and
// GET /api/members) that listens on 127.0.0.1 over real sockets, so tests and
// the demo exercise the same HTTP path the connector uses in production.
// Everything about the real API it imitates is in docs/workato-api.md.

#ifndef WORKATO_CONNECTOR_TESTS_FAKE_WORKATO_FAKE_WORKATO_H_
#define WORKATO_CONNECTOR_TESTS_FAKE_WORKATO_FAKE_WORKATO_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace workato_connector::testing {

// One entry of a collaborator's `roles` array.
struct FakeRole {
  std::string environment_type;  // "dev", "test" or "prod"
  std::string role_name;
  std::optional<std::string> role_type;  // omitted from the JSON when unset
};

// One element of the /api/members `data` array.
struct FakeCollaborator {
  int64_t id = 0;
  std::string email;
  std::string name;
  std::string grant_type = "team";
  std::string time_zone = "Pacific Time (US & Canada)";
  // RFC 3339, emitted verbatim so tests can feed odd but valid timestamps.
  std::string created_at = "2024-01-15T10:20:30.123-08:00";
  std::optional<std::string> external_id;  // null when unset
  // `last_activity_log` is null when unset, else
  // {"id":..,"event_type":"login","created_at":<this>}.
  std::optional<std::string> last_activity_at;
  std::vector<FakeRole> roles;
};

// What one API token opens: a workspace, its collaborators and the permission
// groups of the token's client role.
struct FakeWorkspace {
  int64_t id = 0;
  std::string name;
  std::vector<FakeCollaborator> collaborators;
  bool can_read_details = true;        // "Workspace details": /api/users/me
  bool can_read_collaborators = true;  // "Workspace collaborators": /api/members
  // Workato's quirk: a valid token lacking a privilege gets 401, not 403.
  bool missing_privilege_as_401 = false;
};

// The endpoint families the fake serves.
enum class Endpoint { kUsersMe, kMembers };

// How /api/members sends the body of a request that passes auth (see
// FakeWorkato::SetMembersBodyMode()).
enum class BodyMode {
  kNormal,       // the whole body at once
  kHang,         // never answers; Stop() ends the connection
  kDrip,         // the normal body, 16 bytes per drip interval
  kCutShort,     // Content-Length of the whole body, then half of it and EOF
  kDropMidBody,  // chunked, then the connection drops after part of the body
  kHuge,         // a valid listing of about `huge_bytes`, never gzipped
};

// An HTTP server imitating Workato. All methods are thread-safe: tests may
// script failures or swap workspaces while requests are being served.
class FakeWorkato {
 public:
  FakeWorkato();
  FakeWorkato(const FakeWorkato&) = delete;
  FakeWorkato& operator=(const FakeWorkato&) = delete;
  // Stops the server (see Stop()).
  ~FakeWorkato();

  // Listens on 127.0.0.1:`port` (0 picks a free port) and serves on a
  // background thread. Returns the bound port once the server accepts
  // connections, or -1 if it could not bind or is already running.
  // Connections are kept alive for up to 1000 requests or 30 s idle, so
  // clients can reuse one (see ConnectionCount()).
  int Start(int port = 0);
  // Like Start(), but serves HTTPS with the PEM certificate (chain) and
  // private key in the given files (see WriteSelfSignedCert()). Returns -1
  // also when they cannot be loaded.
  int StartTls(const std::string& cert_pem_file, const std::string& key_pem_file, int port = 0);
  // Stops serving and joins the background thread, promptly in every body
  // mode: requests sleeping in a SetDelay() delay, hanging or dripping are
  // woken up, and open connections (idle keep-alive ones included) are shut
  // down. Safe to call when not running.
  void Stop();
  // The bound port, or 0 when not running.
  int port() const;
  // "http://127.0.0.1:<port>", or "https://..." after StartTls().
  std::string BaseUrl() const;

  // Makes `token` open `ws`, replacing whatever it opened before.
  void SetWorkspace(const std::string& token, FakeWorkspace ws);
  // Makes `token` unknown, so requests with it get 401.
  void RemoveToken(const std::string& token);
  // Serves tokens that SetWorkspace() did not register: for such a request,
  // `resolver(token)` returns the workspace to serve, or std::nullopt for
  // 401. It lets a benchmark serve thousands of generated workspaces without
  // keeping them all in memory. It is called under the fake's lock, so it must
  // not call back into this FakeWorkato. An empty function (the default)
  // turns it off; Reset() keeps it.
  void SetWorkspaceResolver(
      std::function<std::optional<FakeWorkspace>(const std::string& token)> resolver);

  // Scripts the next `count` requests to `e` to answer `status` with `body`
  // (application/json) and the extra `headers` (e.g. Retry-After), whatever
  // their token. Calls queue up: a second FailNext applies after the first
  // one's requests are used up.
  void FailNext(Endpoint e, int status, std::string body = R"({"message":"Server error"})",
                int count = 1, std::vector<std::pair<std::string, std::string>> headers = {});
  // Replaces the /api/members body of requests that pass auth with exactly
  // `body` (malformed JSON, a wrong total, ...); std::nullopt restores the
  // normal body.
  void SetMembersBodyOverride(std::optional<std::string> body);
  // Sleeps `d` before answering each request to `e`; zero turns it off.
  void SetDelay(Endpoint e, absl::Duration d);
  // Scripts how /api/members sends the body of requests that pass auth.
  // kDrip, kCutShort and kDropMidBody send the body that would otherwise go
  // out (SetMembersBodyOverride()'s if set), gzipped if negotiated; kDrip
  // waits `drip_interval` between writes. kHuge ignores the workspace and the
  // override and streams a generated listing of about `huge_bytes` bytes
  // (64 MiB if <= 0) with an exact Content-Length, never gzipped so that
  // `huge_bytes` is what crosses the wire. kHang ties up one of the server's
  // worker threads (at least 8) until Stop(). Stop() ends every mode.
  void SetMembersBodyMode(BodyMode mode, absl::Duration drip_interval = absl::Milliseconds(200),
                          int64_t huge_bytes = 0);
  // Whether responses of both endpoints are gzipped for requests whose
  // Accept-Encoding allows gzip; on by default, and kept by Reset().
  void SetGzip(bool enabled);

  // Requests received for `e`, including failed and rejected ones.
  int RequestCount(Endpoint e) const;
  // Requests to any other path or method (answered 404).
  int UnknownRequestCount() const;
  // The Authorization header of the most recent request ("" if it had none).
  std::string LastAuthorizationHeader() const;
  // The User-Agent and Accept-Encoding headers of the most recent request (""
  // if it had none).
  std::string LastUserAgent() const;
  std::string LastAcceptEncoding() const;
  // Distinct TCP connections (client address and port) that sent requests
  // since Start() or Reset().
  int ConnectionCount() const;
  // Responses sent gzipped.
  int GzipResponseCount() const;
  // Clears scripted failures, the members override and body mode, delays,
  // counters (connections included) and the last request headers; keeps the
  // workspaces and the gzip setting.
  void Reset();

 private:
  struct ScriptedFailure {
    int status = 500;
    std::string body;
    int remaining = 0;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  struct EndpointState {
    int request_count = 0;
    absl::Duration delay = absl::ZeroDuration();
    std::deque<ScriptedFailure> failures;
  };

  // Shared by Start() and StartTls(): configures, binds and runs `server`.
  int StartServer(std::unique_ptr<httplib::Server> server, int port, bool tls);
  void Serve(const httplib::Request& req, httplib::Response& res, Endpoint e);
  void ServeUnknown(const httplib::Request& req, httplib::Response& res);
  // Counts the connection and keeps the headers of `req`; requires mu_.
  void RecordRequestLocked(const httplib::Request& req);
  // Sends `body` with status and headers already set in `res`, gzipped if
  // `gzip`, the way `mode` says (kNormal, kDrip, kCutShort or kDropMidBody).
  void SendBody(httplib::Response& res, std::string body, bool gzip, BodyMode mode,
                absl::Duration drip_interval);
  void SendBody(httplib::Response& res, std::shared_ptr<const std::string> body, bool gzip,
                BodyMode mode, absl::Duration drip_interval);
  // Waits up to `d` for Stop(); returns true if stopping.
  bool WaitForStop(absl::Duration d);
  // Both require mu_ to be held.
  EndpointState& StateFor(Endpoint e);
  const EndpointState& StateFor(Endpoint e) const;

  // std::mutex rather than absl::Mutex: Debian's prebuilt Abseil is not built
  // with TSan, so TSan cannot see absl::Mutex and reports false races in
  // sanitizer builds; it does intercept std::mutex.
  mutable std::mutex mu_;
  // Wakes delayed handlers when Stop() sets stopping_.
  std::condition_variable stopping_cv_;
  // Everything below up to lifecycle_mu_ is guarded by mu_.
  std::map<std::string, FakeWorkspace> workspaces_;
  std::function<std::optional<FakeWorkspace>(const std::string&)> workspace_resolver_;
  // /api/members of each SetWorkspace() token, rendered on first request:
  // a large listing is served like a static file, so that timing it from
  // outside measures the transfer, not the rendering. SetWorkspace(),
  // RemoveToken() and Reset() drop it.
  std::map<std::string, std::shared_ptr<const std::string>> members_json_;
  EndpointState users_me_;
  EndpointState members_;
  int unknown_request_count_ = 0;
  std::optional<std::string> members_body_override_;
  BodyMode members_body_mode_ = BodyMode::kNormal;
  absl::Duration drip_interval_ = absl::Milliseconds(200);
  int64_t huge_bytes_ = 0;
  bool gzip_enabled_ = true;
  int gzip_response_count_ = 0;
  std::set<std::pair<std::string, int>> connections_;
  std::string last_authorization_;
  std::string last_user_agent_;
  std::string last_accept_encoding_;
  bool stopping_ = false;
  int port_ = 0;
  bool tls_ = false;

  // Start() and Stop() are not meant to race each other; lifecycle_mu_ keeps
  // them from doing so anyway. Guards server_ and thread_.
  std::mutex lifecycle_mu_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  // Set by the server thread once listen_after_bind() has returned, that is
  // once every connection is closed.
  std::atomic<bool> listener_done_{false};
};

// Serialises a /api/members body: {"data":[...],"total":N}, where `total`
// defaults to `collaborators.size()`. Each element also carries fields the
// connector does not know, as the real API may add some at any time.
std::string MembersJson(const std::vector<FakeCollaborator>& collaborators,
                        std::optional<int64_t> total = std::nullopt);

// Serialises a /api/users/me body for `ws`, with the documented fields (many
// null) plus an unknown nested one.
std::string UsersMeJson(const FakeWorkspace& ws);

// Returns `n` deterministic but varied collaborators for `seed`: ids above
// 2^31, Unicode names, mixed-case emails (all unique), null activity for about
// 1 in 5, null external ids, timestamps with various offsets and fractional
// second lengths, three-environment new-model roles and dev-only legacy roles,
// and a few federation managers. The first one is always an admin "owner".
std::vector<FakeCollaborator> GenerateCollaborators(int n, uint32_t seed = 1);

// Writes a fresh self-signed certificate for CN=127.0.0.1 (subjectAltName
// IP:127.0.0.1 and DNS:localhost, EC P-256, valid for one day) and its key as
// PEM files in the existing directory `dir`, for StartTls() and for clients to
// trust as their CA. Sets `cert_file` and `key_file` to their paths; returns
// false on any error. Keys are made per test run, so none is ever committed.
bool WriteSelfSignedCert(const std::string& dir, std::string* cert_file, std::string* key_file);

}  // namespace workato_connector::testing

#endif  // WORKATO_CONNECTOR_TESTS_FAKE_WORKATO_FAKE_WORKATO_H_
