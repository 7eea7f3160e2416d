#include "user_record.h"

#include <utility>

namespace workato_connector {
namespace v1 = ::workato::connector::v1;

std::string EncodeCollaboratorFields(const v1::User& user) {
  v1::User collaborator = user;
  collaborator.clear_state();
  collaborator.clear_licenses();
  collaborator.clear_first_seen_time();
  collaborator.clear_removed_time();
  return collaborator.SerializeAsString();
}

void AppendSyncFields(const v1::User& user, std::string* out) {
  v1::User sync;
  sync.set_state(user.state());
  *sync.mutable_licenses() = user.licenses();
  if (user.has_first_seen_time()) *sync.mutable_first_seen_time() = user.first_seen_time();
  if (user.has_removed_time()) *sync.mutable_removed_time() = user.removed_time();
  sync.AppendToString(out);
}

std::string EncodeUserRecord(const v1::User& user) {
  std::string record = EncodeCollaboratorFields(user);
  AppendSyncFields(user, &record);
  return record;
}

ListedUser ToListedUser(const v1::User& user) {
  return ListedUser{user.id(), user.email(), EncodeCollaboratorFields(user)};
}

std::vector<ListedUser> ToListedUsers(const std::vector<v1::User>& users) {
  std::vector<ListedUser> listed;
  listed.reserve(users.size());
  for (const v1::User& user : users) listed.push_back(ToListedUser(user));
  return listed;
}

bool ToUser(const ListedUser& listed, v1::User* user) {
  return user->ParseFromString(listed.record);
}

}  // namespace workato_connector
