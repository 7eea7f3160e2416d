#ifndef WORKATO_CONNECTOR_SERVER_CURL_FETCHER_H_
#define WORKATO_CONNECTOR_SERVER_CURL_FETCHER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "http_fetcher.h"

namespace workato_connector {

struct CurlFetcherOptions {
  absl::Duration connect_timeout = absl::Seconds(10);
  // Above Workato's own 40 s request timeout.
  absl::Duration request_timeout = absl::Seconds(60);
  // Abort when fewer than low_speed_bytes arrive per second for this long.
  absl::Duration low_speed_time = absl::Seconds(30);
  long low_speed_bytes = 1;
  // Responses larger than this are aborted, never read whole into memory.
  int64_t max_response_bytes = int64_t{256} << 20;
  // Extra CA bundle to trust (PEM), or "" for the system store only.
  std::string ca_file;
  std::string user_agent = std::string("workato-connector/") + WC_VERSION;
  // Idle handles kept for connection reuse.
  size_t max_idle_handles = 16;
};

// CurlFetcher is the libcurl HttpFetcher: TLS verification always on,
// redirects never followed (they could carry the token elsewhere), gzip
// accepted, and easy handles pooled so that connections to a host are reused.
// Thread-safe.
class CurlFetcher : public HttpFetcher {
 public:
  explicit CurlFetcher(CurlFetcherOptions options);
  ~CurlFetcher() override;

  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  [[nodiscard]] absl::StatusOr<HttpResponse> Get(const HttpRequest& request) override;

 private:
  struct HandleDeleter {
    void operator()(void* handle) const;
  };
  using Handle = std::unique_ptr<void, HandleDeleter>;

  Handle AcquireHandle();
  void ReleaseHandle(Handle handle);

  const CurlFetcherOptions options_;
  std::mutex mu_;
  std::vector<Handle> idle_;
};

}  // namespace workato_connector

#endif  // WORKATO_CONNECTOR_SERVER_CURL_FETCHER_H_
