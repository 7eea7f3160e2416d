#ifndef WORKATO_CONNECTOR_SERVER_USER_RECORD_H_
#define WORKATO_CONNECTOR_SERVER_USER_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
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
//
// `listing_digest` fingerprints the collaborator's JSON exactly as Workato
// sent it (and the version of the mapping). When it equals the digest stored
// for an active user at the last sync, the parser skips the collaborator:
// `unchanged` is set, `id` is that stored user's, and email and record are
// empty - the stored record stands.
struct ListedUser {
  int64_t id = 0;
  std::string email;
  std::string record;
  int64_t listing_digest = 0;
  bool unchanged = false;
};

// KnownListing maps the listing digests of a connection's active users to
// their ids (see ListedUser).
using KnownListing = std::unordered_map<int64_t, int64_t>;

// ListingDigest is the listing digest of one collaborator's JSON text.
[[nodiscard]] int64_t ListingDigest(std::string_view json);

// RecordDigest fingerprints a stored record: the first 8 bytes of its
// SHA-256, as an integer.
[[nodiscard]] int64_t RecordDigest(std::string_view record);

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
