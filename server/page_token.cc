#include "page_token.h"

#include "absl/strings/escaping.h"
#include "errors.h"
#include "workato/connector/internal/page_token.pb.h"

namespace workato_connector {
namespace {

using ::workato::connector::internal::PageToken;

constexpr char kUsersList[] = "users";
constexpr char kConnectionsList[] = "connections";
constexpr char kSyncRunsList[] = "sync_runs";

absl::Status InvalidToken(absl::string_view why) {
  return MakeError(
      absl::StatusCode::kInvalidArgument, reason::kInvalidPageToken,
      absl::StrCat("page_token is not valid here: ", why, "; start again without a page_token"));
}

std::string Encode(const PageToken& token) {
  return absl::WebSafeBase64Escape(token.SerializeAsString());
}

absl::StatusOr<PageToken> Decode(absl::string_view text, absl::string_view list) {
  std::string bytes;
  PageToken token;
  if (!absl::WebSafeBase64Unescape(text, &bytes) || !token.ParseFromString(bytes)) {
    return InvalidToken("it is malformed");
  }
  if (token.list() != list) return InvalidToken("it belongs to another list");
  return token;
}

}  // namespace

std::string EncodeUserPageToken(const std::string& connection_id, bool show_removed,
                                const UserKey& last) {
  PageToken token;
  token.set_list(kUsersList);
  token.set_connection_id(connection_id);
  token.set_show_removed(show_removed);
  token.set_last_email(last.email);
  token.set_last_id(last.id);
  return Encode(token);
}

absl::StatusOr<UserKey> DecodeUserPageToken(absl::string_view text,
                                            const std::string& connection_id, bool show_removed) {
  absl::StatusOr<PageToken> token = Decode(text, kUsersList);
  if (!token.ok()) return token.status();
  if (token->connection_id() != connection_id) {
    return InvalidToken("it was issued for another connection");
  }
  if (token->show_removed() != show_removed) {
    return InvalidToken("it was issued with another show_removed");
  }
  return UserKey{token->last_email(), token->last_id()};
}

std::string EncodeSyncRunPageToken(const std::string& connection_id, const SyncRunKey& last) {
  PageToken token;
  token.set_list(kSyncRunsList);
  token.set_connection_id(connection_id);
  token.set_last_id(last.start_time_us);
  token.set_last_connection_id(last.id);
  return Encode(token);
}

absl::StatusOr<SyncRunKey> DecodeSyncRunPageToken(absl::string_view text,
                                                  const std::string& connection_id) {
  absl::StatusOr<PageToken> token = Decode(text, kSyncRunsList);
  if (!token.ok()) return token.status();
  if (token->connection_id() != connection_id) {
    return InvalidToken("it was issued for another connection");
  }
  return SyncRunKey{token->last_id(), token->last_connection_id()};
}

std::string EncodeConnectionPageToken(const std::string& last_connection_id) {
  PageToken token;
  token.set_list(kConnectionsList);
  token.set_last_connection_id(last_connection_id);
  return Encode(token);
}

absl::StatusOr<std::string> DecodeConnectionPageToken(absl::string_view text) {
  absl::StatusOr<PageToken> token = Decode(text, kConnectionsList);
  if (!token.ok()) return token.status();
  if (token->last_connection_id().empty()) return InvalidToken("it is malformed");
  return token->last_connection_id();
}

}  // namespace workato_connector
