#include "protocol/answer.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/json_text.hpp"

namespace cairn::protocol {
namespace json = boost::json;

void invalid_answer(const std::string& message) {
  throw Error(ErrorCode::invalid_value, message);
}

json::object parse_answer(std::string_view body, std::string_view what) {
  std::error_code error;
  json::value value = json::parse(body, error);
  if (error || !value.is_object()) invalid_answer(fmt::format("{} is not a JSON object", what));
  return std::move(value.get_object());
}

const json::value& required_member(const json::object& object, std::string_view name,
                                   std::string_view what) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) invalid_answer(fmt::format("{} has no \"{}\"", what, name));
  return *value;
}

std::string required_text(const json::object& object, std::string_view name,
                          std::string_view what) {
  const json::value& value = required_member(object, name, what);
  if (!value.is_string()) invalid_answer(fmt::format("{} needs a string \"{}\"", what, name));
  return std::string(value.get_string());
}

std::string optional_text(const json::object& object, std::string_view name,
                          std::string_view what) {
  return object.contains(name) ? required_text(object, name, what) : std::string();
}

std::uint64_t cursor_member(const json::object& object, std::string_view what) {
  std::uint64_t value = 0;
  const json::string* text = required_member(object, "cursor", what).if_string();
  if (text == nullptr || !parse_decimal(*text, value)) {
    invalid_answer(fmt::format("{}: \"cursor\" must be a string of digits", what));
  }
  return value;
}

}  // namespace cairn::protocol
