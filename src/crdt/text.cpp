// Editing Text and XmlText as Yjs does (types/YText.js): inserting with attributes in force or
// given, embeds, formatting ranges, deleting — with the format items Yjs writes around them and
// its clean-up of redundant ones, locally and after remote changes, so that the same edits make
// the same bytes.
//
// Attribute values are compared as JavaScript compares them there: `===` is identity for objects
// and arrays (so values are handled by pointer: each format item's value is an object of its
// own) and equality for the rest; Yjs's equalAttrs adds a shallow comparison of objects.
#include <algorithm>

#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

using Value = std::shared_ptr<const Any>;
const Value kNull = std::make_shared<const Any>(nullptr);

// A JavaScript Map (or object) of attributes: insertion order, values shared with the format
// items they come from (a null pointer: absent, that is undefined).
using Attributes = std::vector<std::pair<std::string, Value>>;

Value attr_get(const Attributes& attributes, const std::string& key) {
  for (const auto& [name, value] : attributes)
    if (name == key) return value;
  return nullptr;
}

void attr_set(Attributes& attributes, const std::string& key, Value value) {
  for (auto& [name, current] : attributes) {
    if (name == key) {
      current = value;
      return;
    }
  }
  attributes.emplace_back(key, value);
}

void attr_erase(Attributes& attributes, const std::string& key) {
  std::erase_if(attributes, [&](const auto& member) { return member.first == key; });
}

// `value ?? null`
Value or_null(Value value) {
  return value == nullptr || value->is_undefined() ? kNull : value;
}

bool is_null(const Value& value) {
  return value != nullptr && std::holds_alternative<std::nullptr_t>(value->value);
}

bool is_object(const Any& value) {  // typeof value === 'object' && value !== null
  return std::holds_alternative<Any::Object>(value.value) ||
         std::holds_alternative<Any::Array>(value.value) ||
         std::holds_alternative<Bytes>(value.value);
}

// `a === b`
bool identical(const Value& x, const Value& y) {
  const Any* a = x.get();
  const Any* b = y.get();
  if (a == nullptr || b == nullptr) return a == b;
  if (a == b) return true;
  if (is_object(*a) || is_object(*b)) return false;
  return *a == *b;
}

// Members of different objects are different objects (or equal primitives).
bool identical_members(const Any& a, const Any& b) {
  if (is_object(a) || is_object(b)) return false;
  return a == b;
}

// Yjs's equalAttrs: identical, or objects whose members are identical (lib0's equalFlat).
bool equal_attributes(const Value& x, const Value& y) {
  if (identical(x, y)) return true;
  const Any* a = x.get();
  const Any* b = y.get();
  if (a == nullptr || b == nullptr) return false;
  if (const auto* x = std::get_if<Any::Object>(&a->value)) {
    const auto* y = std::get_if<Any::Object>(&b->value);
    if (y == nullptr || x->size() != y->size()) return false;
    return std::all_of(x->begin(), x->end(), [&](const auto& member) {
      const auto other = std::find_if(y->begin(), y->end(),
                                      [&](const auto& m) { return m.first == member.first; });
      return other != y->end() && identical_members(other->second, member.second);
    });
  }
  if (const auto* x = std::get_if<Any::Array>(&a->value)) {
    const auto* y = std::get_if<Any::Array>(&b->value);
    if (y == nullptr || x->size() != y->size()) return false;
    for (std::size_t i = 0; i < x->size(); ++i)
      if (!identical_members((*x)[i], (*y)[i])) return false;
    return true;
  }
  if (const auto* x = std::get_if<Bytes>(&a->value)) {
    const auto* y = std::get_if<Bytes>(&b->value);
    return y != nullptr && *x == *y;
  }
  return false;
}

const ContentFormat* format_of(const Item& item) {
  return std::get_if<ContentFormat>(&item.content);
}

void update_current(Attributes& current, const ContentFormat& format) {
  if (is_null(format.value)) {
    attr_erase(current, *format.key);
  } else {
    attr_set(current, *format.key, format.value);
  }
}

// A caller's attributes as a JavaScript object iterates them: integer-like keys first.
Attributes js_object(const Any::Object& object) {
  Attributes out;
  for (const auto* member : js_key_order(object))
    out.emplace_back(member->first, std::make_shared<const Any>(member->second));
  return out;
}

