#include "protocol/live.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/json_text.hpp"
#include "foundation/overloaded.hpp"
#include "protocol/answer.hpp"
#include "protocol/sync_request.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

[[noreturn]] void bad_request(const std::string& message) {
  throw Refusal(Code::invalid_request, message);
}

// The members a message of `type` may have besides "type"; anything else is refused, so that a
// misspelt member is an error rather than silently ignored.
void check_members(const json::object& object, std::string_view type,
                   std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : object) {
    if (name == "type") continue;
    if (std::find(allowed.begin(), allowed.end(), std::string_view(name)) == allowed.end()) {
      bad_request(
          fmt::format("a \"{}\" message has no member \"{}\"", type, std::string_view(name)));
    }
  }
}

std::string optional_dataset(const json::object& object) {
  const json::value* dataset = object.if_contains("dataset");
  if (dataset == nullptr) return {};
  if (!dataset->is_string() || dataset->get_string().empty()) {
    bad_request("\"dataset\" must be a dataset id");
  }
  return std::string(dataset->get_string());
}

json::object with_dataset(std::string_view type, std::string_view dataset) {
  json::object object{{"type", type}};
  if (!dataset.empty()) object["dataset"] = dataset;
  return object;
}

}  // namespace

std::string encode_patch_message(std::uint64_t id, std::string_view body) {
  return fmt::format(R"({{"type":"patch","id":{},"body":{}}})", id, body);
}

std::string encode_client_message(const ClientMessage& message) {
  return std::visit(
      Overloaded{
          [](const SubscribeMessage& m) {
            json::object object = with_dataset("subscribe", m.dataset);
            if (m.cursor) object["cursor"] = std::to_string(*m.cursor);
            if (!m.echo) object["echo"] = false;
            if (!m.versions.empty()) object["versions"] = versions_to_json(m.versions);
            return json_text(object);
          },
          [](const UnsubscribeMessage& m) {
            return json_text(with_dataset("unsubscribe", m.dataset));
          },
          [](const PresenceMessage& m) {
            json::object object = with_dataset("presence", m.dataset);
            object["state"] = m.state;
            return json_text(object);
          },
          [](const PatchMessage& m) { return encode_patch_message(m.id, json_text(m.body)); },
      },
      message);
}

ClientMessage decode_client_message(std::string_view text, std::size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  std::error_code error;
  json::value value = json::parse(text, error, {}, options);
  if (error || !value.is_object()) {
    throw Refusal(Code::malformed_json, "a message must be one JSON object");
  }
  json::object& object = value.get_object();
  const json::value* type_member = object.if_contains("type");
  if (type_member == nullptr || !type_member->is_string()) {
    bad_request("a message needs a string \"type\"");
  }
  const std::string type(type_member->get_string());
  if (type == "subscribe") {
    check_members(object, type, {"dataset", "cursor", "echo", "versions"});
    SubscribeMessage message{optional_dataset(object), std::nullopt, true, {}};
    if (const json::value* at = object.if_contains("cursor")) {
      if (!at->is_string()) bad_request("\"cursor\" is the string the server returned (digits)");
      message.cursor = parse_cursor(*at);
    }
    if (const json::value* at = object.if_contains("echo")) {
      if (!at->is_bool()) bad_request("\"echo\" is true or false");
      message.echo = at->get_bool();
    }
    if (const json::value* at = object.if_contains("versions")) {
      message.versions = versions_from_json(*at);
    }
    return message;
  }
  if (type == "unsubscribe") {
    check_members(object, type, {"dataset"});
    return UnsubscribeMessage{optional_dataset(object)};
  }
  if (type == "presence") {
    check_members(object, type, {"dataset", "state"});
    json::value* state = object.if_contains("state");
    if (state == nullptr || !state->is_object()) bad_request("\"state\" must be an object");
    if (json_text(*state).size() > kMaxPresenceBytes) {
      bad_request(fmt::format("a presence state is at most {} bytes of JSON", kMaxPresenceBytes));
    }
    return PresenceMessage{optional_dataset(object), std::move(state->get_object())};
  }
  if (type == "patch") {
    check_members(object, type, {"id", "body"});
    const json::value* id = object.if_contains("id");
    const std::optional<std::uint64_t> number =
        id ? exact_integer<std::uint64_t>(*id) : std::nullopt;
    if (!number) bad_request("a \"patch\" needs a non-negative integer \"id\"");
    json::value* body = object.if_contains("body");
    if (body == nullptr || !body->is_object()) bad_request("a \"patch\" needs an object \"body\"");
    return PatchMessage{*number, std::move(body->get_object())};
  }
  bad_request(
      fmt::format("unknown message type \"{}\" (subscribe, unsubscribe, presence, patch)", type));
}

