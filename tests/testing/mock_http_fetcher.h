#ifndef WORKATO_CONNECTOR_TESTS_TESTING_MOCK_HTTP_FETCHER_H_
#define WORKATO_CONNECTOR_TESTS_TESTING_MOCK_HTTP_FETCHER_H_

#include <string>

#include "gmock/gmock.h"
#include "http_fetcher.h"

namespace workato_connector::testing {

class MockHttpFetcher : public HttpFetcher {
 public:
  MOCK_METHOD(absl::StatusOr<HttpResponse>, Get, (const HttpRequest& request), (override));
};

// Response builds an HttpResponse with a status and body.
inline HttpResponse Response(long status_code, std::string body) {
  HttpResponse response;
  response.status_code = status_code;
  response.body = std::move(body);
  return response;
}

// UrlEndsWith matches an HttpRequest by the end of its URL.
MATCHER_P(UrlEndsWith, suffix, "") {
  return arg.url.size() >= std::string(suffix).size() &&
         arg.url.compare(arg.url.size() - std::string(suffix).size(), std::string::npos, suffix) ==
             0;
}

}  // namespace workato_connector::testing

#endif  // WORKATO_CONNECTOR_TESTS_TESTING_MOCK_HTTP_FETCHER_H_
