// The declarative and custom migration operations, forwards and backwards.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/migration.hpp>

#include "foundation/json_text.hpp"
#include "migration/field_path.hpp"

namespace cairn {
namespace json = boost::json;

namespace {

[[noreturn]] void shape_error(std::string_view what) {
  throw Error(ErrorCode::invalid_value, std::string(what));
}

// The object that holds the last segment of `path`; throws when it is missing or not an object.
json::object& parent_object(json::value& root, const FieldPath& path, std::string_view verb) {
  json::value* parent = find_parent(root, path);
  if (parent == nullptr || !parent->is_object()) {
    shape_error(fmt::format("cannot {} '{}': {} is {}", verb, path.text(),
                            path.parent().empty() ? "the value" : "'" + path.parent().text() + "'",
                            parent == nullptr ? "missing" : "not an object"));
  }
  return parent->get_object();
}

void add(json::value& root, const FieldPath& path, const json::value& value) {
  json::object& parent = parent_object(root, path, "add");
  if (!parent.contains(path.last())) parent.emplace(path.last(), value);
}

void remove(json::value& root, const FieldPath& path) {
  json::value* parent = find_parent(root, path);
  if (parent != nullptr && parent->is_object()) parent->get_object().stable_erase(path.last());
}

void rename(json::value& root, const FieldPath& from, const FieldPath& to) {
  json::value* from_parent = find_parent(root, from);
  if (from_parent == nullptr || !from_parent->is_object() ||
      !from_parent->get_object().contains(from.last())) {
    return;  // nothing to rename
  }
  json::object& target = parent_object(root, to, "rename to");
  if (target.contains(to.last())) {
    shape_error(fmt::format("cannot rename '{}' to '{}': '{}' already exists", from.text(),
                            to.text(), to.text()));
  }
  if (from.same_parent_as(to)) {  // keep the field's position among its siblings

    json::object renamed;
    renamed.reserve(target.size());
    for (auto& member : target) {
      const std::string_view name = member.key();
      renamed.emplace(name == from.last() ? std::string_view(to.last()) : name,
                      std::move(member.value()));
    }
    target = std::move(renamed);
    return;
  }
  json::value moved = std::move(from_parent->get_object().at(from.last()));
  from_parent->get_object().stable_erase(from.last());
  // `target` may have moved if it lived inside from_parent; look it up again.
  parent_object(root, to, "rename to").emplace(to.last(), std::move(moved));
}

void to_array(json::value& root, const FieldPath& path, const std::string& id_field) {
  json::value* target = find_value(root, path);
  if (target == nullptr) return;
  if (!target->is_object()) {
    shape_error(fmt::format("cannot turn '{}' into an array: it is not an object", path.text()));
  }
  json::array array;
  array.reserve(target->get_object().size());
  for (auto& member : target->get_object()) {
    if (!member.value().is_object()) {
      shape_error(fmt::format("cannot turn '{}' into an array: member '{}' is not an object",
                              path.text(), std::string_view(member.key())));
    }
    json::object element;
    if (member.value().get_object().contains(id_field)) {
      shape_error(
          fmt::format("cannot turn '{}' into an array: member '{}' already has a '{}' field",
                      path.text(), std::string_view(member.key()), id_field));
    }
    element.emplace(id_field, member.key());
    for (auto& field : member.value().get_object()) {
      element.emplace(field.key(), std::move(field.value()));
    }
    array.emplace_back(std::move(element));
  }
  *target = std::move(array);
}

void to_object(json::value& root, const FieldPath& path, const std::string& id_field) {
  json::value* target = find_value(root, path);
  if (target == nullptr) return;
  if (!target->is_array()) {
    shape_error(fmt::format("cannot turn '{}' into an object: it is not an array", path.text()));
  }
  json::object object;
  for (auto& element : target->get_array()) {
    json::object* fields = element.if_object();
    const json::value* id = fields ? fields->if_contains(id_field) : nullptr;
    if (id == nullptr || !id->is_string()) {
      shape_error(fmt::format("cannot turn '{}' into an object: an element has no string '{}'",
                              path.text(), id_field));
    }
    const std::string key(id->get_string());
    if (object.contains(key)) {
      shape_error(fmt::format("cannot turn '{}' into an object: '{}' {} appears twice", path.text(),
                              id_field, key));
    }
    fields->stable_erase(id_field);
    object.emplace(key, std::move(*fields));
  }
  *target = std::move(object);
}

std::string_view op_name(MigrationOp::Kind kind) {
  switch (kind) {
    case MigrationOp::Kind::add_field:
      return "add";
    case MigrationOp::Kind::rename_field:
      return "rename";
    case MigrationOp::Kind::remove_field:
      return "remove";
    case MigrationOp::Kind::object_to_array:
      return "objectToArray";
    case MigrationOp::Kind::array_to_object:
      return "arrayToObject";
    case MigrationOp::Kind::transform_entry:
      return "transformEntry";
    case MigrationOp::Kind::transform_store:
      return "transformStore";
  }
  return "unknown";
}

}  // namespace

// An operation's definition, shared by its copies (an operation never changes once made).
struct MigrationOp::Rep {
  Kind kind = Kind::add_field;
  std::string path;                  // add/remove/objectToArray/arrayToObject; rename: from
  std::string path2;                 // rename: to; objectToArray/arrayToObject: id field
  std::optional<json::value> value;  // add: the value; remove: restore value
  std::string name;                  // custom operations
  FieldPath parsed, parsed2;         // path and path2, parsed once
  EntryFunction forward, backward;
  StoreFunction store;
};

MigrationOp::MigrationOp(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}

MigrationOp::Kind MigrationOp::kind() const {
  return rep_->kind;
}

bool MigrationOp::per_entry() const {
  return rep_->kind != Kind::transform_store;
}

MigrationOp MigrationOp::add_field(std::string path, json::value value) {
  auto parsed = FieldPath::parse(path);
  if (parsed.empty()) {
    throw Error(ErrorCode::invalid_argument, "add_field needs a field path, not the whole value");
  }
  auto rep = std::make_shared<Rep>();
  rep->kind = Kind::add_field;
  rep->path = std::move(path);
  rep->parsed = std::move(parsed);
  rep->value = std::move(value);
  return MigrationOp(std::move(rep));
}

MigrationOp MigrationOp::rename_field(std::string from, std::string to) {
  const FieldPath a = FieldPath::parse(from), b = FieldPath::parse(to);
  if (a.empty() || b.empty() || a.is_prefix_of(b) || b.is_prefix_of(a)) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("cannot rename '{}' to '{}': both must be fields, neither inside the "
                            "other",
                            from, to));
  }
  auto rep = std::make_shared<Rep>();
  rep->kind = Kind::rename_field;
  rep->path = std::move(from);
  rep->path2 = std::move(to);
  rep->parsed = a;
  rep->parsed2 = b;
  return MigrationOp(std::move(rep));
}

