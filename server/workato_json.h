#ifndef WORKATO_CONNECTOR_SERVER_WORKATO_JSON_H_
#define WORKATO_CONNECTOR_SERVER_WORKATO_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "user_record.h"
#include "workato/connector/v1/connector.pb.h"

namespace workato_connector {

// The workspace a token belongs to (GET /api/users/me).
struct Workspace {
  int64_t id = 0;
  std::string name;
};

// One complete GET /api/members listing, each collaborator mapped to a User
// (id, email, name, last_visit_time, roles, grant_type, external_id,
// time_zone, create_time) and kept serialized (see user_record.h). State,
// licenses and the first-seen/removed times are the sync's to set.
struct CollaboratorListing {
  std::vector<ListedUser> users;
  // The listing's own "total", when it had one.
  std::optional<int64_t> total;
};

// ParseWorkspace parses /api/users/me. Unknown fields are ignored; `id` is
// required. Errors are UNAVAILABLE (WORKATO_BAD_RESPONSE).
[[nodiscard]] absl::StatusOr<Workspace> ParseWorkspace(absl::string_view json);

// ParseCollaborators parses /api/members: {"data": [...], "total": N}.
// Unknown fields are ignored and optional ones may be missing or null; each
// collaborator needs an integer `id`. Errors are UNAVAILABLE
// (WORKATO_BAD_RESPONSE); checking `total` is the caller's job.
//
// With `known` (the listing digests of the stored active users, see
// ListedUser), a collaborator whose text is unchanged is not mapped again.
[[nodiscard]] absl::StatusOr<CollaboratorListing> ParseCollaborators(
    absl::string_view json, const KnownListing* known = nullptr);
// ParseCollaboratorsInPlace is ParseCollaborators without copying `json`,
// which it consumes: `json` is left empty, its memory freed.
[[nodiscard]] absl::StatusOr<CollaboratorListing> ParseCollaboratorsInPlace(
    std::string* json, const KnownListing* known = nullptr);

// ParseRfc3339 parses "2024-01-15T10:20:30.123-08:00" (any fraction, "Z" or
// an offset) into a Timestamp, or nullopt when it is not such a time.
[[nodiscard]] std::optional<google::protobuf::Timestamp> ParseRfc3339(absl::string_view text);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_WORKATO_JSON_H_
