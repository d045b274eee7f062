// The one place where the protocol's error codes meet HTTP: the status each code is answered
// with, and the response that carries a refusal (its body from protocol::error_body, with
// Retry-After for rate_limited and unavailable, WWW-Authenticate for unauthorized).
#pragma once

#include <string_view>

#include "protocol/errors.hpp"
#include "server/http.hpp"

namespace cairn::server {

int http_status(protocol::Code code) noexcept;

HttpResponse refusal_response(const protocol::Refusal& refusal);
HttpResponse refusal_response(protocol::Code code, std::string_view message);

}  // namespace cairn::server
