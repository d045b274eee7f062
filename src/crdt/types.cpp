// Reading shared types and editing them locally (Yjs: types/AbstractType.js, YText.js, YMap.js,
// YArray.js).
#include <algorithm>
#include <stdexcept>

#include "crdt/store.hpp"

namespace cairn::crdt {

[[noreturn]] void out_of_range(std::uint64_t index, std::uint64_t length) {
  throw std::out_of_range("index " + std::to_string(index) + " is beyond the length " +
                          std::to_string(length));
}

namespace {}  // namespace

void append_values(const Item& item, std::vector<Any>& out) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentAny>) {
          out.insert(out.end(), c.values.begin(), c.values.end());
        } else if constexpr (std::is_same_v<T, ContentJson>) {
          out.insert(out.end(), c.values.begin(), c.values.end());
        } else if constexpr (std::is_same_v<T, ContentBinary>) {
          out.push_back(Any(c.bytes));
        } else if constexpr (std::is_same_v<T, ContentString>) {
          for (char16_t unit : c.text)
            out.push_back(Any(utf8(std::u16string_view(&unit, 1))));
        } else if constexpr (std::is_same_v<T, ContentType>) {
          out.push_back(c.type->to_json());
        } else if constexpr (std::is_same_v<T, ContentEmbed>) {
          out.push_back(*c.value);
        } else if constexpr (std::is_same_v<T, ContentDoc>) {
          out.push_back(Any(Any::Object{{"guid", *c.guid}}));
        }
      },
      item.content);
}

