#include "curl_fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "errors.h"

namespace workato_connector {
namespace {

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// State shared with curl's callbacks during one transfer.
struct Transfer {
  HttpResponse response;
  int64_t max_bytes = 0;
  bool too_large = false;
  absl::Time deadline = absl::InfiniteFuture();
  const std::function<bool()>* cancelled = nullptr;
  bool deadline_hit = false;
  bool cancel_hit = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (static_cast<int64_t>(transfer->response.body.size() + bytes) > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;  // Makes curl abort with CURLE_WRITE_ERROR.
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  absl::string_view line(data, bytes);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a redirect, 100 Continue or a proxy CONNECT):
    // only the last one's headers count.
    transfer->response.headers.clear();
    return bytes;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    transfer->response.headers.emplace_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return bytes;
}

// Called by curl about once a second and on every read: aborts the transfer
// once the caller's deadline has passed or the caller has gone away.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (absl::Now() >= transfer->deadline) {
    transfer->deadline_hit = true;
    return 1;
  }
  if (*transfer->cancelled && (*transfer->cancelled)()) {
    transfer->cancel_hit = true;
    return 1;
  }
  return 0;
}

long ToMillis(absl::Duration d) {
  return static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

absl::Status Unavailable(absl::string_view message) {
  return MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoUnavailable, message);
}

}  // namespace

void CurlFetcher::HandleDeleter::operator()(void* handle) const {
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

CurlFetcher::CurlFetcher(CurlFetcherOptions options) : options_(std::move(options)) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlFetcher::~CurlFetcher() = default;

CurlFetcher::Handle CurlFetcher::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      Handle handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return Handle(curl_easy_init());
}

void CurlFetcher::ReleaseHandle(Handle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
}

absl::StatusOr<HttpResponse> CurlFetcher::Get(const HttpRequest& request) {
  absl::Duration remaining = request.deadline - absl::Now();
  if (remaining <= absl::ZeroDuration()) {
    return MakeError(absl::StatusCode::kDeadlineExceeded, reason::kWorkatoUnavailable,
                     "deadline passed before the request to Workato could start");
  }
  Handle handle = AcquireHandle();
  if (handle == nullptr) return Unavailable("could not create an HTTP handle");
  CURL* curl = static_cast<CURL*>(handle.get());
  // Reset keeps the handle's connection cache, which is the point of pooling.
  curl_easy_reset(curl);

  Slist headers;
  for (const auto& [name, value] : request.headers) {
    curl_slist* appended =
        curl_slist_append(headers.get(), absl::StrCat(name, ": ", value).c_str());
    if (appended == nullptr) return Unavailable("out of memory building request headers");
    if (headers == nullptr) headers.reset(appended);
  }

  Transfer transfer;
  transfer.max_bytes = options_.max_response_bytes;
  transfer.deadline = request.deadline;
  transfer.cancelled = &request.cancelled;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // Every encoding curl can decode.
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ToMillis(options_.connect_timeout));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   ToMillis(std::min(options_.request_timeout, remaining)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(options_.low_speed_time)));
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

  const absl::Time started = absl::Now();
  CURLcode code = curl_easy_perform(curl);
  long status_code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status_code);
  // Detach pointers to locals before the handle goes back to the pool.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

  if (code == CURLE_OK) {
    ReleaseHandle(std::move(handle));
    transfer.response.status_code = status_code;
    return std::move(transfer.response);
  }
  // A failed transfer may leave its connection in an unknown state: drop it.
  handle.reset();
  std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  if (transfer.cancel_hit) {
    return MakeError(absl::StatusCode::kCancelled, reason::kCancelled,
                     "the caller cancelled the call while Workato was answering");
  }
  if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return MakeError(
        absl::StatusCode::kUnavailable, reason::kWorkatoResponseTooLarge,
        absl::StrCat("Workato's response is larger than the limit of ", options_.max_response_bytes,
                     " bytes (--workato_max_response_bytes)"));
  }
  // curl reports its total timeout and the low-speed abort with one code.
  // The total timeout, when the caller's deadline bounded it, is the
  // deadline (curl's timer may fire a hair before absl::Now() reaches it).
  const absl::Duration timeout = std::min(options_.request_timeout, remaining);
  const bool full_timeout =
      code == CURLE_OPERATION_TIMEDOUT && absl::Now() - started >= timeout - absl::Milliseconds(50);
  if (transfer.deadline_hit || (full_timeout && remaining < options_.request_timeout)) {
    return MakeError(absl::StatusCode::kDeadlineExceeded, reason::kWorkatoUnavailable,
                     "the call's deadline passed while waiting for Workato");
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      if (!full_timeout) {
        return Unavailable(
            absl::StrCat("Workato's answer was too slow (--workato_low_speed_time): ", detail));
      }
      return Unavailable(absl::StrCat("Workato did not answer in time: ", detail));
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Unavailable(absl::StrCat("could not resolve Workato's host: ", detail));
    case CURLE_COULDNT_CONNECT:
      return Unavailable(absl::StrCat("could not connect to Workato: ", detail));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return MakeError(absl::StatusCode::kUnavailable, reason::kWorkatoTlsError,
                       absl::StrCat("TLS with Workato failed: ", detail,
                                    " (a TLS-inspecting proxy needs --workato_ca_file)"));
    default:
      return Unavailable(absl::StrCat("request to Workato failed: ", detail));
  }
}

}  // namespace workato_connector
