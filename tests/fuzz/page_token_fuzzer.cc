// libFuzzer target: a client-supplied page token is untrusted input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto key = workato_connector::DecodeUserPageToken(text, "conn_1", false);
  if (key.ok()) {
    // A token that decodes re-encodes to one that decodes to the same key.
    std::string again = workato_connector::EncodeUserPageToken("conn_1", false, *key);
    auto round = workato_connector::DecodeUserPageToken(again, "conn_1", false);
    if (!round.ok() || round->email != key->email || round->id != key->id) __builtin_trap();
  }
  (void)workato_connector::DecodeConnectionPageToken(text);
  return 0;
}