MigrationOp MigrationOp::remove_field(std::string path, std::optional<json::value> restore) {
  auto parsed = FieldPath::parse(path);
  if (parsed.empty()) {
    throw Error(ErrorCode::invalid_argument,
                "remove_field needs a field path, not the whole value");
  }
  auto rep = std::make_shared<Rep>();
  rep->kind = Kind::remove_field;
  rep->path = std::move(path);
  rep->parsed = std::move(parsed);
  rep->value = std::move(restore);
  return MigrationOp(std::move(rep));
}

MigrationOp MigrationOp::object_to_array(std::string path, std::string id_field) {
  auto parsed = FieldPath::parse(path);
  if (id_field.empty()) throw Error(ErrorCode::invalid_argument, "the id field must be named");
  auto rep = std::make_shared<Rep>();
  rep->kind = Kind::object_to_array;
  rep->path = std::move(path);
  rep->parsed = std::move(parsed);
  rep->path2 = std::move(id_field);
  return MigrationOp(std::move(rep));
}

MigrationOp MigrationOp::array_to_object(std::string path, std::string id_field) {
  auto rep = std::make_shared<Rep>(*object_to_array(std::move(path), std::move(id_field)).rep_);
  rep->kind = Kind::array_to_object;
  return MigrationOp(std::move(rep));
}

