#include "protocol/session.hpp"

#include <boost/json.hpp>

#include "foundation/json_text.hpp"
#include "protocol/answer.hpp"
#include "protocol/wire.hpp"

namespace cairn::protocol {
namespace json = boost::json;

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
  const json::object object = parse_answer(body, what);
  SessionMessage session;
  session.user_id = required_text(object, "userId", what);
  session.token = required_text(object, "token", what);
  session.dataset_id = required_text(object, "datasetId", what);
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
  const json::object object = parse_answer(body, what);
  return {required_text(object, "userId", what), optional_text(object, "kind", what),
          optional_text(object, "email", what), optional_text(object, "datasetId", what)};
}

}  // namespace cairn::protocol
