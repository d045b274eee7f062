// The struct store, transactions and YATA integration (Yjs: StructStore.js, Transaction.js,
// Item.js).
#include <algorithm>
#include <exception>
#include <stdexcept>

#include "crdt/store.hpp"

namespace cairn::crdt {

// --- DeleteSet ---

void DeleteSet::add(std::uint64_t client, std::uint64_t clock, std::uint64_t length) {
  if (length == 0) return;  // deletes nothing (only a malformed update says so)
  clients[client].emplace_back(clock, length);
}

void DeleteSet::normalize() {
  for (auto& [client, ranges] : clients) {
    std::sort(ranges.begin(), ranges.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::size_t j = 1;
    for (std::size_t i = 1; i < ranges.size(); ++i) {
      auto& left = ranges[j - 1];
      const auto& right = ranges[i];
      if (left.first + left.second >= right.first) {
        left.second = std::max(left.second, right.first + right.second - left.first);
      } else {
        ranges[j++] = right;
      }
    }
    if (!ranges.empty()) ranges.resize(j);
  }
}

bool DeleteSet::contains(const ID& id) const {
  const auto it = clients.find(id.client);
  if (it == clients.end()) return false;
  const auto& ranges = it->second;
  auto after = std::upper_bound(ranges.begin(), ranges.end(), id.clock,
                                [](std::uint64_t clock, const auto& r) { return clock < r.first; });
  if (after == ranges.begin()) return false;
  --after;
  return id.clock < after->first + after->second;
}

// --- contents ---

std::uint8_t content_ref(const Content& content) {
  return static_cast<std::uint8_t>(content.index() + 1);
}

std::uint64_t content_length(const Content& content) {
  return std::visit(
      [](const auto& c) -> std::uint64_t {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentDeleted>) return c.length;
        if constexpr (std::is_same_v<T, ContentJson>) return c.values.size();
        if constexpr (std::is_same_v<T, ContentString>) return c.text.size();
        if constexpr (std::is_same_v<T, ContentAny>) return c.values.size();
        return 1;
      },
      content);
}

Content copy_content(const Content& content) {
  return std::visit(
      [](const auto& c) -> Content {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentEmbed>) {
          return ContentEmbed{std::make_unique<const Any>(*c.value)};
        } else if constexpr (std::is_same_v<T, ContentFormat>) {
          return ContentFormat{c.key, c.value};  // the same value, as Yjs's copy()
        } else if constexpr (std::is_same_v<T, ContentType>) {
          return ContentType{std::make_unique<Type>(c.type->kind, c.type->name)};  // empty
        } else if constexpr (std::is_same_v<T, ContentDoc>) {
          return ContentDoc{c.guid, std::make_unique<const Any>(*c.options)};
        } else {
          return c;
        }
      },
      content);
}

Content split_content(Content& content, std::uint64_t offset) {
  return std::visit(
      [&](auto& c) -> Content {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentDeleted>) {
          ContentDeleted right{c.length - offset};
          c.length = offset;
          return right;
        } else if constexpr (std::is_same_v<T, ContentString>) {
          ContentString right{c.text.substr(offset)};
          c.text.resize(offset);
          // The left part rarely grows again (the clocks that followed it are the right part's):
          // it gives back what it no longer holds.
          if (c.text.capacity() > 2 * offset) c.text.shrink_to_fit();
          // A surrogate pair split in two: both halves become U+FFFD, as Yjs does.
          const char16_t last = c.text.empty() ? 0 : c.text.back();
          if (last >= 0xD800 && last <= 0xDBFF) {
            c.text.back() = u'\uFFFD';
            if (!right.text.empty()) right.text[0] = u'\uFFFD';
          }
          return right;
        } else if constexpr (std::is_same_v<T, ContentJson> || std::is_same_v<T, ContentAny>) {
          T right;
          right.values.assign(std::make_move_iterator(c.values.begin() + offset),
                              std::make_move_iterator(c.values.end()));
          c.values.resize(offset);
          return right;
        } else {
          throw std::logic_error("this content cannot be split");
        }
      },
      content);
}