MigrationOp MigrationOp::transform_entry(std::string name, EntryFunction forward,
                                         EntryFunction backward) {
  if (!forward) throw Error(ErrorCode::invalid_argument, "transform_entry needs a function");
  auto rep = std::make_shared<Rep>();
  rep->kind = Kind::transform_entry;
  rep->name = std::move(name);
  rep->forward = std::move(forward);
  rep->backward = std::move(backward);
  return MigrationOp(std::move(rep));
}

MigrationOp MigrationOp::transform_store(std::string name, StoreFunction function) {
  if (!function) throw Error(ErrorCode::invalid_argument, "transform_store needs a function");
  auto rep = std::make_shared<Rep>();
  rep->kind = Kind::transform_store;
  rep->name = std::move(name);
  rep->store = std::move(function);
  return MigrationOp(std::move(rep));
}

bool MigrationOp::invertible() const {
  switch (rep_->kind) {
    case Kind::remove_field:
      return rep_->value.has_value();
    case Kind::transform_entry:
      return static_cast<bool>(rep_->backward);
    case Kind::transform_store:
      return false;
    default:
      return true;
  }
}

std::string MigrationOp::describe() const {
  switch (rep_->kind) {
    case Kind::add_field:
      return fmt::format("add {} = {}", rep_->path, json_text(*rep_->value));
    case Kind::rename_field:
      return fmt::format("rename {} -> {}", rep_->path, rep_->path2);
    case Kind::remove_field:
      return rep_->value
                 ? fmt::format("remove {} (restores {})", rep_->path, json_text(*rep_->value))
                 : fmt::format("remove {}", rep_->path);
    case Kind::object_to_array:
      return fmt::format("object-to-array {} (id field '{}')",
                         rep_->path.empty() ? "<value>" : rep_->path, rep_->path2);
    case Kind::array_to_object:
      return fmt::format("array-to-object {} (id field '{}')",
                         rep_->path.empty() ? "<value>" : rep_->path, rep_->path2);
    case Kind::transform_entry:
      return fmt::format("custom entry step '{}'", rep_->name);
    case Kind::transform_store:
      return fmt::format("custom store step '{}'", rep_->name);
  }
  return {};
}

json::value MigrationOp::to_json() const {
  json::object object{{"op", op_name(rep_->kind)}};
  switch (rep_->kind) {
    case Kind::add_field:
      object["path"] = rep_->path;
      object["value"] = *rep_->value;
      break;
    case Kind::rename_field:
      object["from"] = rep_->path;
      object["to"] = rep_->path2;
      break;
    case Kind::remove_field:
      object["path"] = rep_->path;
      if (rep_->value) object["restore"] = *rep_->value;
      break;
    case Kind::object_to_array:
    case Kind::array_to_object:
      object["path"] = rep_->path;
      object["idField"] = rep_->path2;
      break;
    case Kind::transform_entry:
    case Kind::transform_store:
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("{} is C++ code and has no JSON form", describe()));
  }
  return object;
}