// Yjs's ItemTextListPosition.
struct Cursor {
  Item* left = nullptr;
  Item* right = nullptr;
  std::uint64_t index = 0;
  Attributes current;  // the attributes in force

  void forward() {
    if (const ContentFormat* format = format_of(*right)) {
      if (!right->deleted) update_current(current, *format);
    } else if (!right->deleted) {
      index += right->length;
    }
    left = right;
    right = right->right;
  }
};

// Yjs's findPosition/findNextPosition: walks `count` units from the start, splitting the item
// the position falls in; it ends right after the visible unit `count` (before any deleted items
// that follow). In unformatted text the walk starts at the type's marker instead: back from it
// to the last visible item at or before `count`, which is where a walk from the start passes
// (Yjs's search markers; formatted text has none, there as here).
Cursor find_position(Transaction& t, Type& text, std::uint64_t count) {
  Cursor pos{nullptr, text.start, 0, {}};
  const Type::Marker& marker = text.marker;
  if (!text.has_formatting && marker.item != nullptr) {
    pos = {marker.item->left, marker.item, marker.index, {}};
    while (pos.left != nullptr && (pos.index > count || !pos.left->visible())) {
      pos.right = pos.left;
      pos.left = pos.left->left;
      if (pos.right->visible()) pos.index -= pos.right->length;
    }
    count -= pos.index;
  }
  while (pos.right != nullptr && count > 0) {
    if (const ContentFormat* format = format_of(*pos.right)) {
      if (!pos.right->deleted) update_current(pos.current, *format);
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

Item* insert_format(Transaction& t, Type& parent, Cursor& pos, const std::string& key,
                    const Value& value) {
  Item* item = t.insert(parent, pos.left, pos.right, nullptr,
                        ContentFormat{std::make_shared<const std::string>(key), value});
  pos.right = item;
  pos.forward();
  return item;
}

// Yjs's insertNegatedAttributes: ends the attributes a change started, unless what follows ends
// them already.
void insert_negated(Transaction& t, Type& parent, Cursor& pos, Attributes& negated) {
  while (pos.right != nullptr) {
    const ContentFormat* format = format_of(*pos.right);
    if (!pos.right->deleted &&
        (format == nullptr || !equal_attributes(attr_get(negated, *format->key), format->value))) {
      break;
    }
    if (!pos.right->deleted) attr_erase(negated, *format->key);
    pos.forward();
  }
  for (const auto& [key, value] : negated)
    insert_format(t, parent, pos, key, value);
}

// Yjs's minimizeAttributeChanges: past deleted items and formats that already say so.
void minimize_changes(Cursor& pos, const Attributes& attributes) {
  while (pos.right != nullptr) {
    const ContentFormat* format = format_of(*pos.right);
    if (!pos.right->deleted &&
        (format == nullptr ||
         !equal_attributes(or_null(attr_get(attributes, *format->key)), format->value))) {
      break;
    }
    pos.forward();
  }
}

// Yjs's insertAttributes: a format item for each attribute not in force; what was in force.
Attributes insert_attributes(Transaction& t, Type& parent, Cursor& pos,
                             const Attributes& attributes) {
  Attributes negated;
  for (const auto& [key, value] : attributes) {
    const Value current = or_null(attr_get(pos.current, key));
    if (!equal_attributes(current, value)) {
      attr_set(negated, key, current);
      insert_format(t, parent, pos, key, value);
    }
  }
  return negated;
}

// Yjs's insertText.
Item* insert_content(Transaction& t, Type& parent, Cursor& pos, Content content,
                     Attributes attributes) {
  for (const auto& [key, value] : pos.current) {
    if (attr_get(attributes, key) == nullptr || attr_get(attributes, key)->is_undefined()) {
      attr_set(attributes, key, kNull);
    }
  }
  minimize_changes(pos, attributes);
  Attributes negated = insert_attributes(t, parent, pos, attributes);
  const std::uint64_t index = pos.index;
  Item* item = t.insert(parent, pos.left, pos.right, nullptr, std::move(content));
  pos.right = item;
  pos.index = index;
  pos.forward();
  insert_negated(t, parent, pos, negated);
  return item;
}

// Yjs's cleanupFormattingGap: between `start` and the next content, drops format items that are
// overwritten or say what is in force already; the number dropped.
int cleanup_gap(Transaction& t, Item* start, const Item* current,
                const Attributes& start_attributes, Attributes& current_attributes) {
  const Item* end = start;
  std::vector<std::pair<std::string, const ContentFormat*>> end_formats;
  while (end != nullptr && (!end->countable() || end->deleted)) {
    if (const ContentFormat* format = format_of(*end); format != nullptr && !end->deleted) {
      auto it = std::find_if(end_formats.begin(), end_formats.end(),
                             [&](const auto& f) { return f.first == *format->key; });
      if (it == end_formats.end()) {
        end_formats.emplace_back(*format->key, format);
      } else {
        it->second = format;
      }
    }
    end = end->right;
  }
  int cleanups = 0;
  bool reached_current = false;
  for (; start != end; start = start->right) {
    if (start == current) reached_current = true;
    const ContentFormat* format = format_of(*start);
    if (start->deleted || format == nullptr) continue;
    const std::string& key = *format->key;
    const Value& value = format->value;
    const Value start_value = or_null(attr_get(start_attributes, key));
    const auto last = std::find_if(end_formats.begin(), end_formats.end(),
                                   [&](const auto& f) { return f.first == key; });
    if (last == end_formats.end() || last->second != format || identical(start_value, value)) {
      t.remove(*start);
      ++cleanups;
      if (!reached_current && identical(or_null(attr_get(current_attributes, key)), value) &&
          !identical(start_value, value)) {
        if (is_null(start_value)) {
          attr_erase(current_attributes, key);
        } else {
          attr_set(current_attributes, key, start_value);
        }
      }
    }
    if (!reached_current && !start->deleted) update_current(current_attributes, *format);
  }
  return cleanups;
}

// Yjs's cleanupContextlessFormattingGap: of the formats around a deleted item, only the last of
// each key stays.
void cleanup_contextless(Transaction& t, Item* item) {
  while (item != nullptr && item->right != nullptr &&
         (item->right->deleted || !item->right->countable())) {
    item = item->right;
  }
  std::vector<std::string> seen;
  for (; item != nullptr && (item->deleted || !item->countable()); item = item->left) {
    const ContentFormat* format = format_of(*item);
    if (item->deleted || format == nullptr) continue;
    if (std::find(seen.begin(), seen.end(), *format->key) != seen.end()) {
      t.remove(*item);
    } else {
      seen.push_back(*format->key);
    }
  }
}

// Yjs's cleanupYTextFormatting: every gap of a type.
void cleanup_type(Transaction& t, Type& type) {
  Item* start = type.start;
  Attributes start_attributes;
  Attributes current;
  for (Item* end = type.start; end != nullptr; end = end->right) {
    if (end->deleted) continue;
    if (const ContentFormat* format = format_of(*end)) {
      update_current(current, *format);
    } else {
      cleanup_gap(t, start, end, start_attributes, current);
      start_attributes = current;
      start = end;
    }
  }
}

void check_text(const Type& text) {
  if (text.kind != TypeKind::text && text.kind != TypeKind::xml_text) {
    throw std::invalid_argument("not a Text or an XmlText");
  }
}

}  // namespace

void Doc::text_insert(Type& text, std::uint64_t index, std::string_view utf8_text,
                      const std::optional<Any::Object>& attributes) {
  check_text(text);
  std::u16string units = utf16(utf8_text);
  if (units.empty()) return;
  if (index > text.length) out_of_range(index, text.length);
  run(
      [&](Transaction& t) {
        Cursor pos = find_position(t, text, index);
        // Without attributes, the text takes those in force.
        Attributes given = attributes ? js_object(*attributes) : pos.current;
        Item* inserted = insert_content(t, text, pos, ContentString{std::move(units)}, given);
        if (!text.has_formatting) text.marker = {inserted, index};
      },
      nullptr, true);
}

void Doc::text_insert_embed(Type& text, std::uint64_t index, Any embed,
                            const Any::Object& attributes) {
  check_text(text);
  if (index > text.length) out_of_range(index, text.length);
  run(
      [&](Transaction& t) {
        Cursor pos = find_position(t, text, index);
        insert_content(t, text, pos, ContentEmbed{std::make_unique<const Any>(std::move(embed))},
                       js_object(attributes));
      },
      nullptr, true);
}

void Doc::text_format(Type& text, std::uint64_t index, std::uint64_t length,
                      const Any::Object& attributes) {
  check_text(text);
  if (length == 0) return;
  if (index > text.length) out_of_range(index, text.length);
  run(
      [&](Transaction& t) {
        Cursor pos = find_position(t, text, index);
        if (pos.right == nullptr) return;
        // Yjs's formatText.
        const Attributes given = js_object(attributes);
        minimize_changes(pos, given);
        Attributes negated = insert_attributes(t, text, pos, given);
        while (pos.right != nullptr &&
               (length > 0 ||
                (!negated.empty() && (pos.right->deleted || format_of(*pos.right) != nullptr)))) {
          if (!pos.right->deleted) {
            if (const ContentFormat* format = format_of(*pos.right)) {
              const Value wanted = attr_get(given, *format->key);
              if (wanted != nullptr && !wanted->is_undefined()) {
                if (equal_attributes(wanted, format->value)) {
                  attr_erase(negated, *format->key);
                } else {
                  if (length == 0) break;
                  attr_set(negated, *format->key, format->value);
                }
                t.remove(*pos.right);
              } else {
                attr_set(pos.current, *format->key, format->value);
              }
            } else {
              if (length < pos.right->length) {
                t.item_clean_start({pos.right->id.client, pos.right->id.clock + length});
              }
              length -= std::min(length, pos.right->length);
            }
          }
          pos.forward();
        }
        // Quill's convention: formatting past the end adds newlines.
        if (length > 0) {
          pos.right = t.insert(text, pos.left, pos.right, nullptr,
                               ContentString{std::u16string(length, u'\n')});
          pos.forward();
        }
        insert_negated(t, text, pos, negated);
      },
      nullptr, true);
}

void Doc::text_delete(Type& text, std::uint64_t index, std::uint64_t length) {
  check_text(text);
  if (length == 0) return;
  if (index + length > text.length) out_of_range(index + length, text.length);
  run(
      [&](Transaction& t) {
        Cursor pos = find_position(t, text, index);
        // Yjs's deleteText.
        const Attributes start_attributes = pos.current;
        Item* start = pos.right;
        while (length > 0 && pos.right != nullptr) {
          Item& item = *pos.right;
          if (!item.deleted && (std::holds_alternative<ContentString>(item.content) ||
                                std::holds_alternative<ContentEmbed>(item.content) ||
                                std::holds_alternative<ContentType>(item.content))) {
            if (length < item.length) t.item_clean_start({item.id.client, item.id.clock + length});
            length -= std::min(length, item.length);
            t.remove(item);
          }
          pos.forward();
        }
        if (start != nullptr && text.has_formatting) {
          cleanup_gap(t, start, pos.right, start_attributes, pos.current);
        }
        // What follows the deleted range starts where it did.
        if (!text.has_formatting) {
          text.marker = pos.right != nullptr ? Type::Marker{pos.right, index} : Type::Marker{};
        }
      },
      nullptr, true);
}

// Yjs's cleanupYTextAfterTransaction: after a remote transaction changed formatted text, a local
// transaction drops the format items it made redundant.
void cleanup_formatting(Transaction& remote) {
  Doc& doc = remote.doc;
  Doc::Store& store = doc.store();
  std::vector<Type*> full;  // types to clean whole: a format item came or went
  const auto add_full = [&](Type* type) {
    if (std::find(full.begin(), full.end(), type) == full.end()) full.push_back(type);
  };
  for (const auto& [client, after] : remote.after) {
    const auto before = remote.before.find(client);
    const std::uint64_t clock = before == remote.before.end() ? 0 : before->second;
    if (after == clock) continue;
    StructList& structs = store.structs(client);
    for (std::size_t i = clean_start_index(remote, structs, clock); i < structs.size(); ++i) {
      const Item& item = *structs[i];
      if (item.kind == StructKind::item && !item.deleted && format_of(item) != nullptr) {
        add_full(item.parent);
      }
    }
  }
  doc.run(
      [&](Transaction& t) {
        for_each_struct(remote, remote.deletes, [&](Item& item) {
          if (item.kind != StructKind::item || item.parent == nullptr ||
              !item.parent->has_formatting ||
              std::find(full.begin(), full.end(), item.parent) != full.end()) {
            return;
          }
          if (format_of(item) != nullptr) {
            add_full(item.parent);
          } else {
            cleanup_contextless(t, &item);
          }
        });
        for (Type* type : full)
          cleanup_type(t, *type);
      },
      nullptr, true);
}

}  // namespace cairn::crdt
