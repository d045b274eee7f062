// Reading shared types and editing them locally (Yjs: types/AbstractType.js, YText.js, YMap.js,
// YArray.js).
#include <stdexcept>

#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

[[noreturn]] void out_of_range(std::uint64_t index, std::uint64_t length) {
  throw std::out_of_range("index " + std::to_string(index) + " is beyond the length " +
                          std::to_string(length));
}

// The values an item contributes to an array or a map, as Yjs's getContent() gives them.
void append_values(const Item& item, std::vector<Any>& out) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentAny>) {
          out.insert(out.end(), c.values.begin(), c.values.end());
        } else if constexpr (std::is_same_v<T, ContentJson>) {
          for (const std::string& text : c.values)
            out.push_back(text == "undefined" ? Any() : Any(text));  // JSON text, unparsed
        } else if constexpr (std::is_same_v<T, ContentBinary>) {
          out.push_back(Any(c.bytes));
        } else if constexpr (std::is_same_v<T, ContentString>) {
          for (char16_t unit : c.text)
            out.push_back(Any(utf8(std::u16string_view(&unit, 1))));
        } else if constexpr (std::is_same_v<T, ContentType>) {
          out.push_back(c.type->to_json());
        } else if constexpr (std::is_same_v<T, ContentEmbed>) {
          out.push_back(Any(c.json));
        } else if constexpr (std::is_same_v<T, ContentDoc>) {
          out.push_back(Any(Any::Object{{"guid", c.guid}}));
        }
      },
      item.content);
}

// A position in a text: between `left` and `right`, the attributes in force there (key -> JSON).
struct TextPosition {
  Item* left = nullptr;
  Item* right = nullptr;
  std::uint64_t index = 0;
  std::map<std::string, std::string> attributes;

  void note_format(const ContentFormat& format) {
    if (format.json == "null") {
      attributes.erase(format.key);
    } else {
      attributes[format.key] = format.json;
    }
  }
  void forward() {
    if (const auto* format = std::get_if<ContentFormat>(&right->content)) {
      if (!right->deleted) note_format(*format);
    } else if (!right->deleted) {
      index += right->length;
    }
    left = right;
    right = right->right;
  }
};

// Yjs's findPosition/findNextPosition: walks `count` units from the start, splitting the item
// the position falls in.
TextPosition find_position(Transaction& t, Type& text, std::uint64_t count) {
  TextPosition pos{nullptr, text.start, 0, {}};
  while (pos.right != nullptr && count > 0) {
    if (const auto* format = std::get_if<ContentFormat>(&pos.right->content)) {
      if (!pos.right->deleted) pos.note_format(*format);
    } else if (!pos.right->deleted) {
      if (count < pos.right->length) {
        t.item_clean_start({pos.right->id.client, pos.right->id.clock + count});
      }
      pos.index += pos.right->length;
      count -= pos.right->length;
    }
    pos.left = pos.right;
    pos.right = pos.right->right;
  }
  return pos;
}

Content array_content(std::vector<Any>& values, std::size_t begin, std::size_t end) {
  ContentAny any;
  any.values.assign(std::make_move_iterator(values.begin() + static_cast<std::ptrdiff_t>(begin)),
                    std::make_move_iterator(values.begin() + static_cast<std::ptrdiff_t>(end)));
  return any;
}

}  // namespace

// --- reading ---

std::string Type::to_string() const {
  std::u16string text;
  for (const Item* n = start; n != nullptr; n = n->right) {
    if (n->deleted || !n->countable()) continue;
    if (const auto* string = std::get_if<ContentString>(&n->content)) text += string->text;
  }
  return utf8(text);
}

