#include "server/http_status.hpp"

#include <string>

#include "foundation/json_text.hpp"

namespace cairn::server {

int http_status(protocol::Code code) noexcept {
  using protocol::Code;
  switch (code) {
    case Code::invalid_request:
    case Code::malformed_json:
    case Code::json_too_deep:
    case Code::malformed_http:
      return 400;
    case Code::unauthorized:
    case Code::invalid_id_token:
      return 401;
    case Code::forbidden:
      return 403;
    case Code::not_found:
      return 404;
    case Code::method_not_allowed:
      return 405;
    case Code::sequence_gap:
    case Code::sequence_reused:
    case Code::account_exists:
    case Code::owner_required:
      return 409;
    case Code::cursor_expired:
      return 410;
    case Code::payload_too_large:
      return 413;
    case Code::invalid_key:
    case Code::value_too_large:
    case Code::invalid_store:
    case Code::clock_skew:
      return 422;
    case Code::rate_limited:
      return 429;
    case Code::headers_too_large:
      return 431;
    case Code::internal:
      return 500;
    case Code::not_configured:
      return 501;
    case Code::unavailable:
      return 503;
  }
  return 500;
}

HttpResponse refusal_response(const protocol::Refusal& refusal) {
  using protocol::Code;
  HttpResponse response{
      http_status(refusal.code()), "application/json", protocol::error_body(refusal), {}};
  if (refusal.code() == Code::rate_limited || refusal.code() == Code::unavailable) {
    const boost::json::value* wait = refusal.details().if_contains("retryAfter");
    response.headers.emplace_back("Retry-After", wait ? json_text(*wait) : "1");
  }
  if (refusal.code() == Code::unauthorized) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

HttpResponse refusal_response(protocol::Code code, std::string_view message) {
  return refusal_response(protocol::Refusal(code, std::string(message)));
}

}  // namespace cairn::server
