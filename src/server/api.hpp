// Api — cairnd's /api routes (see docs/protocol.md): decoding, rate limiting, authorisation and
// dispatch to Accounts, SyncService and Manifests, with every failure answered as
// {"error": {"code", "message"}} and its HTTP status. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "server/accounts.hpp"
#include "server/http.hpp"
#include "server/manifests.hpp"
#include "server/rate_limiter.hpp"
#include "server/sync_service.hpp"

namespace cairn::server {

class Api {
 public:
  Api(Accounts& accounts, SyncService& sync, Manifests& manifests, RateLimiter& limiter,
      std::size_t max_json_depth);

  // Answers a request under /api. `route` receives the route's fixed name, for metrics.
  HttpResponse handle(const HttpRequest& request, std::string& route);

 private:
  HttpResponse dispatch(const HttpRequest& request, std::string& route);
  boost::json::object parse_body(const HttpRequest& request) const;

  Accounts& accounts_;
  SyncService& sync_;
  Manifests& manifests_;
  RateLimiter& limiter_;
  std::size_t max_json_depth_;
};

}  // namespace cairn::server