std::vector<Any> Type::array_values() const {
  std::vector<Any> values;
  for (const Item* n = start; n != nullptr; n = n->right) {
    if (!n->deleted && n->countable()) append_values(*n, values);
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

void Doc::text_insert(Type& text, std::uint64_t index, std::string_view utf8_text) {
  std::u16string units = utf16(utf8_text);
  if (units.empty()) return;
  if (index > text.length) out_of_range(index, text.length);
  Transaction t(*this, true);
  TextPosition pos = find_position(t, text, index);
  // The new text takes the attributes in force (Yjs's insert without attributes): skip deleted
  // items and formats that already say so.
  while (pos.right != nullptr) {
    if (!pos.right->deleted) {
      const auto* format = std::get_if<ContentFormat>(&pos.right->content);
      if (format == nullptr) break;
      const auto current = pos.attributes.find(format->key);
      const std::string in_force = current == pos.attributes.end() ? "null" : current->second;
      if (in_force != format->json) break;
    }
    pos.forward();
  }
  t.insert(text, pos.left, pos.right, std::nullopt, ContentString{std::move(units)});
}

void Doc::text_delete(Type& text, std::uint64_t index, std::uint64_t length) {
  if (length == 0) return;
  if (index + length > text.length) out_of_range(index + length, text.length);
  Transaction t(*this, true);
  TextPosition pos = find_position(t, text, index);
  while (length > 0 && pos.right != nullptr) {
    Item& item = *pos.right;
    if (!item.deleted && (std::holds_alternative<ContentString>(item.content) ||
                          std::holds_alternative<ContentEmbed>(item.content) ||
                          std::holds_alternative<ContentType>(item.content))) {
      if (length < item.length) t.item_clean_start({item.id.client, item.id.clock + length});
      length -= item.length;
      t.remove(item);
    }
    pos.forward();
  }
}

void Doc::array_insert(Type& array, std::uint64_t index, std::vector<Any> values) {
  if (index > array.length) out_of_range(index, array.length);
  if (values.empty()) return;
  Transaction t(*this, true);
  Item* left = nullptr;
  if (index > 0) {
    for (Item* n = array.start; n != nullptr; n = n->right) {
      if (n->deleted || !n->countable()) continue;
      if (index <= n->length) {
        if (index < n->length) t.item_clean_start({n->id.client, n->id.clock + index});
        left = n;
        break;
      }
      index -= n->length;
    }
  }
  Item* right = left == nullptr ? array.start : left->right;
  // Runs of values go into one item; binary values each into their own, as Yjs packs them.
  std::size_t run = 0;
  for (std::size_t i = 0; i <= values.size(); ++i) {
    const bool binary = i < values.size() && std::holds_alternative<Bytes>(values[i].value);
    if (i == values.size() || binary) {
      if (i > run) left = t.insert(array, left, right, std::nullopt, array_content(values, run, i));
      if (binary) {
        left = t.insert(array, left, right, std::nullopt,
                        ContentBinary{std::get<Bytes>(std::move(values[i].value))});
      }
      run = i + 1;
    }
  }
}

void Doc::array_delete(Type& array, std::uint64_t index, std::uint64_t length) {
  if (length == 0) return;
  if (index + length > array.length) out_of_range(index + length, array.length);
  Transaction t(*this, true);
  Item* n = array.start;
  for (; n != nullptr && index > 0; n = n->right) {
    if (!n->deleted && n->countable()) {
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
}

void Doc::map_set(Type& map, const std::string& key, Any value) {
  Transaction t(*this, true);
  const auto it = map.map.find(key);
  Item* left = it == map.map.end() ? nullptr : it->second;
  Content content;
  if (auto* bytes = std::get_if<Bytes>(&value.value)) {
    content = ContentBinary{std::move(*bytes)};
  } else {
    content = ContentAny{{std::move(value)}};
  }
  t.insert(map, left, nullptr, key, std::move(content));
}

void Doc::map_delete(Type& map, const std::string& key) {
  const auto it = map.map.find(key);
  if (it == map.map.end()) return;
  Transaction t(*this, true);
  t.remove(*it->second);
}

}  // namespace cairn::crdt
