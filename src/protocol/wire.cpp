#include "protocol/wire.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <charconv>

#include "foundation/json_text.hpp"

namespace cairn::protocol {
namespace json = boost::json;

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::invalid_value, message);
}

const json::object& as_object(const json::value& value, std::string_view what) {
  const json::object* object = value.if_object();
  if (object == nullptr) invalid(fmt::format("{} must be an object", what));
  return *object;
}

std::string_view string_member(const json::object& object, std::string_view name,
                               std::string_view what) {
  const json::value* member = object.if_contains(name);
  if (member == nullptr || !member->is_string()) {
    invalid(fmt::format("{} needs a string \"{}\"", what, name));
  }
  return member->get_string();
}

json::object stamp_to_json(const merge::Stamp& stamp) {
  return json::object{{"hlc", hlc_to_wire(stamp.hlc)}, {"replica", stamp.replica_view()}};
}

merge::Stamp stamp_from_json(const json::value& value, ReplicaInterner& replicas,
                             std::string_view what) {
  const json::object& object = as_object(value, what);
  return {hlc_from_wire(string_member(object, "hlc", what)),
          replicas.intern(string_member(object, "replica", what))};
}

std::uint32_t version_member(const json::object& object, std::string_view what) {
  const json::value* member = object.if_contains("schemaVersion");
  if (member == nullptr) return 1;
  std::error_code error;
  const auto version =
      member->is_number() && !member->is_double() ? member->to_number<std::uint32_t>(error) : 0;
  if (error || version < 1) {
    invalid(fmt::format("{}: \"schemaVersion\" must be a positive integer", what));
  }
  return version;
}

}  // namespace

std::string hlc_to_wire(Timestamp t) {
  return fmt::format("{}:{}", t.physical_ms(), t.logical());
}

Timestamp hlc_from_wire(std::string_view text) {
  const auto colon = text.find(':');
  std::uint64_t ms = 0;
  std::uint32_t logical = 0;
  const auto parse = [](std::string_view digits, auto& out) {
    if (digits.empty() || digits.size() > 19) return false;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return error == std::errc() && end == digits.data() + digits.size();
  };
  if (colon == std::string_view::npos || !parse(text.substr(0, colon), ms) ||
      !parse(text.substr(colon + 1), logical) || ms >= (std::uint64_t{1} << 48) ||
      logical > Timestamp::kMaxLogical) {
    invalid(fmt::format("\"{}\" is not a clock (expected \"<milliseconds>:<counter>\")",
                        text.substr(0, 64)));
  }
  return Timestamp(ms, logical);
}

const std::string* ReplicaInterner::intern(std::string_view replica) {
  return &*replicas_.emplace(replica).first;
}

json::object stamps_to_json(const merge::Entry& entry) {
  json::object object;
  if (!entry.fields.empty()) {
    json::object fields;
    for (const auto& field : entry.fields) {
      json::object stamp = stamp_to_json(field.stamp);
      if (field.deleted) stamp["deleted"] = true;
      fields[field.name] = std::move(stamp);
    }
    object["fields"] = std::move(fields);
  }
  if (!entry.floor.is_zero()) object["floor"] = stamp_to_json(entry.floor);
  return object;
}