bool merge_content(Content& left, Content& right) {
  if (left.index() != right.index()) return false;
  return std::visit(
      [&](auto& l) -> bool {
        using T = std::decay_t<decltype(l)>;
        auto& r = std::get<T>(right);
        if constexpr (std::is_same_v<T, ContentDeleted>) {
          l.length += r.length;
          return true;
        } else if constexpr (std::is_same_v<T, ContentString>) {
          l.text += r.text;
          return true;
        } else if constexpr (std::is_same_v<T, ContentJson> || std::is_same_v<T, ContentAny>) {
          l.values.insert(l.values.end(), std::make_move_iterator(r.values.begin()),
                          std::make_move_iterator(r.values.end()));
          return true;
        } else {
          return false;
        }
      },
      left);
}

// --- Store ---

Doc::Store::~Store() {
  for (auto& [client, structs] : clients) {
    for (Item* item : structs)
      delete item;
  }
}

std::uint64_t Doc::Store::state(std::uint64_t client) const {
  const auto it = clients.find(client);
  if (it == clients.end() || it->second.empty()) return 0;
  const Item& last = *it->second.back();
  return last.id.clock + last.length;
}

StateVector Doc::Store::state_vector() const {
  StateVector vector;
  state_vector_into(vector);
  return vector;
}

void Doc::Store::state_vector_into(StateVector& vector) const {
  auto out = vector.begin();
  for (const auto& [client, structs] : clients) {
    if (structs.empty()) continue;
    const std::uint64_t state = structs.back()->id.clock + structs.back()->length;
    while (out != vector.end() && out->first < client)
      out = vector.erase(out);
    if (out != vector.end() && out->first == client) {
      (out++)->second = state;
    } else {
      vector.emplace_hint(out, client, state);
    }
  }
  vector.erase(out, vector.end());
}

std::size_t StructList::index_of(std::uint64_t clock) const {
  const auto holds = [&](std::size_t i) {
    const Item& item = *(*this)[i];
    return item.id.clock <= clock && clock < item.id.clock + item.length;
  };
  const std::size_t count = size();
  if (hint_ < count && holds(hint_)) return hint_;
  if (hint_ + 1 < count && holds(hint_ + 1)) return ++hint_;
  std::size_t left = 0;
  std::size_t right = count;
  while (left < right) {
    const std::size_t mid = (left + right) / 2;
    const Item& item = *(*this)[mid];
    if (clock < item.id.clock) {
      right = mid;
    } else if (clock >= item.id.clock + item.length) {
      left = mid + 1;
    } else {
      return hint_ = mid;
    }
  }
  throw std::logic_error("no struct holds that clock");
}

Item* Doc::Store::find(const ID& id) {
  StructList& list = clients.at(id.client);
  return list[list.index_of(id.clock)];
}

void Doc::Store::add(std::unique_ptr<Item> item) {
  StructList& list = clients[item->id.client];
  if (!list.empty() && list.back()->id.clock + list.back()->length != item->id.clock) {
    throw std::logic_error("a struct added out of order");
  }
  list.push_back(item.release());
}

// --- Transaction ---

Transaction::Transaction(Doc& doc, bool local, const void* origin) : doc(doc) {
  begin(local, origin);
}

void Transaction::begin(bool is_local, const void* by) {
  local = is_local;
  origin = by;
  doc.store().state_vector_into(before);
  after.clear();
  deletes.clients.clear();
  changed.clear();
  changed_parents.clear();
  merge_structs.clear();
  changed_index_.clear();
}

bool Transaction::adds(const Item& item) const {
  const auto it = before.find(item.id.client);
  return item.id.clock >= (it == before.end() ? 0 : it->second);
}

bool Transaction::deletes_item(const Item& item) const {
  return deletes.contains(item.id);
}

std::size_t clean_start_index(Transaction& t, StructList& structs, std::uint64_t clock) {
  const std::size_t index = structs.index_of(clock);
  Item& item = *structs[index];
  if (item.id.clock < clock && item.kind == StructKind::item) {
    t.split(item, clock - item.id.clock);
    return index + 1;
  }
  return index;
}

