// The declarative and custom migration operations, forwards and backwards.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cairn/migration.hpp>

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

MigrationOp MigrationOp::add_field(std::string path, json::value value) {
  auto parsed = std::make_shared<const FieldPath>(FieldPath::parse(path));
  if (parsed->empty()) {
    throw Error(ErrorCode::invalid_argument, "add_field needs a field path, not the whole value");
  }
  MigrationOp op;
  op.kind_ = Kind::add_field;
  op.path_ = std::move(path);
  op.parsed_ = std::move(parsed);
  op.value_ = std::move(value);
  return op;
}

MigrationOp MigrationOp::rename_field(std::string from, std::string to) {
  const FieldPath a = FieldPath::parse(from), b = FieldPath::parse(to);
  if (a.empty() || b.empty() || a.is_prefix_of(b) || b.is_prefix_of(a)) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("cannot rename '{}' to '{}': both must be fields, neither inside the "
                            "other",
                            from, to));
  }
  MigrationOp op;
  op.kind_ = Kind::rename_field;
  op.path_ = std::move(from);
  op.path2_ = std::move(to);
  op.parsed_ = std::make_shared<const FieldPath>(a);
  op.parsed2_ = std::make_shared<const FieldPath>(b);
  return op;
}

MigrationOp MigrationOp::remove_field(std::string path, std::optional<json::value> restore) {
  auto parsed = std::make_shared<const FieldPath>(FieldPath::parse(path));
  if (parsed->empty()) {
    throw Error(ErrorCode::invalid_argument,
                "remove_field needs a field path, not the whole value");
  }
  MigrationOp op;
  op.kind_ = Kind::remove_field;
  op.path_ = std::move(path);
  op.parsed_ = std::move(parsed);
  op.value_ = std::move(restore);
  return op;
}

MigrationOp MigrationOp::object_to_array(std::string path, std::string id_field) {
  auto parsed = std::make_shared<const FieldPath>(FieldPath::parse(path));
  if (id_field.empty()) throw Error(ErrorCode::invalid_argument, "the id field must be named");
  MigrationOp op;
  op.kind_ = Kind::object_to_array;
  op.path_ = std::move(path);
  op.parsed_ = std::move(parsed);
  op.path2_ = std::move(id_field);
  return op;
}

MigrationOp MigrationOp::array_to_object(std::string path, std::string id_field) {
  MigrationOp op = object_to_array(std::move(path), std::move(id_field));
  op.kind_ = Kind::array_to_object;
  return op;
}

MigrationOp MigrationOp::transform_entry(std::string name, EntryFunction forward,
                                         EntryFunction backward) {
  if (!forward) throw Error(ErrorCode::invalid_argument, "transform_entry needs a function");
  MigrationOp op;
  op.kind_ = Kind::transform_entry;
  op.name_ = std::move(name);
  op.forward_ = std::move(forward);
  op.backward_ = std::move(backward);
  return op;
}

MigrationOp MigrationOp::transform_store(std::string name, StoreFunction function) {
  if (!function) throw Error(ErrorCode::invalid_argument, "transform_store needs a function");
  MigrationOp op;
  op.kind_ = Kind::transform_store;
  op.name_ = std::move(name);
  op.store_ = std::move(function);
  return op;
}

bool MigrationOp::invertible() const {
  switch (kind_) {
    case Kind::remove_field:
      return value_.has_value();
    case Kind::transform_entry:
      return static_cast<bool>(backward_);
    case Kind::transform_store:
      return false;
    default:
      return true;
  }
}

std::string MigrationOp::describe() const {
  switch (kind_) {
    case Kind::add_field:
      return fmt::format("add {} = {}", path_, json::serialize(*value_));
    case Kind::rename_field:
      return fmt::format("rename {} -> {}", path_, path2_);
    case Kind::remove_field:
      return value_ ? fmt::format("remove {} (restores {})", path_, json::serialize(*value_))
                    : fmt::format("remove {}", path_);
    case Kind::object_to_array:
      return fmt::format("object-to-array {} (id field '{}')", path_.empty() ? "<value>" : path_,
                         path2_);
    case Kind::array_to_object:
      return fmt::format("array-to-object {} (id field '{}')", path_.empty() ? "<value>" : path_,
                         path2_);
    case Kind::transform_entry:
      return fmt::format("custom entry step '{}'", name_);
    case Kind::transform_store:
      return fmt::format("custom store step '{}'", name_);
  }
  return {};
}

json::value MigrationOp::to_json() const {
  json::object object{{"op", op_name(kind_)}};
  switch (kind_) {
    case Kind::add_field:
      object["path"] = path_;
      object["value"] = *value_;
      break;
    case Kind::rename_field:
      object["from"] = path_;
      object["to"] = path2_;
      break;
    case Kind::remove_field:
      object["path"] = path_;
      if (value_) object["restore"] = *value_;
      break;
    case Kind::object_to_array:
    case Kind::array_to_object:
      object["path"] = path_;
      object["idField"] = path2_;
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
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("migration operation {} needs a string \"{}\"",
                              json::serialize(value), name));
    }
    return std::string(member->get_string());
  };
  if (object == nullptr) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("a migration operation is an object, not {}", json::serialize(value)));
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
  switch (kind_) {
    case Kind::add_field:
      backward ? remove(value, *parsed_) : add(value, *parsed_, *value_);
      break;
    case Kind::rename_field:
      backward ? rename(value, *parsed2_, *parsed_) : rename(value, *parsed_, *parsed2_);
      break;
    case Kind::remove_field:
      backward ? add(value, *parsed_, *value_) : remove(value, *parsed_);
      break;
    case Kind::object_to_array:
      backward ? to_object(value, *parsed_, path2_) : to_array(value, *parsed_, path2_);
      break;
    case Kind::array_to_object:
      backward ? to_array(value, *parsed_, path2_) : to_object(value, *parsed_, path2_);
      break;
    case Kind::transform_entry:
      return backward ? backward_(std::move(value)) : forward_(std::move(value));
    case Kind::transform_store:
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("'{}' works on the whole store, not on one entry", describe()));
  }
  return value;
}

EntryMap MigrationOp::apply_store(EntryMap entries) const {
  if (kind_ != Kind::transform_store) {
    throw Error(ErrorCode::invalid_argument, fmt::format("'{}' works per entry", describe()));
  }
  return store_(std::move(entries));
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
