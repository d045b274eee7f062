// Planning local writes (on top of apply_change, so that local and remote writes merge alike),
// and the outbox form of changes.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "foundation/base64.hpp"
#include "foundation/json_text.hpp"
#include "merge/entry.hpp"

namespace cairn::merge {
namespace json = boost::json;

namespace {

bool is_zero(const json::value& v) {
  return (v.is_int64() && v.get_int64() == 0) || (v.is_uint64() && v.get_uint64() == 0) ||
         (v.is_double() && v.get_double() == 0.0);
}

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::invalid_value, message);
}

void require_number(const json::value& v, std::string_view field) {
  if (!v.is_number()) {
    invalid(fmt::format("counter field '{}' must hold a number, not {}", field, json_text(v)));
  }
}

// Applies a change that this replica just made: with the newest stamp it always takes effect.
LocalWrite planned(const Entry& current, Change change, const MergePolicy& policy) {
  LocalWrite write{current, std::move(change)};
  apply_change(write.entry, write.change, policy);
  return write;
}

}  // namespace

std::optional<LocalWrite> plan_put(const Entry& current, json::value next,
                                   const MergePolicy& policy, Stamp stamp,
                                   std::uint32_t schema_version) {
  if (!current.deleted && current.value == next) return std::nullopt;
  Change change;
  change.stamp = stamp;
  change.schema_version = schema_version;
  const bool had_object = !current.deleted && current.value.is_object();
  if (policy.kind == MergePolicy::Kind::lww || !next.is_object() ||
      (!current.deleted && !had_object)) {
    change.op = Change::Op::put;
    change.value = std::move(next);
    return planned(current, std::move(change), policy);
  }

  static const json::object kEmpty;
  const json::object& before = had_object ? current.value.get_object() : kEmpty;
  const json::object& after = next.get_object();
  change.op = Change::Op::patch;
  for (const auto& [name, value] : after) {
    const json::value* old = before.if_contains(name);
    if (policy.is_counter(name)) {
      require_number(value, name);
      json::value delta = old && old->is_number() ? subtract_numbers(value, *old) : value;
      if (!is_zero(delta) || !old) change.add[name] = std::move(delta);
    } else if (!old || *old != value) {
      change.set[name] = value;
    }
  }
  for (const auto& [name, value] : before) {
    if (after.contains(name)) continue;
    if (policy.is_counter(name)) {
      invalid(
          fmt::format("'{}' is a counter field: it can be changed or incremented but not "
                      "removed (put 0 instead)",
                      std::string_view(name)));
    }
    change.unset.emplace_back(name);
  }
  LocalWrite write = planned(current, std::move(change), policy);
  write.entry.value = std::move(next);  // the same members, in the order the application wrote
  return write;
}

std::optional<LocalWrite> plan_erase(const Entry& current, const MergePolicy& policy, Stamp stamp,
                                     std::uint32_t schema_version) {
  if (current.deleted) return std::nullopt;
  Change change;
  change.op = Change::Op::erase;
  change.stamp = stamp;
  change.schema_version = schema_version;
  return planned(current, std::move(change), policy);
}

LocalWrite plan_increment(const Entry& current, std::string_view field, std::int64_t delta,
                          const MergePolicy& policy, Stamp stamp, std::uint32_t schema_version) {
  if (!policy.is_counter(field)) {
    invalid(fmt::format("'{}' is not a counter field of this store", field));
  }
  if (!current.deleted) {
    if (!current.value.is_object()) {
      invalid(fmt::format("cannot increment '{}': the entry's value is not an object", field));
    }
    if (const json::value* old = current.value.get_object().if_contains(field)) {
      require_number(*old, field);
    }
  }
  Change change;
  change.op = Change::Op::patch;
  change.add[field] = delta;
  change.stamp = stamp;
  change.schema_version = schema_version;
  return planned(current, std::move(change), policy);
}

std::string_view op_name(Change::Op op) {
  switch (op) {
    case Change::Op::put:
      return "put";
    case Change::Op::patch:
      return "patch";
    case Change::Op::erase:
      return "delete";
    case Change::Op::update:
      return "update";
  }
  return "unknown";
}

json::value change_payload(const Change& change) {
  switch (change.op) {
    case Change::Op::put:
      return json::object{{"value", change.value}};
    case Change::Op::erase:
      return nullptr;
    case Change::Op::update:
      return json::object{{"update", base64_encode(change.update)}};
    case Change::Op::patch: {
      json::object payload;
      if (!change.set.empty()) payload["set"] = change.set;
      if (!change.unset.empty()) {
        json::array names;
        for (const auto& name : change.unset)
          names.emplace_back(name);
        payload["unset"] = std::move(names);
      }
      if (!change.add.empty()) payload["add"] = change.add;
      return payload;
    }
  }
  return nullptr;
}

Change change_from_payload(std::string_view op, const json::value& payload, Stamp stamp,
                           std::uint32_t schema_version) {
  return change_from_payload(op, json::value(payload), stamp, schema_version);
}

