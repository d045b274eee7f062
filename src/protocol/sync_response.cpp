#include "protocol/sync_response.hpp"

#include <boost/json.hpp>

#include "foundation/json_text.hpp"
#include "protocol/answer.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

json::array conflicts_to_json(const std::vector<ConflictResolution>& conflicts) {
  json::array array;
  for (const auto& conflict : conflicts) {
    array.push_back(json::object{
        {"store", conflict.store}, {"path", conflict.path}, {"resolution", conflict.resolution}});
  }
  return array;
}

void add_page(json::object& object, const FeedPage& page) {
  json::array items;
  items.reserve(page.changes.size());
  for (const FeedItem& item : page.changes)
    items.push_back(feed_item_to_json(item));
  object["changes"] = std::move(items);
  object["hasMore"] = page.has_more;
  object["cursor"] = std::to_string(page.cursor);
  add_held_back(object, page.held_back);
}

}  // namespace

void add_held_back(json::object& object, const std::vector<HeldBack>& held_back) {
  if (held_back.empty()) return;
  json::array items;
  for (const HeldBack& held : held_back) {
    items.push_back(
        json::object{{"store", held.store}, {"key", held.key}, {"schemaVersion", held.version}});
  }
  object["heldBack"] = std::move(items);
}

std::vector<HeldBack> held_back_from_json(const json::object& object) {
  std::vector<HeldBack> held_back;
  const json::value* member = object.if_contains("heldBack");
  if (member == nullptr) return held_back;
  const json::array* items = member->if_array();
  if (items == nullptr) invalid_answer("\"heldBack\" must be an array");
  constexpr std::string_view kHeld = "a held-back entry";
  for (const auto& item : *items) {
    const json::object* held = item.if_object();
    if (held == nullptr) invalid_answer("a held-back entry must be an object");
    const auto version =
        exact_integer<std::uint32_t>(required_member(*held, "schemaVersion", kHeld));
    if (!version) invalid_answer("a held-back entry's \"schemaVersion\" is a positive integer");
    held_back.push_back(
        {required_text(*held, "store", kHeld), required_text(*held, "key", kHeld), *version});
  }
  return held_back;
}

json::object feed_item_to_json(const FeedItem& item) {
  json::object object{{"store", item.store}, {"key", item.key}, {"seq", item.seq}};
  if (!item.entry.deleted) object["value"] = item.entry.value;
  object["meta"] = entry_meta_to_json(item.entry);
  return object;
}

FeedItem feed_item_from_json(const json::value& value, ReplicaInterner& replicas) {
  const json::object* object = value.if_object();
  if (object == nullptr) invalid_answer("a feed item must be an object");
  const json::value& store = required_member(*object, "store", "a feed item");
  const json::value& key = required_member(*object, "key", "a feed item");
  if (!store.is_string() || !key.is_string())
    invalid_answer("a feed item's store and key are strings");
  FeedItem item;
  item.store = store.get_string();
  item.key = key.get_string();
  if (const json::value* seq = object->if_contains("seq")) {
    const auto number = exact_integer<std::uint64_t>(*seq);
    if (!number) invalid_answer("a feed item's \"seq\" is a non-negative integer");
    item.seq = *number;
  }
  entry_meta_from_json(required_member(*object, "meta", "a feed item"), item.entry, replicas);
  if (const json::value* entry_value = object->if_contains("value")) {
    item.entry.value = *entry_value;
    item.entry.deleted = false;
  } else {
    item.entry.value = nullptr;
    item.entry.deleted = true;
  }
  return item;
}

std::string encode_patch_response(const PatchResponse& response) {
  return json_text(patch_response_to_json(response));
}

json::object patch_response_to_json(const PatchResponse& response) {
  json::object object;
  if (response.ack) object["ack"] = *response.ack;
  object["serverTime"] = response.server_time;
  if (response.page) {
    add_page(object, *response.page);
  } else {
    object["cursor"] = std::to_string(response.cursor);
  }
  object["conflictResolutions"] = conflicts_to_json(response.conflicts);
  return object;
}

PatchResponse decode_patch_response(std::string_view body) {
  return patch_response_from_json(parse_answer(body, "the answer to a patch"));
}

PatchResponse patch_response_from_json(const json::object& object) {
  const std::string_view what = "the answer to a patch";
  PatchResponse response;
  if (const json::value* ack = object.if_contains("ack")) {
    response.ack = exact_integer<std::uint64_t>(*ack);
    if (!response.ack) invalid_answer("\"ack\" must be a non-negative integer");
  }
  if (const json::value* time = object.if_contains("serverTime")) {
    response.server_time = exact_integer<std::int64_t>(*time).value_or(0);  // informative only
  }
  response.cursor = cursor_member(object, what);
  if (const json::value* changes = object.if_contains("changes")) {
    const json::array* items = changes->if_array();
    if (items == nullptr) invalid_answer("\"changes\" must be an array");
    FeedPage page;
    for (const auto& item : *items)
      page.changes.push_back(feed_item_from_json(item, page.replicas));
    const json::value& more = required_member(object, "hasMore", what);
    if (!more.is_bool()) invalid_answer("\"hasMore\" must be true or false");
    page.has_more = more.get_bool();
    page.cursor = response.cursor;
    page.held_back = held_back_from_json(object);
    response.page = std::move(page);
  }
  if (const json::value* conflicts = object.if_contains("conflictResolutions")) {
    const json::array* items = conflicts->if_array();
    if (items == nullptr) invalid_answer("\"conflictResolutions\" must be an array");
    for (const auto& item : *items) {
      const json::object* conflict = item.if_object();
      constexpr std::string_view kConflict = "a conflict resolution";
      if (conflict == nullptr) invalid_answer("a conflict resolution must be an object");
      response.conflicts.push_back({required_text(*conflict, "store", kConflict),
                                    required_text(*conflict, "path", kConflict),
                                    required_text(*conflict, "resolution", kConflict)});
    }
  }
  return response;
}

std::string encode_changes_response(const FeedPage& page, std::int64_t server_time) {
  json::object object;
  add_page(object, page);
  object["serverTime"] = server_time;
  return json_text(object);
}

std::string encode_full_response(const FullResponse& response) {
  json::object object;
  json::object meta;
  for (const FeedItem& item : response.entries) {
    if (!item.entry.deleted) {
      json::value& store = object[item.store];
      if (!store.is_object()) store = json::object{};
      store.get_object()[item.key] = item.entry.value;
    }
    json::value& store_meta = meta[item.store];
    if (!store_meta.is_object()) store_meta = json::object{};
    store_meta.get_object()[item.key] = entry_meta_to_json(item.entry);
  }
  object["serverTime"] = response.server_time;
  object["cursor"] = std::to_string(response.cursor);
  object["conflictResolutions"] = conflicts_to_json(response.conflicts);
  object["meta"] = std::move(meta);
  add_held_back(object, response.held_back);
  if (!response.client_id.empty()) object["clientId"] = response.client_id;
  return json_text(object);
}

}  // namespace cairn::protocol