void Transaction::note_changed(Type& type, const Name& key) {
  // A change not made by text_insert or text_delete (which set it again after) moves what the
  // marker counts.
  if (key == nullptr) type.marker = {};
  if (type.item != nullptr && (type.item->deleted || adds(*type.item))) return;
  // Found by a scan while few types changed (most transactions), by an index beyond.
  std::size_t index = changed.size();
  if (changed.size() <= kChangedScan) {
    for (std::size_t i = 0; i < changed.size(); ++i)
      if (changed[i].type == &type) index = i;
  } else {
    if (changed_index_.empty()) {
      for (std::size_t i = 0; i < changed.size(); ++i)
        changed_index_.emplace(changed[i].type, i);
    }
    if (const auto it = changed_index_.find(&type); it != changed_index_.end()) index = it->second;
  }
  if (index == changed.size()) {
    changed.push_back({&type, false, {}});
    if (!changed_index_.empty()) changed_index_.emplace(&type, index);
  }
  Change& change = changed[index];
  if (key == nullptr) {
    change.sequence = true;
  } else if (std::find(change.keys.begin(), change.keys.end(), *key) == change.keys.end()) {
    change.keys.push_back(*key);
  }
}

Item* Transaction::split(Item& left, std::uint64_t diff) {
  auto right = std::make_unique<Item>();
  right->id = {left.id.client, left.id.clock + diff};
  right->length = left.length - diff;
  right->kind = left.kind;
  right->left = &left;
  right->origin = ID{left.id.client, left.id.clock + diff - 1};
  right->right = left.right;
  right->right_origin = left.right_origin;
  right->parent = left.parent;
  right->parent_sub = left.parent_sub;
  right->content = split_content(left.content, diff);
  right->deleted = left.deleted;
  right->keep = left.keep;
  if (left.redone) right->redone = ID{left.redone->client, left.redone->clock + diff};
  left.right = right.get();
  if (right->right != nullptr) right->right->left = right.get();
  left.length = diff;
  Item* out = right.get();
  merge_structs.push_back(out->id);
  StructList& list = doc.store().structs(left.id.client);
  const std::size_t index = list.index_of(left.id.clock);
  list.insert(index + 1, right.release());
  return out;
}

Item* Transaction::item_clean_start(const ID& id) {
  StructList& list = doc.store().structs(id.client);
  return list[clean_start_index(*this, list, id.clock)];
}

Item* Transaction::item_clean_end(const ID& id) {
  StructList& list = doc.store().structs(id.client);
  const std::size_t index = list.index_of(id.clock);
  Item& item = *list[index];
  if (id.clock != item.id.clock + item.length - 1 && item.kind != StructKind::gc) {
    split(item, id.clock - item.id.clock + 1);
  }
  return &item;
}

std::optional<std::uint64_t> Transaction::missing(Item& item) {
  Doc::Store& store = doc.store();
  if (item.origin && item.origin->client != item.id.client &&
      item.origin->clock >= store.state(item.origin->client)) {
    return item.origin->client;
  }
  if (item.right_origin && item.right_origin->client != item.id.client &&
      item.right_origin->clock >= store.state(item.right_origin->client)) {
    return item.right_origin->client;
  }
  if (const ID* parent = std::get_if<ID>(&item.parent_ref.named);
      parent != nullptr && parent->client != item.id.client &&
      parent->clock >= store.state(parent->client)) {
    return parent->client;
  }
  // Everything is here: find the neighbours and the parent.
  if (item.origin) {
    item.left = item_clean_end(*item.origin);
    item.origin = item.left->last_id();
  }
  if (item.right_origin) {
    item.right = item_clean_start(*item.right_origin);
    item.right_origin = item.right->id;
  }
  const bool gc_neighbour = (item.left != nullptr && item.left->kind == StructKind::gc) ||
                            (item.right != nullptr && item.right->kind == StructKind::gc);
  if (gc_neighbour) {
    item.parent = nullptr;
  } else if (std::holds_alternative<std::monostate>(item.parent_ref.named)) {
    Item* from = item.left != nullptr && item.left->kind == StructKind::item     ? item.left
                 : item.right != nullptr && item.right->kind == StructKind::item ? item.right
                                                                                 : nullptr;
    if (from != nullptr) {
      item.parent = from->parent;
      item.parent_sub = from->parent_sub;
    }
  } else if (const Name* name = std::get_if<Name>(&item.parent_ref.named)) {
    item.parent = &doc.get(**name);
  } else {
    Item* parent_item = store.find(std::get<ID>(item.parent_ref.named));
    const auto* type = parent_item->kind == StructKind::item
                           ? std::get_if<ContentType>(&parent_item->content)
                           : nullptr;
    item.parent = type != nullptr ? type->type.get() : nullptr;
  }
  return std::nullopt;
}

