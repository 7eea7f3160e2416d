#include "user_record.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
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

namespace {

int64_t First8Bytes(const unsigned char* hash) {
  uint64_t digest = 0;
  for (int i = 0; i < 8; ++i) digest = (digest << 8) | hash[i];
  return static_cast<int64_t>(digest);
}

}  // namespace

namespace {

// Sha256Prefix hashes `parts` with a SHA-256 context kept per thread:
// OpenSSL 3's one-shot SHA256() looks the algorithm up on every call, which
// costs more than hashing a few hundred bytes.
template <typename... Parts>
int64_t Sha256Prefix(const Parts&... parts) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                               EVP_MD_CTX_free);
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  bool ok = kSha256 != nullptr && context != nullptr &&
            EVP_DigestInit_ex(context.get(), kSha256, nullptr) == 1;
  ((ok = ok && EVP_DigestUpdate(context.get(), parts.data(), parts.size()) == 1), ...);
  ok = ok && EVP_DigestFinal_ex(context.get(), hash, &size) == 1 && size >= 8;
  // Without SHA-256 (not in any supported OpenSSL build) nothing could be
  // stored consistently; stop rather than store wrong digests.
  if (!ok) std::abort();
  return First8Bytes(hash);
}

}  // namespace

int64_t RecordDigest(std::string_view record) { return Sha256Prefix(record); }

int64_t ListingDigest(std::string_view json) {
  // The mapping's version: bump it whenever MapCollaborator reads JSON into
  // a User differently, so that no stored record built the old way is kept
  // for an unchanged text.
  static constexpr std::string_view kMappingVersion =
      "workato-connector collaborator mapping 1\n";
  return Sha256Prefix(kMappingVersion, json);
}

bool ToUser(const ListedUser& listed, v1::User* user) {
  return user->ParseFromString(listed.record);
}

}  // namespace workato_connector
