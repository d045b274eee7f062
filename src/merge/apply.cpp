// apply_change: the merge rules of src/merge/entry.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cairn/error.hpp>
#include <utility>

#include "merge/entry.hpp"

namespace cairn::merge {
namespace json = boost::json;

Applied apply_update(Entry& entry, const Change& change);  // document.cpp

namespace {

bool fits_int64(const json::value& v) {
  return v.is_int64() || (v.is_uint64() && v.get_uint64() <= INT64_MAX);
}

FieldStamp* find_field(std::vector<FieldStamp>& fields, std::string_view name) {
  auto it = std::lower_bound(fields.begin(), fields.end(), name,
                             [](const FieldStamp& f, std::string_view n) { return f.name < n; });
  return it != fields.end() && it->name == name ? &*it : nullptr;
}

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

// A put applied whole leaves its value as sent whenever it changes the entry.
Applied verbatim_if_changed(Applied applied) {
  applied.verbatim = applied.changed;
  return applied;
}

// Whole-entry last-writer-wins: lww stores, and values that are not objects.
Applied apply_whole(Entry& entry, const Change& change, std::optional<json::value> next) {
  if (change.stamp == entry.stamp) return {};  // this very write, again
  if (change.stamp < entry.stamp || change.stamp <= entry.floor) return {false, true};
  entry.fields.clear();
  entry.deleted = !next.has_value();
  entry.value = next ? std::move(*next) : json::value();
  entry.stamp = change.stamp;
  entry.schema_version = change.schema_version;
  return {true, false};
}

Applied apply_patch(Entry& entry, const Change& change) {
  const Stamp s = change.stamp;
  if (s <= entry.floor) return {false, true};  // written before a delete that is already here
  const bool live_object = !entry.deleted && entry.value.is_object();
  if (!entry.deleted && !live_object && s < entry.stamp) return {false, true};

  Applied result;
  json::object object;
  std::vector<FieldStamp> fields;
  if (live_object) {
    fields = field_stamps(entry);  // before the value moves: it may derive them from the value
    object = std::move(entry.value.get_object());
  } else if (entry.deleted) {
    fields = entry.fields;  // field tombstones still order later writes
  } else {
    result.changed = true;  // a patch replaces a value that was not an object
  }
  bool writes = false;  // the patch sets or adds something (a patch of removals alone does not
                        // bring a deleted entry back)
  for (const auto& [name, value] : change.set) {
    const FieldStamp* current = find_field(fields, name);
    if (current == nullptr || s > current->stamp) {
      object[name] = value;
      stamp_field(fields, name, s, false);
      result.changed = writes = true;
    } else if (s < current->stamp) {
      result.rejected = true;
    }
  }
  for (const auto& name : change.unset) {
    const FieldStamp* current = find_field(fields, name);
    if (current == nullptr || s > current->stamp) {
      object.stable_erase(name);
      stamp_field(fields, name, s, true);
      result.changed = true;
    } else if (s < current->stamp) {
      result.rejected = true;
    }
  }
  for (const auto& [name, delta] : change.add) {
    const json::value* old = object.if_contains(name);
    object[name] = old && old->is_number() ? add_numbers(*old, delta) : delta;
    const FieldStamp* current = find_field(fields, name);
    stamp_field(fields, name, current && current->stamp > s ? current->stamp : s, false);
    result.changed = writes = true;
  }

  if (!result.changed) {
    if (live_object) entry.value = std::move(object);
    return result;
  }
  entry.deleted = entry.deleted && !writes;
  entry.value = entry.deleted ? json::value() : json::value(std::move(object));
  entry.fields = std::move(fields);
  if (entry.stamp < s) entry.stamp = s;
  entry.schema_version = std::max(entry.schema_version, change.schema_version);
  compact_fields(entry);
  return result;
}

Applied apply_erase_fields(Entry& entry, const Change& change) {
  const Stamp s = change.stamp;
  if (!entry.deleted && !entry.value.is_object()) return apply_whole(entry, change, std::nullopt);
  Applied result;
  if (entry.floor < s) {
    entry.floor = s;
    result.changed = true;
  }
  std::vector<FieldStamp> kept;  // what was written after the delete survives it
  for (auto& field : field_stamps(entry)) {
    if (s < field.stamp) {
      kept.push_back(std::move(field));
      if (!kept.back().deleted) result.rejected = true;
    } else if (!field.deleted) {
      result.changed = true;
    }
  }
  if (entry.deleted) {
    entry.fields = std::move(kept);
  } else {
    json::object object;
    for (const auto& field : kept) {
      if (!field.deleted) object[field.name] = std::move(entry.value.get_object()[field.name]);
    }
    const bool survivors = !object.empty();
    entry.fields = std::move(kept);
    entry.deleted = !survivors;
    entry.value = survivors ? json::value(std::move(object)) : json::value();
  }
  if (entry.stamp < s) {
    entry.stamp = s;
    entry.schema_version = change.schema_version;
  }
  compact_fields(entry);
  return result;
}

// A whole object written into a field-lww store replaces the entry as of its stamp S: like a
// delete at S (the floor moves to S, sweeping away every write stamped before it, including ones
// that arrive later) followed by setting each of its fields at S. Fields written after S survive.
Applied apply_replace(Entry& entry, const Change& change) {
  const Stamp s = change.stamp;
  if (s == entry.floor) return {};  // this very write, again
  if (s < entry.floor) return {false, true};
  if (!entry.deleted && !entry.value.is_object()) {
    if (s == entry.stamp) return {};
    if (s < entry.stamp) return {false, true};
  }
  Applied result{true, false};
  std::vector<FieldStamp> fields;
  json::object object;
  for (auto& field : field_stamps(entry)) {
    if (!(s < field.stamp)) continue;
    if (!field.deleted) object[field.name] = std::move(entry.value.get_object()[field.name]);
    fields.push_back(std::move(field));
  }
  result.verbatim = fields.empty();  // nothing newer survives: the object is the put's value
  for (const auto& [name, value] : change.value.get_object()) {
    if (find_field(fields, name) != nullptr) {
      result.rejected = true;  // a newer write of this field is already here
      continue;
    }
    object[name] = value;
    stamp_field(fields, name, s, false);
  }
  entry.floor = s;
  entry.deleted = false;
  entry.value = std::move(object);
  entry.fields = std::move(fields);
  if (entry.stamp < s) entry.stamp = s;
  entry.schema_version = change.schema_version;
  compact_fields(entry);
  return result;
}

}  // namespace

json::value patched(json::value base, const Change& change) {
  if (!base.is_object()) base = json::object{};
  json::object& object = base.get_object();
  for (const auto& [name, value] : change.set)
    object[name] = value;
  for (const auto& name : change.unset)
    object.stable_erase(name);
  for (const auto& [name, delta] : change.add) {
    const json::value* old = object.if_contains(name);
    object[name] = old && old->is_number() ? add_numbers(*old, delta) : delta;
  }
  return base;
}

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

json::value add_numbers(const json::value& a, const json::value& b) {
  if (fits_int64(a) && fits_int64(b)) {
    std::int64_t sum;
    if (!__builtin_add_overflow(a.to_number<std::int64_t>(), b.to_number<std::int64_t>(), &sum)) {
      return sum;
    }
  }
  return a.to_number<double>() + b.to_number<double>();
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

Applied apply_change(Entry& entry, const Change& change, const MergePolicy& policy) {
  if (change.op == Change::Op::update) return apply_update(entry, change);
  if (policy.kind != MergePolicy::Kind::field_lww) {
    switch (change.op) {
      case Change::Op::put:
        return verbatim_if_changed(apply_whole(entry, change, change.value));
      case Change::Op::erase:
        return apply_whole(entry, change, std::nullopt);
      case Change::Op::patch:
        return apply_whole(entry, change,
                           patched(entry.deleted ? json::value() : entry.value, change));
      case Change::Op::update:
        break;
    }
  }
  switch (change.op) {
    case Change::Op::put:
      if (!change.value.is_object()) {
        return verbatim_if_changed(apply_whole(entry, change, change.value));
      }
      return apply_replace(entry, change);
    case Change::Op::erase:
      return apply_erase_fields(entry, change);
    case Change::Op::patch:
      return apply_patch(entry, change);
    case Change::Op::update:
      break;
  }
  return {};
}

Applied apply_change(Entry& entry, Change&& change, const MergePolicy& policy) {
  if (change.op != Change::Op::put) return apply_change(entry, std::as_const(change), policy);
  if (policy.kind != MergePolicy::Kind::field_lww || !change.value.is_object()) {
    return verbatim_if_changed(apply_whole(entry, change, std::move(change.value)));
  }
  if (entry.stamp < change.stamp) {
    // Newer than every write in the entry (its stamp is the greatest applied): apply_replace keeps
    // no field and stamps all of them with the entry's stamp, which leaves this.
    entry.value = std::move(change.value);
    entry.deleted = false;
    entry.fields.clear();
    entry.stamp = change.stamp;
    entry.floor = change.stamp;
    entry.schema_version = change.schema_version;
    return {true, false, true};
  }
  return apply_change(entry, std::as_const(change), policy);
}

}  // namespace cairn::merge