namespace {

bool same_origin(const OptionalID& a, const OptionalID& b) {
  return a == b;
}

// The first (leftmost) item ever written for `key` of a map, or null.
Item* first_of_key(const Type& map, const std::string& key) {
  const auto found = map.map.find(key);
  Item* first = found == map.map.end() ? nullptr : found->second;
  while (first != nullptr && first->left != nullptr)
    first = first->left;
  return first;
}

}  // namespace

void Transaction::integrate(std::unique_ptr<Item> owned, std::uint64_t offset) {
  Item& item = *owned;
  Doc::Store& store = doc.store();
  if (item.kind == StructKind::gc) {
    if (offset > 0) {
      item.id.clock += offset;
      item.length -= offset;
    }
    store.add(std::move(owned));
    return;
  }
  if (offset > 0) {
    item.id.clock += offset;
    item.left = item_clean_end({item.id.client, item.id.clock - 1});
    item.origin = item.left->last_id();
    Content right = split_content(item.content, offset);
    item.content = std::move(right);
    item.length -= offset;
  }
  if (item.parent == nullptr) {
    // No parent (its neighbours or parent were garbage collected): a GC struct instead.
    auto gc = std::make_unique<Item>();
    gc->id = item.id;
    gc->length = item.length;
    gc->kind = StructKind::gc;
    gc->deleted = true;
    store.add(std::move(gc));
    return;
  }
  Type& parent = *item.parent;
  if ((item.left == nullptr && (item.right == nullptr || item.right->left != nullptr)) ||
      (item.left != nullptr && item.left->right != item.right)) {
    Item* left = item.left;
    Item* o = nullptr;
    if (left != nullptr) {
      o = left->right;
    } else if (item.parent_sub) {
      o = first_of_key(parent, *item.parent_sub);
    } else {
      o = parent.start;
    }
    std::vector<Item*> conflicting;  // small: the items between origin and right origin
    std::vector<Item*> before_origin;
    const auto has = [](const std::vector<Item*>& set, Item* x) {
      return std::find(set.begin(), set.end(), x) != set.end();
    };
    while (o != nullptr && o != item.right) {
      before_origin.push_back(o);
      conflicting.push_back(o);
      if (same_origin(item.origin, o->origin)) {
        if (o->id.client < item.id.client) {
          left = o;
          conflicting.clear();
        } else if (same_origin(item.right_origin, o->right_origin)) {
          break;
        }
      } else if (o->origin && has(before_origin, store.find(*o->origin))) {
        if (!has(conflicting, store.find(*o->origin))) {
          left = o;
          conflicting.clear();
        }
      } else {
        break;
      }
      o = o->right;
    }
    item.left = left;
  }
  if (item.left != nullptr) {
    item.right = item.left->right;
    item.left->right = &item;
  } else {
    Item* r = nullptr;
    if (item.parent_sub) {
      r = first_of_key(parent, *item.parent_sub);
    } else {
      r = parent.start;
      parent.start = &item;
    }
    item.right = r;
  }
  if (item.right != nullptr) {
    item.right->left = &item;
  } else if (item.parent_sub) {
    auto [slot, fresh] = parent.map.try_emplace(*item.parent_sub, &item);
    if (fresh) {
      parent.keys.push_back(*item.parent_sub);
    } else {
      slot->second = &item;
    }
    if (item.left != nullptr) remove(*item.left);  // the key's value before
  }
  if (!item.parent_sub && item.countable() && !item.deleted) parent.length += item.length;
  if (std::holds_alternative<ContentFormat>(item.content)) parent.has_formatting = true;
  Item* placed = &item;
  store.add(std::move(owned));
  // The content's own integration.
  if (auto* deleted = std::get_if<ContentDeleted>(&placed->content)) {
    deletes.add(placed->id.client, placed->id.clock, deleted->length);
    placed->deleted = true;
  } else if (auto* type = std::get_if<ContentType>(&placed->content)) {
    if (parent.depth + 1 > kMaxTypeDepth) {
      // Only a chain of updates built to get past the check on each (DepthCheck in update.cpp)
      // gets here: the type is dropped as if deleted, and the document stays usable.
      if (!placed->parent_sub) parent.length -= placed->length;  // counted above
      placed->content = ContentDeleted{placed->length};
      deletes.add(placed->id.client, placed->id.clock, placed->length);
      placed->deleted = true;
    } else {
      type->type->doc = &doc;
      type->type->item = placed;
      type->type->depth = parent.depth + 1;
    }
  }
  note_changed(parent, placed->parent_sub);
  if ((parent.item != nullptr && parent.item->deleted) ||
      (placed->parent_sub && placed->right != nullptr)) {
    remove(*placed);
  }
}

