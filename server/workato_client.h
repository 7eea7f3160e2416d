#ifndef WORKATO_CONNECTOR_SERVER_WORKATO_CLIENT_H_
#define WORKATO_CONNECTOR_SERVER_WORKATO_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clock.h"
#include "data_center.h"
#include "http_fetcher.h"
#include "observer.h"
#include "rate_limiter.h"
#include "workato_json.h"

namespace workato_connector {

// The two Workato endpoint families this service reads, named as the
// permission groups of a client role.
inline constexpr absl::string_view kWorkspaceDetailsGroup = "Workspace details";
inline constexpr absl::string_view kWorkspaceCollaboratorsGroup = "Workspace collaborators";

struct WorkatoClientOptions {
  // Attempts per request in all (1 = no retries).
  int max_attempts = 4;
  // Time budget for one request's attempts and waits; never beyond the
  // caller's deadline.
  absl::Duration retry_budget = absl::Seconds(90);
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(16);
  double backoff_multiplier = 2.0;
  // The longest Retry-After this service waits for; a longer one fails the
  // call at once with RetryInfo.
  absl::Duration max_retry_after = absl::Seconds(60);
};

// WorkatoClient speaks the Workato Developer API over an HttpFetcher, with
// retries (transient failures only, exponential backoff with full jitter,
// Retry-After honoured) and a shared RateLimiter.
//
// HTTP failures become statuses with the HTTP code in the metadata
// ("http_status"): 401 UNAUTHENTICATED (TOKEN_REJECTED), 403
// PERMISSION_DENIED (MISSING_PERMISSION), 429 UNAVAILABLE
// (WORKATO_RATE_LIMITED), 5xx UNAVAILABLE (WORKATO_UNAVAILABLE), anything
// else UNAVAILABLE (WORKATO_BAD_RESPONSE). A 401 is only provisional: Workato
// also answers 401 for a valid token lacking a privilege, so callers probe the
// other endpoint family before concluding.
class WorkatoClient {
 public:
  // `fetcher`, `rate_limiter` (may be null: no limit) and `clock` must
  // outlive the client.
  WorkatoClient(HttpFetcher* fetcher, DataCenterEndpoints endpoints,
                WorkatoClientOptions options = {}, RateLimiter* rate_limiter = nullptr,
                Clock* clock = Clock::Real(), Observer* observer = nullptr);

  // GET /api/users/me: the workspace the token belongs to. `rate_scope`
  // names whose request budget it spends (e.g. "US/1234"; see RateScope).
  [[nodiscard]] absl::StatusOr<Workspace> GetWorkspace(DataCenter dc, absl::string_view token,
                                                       absl::string_view rate_scope,
                                                       const CallContext& context) const;

  // GET /api/members: every collaborator, in one response. `known` (may be
  // null) lets unchanged collaborators go unmapped (see ParseCollaborators).
  [[nodiscard]] absl::StatusOr<CollaboratorListing> ListCollaborators(
      DataCenter dc, absl::string_view token, absl::string_view rate_scope,
      const CallContext& context, const KnownListing* known = nullptr) const;

  // RateScope names a workspace's request budget.
  [[nodiscard]] static std::string RateScope(DataCenter dc, int64_t workspace_id);
  // TokenRateScope names the budget of a token whose workspace is not known
  // yet (Connect's first request): a SHA-256 fingerprint, never the token.
  [[nodiscard]] static std::string TokenRateScope(DataCenter dc, absl::string_view token);

  // HttpStatusOf returns the HTTP status recorded in an error from this
  // client, or 0 when the error did not come from an HTTP answer.
  [[nodiscard]] static int HttpStatusOf(const absl::Status& status);

 private:
  [[nodiscard]] absl::StatusOr<HttpResponse> Get(DataCenter dc, absl::string_view path,
                                                 absl::string_view token, absl::string_view group,
                                                 absl::string_view rate_scope,
                                                 const CallContext& context) const;
  [[nodiscard]] absl::StatusOr<HttpResponse> GetOnce(DataCenter dc, const HttpRequest& request,
                                                     absl::string_view group,
                                                     absl::string_view path) const;

  HttpFetcher* fetcher_;
  DataCenterEndpoints endpoints_;
  WorkatoClientOptions options_;
  RateLimiter* rate_limiter_;
  Clock* clock_;
  Observer* observer_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_WORKATO_CLIENT_H_