namespace {

json::object to_json(const SubscribedMessage& m) {
  return json::object{{"type", "subscribed"},
                      {"dataset", m.dataset},
                      {"cursor", std::to_string(m.cursor)},
                      {"connection", m.connection}};
}

json::object to_json(const ChangesMessage& m) {
  json::array changes;
  changes.reserve(m.page.changes.size());
  for (const FeedItem& item : m.page.changes)
    changes.push_back(feed_item_to_json(item));
  json::object object{{"type", "changes"},
                      {"dataset", m.dataset},
                      {"changes", std::move(changes)},
                      {"cursor", std::to_string(m.page.cursor)}};
  add_held_back(object, m.page.held_back);
  return object;
}

json::object to_json(const PresenceUpdate& m) {
  json::array peers;
  for (const PresencePeer& peer : m.peers) {
    peers.push_back(json::object{
        {"connection", peer.connection}, {"userId", peer.user_id}, {"state", peer.state}});
  }
  json::array left;
  for (const std::string& connection : m.left)
    left.push_back(json::string(connection));
  return json::object{{"type", "presence"},
                      {"dataset", m.dataset},
                      {"peers", std::move(peers)},
                      {"left", std::move(left)}};
}

json::object to_json(const AckMessage& m) {
  return json::object{{"type", "ack"}, {"id", m.id}, {"body", patch_response_to_json(m.body)}};
}

json::object to_json(const LiveError& m) {
  json::object object{{"type", "error"}, {"code", code_name(m.code)}, {"message", m.message}};
  if (!m.dataset.empty()) object["dataset"] = m.dataset;
  if (m.id) object["id"] = *m.id;
  return object;
}

}  // namespace

std::string encode_server_message(const ServerMessage& message) {
  return json_text(std::visit([](const auto& m) { return to_json(m); }, message));
}

std::string encode_server_message(const SubscribedMessage& message) {
  return json_text(to_json(message));
}
std::string encode_server_message(const ChangesMessage& message) {
  return json_text(to_json(message));
}
std::string encode_server_message(const PresenceUpdate& message) {
  return json_text(to_json(message));
}
std::string encode_server_message(const AckMessage& message) {
  return json_text(to_json(message));
}
std::string encode_server_message(const LiveError& message) {
  return json_text(to_json(message));
}

ServerMessage decode_server_message(std::string_view body) {
  const json::object object = parse_answer(body, "a live message");
  const std::string type = required_text(object, "type", "a live message");
  if (type == "subscribed") {
    return SubscribedMessage{required_text(object, "dataset", type), cursor_member(object, type),
                             optional_text(object, "connection", type)};
  }
  if (type == "changes") {
    ChangesMessage message{required_text(object, "dataset", type), {}};
    const json::array* items = required_member(object, "changes", type).if_array();
    if (items == nullptr) invalid_answer("\"changes\" must be an array");
    for (const json::value& item : *items)
      message.page.changes.push_back(feed_item_from_json(item, message.page.replicas));
    message.page.cursor = cursor_member(object, type);
    message.page.held_back = held_back_from_json(object);
    return message;
  }
  if (type == "presence") {
    PresenceUpdate update{required_text(object, "dataset", type), {}, {}};
    const json::array* peers = required_member(object, "peers", type).if_array();
    if (peers == nullptr) invalid_answer("\"peers\" must be an array");
    for (const json::value& item : *peers) {
      const json::object* peer = item.if_object();
      if (peer == nullptr) invalid_answer("a peer must be an object");
      const json::object* state = required_member(*peer, "state", "a peer").if_object();
      if (state == nullptr) invalid_answer("a peer's \"state\" must be an object");
      update.peers.push_back({required_text(*peer, "connection", "a peer"),
                              required_text(*peer, "userId", "a peer"), *state});
    }
    if (const json::value* left = object.if_contains("left")) {
      if (!left->is_array()) invalid_answer("\"left\" must be an array");
      for (const json::value& connection : left->get_array()) {
        if (!connection.is_string()) invalid_answer("\"left\" holds connection ids");
        update.left.emplace_back(connection.get_string());
      }
    }
    return update;
  }
  if (type == "ack") {
    const std::optional<std::uint64_t> id =
        exact_integer<std::uint64_t>(required_member(object, "id", type));
    if (!id) invalid_answer("an ack's \"id\" must be a non-negative integer");
    const json::object* response = required_member(object, "body", type).if_object();
    if (response == nullptr) invalid_answer("an ack's \"body\" must be an object");
    return AckMessage{*id, patch_response_from_json(*response)};
  }
  if (type == "error") {
    const std::optional<Code> code = code_from_name(required_text(object, "code", type));
    if (!code) invalid_answer("an error with a code this client does not know");
    LiveError error_message{*code, required_text(object, "message", type), {}, {}};
    error_message.dataset = optional_text(object, "dataset", type);
    if (const json::value* id = object.if_contains("id")) {
      error_message.id = exact_integer<std::uint64_t>(*id);
      if (!error_message.id) invalid_answer("an error's \"id\" must be a non-negative integer");
    }
    return error_message;
  }
  invalid_answer(fmt::format("unknown live message type \"{}\"", type));
}

}  // namespace cairn::protocol
