#include "server/http_status.hpp"

#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>
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
    case Code::schema_conflict:
      return 409;
    case Code::cursor_expired:
    case Code::cursor_compacted:
      return 410;
    case Code::payload_too_large:
      return 413;
    case Code::invalid_key:
    case Code::value_too_large:
    case Code::invalid_store:
    case Code::clock_skew:
    case Code::invalid_schema:
      return 422;
    case Code::rate_limited:
      return 429;
    case Code::upgrade_required:
      return 426;
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

protocol::Refusal as_refusal(const Error& error) {
  using protocol::Code;
  switch (error.code()) {
    case ErrorCode::database_locked:
      return {Code::unavailable, "the server is busy; retry"};
    case ErrorCode::unavailable:  // the database server cannot be reached
      return {Code::unavailable, "the server's database cannot be reached; retry"};
    case ErrorCode::invalid_value:
    case ErrorCode::invalid_argument:
      return {Code::invalid_request, error.what()};
    default:
      return {Code::internal, "internal error"};
  }
}

HttpResponse refusal_response(protocol::Code code, std::string_view message) {
  return refusal_response(protocol::Refusal(code, std::string(message)));
}

std::string authorization_of(const HttpRequest& request) {
  std::string header = request.header("authorization");
  if (!header.empty()) return header;
  const boost::system::result<boost::urls::url_view> url =
      boost::urls::parse_origin_form(request.target);
  if (!url) return {};
  const auto token = url->params().find("token");
  if (token == url->params().end() || (*token).value.empty()) return {};
  return "Bearer " + (*token).value;
}

std::string limited_authorization(const HttpRequest& request, RateLimiter& limiter) {
  std::string header = authorization_of(request);
  const std::string bucket = header.empty() ? "ip:" + request.remote : header;
  if (const int wait = limiter.acquire(bucket); wait > 0) {
    throw protocol::Refusal(protocol::Code::rate_limited,
                            fmt::format("too many requests; retry in {} s", wait),
                            boost::json::object{{"retryAfter", wait}});
  }
  return header;
}

std::string loggable_target(std::string_view target) {
  const std::size_t query = target.find('?');
  if (query == std::string_view::npos) return std::string(target);
  std::string result(target.substr(0, query + 1));
  std::string_view rest = target.substr(query + 1);
  // Parameter by parameter, so that no spelling of the query (a malformed one included) lets a
  // token through: a parameter named "token" (or with a percent-encoded name, which may spell it)
  // has its value withheld.
  for (bool first = true; !rest.empty() || first; first = false) {
    const std::size_t end = rest.find('&');
    const std::string_view param = rest.substr(0, end);
    if (!first) result += '&';
    const std::string_view name = param.substr(0, param.find('='));
    const bool secret = name == "token" || name.find('%') != std::string_view::npos;
    result += secret ? std::string(name) + "=REDACTED" : std::string(param);
    if (end == std::string_view::npos) break;
    rest = rest.substr(end + 1);
  }
  return result;
}

}  // namespace cairn::server
