#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>

#include "merge/entry.hpp"

namespace cairn::merge {
namespace json = boost::json;

namespace {

bool fits_int64(const json::value& v) {
  return v.is_int64() || (v.is_uint64() && v.get_uint64() <= INT64_MAX);
}

json::value subtract_numbers(const json::value& a, const json::value& b) {
  if (fits_int64(a) && fits_int64(b)) {
    std::int64_t difference;
    if (!__builtin_sub_overflow(a.to_number<std::int64_t>(), b.to_number<std::int64_t>(),
                                &difference)) {
      return difference;
    }
  }
  return a.to_number<double>() - b.to_number<double>();
}

bool is_zero(const json::value& v) {
  return (v.is_int64() && v.get_int64() == 0) || (v.is_uint64() && v.get_uint64() == 0) ||
         (v.is_double() && v.get_double() == 0.0);
}

void require_number(const json::value& v, std::string_view field) {
  if (!v.is_number()) {
    throw Error(
        ErrorCode::invalid_value,
        fmt::format("counter field '{}' must hold a number, not {}", field, json::serialize(v)));
  }
}

}  // namespace

std::vector<FieldStamp> field_stamps(const Entry& entry) {
  if (!entry.fields.empty() || entry.deleted || !entry.value.is_object()) return entry.fields;
  std::vector<FieldStamp> fields;
  for (const auto& member : entry.value.get_object()) {
    fields.push_back({std::string(member.key()), entry.stamp, false});
  }
  std::sort(fields.begin(), fields.end(),
            [](const FieldStamp& a, const FieldStamp& b) { return a.name < b.name; });
  return fields;
}

namespace {

void stamp_field(std::vector<FieldStamp>& fields, std::string_view name, Stamp stamp,
                 bool deleted) {
  auto it = std::lower_bound(fields.begin(), fields.end(), name,
                             [](const FieldStamp& f, std::string_view n) { return f.name < n; });
  if (it != fields.end() && it->name == name) {
    it->stamp = stamp;
    it->deleted = deleted;
  } else {
    fields.insert(it, {std::string(name), stamp, deleted});
  }
}

// Restores the invariant: no per-field stamps when they would all equal the entry's.
void compact_fields(Entry& entry) {
  const bool uniform = std::all_of(entry.fields.begin(), entry.fields.end(), [&](const auto& f) {
    return !f.deleted && f.stamp == entry.stamp;
  });
  if (uniform) entry.fields.clear();
}

LocalWrite whole_put(json::value next, Stamp stamp, std::uint32_t schema_version) {
  LocalWrite write;
  write.op = "put";
  write.payload = json::object{{"value", next}};
  write.entry.value = std::move(next);
  write.entry.deleted = false;
  write.entry.stamp = stamp;
  write.entry.schema_version = schema_version;
  return write;
}

}  // namespace

json::value add_numbers(const json::value& a, const json::value& b) {
  if (fits_int64(a) && fits_int64(b)) {
    std::int64_t sum;
    if (!__builtin_add_overflow(a.to_number<std::int64_t>(), b.to_number<std::int64_t>(), &sum)) {
      return sum;
    }
  }
  return a.to_number<double>() + b.to_number<double>();
}

std::optional<LocalWrite> plan_put(const Entry& current, json::value next,
                                   const MergePolicy& policy, Stamp stamp,
                                   std::uint32_t schema_version) {
  if (!current.deleted && current.value == next) return std::nullopt;
  if (policy.kind == MergePolicy::Kind::lww || !next.is_object()) {
    return whole_put(std::move(next), stamp, schema_version);
  }

  static const json::object kEmpty;
  const bool had_object = !current.deleted && current.value.is_object();
  const json::object& before = had_object ? current.value.get_object() : kEmpty;
  const json::object& after = next.get_object();

  json::object set, add;
  json::array unset;
  for (const auto& [name, value] : after) {
    const json::value* old = before.if_contains(name);
    if (policy.is_counter(name)) {
      require_number(value, name);
      json::value delta = old && old->is_number() ? subtract_numbers(value, *old) : value;
      if (!is_zero(delta) || !old) add[name] = std::move(delta);
    } else if (!old || *old != value) {
      set[name] = value;
    }
  }
  for (const auto& [name, value] : before) {
    if (!after.contains(name)) unset.emplace_back(name);
  }

  LocalWrite write;
  write.op = "patch";
  write.entry.fields = had_object ? field_stamps(current) : std::vector<FieldStamp>{};
  for (const auto& member : set)
    stamp_field(write.entry.fields, member.key(), stamp, false);
  for (const auto& member : add)
    stamp_field(write.entry.fields, member.key(), stamp, false);
  for (const auto& name : unset)
    stamp_field(write.entry.fields, name.get_string(), stamp, true);
  json::object payload;
  if (!set.empty()) payload["set"] = std::move(set);
  if (!unset.empty()) payload["unset"] = std::move(unset);
  if (!add.empty()) payload["add"] = std::move(add);
  write.payload = std::move(payload);
  write.entry.value = std::move(next);
  write.entry.deleted = false;
  write.entry.stamp = stamp;
  write.entry.schema_version = schema_version;
  compact_fields(write.entry);
  return write;
}

std::optional<LocalWrite> plan_erase(const Entry& current, Stamp stamp,
                                     std::uint32_t schema_version) {
  if (current.deleted) return std::nullopt;
  LocalWrite write;
  write.op = "delete";
  write.entry.deleted = true;
  write.entry.stamp = stamp;
  write.entry.schema_version = schema_version;
  return write;
}

LocalWrite plan_increment(const Entry& current, std::string_view field, std::int64_t delta,
                          const MergePolicy& policy, Stamp stamp, std::uint32_t schema_version) {
  if (!policy.is_counter(field)) {
    throw Error(ErrorCode::invalid_value,
                fmt::format("'{}' is not a counter field of this store", field));
  }
  json::value next = current.deleted ? json::value(json::object{}) : current.value;
  if (!next.is_object()) {
    throw Error(ErrorCode::invalid_value,
                fmt::format("cannot increment '{}': the entry's value is not an object", field));
  }
  json::object& object = next.get_object();
  const json::value* old = object.if_contains(field);
  if (old) require_number(*old, field);
  object[field] = old ? add_numbers(*old, delta) : json::value(delta);

  LocalWrite write;
  write.op = "patch";
  write.payload = json::object{{"add", json::object{{field, delta}}}};
  write.entry.fields = current.deleted ? std::vector<FieldStamp>{} : field_stamps(current);
  stamp_field(write.entry.fields, field, stamp, false);
  write.entry.value = std::move(next);
  write.entry.deleted = false;
  write.entry.stamp = stamp;
  write.entry.schema_version = schema_version;
  compact_fields(write.entry);
  return write;
}

}  // namespace cairn::merge