void Transaction::remove(Item& item) {
  if (item.deleted || item.kind != StructKind::item) return;
  Type& parent = *item.parent;
  if (item.countable() && !item.parent_sub) parent.length -= item.length;
  item.deleted = true;
  deletes.add(item.id.client, item.id.clock, item.length);
  note_changed(parent, item.parent_sub);
  if (auto* type = std::get_if<ContentType>(&item.content)) {
    // Its children go too; those already deleted before this transaction may merge again.
    const auto take = [&](Item& child) {
      const auto it = before.find(child.id.client);
      if (!child.deleted) {
        remove(child);
      } else if (child.id.clock < (it == before.end() ? 0 : it->second)) {
        merge_structs.push_back(child.id);
      }
    };
    for (Item* child = type->type->start; child != nullptr; child = child->right)
      take(*child);
    for (auto& [key, child] : type->type->map)
      take(*child);
    // A deleted type is not reported as changed (Yjs's ContentType.delete).
    const auto gone = std::find_if(changed.begin(), changed.end(),
                                   [&](const Change& c) { return c.type == type->type.get(); });
    if (gone != changed.end()) {
      changed.erase(gone);
      changed_index_.clear();  // rebuilt when needed
    }
  }
}

Item* Transaction::insert(Type& parent, Item* left, Item* right, Name parent_sub, Content content) {
  auto item = std::make_unique<Item>();
  item->id = {doc.client_id(), doc.store().state(doc.client_id())};
  item->left = left;
  if (left != nullptr) item->origin = left->last_id();
  item->right = right;
  if (right != nullptr) item->right_origin = right->id;
  item->parent = &parent;
  item->parent_sub = std::move(parent_sub);
  item->length = content_length(content);
  item->content = std::move(content);
  Item* out = item.get();
  integrate(std::move(item), 0);
  return out;
}

// Item.gc: a deleted item's content goes; inside a collected parent, the item itself.
namespace {

void collect(Doc::Store& store, Item& item, bool parent_collected) {
  if (auto* type = std::get_if<ContentType>(&item.content)) {
    for (Item* child = type->type->start; child != nullptr;) {
      Item* next = child->right;
      collect(store, *child, true);
      child = next;
    }
    type->type->start = nullptr;
    type->type->marker = {};
    for (auto& [key, last] : type->type->map) {
      for (Item* child = last; child != nullptr;) {
        Item* next = child->left;
        collect(store, *child, true);
        child = next;
      }
    }
    type->type->map.clear();
    type->type->keys.clear();
  }
  if (parent_collected) {
    StructList& list = store.structs(item.id.client);
    auto gc = std::make_unique<Item>();
    gc->id = item.id;
    gc->length = item.length;
    gc->kind = StructKind::gc;
    gc->deleted = true;
    Item*& slot = list[list.index_of(item.id.clock)];
    delete slot;  // `item`
    slot = gc.release();
  } else {
    item.content = ContentDeleted{item.length};
  }
}

}  // namespace