Change change_from_payload(std::string_view op, json::value&& payload, Stamp stamp,
                           std::uint32_t schema_version) {
  Change change;
  change.stamp = stamp;
  change.schema_version = schema_version;
  if (op == "delete") {
    change.op = Change::Op::erase;
    return change;
  }
  json::object* object = payload.if_object();
  if (op == "put") {
    json::value* value = object ? object->if_contains("value") : nullptr;
    if (value == nullptr) invalid("a put needs {\"value\": ...}");
    change.op = Change::Op::put;
    change.value = std::move(*value);
    return change;
  }
  if (op == "update") {
    const json::value* update = object ? object->if_contains("update") : nullptr;
    std::optional<std::string> bytes =
        update && update->is_string() ? base64_decode(update->get_string()) : std::nullopt;
    if (!bytes) invalid("an update needs {\"update\": \"<base64 of a Yjs update v1>\"}");
    change.op = Change::Op::update;
    change.update = std::move(*bytes);
    return change;
  }
  if (op != "patch") invalid(fmt::format("unknown operation '{}'", op));
  if (object == nullptr) invalid("a patch needs an object with \"set\", \"unset\" or \"add\"");
  change.op = Change::Op::patch;
  for (auto& [name, member] : *object) {
    if (name == "set" && member.is_object()) {
      change.set = std::move(member.get_object());
    } else if (name == "unset" && member.is_array()) {
      for (const auto& field : member.get_array()) {
        if (!field.is_string()) invalid("\"unset\" lists field names");
        change.unset.emplace_back(field.get_string());
      }
    } else if (name == "add" && member.is_object()) {
      for (const auto& [field, delta] : member.get_object()) {
        if (!delta.is_number()) invalid("\"add\" maps counter fields to numbers");
        change.add[field] = delta;
      }
    } else {
      invalid(
          fmt::format("a patch has \"set\" (object), \"unset\" (array) and \"add\" (object), "
                      "not \"{}\"",
                      std::string_view(name)));
    }
  }
  return change;
}

std::vector<Change> own_writes(const Entry& entry, const MergePolicy& policy,
                               std::string_view replica) {
  std::vector<Change> changes;
  const auto mine = [&](const Stamp& stamp) {
    return !stamp.is_zero() && stamp.replica_view() == replica;
  };
  const auto change = [&](Change::Op op, Stamp stamp) -> Change& {
    changes.emplace_back();
    changes.back().op = op;
    changes.back().stamp = stamp;
    changes.back().schema_version = entry.schema_version;
    return changes.back();
  };
  if (policy.kind == MergePolicy::Kind::text) {
    // A document: its whole state, which the server merges (adding what it lost).
    if (!entry.deleted) change(Change::Op::update, entry.stamp).update = document_state(entry);
    return changes;
  }
  const bool object = !entry.deleted && entry.value.is_object();
  if (policy.kind == MergePolicy::Kind::lww || (!entry.deleted && !object)) {
    // The whole entry is the write that set it.
    if (mine(entry.stamp)) {
      if (entry.deleted) {
        change(Change::Op::erase, entry.stamp);
      } else {
        change(Change::Op::put, entry.stamp).value = entry.value;
      }
    }
    return changes;
  }
  // Per field: the entry's floor is a delete or a whole put; every other stamp of this replica's
  // is a patch that set or removed the fields that still carry it.
  const std::vector<FieldStamp> fields = field_stamps(entry);
  const Stamp floor = entry.floor;
  if (entry.deleted && entry.fields.empty() && mine(entry.stamp) && !(entry.stamp == floor)) {
    change(Change::Op::erase, entry.stamp);  // a delete of a value that was not an object
  }
  if (mine(floor)) {
    json::object put;
    for (const auto& field : fields) {
      if (field.stamp == floor && !field.deleted) put[field.name] = entry.value.at(field.name);
    }
    if (put.empty()) {
      change(Change::Op::erase, floor);
    } else {
      change(Change::Op::put, floor).value = std::move(put);
    }
  }
  std::vector<Stamp> stamps;
  for (const auto& field : fields) {
    if (mine(field.stamp) && !(field.stamp == floor) &&
        std::find(stamps.begin(), stamps.end(), field.stamp) == stamps.end()) {
      stamps.push_back(field.stamp);
    }
  }
  for (const Stamp& stamp : stamps) {
    Change patch;
    for (const auto& field : fields) {
      if (!(field.stamp == stamp) || policy.is_counter(field.name)) continue;
      if (field.deleted) {
        patch.unset.push_back(field.name);
      } else {
        patch.set[field.name] = entry.value.at(field.name);
      }
    }
    if (patch.set.empty() && patch.unset.empty()) continue;
    Change& added = change(Change::Op::patch, stamp);
    added.set = std::move(patch.set);
    added.unset = std::move(patch.unset);
  }
  return changes;
}

}  // namespace cairn::merge
