#ifndef WORKATO_CONNECTOR_SERVER_WORKATO_CLIENT_H_
#define WORKATO_CONNECTOR_SERVER_WORKATO_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "data_center.h"
#include "http_fetcher.h"
#include "workato_json.h"

namespace workato_connector {

// The two Workato endpoint families this service reads, named as the
// permission groups of a client role.
inline constexpr absl::string_view kWorkspaceDetailsGroup = "Workspace details";
inline constexpr absl::string_view kWorkspaceCollaboratorsGroup = "Workspace collaborators";

// WorkatoClient speaks the Workato Developer API over an HttpFetcher.
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
  // `fetcher` must outlive the client.
  WorkatoClient(HttpFetcher* fetcher, DataCenterEndpoints endpoints);

  // GET /api/users/me: the workspace the token belongs to.
  [[nodiscard]] absl::StatusOr<Workspace> GetWorkspace(DataCenter dc, absl::string_view token,
                                                       absl::Time deadline) const;

  // GET /api/members: every collaborator, in one response.
  [[nodiscard]] absl::StatusOr<CollaboratorListing> ListCollaborators(DataCenter dc,
                                                                      absl::string_view token,
                                                                      absl::Time deadline) const;

  // HttpStatusOf returns the HTTP status recorded in an error from this
  // client, or 0 when the error did not come from an HTTP answer.
  [[nodiscard]] static int HttpStatusOf(const absl::Status& status);

 private:
  [[nodiscard]] absl::StatusOr<HttpResponse> Get(DataCenter dc, absl::string_view path,
                                                 absl::string_view token, absl::string_view group,
                                                 absl::Time deadline) const;

  HttpFetcher* fetcher_;
  DataCenterEndpoints endpoints_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_WORKATO_CLIENT_H_
