// The one place where the protocol's error codes meet HTTP: the status each code is answered
// with, and the response that carries a refusal (its body from protocol::error_body, with
// Retry-After for rate_limited and unavailable, WWW-Authenticate for unauthorized); and request
// targets as logs may show them.
#pragma once

#include <cairn/error.hpp>
#include <string>
#include <string_view>

#include "protocol/errors.hpp"
#include "server/http.hpp"
#include "server/rate_limiter.hpp"

namespace cairn::server {

int http_status(protocol::Code code) noexcept;

HttpResponse refusal_response(const protocol::Refusal& refusal);
// How a library error met while serving is answered: database_locked as unavailable, a bad value
// or argument as invalid_request, anything else as internal (which the caller logs).
protocol::Refusal as_refusal(const Error& error);
HttpResponse refusal_response(protocol::Code code, std::string_view message);

// The credentials a request carries: its Authorization header, or — for browsers, which cannot
// set headers on a WebSocket — "Bearer " and its `token` query parameter; empty when neither.
std::string authorization_of(const HttpRequest& request);
// authorization_of(request), once the request is within its rate limit (per token, or per peer
// address without one): Refusal rate_limited (with retryAfter) when it is not.
std::string limited_authorization(const HttpRequest& request, RateLimiter& limiter);

// A request target fit for a log line: the value of a `token` query parameter (a browser's way to
// authenticate a WebSocket) is replaced by "REDACTED".
std::string loggable_target(std::string_view target);

}  // namespace cairn::server