namespace {

Content array_content(std::vector<Any>& values, std::size_t begin, std::size_t end) {
  ContentAny any;
  any.values.assign(std::make_move_iterator(values.begin() + static_cast<std::ptrdiff_t>(begin)),
                    std::make_move_iterator(values.begin() + static_cast<std::ptrdiff_t>(end)));
  return any;
}

// JavaScript's `for (key in value)` with value[key]: an object's members in key order, a
// string's UTF-16 units, an array's elements, by index; nothing for other values.
Any::Object js_members(const Any& any) {
  Any::Object out;
  if (const auto* object = std::get_if<Any::Object>(&any.value)) {
    for (const auto* member : js_key_order(*object))
      out.push_back(*member);
  } else if (const auto* text = std::get_if<std::string>(&any.value)) {
    const std::u16string units = utf16(*text);
    for (std::size_t i = 0; i < units.size(); ++i)
      out.emplace_back(std::to_string(i), Any(utf8(std::u16string_view(&units[i], 1))));
  } else if (const auto* array = std::get_if<Any::Array>(&any.value)) {
    for (std::size_t i = 0; i < array->size(); ++i)
      out.emplace_back(std::to_string(i), (*array)[i]);
  } else if (const auto* bytes = std::get_if<Bytes>(&any.value)) {
    for (std::size_t i = 0; i < bytes->size(); ++i)
      out.emplace_back(std::to_string(i), Any(static_cast<double>((*bytes)[i])));
  }
  return out;
}

std::string ascii_lower(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

// An XML type's children rendered one after another (typeListMap(xml => xml.toString())).
void append_xml_children(const Type& type, std::string& out) {
  for (const Item* n = type.start; n != nullptr; n = n->right) {
    if (!n->visible()) continue;
    if (const auto* child = std::get_if<ContentType>(&n->content)) {
      out += child->type->to_string();
    } else {
      std::vector<Any> values;
      append_values(*n, values);
      for (const Any& value : values)
        out += js_string(value);
    }
  }
}

}  // namespace

// --- reading ---

std::vector<DeltaOp> Type::to_delta() const {
  std::vector<DeltaOp> ops;
  Any::Object current;  // a JavaScript Map: insertion order, a key keeps its place when set again
  std::u16string run;
  const auto pack = [&] {
    if (run.empty()) return;
    ops.push_back({Any(utf8(run)), current});
    run.clear();
  };
  for (const Item* n = start; n != nullptr; n = n->right) {
    if (n->deleted) continue;
    if (const auto* text = std::get_if<ContentString>(&n->content)) {
      run += text->text;
    } else if (const auto* type = std::get_if<ContentType>(&n->content)) {
      pack();
      ops.push_back({type->type->to_json(), current});
    } else if (const auto* embed = std::get_if<ContentEmbed>(&n->content)) {
      pack();
      ops.push_back({*embed->value, current});
    } else if (const auto* format = std::get_if<ContentFormat>(&n->content)) {
      pack();
      Any value = *format->value;
      auto same = std::find_if(current.begin(), current.end(),
                               [&](const auto& member) { return member.first == *format->key; });
      if (std::holds_alternative<std::nullptr_t>(value.value)) {
        if (same != current.end()) current.erase(same);
      } else if (same != current.end()) {
        same->second = std::move(value);
      } else {
        current.emplace_back(*format->key, std::move(value));
      }
    }
  }
  pack();
  return ops;
}

// <name attr="value">, attributes as given (sorted by the caller).
static void append_open_tag(std::string& out, const std::string& name,
                            const std::vector<std::pair<std::string, std::string>>& attributes) {
  out += "<" + name;
  for (const auto& [key, value] : attributes)
    out += " " + key + "=\"" + value + "\"";
  out += ">";
}

std::string Type::to_string() const {
  if (kind == TypeKind::xml_fragment) {
    std::string out;
    append_xml_children(*this, out);
    return out;
  }
  if (kind == TypeKind::xml_element) {
    // Attributes sorted by name, their values as String() writes them; the tag in lower case.
    std::vector<std::pair<std::string, std::string>> attributes;
    for (const std::string& key : keys) {
      if (std::optional<Any> value = map_get(key)) attributes.emplace_back(key, js_string(*value));
    }
    std::sort(attributes.begin(), attributes.end());
    const std::string tag = ascii_lower(name);
    std::string out;
    append_open_tag(out, tag, attributes);
    append_xml_children(*this, out);
    return out + "</" + tag + ">";
  }
  if (kind == TypeKind::xml_text) {
    // Each run of the delta inside its attributes as nested tags, sorted by name.
    std::string out;
    for (const DeltaOp& op : to_delta()) {
      std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> nodes;
      for (const auto& [node, value] : js_members(Any(op.attributes))) {
        std::vector<std::pair<std::string, std::string>> attributes;
        for (const auto& [key, attribute] : js_members(value))
          attributes.emplace_back(key, js_string(attribute));
        std::sort(attributes.begin(), attributes.end());
        nodes.emplace_back(node, std::move(attributes));
      }
      std::sort(nodes.begin(), nodes.end());
      for (const auto& [node, attributes] : nodes)
        append_open_tag(out, node, attributes);
      out += js_string(op.insert);
      for (auto it = nodes.rbegin(); it != nodes.rend(); ++it)
        out += "</" + it->first + ">";
    }
    return out;
  }
  std::u16string text;
  for (const Item* n = start; n != nullptr; n = n->right) {
    if (!n->visible()) continue;
    if (const auto* string = std::get_if<ContentString>(&n->content)) text += string->text;
  }
  return utf8(text);
}

std::vector<Any> Type::array_values() const {
  std::vector<Any> values;
  for (const Item* n = start; n != nullptr; n = n->right) {
    if (n->visible()) append_values(*n, values);
  }
  return values;
}

std::optional<Any> Type::map_get(std::string_view key) const {
  const auto it = map.find(std::string(key));
  if (it == map.end() || it->second->deleted) return std::nullopt;
  std::vector<Any> values;
  append_values(*it->second, values);
  if (values.empty()) return std::nullopt;
  return values.back();
}

Any Type::to_json() const {
  switch (kind) {
    case TypeKind::text:
    case TypeKind::xml_text:
    case TypeKind::xml_fragment:
    case TypeKind::xml_element:
      return Any(to_string());
    case TypeKind::map: {
      Any::Object object;
      for (const std::string& key : keys) {
        if (std::optional<Any> value = map_get(key)) object.emplace_back(key, std::move(*value));
      }
      return Any(std::move(object));
    }
    default:
      return Any(array_values());
  }
}

// --- local edits ---

namespace {

// The item a list insert at `index` goes after (null: the start), split so that it ends there
// (Yjs's typeListInsertGenerics).
Item* list_left(Transaction& t, Type& list, std::uint64_t index) {
  if (index == 0) return nullptr;
  for (Item* n = list.start; n != nullptr; n = n->right) {
    if (!n->visible()) continue;
    if (index <= n->length) {
      if (index < n->length) t.item_clean_start({n->id.client, n->id.clock + index});
      return n;
    }
    index -= n->length;
  }
  return nullptr;
}

void check_list(const Type& list) {
  if (list.kind != TypeKind::array && list.kind != TypeKind::xml_fragment &&
      list.kind != TypeKind::xml_element) {
    throw std::invalid_argument("not an Array, an XmlFragment or an XmlElement");
  }
}

}  // namespace

void Doc::array_insert(Type& array, std::uint64_t index, std::vector<Any> values) {
  check_list(array);
  if (index > array.length) out_of_range(index, array.length);
  if (values.empty()) return;
  run(
      [&](Transaction& t) {
        Item* left = list_left(t, array, index);
        Item* right = left == nullptr ? array.start : left->right;
        // Runs of values go into one item; binary values each into their own, as Yjs packs them.
        std::size_t run = 0;
        for (std::size_t i = 0; i <= values.size(); ++i) {
          const bool binary = i < values.size() && std::holds_alternative<Bytes>(values[i].value);
          if (i == values.size() || binary) {
            if (i > run)
              left = t.insert(array, left, right, nullptr, array_content(values, run, i));
            if (binary) {
              left = t.insert(array, left, right, nullptr,
                              ContentBinary{std::get<Bytes>(std::move(values[i].value))});
            }
            run = i + 1;
          }
        }
      },
      nullptr, true);
}

namespace {

void check_depth(const Type& parent) {
  if (parent.depth + 1 > kMaxTypeDepth) {
    throw std::invalid_argument("types may not nest deeper than " + std::to_string(kMaxTypeDepth));
  }
}

Content new_type(TypeKind kind, std::string name) {
  if (kind == TypeKind::unknown) throw std::invalid_argument("a nested type needs a kind");
  if ((kind == TypeKind::xml_element || kind == TypeKind::xml_hook) && name.empty()) {
    throw std::invalid_argument("an XmlElement needs a node name");
  }
  return ContentType{std::make_unique<Type>(kind, std::move(name))};
}

Type& type_of(Item& item) {
  return *std::get<ContentType>(item.content).type;
}

}  // namespace

Type& Doc::array_insert_type(Type& array, std::uint64_t index, TypeKind kind, std::string name) {
  check_list(array);
  check_depth(array);
  if (index > array.length) out_of_range(index, array.length);
  Content content = new_type(kind, std::move(name));
  Type* made = nullptr;
  run(
      [&](Transaction& t) {
        Item* left = list_left(t, array, index);
        Item* right = left == nullptr ? array.start : left->right;
        made = &type_of(*t.insert(array, left, right, nullptr, std::move(content)));
      },
      nullptr, true);
  return *made;
}

Type& Doc::map_set_type(Type& map, const std::string& key, TypeKind kind, std::string name) {
  check_depth(map);
  Content content = new_type(kind, std::move(name));
  Type* made = nullptr;
  run(
      [&](Transaction& t) {
        const auto it = map.map.find(key);
        Item* left = it == map.map.end() ? nullptr : it->second;
        made = &type_of(*t.insert(map, left, nullptr, std::make_shared<const std::string>(key),
                                  std::move(content)));
      },
      nullptr, true);
  return *made;
}

void Doc::array_delete(Type& array, std::uint64_t index, std::uint64_t length) {
  check_list(array);
  if (length == 0) return;
  if (index + length > array.length) out_of_range(index + length, array.length);
  run(
      [&](Transaction& t) {
        Item* n = array.start;
        for (; n != nullptr && index > 0; n = n->right) {
          if (n->visible()) {
            if (index < n->length) t.item_clean_start({n->id.client, n->id.clock + index});
            index -= std::min(index, n->length);
          }
        }
        for (; length > 0 && n != nullptr; n = n->right) {
          if (n->deleted) continue;
          if (length < n->length) t.item_clean_start({n->id.client, n->id.clock + length});
          length -= std::min(length, n->length);
          t.remove(*n);
        }
      },
      nullptr, true);
}

void Doc::map_set(Type& map, const std::string& key, Any value) {
  run(
      [&](Transaction& t) {
        const auto it = map.map.find(key);
        Item* left = it == map.map.end() ? nullptr : it->second;
        Content content;
        if (auto* bytes = std::get_if<Bytes>(&value.value)) {
          content = ContentBinary{std::move(*bytes)};
        } else {
          content = ContentAny{{std::move(value)}};
        }
        t.insert(map, left, nullptr, std::make_shared<const std::string>(key), std::move(content));
      },
      nullptr, true);
}

void Doc::map_delete(Type& map, const std::string& key) {
  const auto it = map.map.find(key);
  if (it == map.map.end()) return;
  run([&](Transaction& t) { t.remove(*it->second); }, nullptr, true);
}

}  // namespace cairn::crdt

