#include "protocol/sync_request.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <charconv>

#include "foundation/json_text.hpp"
#include "foundation/limits.hpp"
#include "protocol/errors.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

[[noreturn]] void malformed(const std::string& why) {
  throw Refusal(Code::invalid_request, why);
}

constexpr std::string_view kReserved[] = {
    "clientVersion", "lastSyncTime", "clientId",      "meta",       "cursor",
    "dataset",       "changes",      "seq",           "serverTime", "conflictResolutions",
    "versions",      "heldBack",     "manifestStores"};

void check_store_name(std::string_view name) {
  // Requests name a few stores many times: remember the last one checked on this thread.
  thread_local std::string last_valid;
  if (name == last_valid) return;
  try {
    cairn::check_store_name(name);
  } catch (const Error& e) {
    throw Refusal(Code::invalid_store, e.what());
  }
  last_valid = name;
}

// Values are checked against their limit once merged (SyncService), where their size is known.
void check_entry(std::string_view store, std::string_view key, const merge::Change&,
                 const Limits& limits) {
  try {
    check_key(store, key, limits);
  } catch (const Error& e) {
    throw Refusal(
        e.code() == ErrorCode::value_too_large ? Code::value_too_large : Code::invalid_key,
        e.what());
  }
}

std::string text_member(const json::object& body, std::string_view name) {
  const json::value* member = body.if_contains(name);
  if (member == nullptr) return {};
  if (!member->is_string()) malformed(fmt::format("\"{}\" must be a string", name));
  return std::string(member->get_string());
}

void check_client_id(std::string_view id) {
  const bool ok = !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
  if (!ok) malformed("\"clientId\" must be 1 to 128 characters of A-Z a-z 0-9 - _ . :");
}

// The members every sync request shares.
SyncRequest common(const json::object& body, ReplicaInterner& replicas,
                   const std::string& replica_for_anonymous, const std::string** replica) {
  SyncRequest request;
  request.dataset = request_dataset(body);
  request.client_id = text_member(body, "clientId");
  if (body.contains("clientId")) check_client_id(request.client_id);
  if (const json::value* cursor = body.if_contains("cursor")) {
    request.cursor = parse_cursor(*cursor);
  }
  if (const json::value* versions = body.if_contains("versions")) {
    request.versions = versions_from_json(*versions);
  }
  if (const json::value* stores = body.if_contains("manifestStores")) {
    const json::array* names = stores->if_array();
    if (names == nullptr) malformed("\"manifestStores\" must be an array of store names");
    for (const auto& name : *names) {
      if (!name.is_string()) malformed("\"manifestStores\" must be an array of store names");
      check_store_name(name.get_string());
      request.manifest_stores.emplace(name.get_string());
    }
  }
  if (const json::value* version = body.if_contains("clientVersion");
      version && !version->is_string()) {
    malformed("\"clientVersion\" must be a string");
  }
  if (const json::value* last = body.if_contains("lastSyncTime"); last && !last->is_number()) {
    malformed("\"lastSyncTime\" must be a number");
  }
  *replica = replicas.intern(request.client_id.empty() ? replica_for_anonymous : request.client_id);
  return request;
}

// Clock and schema version that the roadmap forms may carry per entry in "meta".
void apply_meta(const json::object* meta, std::string_view key, merge::Change& change) {
  const json::value* entry = meta ? meta->if_contains(key) : nullptr;
  if (entry == nullptr) return;
  const json::object* fields = entry->if_object();
  if (fields == nullptr) malformed(fmt::format("\"meta\" of '{}' must be an object", key));
  try {
    if (const json::value* hlc = fields->if_contains("hlc")) {
      if (!hlc->is_string()) malformed("\"hlc\" must be a string");
      change.stamp.hlc = hlc_from_wire(hlc->get_string());
    }
  } catch (const Error& e) {
    malformed(e.what());
  }
  if (const json::value* version = fields->if_contains("schemaVersion")) {
    if (!version->is_int64() || version->get_int64() < 1 || version->get_int64() > UINT32_MAX) {
      malformed("\"schemaVersion\" must be a positive integer");
    }
    change.schema_version = static_cast<std::uint32_t>(version->get_int64());
  }
}

const json::object* object_member(const json::object& object, std::string_view name,
                                  std::string_view where) {
  const json::value* member = object.if_contains(name);
  if (member == nullptr) return nullptr;
  if (!member->is_object()) malformed(fmt::format("{}: \"{}\" must be an object", where, name));
  return &member->get_object();
}

WireChange make_change(std::string_view store, std::string_view key, merge::Change::Op op,
                       const json::value* value, const std::string* replica) {
  WireChange wire;
  wire.store = store;
  wire.key = key;
  wire.change.op = op;
  if (value) wire.change.value = std::move(*value);
  wire.change.stamp.replica = replica;
  wire.change.schema_version = 1;
  return wire;
}

}  // namespace

bool is_reserved_member(std::string_view name) {
  return std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved);
}

