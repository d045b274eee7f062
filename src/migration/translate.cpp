#include "migration/translate.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "migration/chain.hpp"
#include "migration/field_path.hpp"

namespace cairn {
namespace json = boost::json;
using merge::FieldStamp;
using merge::Stamp;

namespace {

// An entry's per-field stamps while its value goes through operations, by top-level name.
class FieldStamps {
 public:
  FieldStamps(std::vector<FieldStamp> fields, Stamp entry, Stamp dawn)
      : fields_(std::move(fields)), entry_(entry), dawn_(dawn) {}

  // Follows `op` (run `backward` or not) on the stamps; `value` is the value after it.
  void follow(const MigrationOp& op, bool backward, const json::value& value) {
    using Kind = MigrationOp::Kind;
    if (op.kind() == Kind::transform_entry) {
      fields_.clear();  // no telling where a custom operation took what: all at the entry's
      return;
    }
    const json::object definition = op.to_json().as_object();
    const auto path = [&](std::string_view member) {
      return FieldPath::parse(definition.at(member).as_string());
    };
    switch (op.kind()) {
      case Kind::add_field:
        backward ? removed(path("path")) : added(path("path"), value);
        break;
      case Kind::remove_field:
        backward ? added(path("path"), value) : removed(path("path"));
        break;
      case Kind::rename_field:
        backward ? renamed(path("to"), path("from")) : renamed(path("from"), path("to"));
        break;
      default:  // restructures inside one field: its stamp stands
        break;
    }
  }

  // The stamps for `value`, in the entry's invariant (merge/entry.hpp).
  std::vector<FieldStamp> finish(const json::value& value) && {
    std::vector<FieldStamp> result;
    const json::object* object = value.if_object();
    for (FieldStamp& field : fields_) {
      if (field.deleted || (object && object->contains(field.name)))
        result.push_back(std::move(field));
    }
    if (object) {
      for (const auto& member : *object) {
        if (find(result, member.key()) == nullptr) result.push_back({member.key(), entry_, false});
      }
    }
    std::sort(result.begin(), result.end(),
              [](const FieldStamp& a, const FieldStamp& b) { return a.name < b.name; });
    const bool uniform = std::all_of(result.begin(), result.end(), [&](const FieldStamp& f) {
      return !f.deleted && f.stamp == entry_;
    });
    if (uniform) result.clear();
    return result;
  }

 private:
  static FieldStamp* find(std::vector<FieldStamp>& fields, std::string_view name) {
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const FieldStamp& f) { return f.name == name; });
    return it == fields.end() ? nullptr : &*it;
  }
  FieldStamp* find(std::string_view name) { return find(fields_, name); }

  void erase(std::string_view name) {
    std::erase_if(fields_, [&](const FieldStamp& f) { return f.name == name; });
  }

  // A top-level field that a default filled in (nothing when it was there already).
  void added(const FieldPath& path, const json::value& value) {
    if (path.segments().size() != 1) return;
    const std::string& name = path.last();
    FieldStamp* field = find(name);
    if (field != nullptr && !field->deleted) return;
    if (const json::object* object = value.if_object(); object && object->contains(name)) {
      if (field) {
        *field = {name, dawn_, false};
      } else {
        fields_.push_back({name, dawn_, false});
      }
    }
  }

  void removed(const FieldPath& path) {
    if (path.segments().size() == 1) erase(path.last());
  }

  // The stamp of what moved goes with it: to a new top-level field (a removed field's tombstone
  // too, when the field moved whole), or onto the one it moved into.
  void renamed(const FieldPath& from, const FieldPath& to) {
    const std::string& source = from.segments().front();
    const std::string& target = to.segments().front();
    if (source == target) return;
    std::optional<FieldStamp> moved;
    if (FieldStamp* field = find(source)) moved = *field;
    const bool whole = from.segments().size() == 1;
    if (whole) erase(source);
    if (!moved || (moved->deleted && !whole)) return;
    if (to.segments().size() == 1) {
      erase(target);
      fields_.push_back({target, moved->stamp, moved->deleted});
    } else if (FieldStamp* into = find(target); into && !into->deleted && !moved->deleted) {
      into->stamp = std::max(into->stamp, moved->stamp);
    }
  }