namespace cairn::crdt {

namespace {

// The plain values an item of a list holds (none for types, subdocuments and text).
std::optional<std::vector<Any>> list_values(const Content& content) {
  if (const auto* any = std::get_if<ContentAny>(&content)) return any->values;
  if (const auto* json = std::get_if<ContentJson>(&content)) return json->values;
  if (const auto* binary = std::get_if<ContentBinary>(&content)) {
    return std::vector<Any>{Any(binary->bytes)};
  }
  return std::nullopt;
}

bool is_text(TypeKind kind) {
  return kind == TypeKind::text || kind == TypeKind::xml_text;
}

}  // namespace

void Doc::assign(Type& into, const Type& from) {
  run(
      [&](Transaction&) {
        // The sequence: what `into` holds goes, what `from` holds comes as new items.
        if (into.length > 0) {
          is_text(into.kind) ? text_delete(into, 0, into.length)
                             : array_delete(into, 0, into.length);
        }
        std::uint64_t index = 0;
        if (is_text(from.kind)) {
          for (const DeltaOp& op : from.to_delta()) {
            if (const auto* text = std::get_if<std::string>(&op.insert.value)) {
              text_insert(into, index, *text, op.attributes);
              index += utf16(*text).size();
            } else {
              text_insert_embed(into, index, op.insert, op.attributes);
              index += 1;
            }
          }
        } else {
          for (const Item* item = from.start; item != nullptr; item = item->right) {
            if (item->deleted) continue;
            if (const auto* type = std::get_if<ContentType>(&item->content)) {
              assign(array_insert_type(into, index++, type->type->kind, type->type->name),
                     *type->type);
            } else if (std::optional<std::vector<Any>> values = list_values(item->content)) {
              const std::size_t count = values->size();
              array_insert(into, index, std::move(*values));
              index += count;
            }
          }
        }
        // The map (a Map's entries, an XmlElement's attributes).
        for (const std::string& key : from.keys) {
          const auto found = from.map.find(key);
          if (found == from.map.end() || found->second->deleted) continue;
          const Item& item = *found->second;
          if (const auto* type = std::get_if<ContentType>(&item.content)) {
            assign(map_set_type(into, key, type->type->kind, type->type->name), *type->type);
          } else if (std::optional<std::vector<Any>> values = list_values(item.content)) {
            if (!values->empty()) map_set(into, key, std::move(values->back()));
          }
        }
        const std::vector<std::string> keys = into.keys;
        for (const std::string& key : keys) {
          const auto mine = into.map.find(key);
          if (mine == into.map.end() || mine->second->deleted) continue;
          const auto theirs = from.map.find(key);
          if (theirs == from.map.end() || theirs->second->deleted) map_delete(into, key);
        }
      },
      nullptr, true);
}

}  // namespace cairn::crdt