void Transaction::gc_deleted() {
  Doc::Store& store = doc.store();
  for (const auto& [client, ranges] : deletes.clients) {
    StructList& list = store.structs(client);
    for (auto range = ranges.rbegin(); range != ranges.rend(); ++range) {
      const std::uint64_t end = range->first + range->second;
      for (std::size_t i = list.index_of(range->first); i < list.size() && list[i]->id.clock < end;
           ++i) {
        Item& item = *list[i];
        if (item.kind == StructKind::item && item.deleted && !item.keep) {
          collect(store, item, false);
        }
      }
    }
  }
}

// Yjs's tryToMergeWithLefts: merges the struct at `pos` into those on its left while they allow
// it; how many merged.
std::size_t Transaction::merge_with_lefts(StructList& structs, std::size_t pos) {
  std::size_t i = pos;
  for (; i > 0; --i) {
    Item& left = *structs[i - 1];
    Item& right = *structs[i];
    if (left.deleted != right.deleted || left.kind != right.kind) break;
    bool merged = false;
    if (left.kind == StructKind::gc) {
      left.length += right.length;
      merged = true;
    } else if (left.kind == StructKind::item && right.origin == OptionalID(left.last_id()) &&
               left.right == &right && left.right_origin == right.right_origin &&
               left.id.client == right.id.client && left.id.clock + left.length == right.id.clock &&
               !left.redone && !right.redone && left.content.index() == right.content.index() &&
               merge_content(left.content, right.content)) {
      if (right.keep) left.keep = true;
      if (right.parent != nullptr && right.parent->marker.item == &right) {
        Type::Marker& marker = right.parent->marker;  // it starts where `left` does now
        marker.item = &left;
        if (left.visible()) marker.index -= left.length;
      }
      left.right = right.right;
      if (left.right != nullptr) left.right->left = &left;
      left.length += right.length;
      if (right.parent_sub) {
        auto& map = right.parent->map;
        const auto current = map.find(*right.parent_sub);
        if (current != map.end() && current->second == &right) current->second = &left;
      }
      merged = true;
    }
    if (!merged) break;
  }
  const std::size_t count = pos - i;
  if (count > 0) {
    for (std::size_t j = pos + 1 - count; j <= pos; ++j)
      delete structs[j];
    structs.erase(pos + 1 - count, count);
  }
  return count;
}

void Transaction::merge_deleted() {
  Doc::Store& store = doc.store();
  for (const auto& [client, ranges] : deletes.clients) {
    StructList& list = store.structs(client);
    for (auto range = ranges.rbegin(); range != ranges.rend(); ++range) {
      auto si = static_cast<std::ptrdiff_t>(
          std::min(list.size() - 1, 1 + list.index_of(range->first + range->second - 1)));
      while (si > 0 && list[static_cast<std::size_t>(si)]->id.clock >= range->first) {
        si -= 1 + static_cast<std::ptrdiff_t>(merge_with_lefts(list, static_cast<std::size_t>(si)));
      }
    }
  }
}