void stamps_from_json(const json::value& value, merge::Entry& entry, ReplicaInterner& replicas) {
  const json::object& object = as_object(value, "entry stamps");
  if (const json::value* fields = object.if_contains("fields")) {
    for (const auto& [name, stamp] : as_object(*fields, "\"fields\"")) {
      const json::object& field = as_object(stamp, "a field stamp");
      const json::value* deleted = field.if_contains("deleted");
      entry.fields.push_back({std::string(name), stamp_from_json(stamp, replicas, "a field stamp"),
                              deleted != nullptr && deleted->is_bool() && deleted->get_bool()});
    }
    std::sort(entry.fields.begin(), entry.fields.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
  }
  if (const json::value* floor = object.if_contains("floor")) {
    entry.floor = stamp_from_json(*floor, replicas, "\"floor\"");
  }
}

json::object entry_meta_to_json(const merge::Entry& entry) {
  json::object object = stamp_to_json(entry.stamp);
  object["schemaVersion"] = entry.schema_version;
  if (entry.deleted) object["deleted"] = true;
  for (auto& [name, member] : stamps_to_json(entry))
    object[name] = std::move(member);
  return object;
}

void entry_meta_from_json(const json::value& value, merge::Entry& entry,
                          ReplicaInterner& replicas) {
  const json::object& object = as_object(value, "entry metadata");
  entry.stamp = stamp_from_json(value, replicas, "entry metadata");
  entry.schema_version = version_member(object, "entry metadata");
  const json::value* deleted = object.if_contains("deleted");
  entry.deleted = deleted != nullptr && deleted->is_bool() && deleted->get_bool();
  stamps_from_json(value, entry, replicas);
}

void append_change_text(std::string& out, const StoredChange& change) {
  std::string_view payload = change.payload;
  if (payload == "null") payload = "{}";  // a delete's
  if (payload.size() < 2 || payload.front() != '{' || payload.back() != '}') {
    throw Error(ErrorCode::invalid_value,
                fmt::format("the payload of change {} is not a JSON object", change.seq));
  }
  out += '{';
  if (change.seq != 0) {
    out += "\"seq\":";
    out += std::to_string(change.seq);
    out += ',';
  }
  out += "\"store\":";
  append_json_text(out, json::string(change.store));
  out += ",\"key\":";
  append_json_text(out, json::string(change.key));
  out += ",\"op\":";
  append_json_text(out, json::string(change.op));
  if (const std::string_view members = payload.substr(1, payload.size() - 2);
      members.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    out += ',';
    out += members;
  }
  if (!change.hlc.is_zero()) {
    out += ",\"hlc\":\"";
    out += hlc_to_wire(change.hlc);
    out += '"';
  }
  out += ",\"schemaVersion\":";
  out += std::to_string(change.schema_version);
  out += '}';
}

json::object change_to_json(const WireChange& wire) {
  const std::string payload = json_text(merge::change_payload(wire.change));
  std::string text;
  append_change_text(text, {wire.seq, wire.store, wire.key, merge::op_name(wire.change.op), payload,
                            wire.change.stamp.hlc, wire.change.schema_version});
  return json::parse(text).as_object();
}

WireChange change_from_json(json::value&& value, const std::string* replica) {
  if (!value.is_object()) invalid("a change must be an object");
  json::object& object = value.get_object();
  WireChange wire;
  if (const json::value* seq = object.if_contains("seq")) {
    if (!seq->is_int64() || seq->get_int64() < 1) {
      invalid("a change's \"seq\" must be a positive integer");
    }
    wire.seq = static_cast<std::uint64_t>(seq->get_int64());
  }
  wire.store = string_member(object, "store", "a change");
  wire.key = string_member(object, "key", "a change");
  const std::string_view op = string_member(object, "op", "a change");
  json::object payload;
  for (auto& [name, member] : object) {
    if (name == "value" || name == "set" || name == "unset" || name == "add" || name == "update") {
      payload[name] = std::move(member);
    } else if (name != "seq" && name != "store" && name != "key" && name != "op" && name != "hlc" &&
               name != "schemaVersion") {
      invalid(fmt::format("a change has no member \"{}\"", std::string_view(name)));
    }
  }
  merge::Stamp stamp{Timestamp(), replica};
  if (object.contains("hlc")) stamp.hlc = hlc_from_wire(string_member(object, "hlc", "a change"));
  wire.change = merge::change_from_payload(op, json::value(std::move(payload)), stamp,
                                           version_member(object, "a change"));
  return wire;
}

}  // namespace cairn::protocol
