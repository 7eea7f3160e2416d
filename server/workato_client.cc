#include "workato_client.h"

#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "errors.h"

namespace workato_connector {
namespace {

constexpr absl::string_view kHttpStatusKey = "http_status";

// StatusForHttp maps a non-2xx answer to a status. The body is never
// trusted for control flow and never echoed (it could reflect request data).
absl::Status StatusForHttp(long code, absl::string_view group, absl::string_view path) {
  ErrorMetadata metadata = {{std::string(kHttpStatusKey), absl::StrCat(code)},
                            {"permission_group", std::string(group)}};
  if (code == 401) {
    return MakeError(absl::StatusCode::kUnauthenticated, reason::kTokenRejected,
                     absl::StrCat("Workato rejected the API token (HTTP 401 from ", path,
                                  "); check the data center and the token"),
                     metadata);
  }
  if (code == 403) {
    return MakeError(absl::StatusCode::kPermissionDenied, reason::kMissingPermission,
                     absl::StrCat("the API client's role lacks the \"", group,
                                  "\" permission group (HTTP 403 from ", path, ")"),
                     metadata);
  }
  if (code == 429) {
    return MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoRateLimited,
                     absl::StrCat("Workato's rate limit was reached (HTTP 429 from ", path,
                                  "); try again later"),
                     metadata);
  }
  if (code >= 500) {
    return MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable,
                     absl::StrCat("Workato failed (HTTP ", code, " from ", path, ")"), metadata);
  }
  return MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoBadResponse,
                   absl::StrCat("Workato answered HTTP ", code, " from ", path,
                                "; is the data center's URL right?"),
                   metadata);
}

}  // namespace

WorkatoClient::WorkatoClient(HttpFetcher* fetcher, DataCenterEndpoints endpoints)
    : fetcher_(fetcher), endpoints_(std::move(endpoints)) {}

int WorkatoClient::HttpStatusOf(const absl::Status& status) {
  ErrorMetadata metadata = ErrorMetadataOf(status);
  auto it = metadata.find(std::string(kHttpStatusKey));
  int code = 0;
  if (it == metadata.end() || !absl::SimpleAtoi(it->second, &code)) return 0;
  return code;
}

absl::StatusOr<HttpResponse> WorkatoClient::Get(DataCenter dc, absl::string_view path,
                                                absl::string_view token, absl::string_view group,
                                                absl::Time deadline) const {
  absl::StatusOr<std::string> base_url = endpoints_.BaseUrl(dc);
  if (!base_url.ok()) return base_url.status();
  HttpRequest request;
  request.url = absl::StrCat(*base_url, path);
  request.headers = {{"Authorization", absl::StrCat("Bearer ", token)},
                     {"Accept", "application/json"}};
  request.deadline = deadline;
  absl::StatusOr<HttpResponse> response = fetcher_->Get(request);
  if (!response.ok()) return response.status();
  if (response->status_code < 200 || response->status_code > 299) {
    return StatusForHttp(response->status_code, group, path);
  }
  return response;
}

absl::StatusOr<Workspace> WorkatoClient::GetWorkspace(DataCenter dc, absl::string_view token,
                                                      absl::Time deadline) const {
  absl::StatusOr<HttpResponse> response =
      Get(dc, "/api/users/me", token, kWorkspaceDetailsGroup, deadline);
  if (!response.ok()) return response.status();
  return ParseWorkspace(response->body);
}

absl::StatusOr<CollaboratorListing> WorkatoClient::ListCollaborators(DataCenter dc,
                                                                     absl::string_view token,
                                                                     absl::Time deadline) const {
  absl::StatusOr<HttpResponse> response =
      Get(dc, "/api/members", token, kWorkspaceCollaboratorsGroup, deadline);
  if (!response.ok()) return response.status();
  return ParseCollaborators(response->body);
}

}  // namespace workato_connector
