#include "workato_client.h"

#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "errors.h"
#include "retry_policy.h"

namespace workato_connector {
namespace {

constexpr absl::string_view kHttpStatusKey = "http_status";

// StatusForHttp maps a non-2xx answer to a status. The body is never
// trusted for control flow and never echoed (it could reflect request data).
absl::Status StatusForHttp(const HttpResponse& response, absl::string_view group,
                           absl::string_view path, absl::Time now) {
  const long code = response.status_code;
  ErrorMetadata metadata = {{std::string(kHttpStatusKey), absl::StrCat(code)},
                            {"permission_group", std::string(group)}};
  absl::Status status;
  if (code == 401) {
    status = MakeError(absl::StatusCode::kUnauthenticated, reason::kTokenRejected,
                       absl::StrCat("Workato rejected the API token (HTTP 401 from ", path,
                                    "); check the data center and the token"),
                       metadata);
  } else if (code == 403) {
    status = MakeError(absl::StatusCode::kPermissionDenied, reason::kMissingPermission,
                       absl::StrCat("the API client's role lacks the \"", group,
                                    "\" permission group (HTTP 403 from ", path, ")"),
                       metadata);
  } else if (code == 429) {
    status = MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoRateLimited,
                       absl::StrCat("Workato's rate limit was reached (HTTP 429 from ", path,
                                    "); try again later"),
                       metadata);
  } else if (code >= 500) {
    status = MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable,
                       absl::StrCat("Workato failed (HTTP ", code, " from ", path, ")"), metadata);
  } else {
    status = MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoBadResponse,
                       absl::StrCat("Workato answered HTTP ", code, " from ", path,
                                    "; is the data center's URL right?"),
                       metadata);
  }
  if (code == 429 || code == 503) {
    if (auto delay = ParseRetryAfter(response.Header("retry-after"), now)) {
      status = WithRetryDelay(std::move(status), *delay);
    }
  }
  return status;
}

absl::Status WithAttempts(const absl::Status& status, int attempts) {
  if (attempts <= 1) return status;
  absl::Status annotated(status.code(),
                         absl::StrCat(status.message(), " (after ", attempts, " attempts)"));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& value) { annotated.SetPayload(url, value); });
  return annotated;
}

}  // namespace

WorkatoClient::WorkatoClient(HttpFetcher* fetcher, DataCenterEndpoints endpoints,
                             WorkatoClientOptions options, RateLimiter* rate_limiter, Clock* clock,
                             Observer* observer)
    : fetcher_(fetcher),
      endpoints_(std::move(endpoints)),
      options_(options),
      rate_limiter_(rate_limiter),
      clock_(clock),
      observer_(observer) {}

std::string WorkatoClient::RateScope(DataCenter dc, int64_t workspace_id) {
  return absl::StrCat(DataCenterName(dc), "/", workspace_id);
}

std::string WorkatoClient::TokenRateScope(DataCenter dc, absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return absl::StrCat(
      DataCenterName(dc), "/token-",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 8)));
}

int WorkatoClient::HttpStatusOf(const absl::Status& status) {
  ErrorMetadata metadata = ErrorMetadataOf(status);
  auto it = metadata.find(std::string(kHttpStatusKey));
  int code = 0;
  if (it == metadata.end() || !absl::SimpleAtoi(it->second, &code)) return 0;
  return code;
}

absl::StatusOr<HttpResponse> WorkatoClient::GetOnce(DataCenter dc, const HttpRequest& request,
                                                    absl::string_view group,
                                                    absl::string_view path) const {
  const absl::Time start = clock_->Now();
  absl::StatusOr<HttpResponse> response = fetcher_->Get(request);
  if (observer_ != nullptr) {
    observer_->OnWorkatoRequest(dc, path,
                                response.ok() ? static_cast<int>(response->status_code) : 0,
                                clock_->Now() - start);
  }
  if (!response.ok()) return response.status();
  if (response->status_code < 200 || response->status_code > 299) {
    return StatusForHttp(*response, group, path, clock_->Now());
  }
  return response;
}

