// Reading what a server sent: the helpers every decoder of server messages shares (sync_response,
// session, live). Each throws Error(invalid_value) naming `what` (the message) and the member
// that is missing or malformed; nothing else escapes.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::protocol {

[[noreturn]] void invalid_answer(const std::string& message);

// The body as a JSON object.
boost::json::object parse_answer(std::string_view body, std::string_view what);

const boost::json::value& required_member(const boost::json::object& object, std::string_view name,
                                          std::string_view what);
std::string required_text(const boost::json::object& object, std::string_view name,
                          std::string_view what);
// The member's text, or empty when it is absent.
std::string optional_text(const boost::json::object& object, std::string_view name,
                          std::string_view what);
// "cursor": a string of digits.
std::uint64_t cursor_member(const boost::json::object& object, std::string_view what);

}  // namespace cairn::protocol