bool request_writes(const json::object& body) {
  for (const auto& [name, member] : body) {
    if (name == "changes") {
      if (member.is_array() && !member.get_array().empty()) return true;
    } else if (!is_reserved_member(name)) {
      if (member.is_object() && !member.get_object().empty()) return true;
    }
  }
  return false;
}

std::string request_dataset(const json::object& body) {
  return text_member(body, "dataset");
}

PatchRequestWriter::PatchRequestWriter(std::string_view client_id, std::string_view dataset,
                                       std::string_view cursor, const StoreVersions& versions,
                                       const StoreNames& manifest_stores) {
  text_ = "{\"clientId\":";
  append_json_text(text_, json::string(client_id));
  text_ += ",\"dataset\":";
  append_json_text(text_, json::string(dataset));
  if (!cursor.empty()) {
    text_ += ",\"cursor\":";
    append_json_text(text_, json::string(cursor));
  }
  if (!versions.empty()) {
    text_ += ",\"versions\":";
    append_json_text(text_, versions_to_json(versions));
  }
  if (!manifest_stores.empty()) {
    json::array names;
    for (const auto& name : manifest_stores)
      names.emplace_back(name);
    text_ += ",\"manifestStores\":";
    append_json_text(text_, names);
  }
  text_ += ",\"changes\":[";
  changes_start_ = text_.size();
}

bool PatchRequestWriter::add(const StoredChange& change, std::size_t max_bytes) {
  const std::size_t mark = text_.size();
  if (changes_ > 0) text_ += ',';
  append_change_text(text_, change);
  if (changes_ > 0 && text_.size() - changes_start_ > max_bytes) {
    text_.resize(mark);
    return false;
  }
  ++changes_;
  return true;
}

std::string PatchRequestWriter::finish() && {
  text_ += "]}";
  return std::move(text_);
}

std::string encode_patch_request(const PatchRequest& request) {
  PatchRequestWriter writer(request.client_id, request.dataset, request.cursor, request.versions,
                            request.manifest_stores);
  for (const WireChange& change : request.changes) {
    const std::string payload = json_text(merge::change_payload(change.change));
    writer.add({change.seq, change.store, change.key, merge::op_name(change.change.op), payload,
                change.change.stamp.hlc, change.change.schema_version});
  }
  return std::move(writer).finish();
}

json::object versions_to_json(const StoreVersions& versions) {
  json::object object;
  for (const auto& [store, version] : versions)
    object[store] = version;
  return object;
}

StoreVersions versions_from_json(const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr) malformed("\"versions\" must be an object: {\"<store>\": <version>}");
  StoreVersions versions;
  for (const auto& [store, version] : *object) {
    check_store_name(store);
    if (!version.is_int64() || version.get_int64() < 1 || version.get_int64() > UINT32_MAX) {
      malformed(fmt::format("\"versions\": the version of '{}' must be a positive integer",
                            std::string_view(store)));
    }
    versions.emplace(store, static_cast<std::uint32_t>(version.get_int64()));
  }
  return versions;
}

StoreVersions versions_from_query(std::string_view text) {
  StoreVersions versions;
  if (text.empty()) return versions;
  for (bool more = true; more;) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    more = comma != std::string_view::npos;
    text.remove_prefix(more ? comma + 1 : text.size());
    const std::size_t colon = item.rfind(':');
    std::uint32_t version = 0;
    const char* end = item.data() + item.size();
    if (colon == std::string_view::npos ||
        std::from_chars(item.data() + colon + 1, end, version).ptr != end || version < 1) {
      malformed("versions=<store>:<version>,... (a positive version for each store)");
    }
    check_store_name(item.substr(0, colon));
    versions.emplace(item.substr(0, colon), version);
  }
  return versions;
}

std::uint64_t parse_cursor(std::string_view text) {
  std::uint64_t cursor = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), cursor);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    malformed("a cursor is the string the server returned (digits)");
  }
  return cursor;
}

std::uint64_t parse_cursor(const json::value& value) {
  if (value.is_string()) return parse_cursor(std::string_view(value.get_string()));
  if (value.is_int64() && value.get_int64() >= 0)
    return static_cast<std::uint64_t>(value.get_int64());
  if (value.is_uint64()) return value.get_uint64();
  malformed("a cursor is the string the server returned (digits)");
}

