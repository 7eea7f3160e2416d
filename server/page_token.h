#ifndef WORKATO_CONNECTOR_SERVER_PAGE_TOKEN_H_
#define WORKATO_CONNECTOR_SERVER_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "store.h"

namespace workato_connector {

// Page tokens are opaque to clients (base64url of an internal message). A
// users token is bound to its connection and show_removed filter and holds the
// last key returned, so paging is keyset-based: a sync between two pages
// neither skips nor repeats a user that stays.

[[nodiscard]] std::string EncodeUserPageToken(const std::string& connection_id, bool show_removed,
                                              const UserKey& last);

// DecodeUserPageToken returns the key to continue after, or INVALID_ARGUMENT
// (INVALID_PAGE_TOKEN) for a malformed token or one made for another
// connection or filter.
[[nodiscard]] absl::StatusOr<UserKey> DecodeUserPageToken(absl::string_view token,
                                                          const std::string& connection_id,
                                                          bool show_removed);

[[nodiscard]] std::string EncodeSyncRunPageToken(const std::string& connection_id,
                                                 const SyncRunKey& last);

// DecodeSyncRunPageToken: INVALID_ARGUMENT (INVALID_PAGE_TOKEN) for a
// malformed token or one issued for another connection.
[[nodiscard]] absl::StatusOr<SyncRunKey> DecodeSyncRunPageToken(absl::string_view token,
                                                                const std::string& connection_id);

[[nodiscard]] std::string EncodeConnectionPageToken(const std::string& last_connection_id);

[[nodiscard]] absl::StatusOr<std::string> DecodeConnectionPageToken(absl::string_view token);

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_PAGE_TOKEN_H_