absl::StatusOr<HttpResponse> WorkatoClient::Get(DataCenter dc, absl::string_view path,
                                                absl::string_view token, absl::string_view group,
                                                absl::string_view rate_scope,
                                                const CallContext& context) const {
  absl::StatusOr<std::string> base_url = endpoints_.BaseUrl(dc);
  if (!base_url.ok()) return base_url.status();
  HttpRequest request;
  request.url = absl::StrCat(*base_url, path);
  request.headers = {{"Authorization", absl::StrCat("Bearer ", token)},
                     {"Accept", "application/json"}};
  request.deadline = context.deadline;
  request.cancelled = context.cancelled;
  const std::string rate_key = absl::StrCat(rate_scope, "/", group);

  LimitedAttemptsRetryPolicy retry(options_.max_attempts);
  ExponentialBackoffPolicy backoff(options_.initial_backoff, options_.max_backoff,
                                   options_.backoff_multiplier);
  const absl::Time budget_end = std::min(context.deadline, clock_->Now() + options_.retry_budget);
  for (int attempt = 1;; ++attempt) {
    if (context.IsCancelled()) {
      return MakeError(absl::StatusCode::kCancelled, reason::kCancelled,
                       "the caller cancelled the call");
    }
    if (rate_limiter_ != nullptr) {
      absl::StatusOr<absl::Duration> wait = rate_limiter_->Reserve(rate_key, context.deadline);
      if (!wait.ok()) return wait.status();
      if (*wait > absl::ZeroDuration()) {
        if (observer_ != nullptr) observer_->OnRateLimitWait(*wait);
        clock_->Sleep(*wait, context);
      }
      if (context.IsCancelled()) continue;
    }
    absl::StatusOr<HttpResponse> response = GetOnce(dc, request, group, path);
    if (response.ok()) return response;
    const absl::Status& failure = response.status();
    if (!retry.OnFailure(failure)) return WithAttempts(failure, attempt);

    absl::Duration delay = backoff.OnCompletion();
    std::optional<absl::Duration> retry_after = RetryDelayOf(failure);
    if (retry_after.has_value()) {
      if (*retry_after > options_.max_retry_after) {
        // Longer than this service waits: the caller decides when to retry.
        return WithAttempts(failure, attempt);
      }
      delay = *retry_after;
    }
    const absl::Time now = clock_->Now();
    if (now + delay > context.deadline) {
      // Sleeping would only run into the caller's deadline: fail now and say
      // when a retry could work.
      return WithRetryDelay(
          MakeError(absl::StatusCode::kUnavailable, ErrorReason(failure),
                    absl::StrFormat("%s; the next attempt would be in %s, after the call's "
                                    "deadline",
                                    failure.message(), absl::FormatDuration(delay)),
                    ErrorMetadataOf(failure)),
          delay);
    }
    if (now + delay > budget_end) return WithAttempts(failure, attempt);
    clock_->Sleep(delay, context);
  }
}

absl::StatusOr<Workspace> WorkatoClient::GetWorkspace(DataCenter dc, absl::string_view token,
                                                      absl::string_view rate_scope,
                                                      const CallContext& context) const {
  absl::StatusOr<HttpResponse> response =
      Get(dc, "/api/users/me", token, kWorkspaceDetailsGroup, rate_scope, context);
  if (!response.ok()) return response.status();
  return ParseWorkspace(response->body);
}

absl::StatusOr<CollaboratorListing> WorkatoClient::ListCollaborators(
    DataCenter dc, absl::string_view token, absl::string_view rate_scope,
    const CallContext& context, const KnownListing* known) const {
  absl::StatusOr<HttpResponse> response =
      Get(dc, "/api/members", token, kWorkspaceCollaboratorsGroup, rate_scope, context);
  if (!response.ok()) return response.status();
  return ParseCollaboratorsInPlace(&response->body, known);
}

}  // namespace workato_connector