MigrationOp MigrationOp::from_json(const json::value& value) {
  const json::object* object = value.if_object();
  const auto text = [&](std::string_view name, bool required) -> std::string {
    const json::value* member = object->if_contains(name);
    if (member == nullptr && !required) return {};
    if (member == nullptr || !member->is_string()) {
      throw Error(
          ErrorCode::invalid_argument,
          fmt::format("migration operation {} needs a string \"{}\"", json_text(value), name));
    }
    return std::string(member->get_string());
  };
  if (object == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("a migration operation is an object, not {}", json_text(value)));
  }
  const std::string op = text("op", true);
  if (op == "add") {
    const json::value* added = object->if_contains("value");
    if (added == nullptr) {
      throw Error(ErrorCode::invalid_argument, "an \"add\" operation needs a \"value\"");
    }
    return add_field(text("path", true), *added);
  }
  if (op == "rename") return rename_field(text("from", true), text("to", true));
  if (op == "remove") {
    const json::value* restore = object->if_contains("restore");
    return remove_field(text("path", true),
                        restore ? std::optional<json::value>(*restore) : std::nullopt);
  }
  if (op == "objectToArray" || op == "arrayToObject") {
    std::string id = text("idField", false);
    if (id.empty()) id = "id";
    return op == "objectToArray" ? object_to_array(text("path", false), id)
                                 : array_to_object(text("path", false), id);
  }
  throw Error(ErrorCode::invalid_argument,
              fmt::format("unknown migration operation \"{}\" (expected add, rename, remove, "
                          "objectToArray or arrayToObject)",
                          op));
}

json::value MigrationOp::apply(json::value value, bool backward) const {
  if (backward && !invertible()) {
    throw Error(ErrorCode::invalid_value, fmt::format("'{}' cannot run backwards", describe()));
  }
  switch (rep_->kind) {
    case Kind::add_field:
      backward ? remove(value, rep_->parsed) : add(value, rep_->parsed, *rep_->value);
      break;
    case Kind::rename_field:
      backward ? rename(value, rep_->parsed2, rep_->parsed)
               : rename(value, rep_->parsed, rep_->parsed2);
      break;
    case Kind::remove_field:
      backward ? add(value, rep_->parsed, *rep_->value) : remove(value, rep_->parsed);
      break;
    case Kind::object_to_array:
      backward ? to_object(value, rep_->parsed, rep_->path2)
               : to_array(value, rep_->parsed, rep_->path2);
      break;
    case Kind::array_to_object:
      backward ? to_array(value, rep_->parsed, rep_->path2)
               : to_object(value, rep_->parsed, rep_->path2);
      break;
    case Kind::transform_entry:
      return backward ? rep_->backward(std::move(value)) : rep_->forward(std::move(value));
    case Kind::transform_store:
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("'{}' works on the whole store, not on one entry", describe()));
  }
  return value;
}

EntryMap MigrationOp::apply_store(EntryMap entries) const {
  if (rep_->kind != Kind::transform_store) {
    throw Error(ErrorCode::invalid_argument, fmt::format("'{}' works per entry", describe()));
  }
  return rep_->store(std::move(entries));
}

bool MigrationStep::invertible() const {
  for (const auto& op : ops) {
    if (!op.invertible()) return false;
  }
  return true;
}

std::string_view migration_event_name(MigrationEvent::Kind kind) noexcept {
  switch (kind) {
    case MigrationEvent::Kind::started:
      return "started";
    case MigrationEvent::Kind::progress:
      return "progress";
    case MigrationEvent::Kind::finished:
      return "finished";
    case MigrationEvent::Kind::failed:
      return "failed";
  }
  return "unknown";
}

MigrationError::MigrationError(std::string store, std::uint32_t from_version,
                               std::uint32_t to_version, std::string key, std::string cause)
    : Error(ErrorCode::migration_failed,
            key.empty() ? fmt::format("migrating store '{}' from version {} to {} failed: {}",
                                      store, from_version, to_version, cause)
                        : fmt::format("migrating store '{}' from version {} to {} failed at "
                                      "entry '{}': {}",
                                      store, from_version, to_version, key, cause)),
      store_(std::move(store)),
      from_version_(from_version),
      to_version_(to_version),
      key_(std::move(key)),
      cause_(std::move(cause)) {}

}  // namespace cairn
