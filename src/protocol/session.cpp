#include "protocol/session.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/json_text.hpp"
#include "protocol/wire.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

json::object parse_object(std::string_view body, std::string_view what) {
  std::error_code error;
  json::value value = json::parse(body, error);
  if (error || !value.is_object()) {
    throw Error(ErrorCode::invalid_value, fmt::format("{} is not a JSON object", what));
  }
  return std::move(value.get_object());
}

std::string text(const json::object& object, std::string_view name, std::string_view what,
                 bool required = true) {
  const json::value* member = object.if_contains(name);
  if (member == nullptr && !required) return {};
  if (member == nullptr || !member->is_string()) {
    throw Error(ErrorCode::invalid_value, fmt::format("{} needs a string \"{}\"", what, name));
  }
  return std::string(member->get_string());
}

}  // namespace

std::string encode_session(const SessionMessage& session) {
  json::object object{{"userId", session.user_id},
                      {"token", session.token},
                      {"expiresAt", session.expires_ms},
                      {"datasetId", session.dataset_id}};
  if (session.upgraded) object["upgraded"] = true;
  return json_text(object);
}

SessionMessage decode_session(std::string_view body) {
  constexpr std::string_view what = "a session";
  const json::object object = parse_object(body, what);
  SessionMessage session;
  session.user_id = text(object, "userId", what);
  session.token = text(object, "token", what);
  session.dataset_id = text(object, "datasetId", what);
  if (const json::value* expires = object.if_contains("expiresAt")) {
    session.expires_ms = exact_integer<std::int64_t>(*expires).value_or(0);  // informative only
  }
  const json::value* upgraded = object.if_contains("upgraded");
  session.upgraded = upgraded && upgraded->is_bool() && upgraded->get_bool();
  return session;
}

std::string encode_user(const UserMessage& user) {
  json::object object{{"userId", user.user_id}, {"kind", user.kind}};
  if (!user.email.empty()) object["email"] = user.email;
  if (!user.dataset_id.empty()) object["datasetId"] = user.dataset_id;
  return json_text(object);
}

UserMessage decode_user(std::string_view body) {
  constexpr std::string_view what = "a user";
  const json::object object = parse_object(body, what);
  return {text(object, "userId", what), text(object, "kind", what, false),
          text(object, "email", what, false), text(object, "datasetId", what, false)};
}

}  // namespace cairn::protocol