void Transaction::commit() {
  Doc::Store& store = doc.store();
  deletes.normalize();
  // Read by observers, handlers and the format clean-up; not made for a transaction none hears.
  const bool listened =
      !doc.update_handlers_.empty() || !doc.transaction_handlers_.empty() ||
      std::any_of(changed.begin(), changed.end(), [](const Change& c) { return heard(*c.type); });
  if (listened || !local) after = store.state_vector();
  // Observers and handlers first, while deleted content is still there to report (Yjs's
  // cleanupTransactions); whatever they throw is rethrown once the transaction is cleaned up.
  std::exception_ptr error;
  try {
    if (listened) call_observers();
    // A remote change to formatted text may leave redundant format items (Yjs's
    // _needFormattingCleanup: any such text it changed).
    const bool formatted =
        !local && std::any_of(changed.begin(), changed.end(), [](const Change& c) {
          const Type& type = *c.type;
          return type.has_formatting && (type.item == nullptr || !type.item->deleted) &&
                 (type.kind == TypeKind::text || type.kind == TypeKind::xml_text);
        });
    if (formatted) cleanup_formatting(*this);
  } catch (...) {
    error = std::current_exception();
  }
  if (doc.gc()) gc_deleted();
  merge_deleted();
  merge_new_structs();
  if (!doc.update_handlers_.empty() && (!deletes.empty() || after != before)) {
    const Bytes update = encode_transaction_update(*this);
    const auto handlers = doc.update_handlers_;  // a handler may add or remove handlers
    for (const auto& [id, handler] : handlers) {
      try {
        handler(update, origin);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

void Transaction::merge_new_structs() {
  Doc::Store& store = doc.store();
  for (auto& [client, list] : store.clients) {
    const auto it = before.find(client);
    const std::uint64_t before_clock = it == before.end() ? 0 : it->second;
    if (list.empty() || before_clock == list.back()->id.clock + list.back()->length) continue;
    const auto first =
        static_cast<std::ptrdiff_t>(std::max<std::size_t>(list.index_of(before_clock), 1));
    for (auto i = static_cast<std::ptrdiff_t>(list.size()) - 1; i >= first;) {
      i -= 1 + static_cast<std::ptrdiff_t>(merge_with_lefts(list, static_cast<std::size_t>(i)));
    }
  }
  for (auto it = merge_structs.rbegin(); it != merge_structs.rend(); ++it) {
    // The struct may have been merged into its left since: found by its clock.
    const ID id = *it;
    StructList& list = store.structs(id.client);
    const std::size_t pos = list.index_of(id.clock);
    if (pos + 1 < list.size() && merge_with_lefts(list, pos + 1) > 1) continue;
    if (pos > 0) merge_with_lefts(list, pos);
  }
}

// --- Doc ---

Doc::Doc(std::uint64_t client_id, bool gc)
    : client_id_(client_id), gc_(gc), store_(std::make_unique<Store>()) {}

Doc::~Doc() = default;

void Doc::transact(const std::function<void(Transaction&)>& f, const void* origin) {
  run(f, origin, true);
}

void Doc::commit_all() {
  std::exception_ptr error;
  for (std::size_t i = 0; i < committing_.size(); ++i) {  // grows while observers transact
    try {
      committing_[i]->commit();
    } catch (...) {
      if (!error) error = std::current_exception();
    }
  }
  if (!committing_.empty()) spare_ = std::move(committing_.front());
  committing_.clear();
  if (error) std::rethrow_exception(error);
}

std::uint64_t Doc::on_update(UpdateHandler handler) {
  update_handlers_.emplace_back(next_handler_, std::move(handler));
  return next_handler_++;
}

std::uint64_t Doc::on_after_transaction(TransactionHandler handler) {
  transaction_handlers_.emplace_back(next_handler_, std::move(handler));
  return next_handler_++;
}

void Doc::off(std::uint64_t id) {
  std::erase_if(update_handlers_, [&](const auto& h) { return h.first == id; });
  std::erase_if(transaction_handlers_, [&](const auto& h) { return h.first == id; });
}

Type& Doc::get(const std::string& name, TypeKind kind) {
  auto [it, created] = share_.try_emplace(name);
  if (created) {
    it->second = std::make_unique<Type>(kind);
    it->second->doc = this;
    it->second->root = name;
  } else if (kind != TypeKind::unknown && it->second->kind != kind) {
    if (it->second->kind != TypeKind::unknown) {
      throw std::invalid_argument("the root type '" + name + "' is of another kind");
    }
    it->second->kind = kind;
  }
  return *it->second;
}

StateVector Doc::state_vector() const {
  return store_->state_vector();
}

bool Doc::has_pending() const {
  return !store_->pending.empty() || !store_->pending_deletes.empty();
}

}  // namespace cairn::crdt