  std::vector<FieldStamp> fields_;
  Stamp entry_, dawn_;
};

// Top-level fields that differ between `before` and `after` (objects): set, and removed.
struct FieldDiff {
  json::object set;
  std::vector<std::string> unset;
};

FieldDiff diff_fields(const json::object& before, const json::object& after) {
  FieldDiff diff;
  for (const auto& [name, value] : after) {
    const json::value* old = before.if_contains(name);
    if (old == nullptr || *old != value) diff.set[name] = value;
  }
  for (const auto& member : before) {
    if (!after.contains(member.key())) diff.unset.emplace_back(member.key());
  }
  return diff;
}

}  // namespace

void translate_entry(const StoreSchema& schema, merge::Entry& entry, std::uint32_t to,
                     std::string_view key) {
  const std::uint32_t from = std::max<std::uint32_t>(entry.schema_version, 1);
  if (from == to || entry.deleted) {
    entry.schema_version = to;
    return;
  }
  const bool stamped = schema.policy.kind == MergePolicy::Kind::field_lww;
  // A default is as old as the entry's content: the floor (its last delete or whole put), or
  // before any write at all.
  const Stamp dawn =
      entry.floor.is_zero() ? Stamp{Timestamp(1, 0), entry.stamp.replica} : entry.floor;
  FieldStamps stamps(stamped ? merge::field_stamps(entry) : std::vector<FieldStamp>{}, entry.stamp,
                     dawn);
  json::value value = entry.value;
  for_each_entry_op(schema, from, to, key, [&](const MigrationOp& op, bool backward) {
    value = op.apply(std::move(value), backward);
    if (stamped) stamps.follow(op, backward, value);
  });
  entry.fields = stamped ? std::move(stamps).finish(value) : std::vector<FieldStamp>{};
  entry.value = std::move(value);
  entry.schema_version = to;
}

merge::Change translate_change(const StoreSchema& schema, const merge::Entry& current,
                               merge::Change change, std::uint32_t to, std::string_view key) {
  using Op = merge::Change::Op;
  const std::uint32_t from = std::max<std::uint32_t>(change.schema_version, 1);
  if (from == to || change.op == Op::erase || change.op == Op::update) {
    change.schema_version = to;
    return change;
  }
  // The entry as the client's version has it (when the chain takes it there).
  std::optional<json::value> base;
  if (!current.deleted) {
    try {
      base = migrate_entry(schema, current.value, current.schema_version, from, key);
    } catch (const MigrationError&) {
    }
  }
  const json::value written =
      change.op == Op::put ? std::move(change.value)
                           : merge::patched(base ? *base : json::value(json::object()), change);
  json::value next = migrate_entry(schema, written, from, to, key);
  json::value back;  // `current`, there and back: what the client's write is compared with
  if (base) {
    try {
      back = migrate_entry(schema, std::move(*base), from, to, key);
    } catch (const MigrationError&) {
    }
  }
  change.schema_version = to;
  const json::object* before = back.if_object();
  const json::object* after = next.if_object();
  if (before == nullptr || after == nullptr || !current.value.is_object()) {
    if (change.op == Op::put || after == nullptr) {
      change.op = Op::put;
      change.value = std::move(next);
    } else {  // a patch on nothing the client could see: it sets what it leaves
      change.set = *after;
      change.unset.clear();
      change.add.clear();
    }
    return change;
  }
  FieldDiff diff = diff_fields(*before, *after);
  if (change.op == Op::put) {
    json::object value = current.value.get_object();
    for (auto& [name, field] : diff.set)
      value[name] = std::move(field);
    for (const auto& name : diff.unset)
      value.erase(name);
    change.value = std::move(value);
    return change;
  }
  const bool increments = !change.add.empty();
  change.set.clear();
  change.add.clear();
  change.unset = std::move(diff.unset);
  for (auto& [name, field] : diff.set) {
    const json::value* old = before->if_contains(name);
    if (increments && schema.policy.is_counter(name) && field.is_number() &&
        (old == nullptr || old->is_number())) {
      change.add[name] = old ? merge::subtract_numbers(field, *old) : field;
    } else {
      change.set[name] = std::move(field);
    }
  }
  return change;
}

}  // namespace cairn
