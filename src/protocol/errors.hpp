// The protocol's error vocabulary: every refusal a client can meet has a stable code with one
// meaning (docs/protocol.md, "Errors"), and travels as one body:
//   {"error": {"code": "...", "message": "...", ...details}}
// The server maps each code to its HTTP status in one place (server/http_status.cpp); clients read
// the code back with decode_error_body.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cairn::protocol {

enum class Code {
  invalid_request,     // a member has the wrong type or shape, a bad cursor, clock or parameter
  malformed_json,      // the body is not a JSON object
  json_too_deep,       // nesting deeper than the server accepts
  malformed_http,      // not HTTP/1.1
  unauthorized,        // missing, unknown, expired or revoked token
  invalid_id_token,    // a Google ID token that does not verify
  forbidden,           // the caller's role does not allow it
  not_found,           // no such route, user or dataset (or one the caller may not see)
  method_not_allowed,  // wrong method for the route
  sequence_gap,        // numbered changes do not follow the last one applied ("expected")
  sequence_reused,     // other changes under numbers already applied
  account_exists,      // the Google account belongs to another user
  owner_required,      // a dataset must keep an owner
  invalid_schema,      // a dataset's schema that does not parse or whose chains are not valid
  schema_conflict,     // a dataset's schema that would go back or strand stored entries
  cursor_expired,      // the cursor is not one this dataset gave out: sync fully
  cursor_compacted,    // deletes after the cursor were compacted: sync again from cursor 0
  payload_too_large,   // body over the size limit
  invalid_key,         // a key is empty, not UTF-8, or over the key limit
  value_too_large,     // a value over the value limit
  invalid_store,       // a store name that is not valid
  clock_skew,          // a change's clock runs too far ahead of the server's
  rate_limited,        // too many requests ("retryAfter")
  headers_too_large,   // headers over 16 KiB
  internal,            // a bug, reported in the server's log
  not_configured,      // a feature the server was not configured for (Google sign-in)
  unavailable,         // the server is busy or stopping; retry
  upgrade_required,    // a WebSocket route asked for without the upgrade
};

// The stable snake_case name of a code, e.g. "cursor_expired"; and back.
std::string_view code_name(Code code) noexcept;
std::optional<Code> code_from_name(std::string_view name) noexcept;

// A refusal: what the server answers instead of doing what was asked. Thrown by the protocol's
// decoders and by the server's services; the transport turns it into a response.
class Refusal : public std::runtime_error {
 public:
  Refusal(Code code, const std::string& message, boost::json::object details = {})
      : std::runtime_error(message), code_(code), details_(std::move(details)) {}

  Code code() const noexcept { return code_; }
  // More members of the error object, e.g. {"expected": 18} for a sequence gap.
  const boost::json::object& details() const noexcept { return details_; }

 private:
  Code code_;
  boost::json::object details_;
};

// The one encoder of error bodies; escapes any message text.
std::string error_body(Code code, std::string_view message,
                       const boost::json::object& details = {});
std::string error_body(const Refusal& refusal);

// An error body as a client reads it. `code` keeps the server's name even when this build does
// not know it.
struct ErrorBody {
  std::string code;
  std::string message;
  boost::json::object details;
};
// Empty when `body` is not an error body.
std::optional<ErrorBody> decode_error_body(std::string_view body);

}  // namespace cairn::protocol
