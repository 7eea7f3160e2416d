#ifndef WORKATO_CONNECTOR_SERVER_HTTP_FETCHER_H_
#define WORKATO_CONNECTOR_SERVER_HTTP_FETCHER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace workato_connector {

// One HTTP GET.
struct HttpRequest {
  std::string url;
  // Name/value pairs. May hold secrets (Authorization): never log them.
  std::vector<std::pair<std::string, std::string>> headers;
  // The transfer is aborted when this passes (absl::InfiniteFuture() = only
  // the fetcher's own timeouts apply).
  absl::Time deadline = absl::InfiniteFuture();
  // Polled during the transfer (about once a second at least); true aborts
  // it with CANCELLED.
  std::function<bool()> cancelled;
};

// What came back. Any HTTP status is a response, not an error.
struct HttpResponse {
  long status_code = 0;
  std::string body;
  // Response headers, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;

  // Header returns the first value of a header (name lower-case), or "".
  [[nodiscard]] std::string Header(const std::string& lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return value;
    }
    return "";
  }
};

// HttpFetcher makes HTTP requests. The only implementation that talks to the
// network is CurlFetcher; tests mock this interface.
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;

  // Get performs the request. Transport failures (DNS, connect, TLS,
  // timeouts, a body over the size cap) are UNAVAILABLE or
  // DEADLINE_EXCEEDED; the message never contains request headers.
  [[nodiscard]] virtual absl::StatusOr<HttpResponse> Get(const HttpRequest& request) = 0;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_HTTP_FETCHER_H_