SyncRequest decode_full_request(json::object& body, const Limits& limits, ReplicaInterner& replicas,
                                const std::string& replica_for_anonymous) {
  const std::string* replica = nullptr;
  SyncRequest request = common(body, replicas, replica_for_anonymous, &replica);
  const json::object* meta = object_member(body, "meta", "the request");
  for (auto& [store, entries] : body) {
    if (is_reserved_member(store)) continue;
    check_store_name(store);
    if (!entries.is_object()) {
      malformed(
          fmt::format("store '{}' must be an object of key -> value", std::string_view(store)));
    }
    const json::object* store_meta = meta ? object_member(*meta, store, "\"meta\"") : nullptr;
    for (auto& [key, value] : entries.get_object()) {
      auto change = make_change(store, key, merge::Change::Op::put, &value, replica);
      apply_meta(store_meta, key, change.change);
      check_entry(store, key, change.change, limits);
      request.changes.push_back(std::move(change));
    }
    // Deletions travel as tombstones in "meta" ("deleted": true) for keys absent from the store.
    if (store_meta) {
      for (const auto& [key, entry] : *store_meta) {
        const json::value* deleted =
            entry.is_object() ? entry.get_object().if_contains("deleted") : nullptr;
        if (deleted == nullptr || !deleted->is_bool() || !deleted->get_bool()) continue;
        if (entries.get_object().contains(key)) {
          malformed(fmt::format("'{}' is both present and deleted", std::string_view(key)));
        }
        auto change = make_change(store, key, merge::Change::Op::erase, nullptr, replica);
        apply_meta(store_meta, key, change.change);
        check_entry(store, key, change.change, limits);
        request.changes.push_back(std::move(change));
      }
    }
  }
  if (meta) {
    for (const auto& [store, ignored] : *meta) {
      if (!body.contains(store)) {
        malformed(fmt::format("\"meta\" names store '{}', which the request does not hold",
                              std::string_view(store)));
      }
    }
  }
  return request;
}

SyncRequest decode_patch_request(json::object& body, const Limits& limits,
                                 ReplicaInterner& replicas,
                                 const std::string& replica_for_anonymous) {
  const std::string* replica = nullptr;
  SyncRequest request = common(body, replicas, replica_for_anonymous, &replica);
  if (json::value* changes = body.if_contains("changes")) {
    // Cairn's form: the outbox, verbatim.
    if (!changes->is_array()) malformed("\"changes\" must be an array");
    for (const auto& [member, ignored] : body) {
      if (!is_reserved_member(member)) {
        malformed("send either \"changes\" or per-store added/updated/deleted, not both");
      }
    }
    if (body.contains("seq")) malformed("\"seq\" belongs to the per-store form");
    for (auto& item : changes->get_array()) {
      WireChange change;
      try {
        change = change_from_json(std::move(item), replica);
      } catch (const Error& e) {
        malformed(e.what());
      }
      check_store_name(change.store);
      check_entry(change.store, change.key, change.change, limits);
      request.changes.push_back(std::move(change));
    }
    const bool any = !request.changes.empty();
    const bool all_numbered = std::all_of(request.changes.begin(), request.changes.end(),
                                          [](const auto& c) { return c.seq != 0; });
    const bool none_numbered = std::none_of(request.changes.begin(), request.changes.end(),
                                            [](const auto& c) { return c.seq != 0; });
    if (!all_numbered && !none_numbered) malformed("number every change or none");
    request.numbered = any && all_numbered;
  } else {
    // The roadmap's form: per store, "added" and "updated" values and "deleted" keys.
    for (auto& [store, body_of_store] : body) {
      if (is_reserved_member(store)) continue;
      check_store_name(store);
      json::object* changes = body_of_store.if_object();
      if (changes == nullptr) {
        malformed(fmt::format("store '{}' must be an object with added, updated and deleted",
                              std::string_view(store)));
      }
      const json::object* meta = object_member(*changes, "meta", store);
      for (auto& [member, value] : *changes) {
        if (member == "added" || member == "updated") {
          if (!value.is_object()) {
            malformed(fmt::format("{}.{} must be an object", std::string_view(store),
                                  std::string_view(member)));
          }
          for (auto& [key, entry] : value.get_object()) {
            auto change = make_change(store, key, merge::Change::Op::put, &entry, replica);
            apply_meta(meta, key, change.change);
            check_entry(store, key, change.change, limits);
            request.changes.push_back(std::move(change));
          }
        } else if (member == "deleted") {
          if (!value.is_array()) {
            malformed(fmt::format("{}.deleted must be an array of keys", std::string_view(store)));
          }
          for (const auto& key : value.get_array()) {
            if (!key.is_string()) {
              malformed(
                  fmt::format("{}.deleted must be an array of keys", std::string_view(store)));
            }
            auto change =
                make_change(store, key.get_string(), merge::Change::Op::erase, nullptr, replica);
            apply_meta(meta, key.get_string(), change.change);
            check_entry(store, key.get_string(), change.change, limits);
            request.changes.push_back(std::move(change));
          }
        } else if (member != "meta") {
          malformed(
              fmt::format("store '{}' has no member \"{}\" (expected added, updated, "
                          "deleted, meta)",
                          std::string_view(store), std::string_view(member)));
        }
      }
    }
    if (const json::value* seq = body.if_contains("seq")) {
      if (!seq->is_int64() || seq->get_int64() < 1) {
        malformed("\"seq\" must be a positive integer");
      }
      std::uint64_t next = static_cast<std::uint64_t>(seq->get_int64());
      for (auto& change : request.changes)
        change.seq = next++;
      request.numbered = !request.changes.empty();
    }
  }
  if (request.numbered) {
    if (request.client_id.empty()) malformed("numbered changes need a \"clientId\"");
    for (std::size_t i = 1; i < request.changes.size(); ++i) {
      if (request.changes[i].seq != request.changes[i - 1].seq + 1) {
        malformed("change sequence numbers must be consecutive");
      }
    }
  }
  return request;
}

}  // namespace cairn::protocol
