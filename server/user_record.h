#ifndef WORKATO_CONNECTOR_SERVER_USER_RECORD_H_
#define WORKATO_CONNECTOR_SERVER_USER_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workato/connector/v1/connector.pb.h"

namespace workato_connector {

// A user's stored record is a serialized v1.User in two parts, one after the
// other: the collaborator's fields as Workato lists them, then the fields a
// sync sets (state, licenses, first_seen_time, removed_time). Protobuf reads
// concatenated messages as one, so the record parses as the whole User; the
// split lets a sync build a record from a listed user's bytes without
// parsing or re-serializing them. Both parts are deterministic, so equal
// users give equal records.

// ListedUser is one collaborator of a listing: its id and email (the keys),
// and `record`, the collaborator part of its record.
struct ListedUser {
  int64_t id = 0;
  std::string email;
  std::string record;
};

// EncodeCollaboratorFields serializes `user` without the fields a sync sets.
[[nodiscard]] std::string EncodeCollaboratorFields(const ::workato::connector::v1::User& user);

// AppendSyncFields serializes only the fields a sync sets, appending to `out`.
void AppendSyncFields(const ::workato::connector::v1::User& user, std::string* out);

// EncodeUserRecord is the stored record of `user`: both parts.
[[nodiscard]] std::string EncodeUserRecord(const ::workato::connector::v1::User& user);

// ToListedUser is the listed form of a collaborator (tests, and stores that
// keep whole Users).
[[nodiscard]] ListedUser ToListedUser(const ::workato::connector::v1::User& user);
[[nodiscard]] std::vector<ListedUser> ToListedUsers(
    const std::vector<::workato::connector::v1::User>& users);

// ToUser parses a listed user back into a User; false when its record is
// not a User.
[[nodiscard]] bool ToUser(const ListedUser& listed, ::workato::connector::v1::User* user);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_USER_RECORD_H_
