// What a transaction reports when it ends: each changed type's event to its observers, all the
// events below a type to its deep observers, the transaction to the document's handlers (Yjs:
// utils/YEvent.js, types/YText.js's YTextEvent, utils/Transaction.js's cleanupTransactions).
#include <algorithm>
#include <atomic>

#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

// Yjs's equalAttrs, with values compared deeply.
bool equal_attribute(const Any& a, const Any& b) {
  return a == b;
}

void set_attribute(Any::Object& attributes, const std::string& key, Any value) {
  for (auto& [name, current] : attributes) {
    if (name == key) {
      current = std::move(value);
      return;
    }
  }
  attributes.emplace_back(key, std::move(value));
}

const Any* find_attribute(const Any::Object& attributes, const std::string& key) {
  for (const auto& [name, value] : attributes)
    if (name == key) return &value;
  return nullptr;
}

void erase_attribute(Any::Object& attributes, const std::string& key) {
  std::erase_if(attributes, [&](const auto& member) { return member.first == key; });
}

Any last_value(const Item& item) {
  std::vector<Any> values;
  append_values(item, values);
  return values.empty() ? Any() : values.back();
}

}  // namespace

// --- observers ---

bool heard(const Type& type) {
  if (!type.observers.empty()) return true;
  for (const Type* t = &type; t != nullptr; t = t->item != nullptr ? t->item->parent : nullptr)
    if (!t->deep_observers.empty()) return true;
  return false;
}

namespace {
std::atomic<std::uint64_t> next_observer{1};  // ids unique across types and threads
}  // namespace

std::uint64_t Type::observe(Observer observer) {
  const std::uint64_t id = next_observer++;
  observers.emplace_back(id, std::move(observer));
  return id;
}

std::uint64_t Type::observe_deep(DeepObserver observer) {
  const std::uint64_t id = next_observer++;
  deep_observers.emplace_back(id, std::move(observer));
  return id;
}

void Type::unobserve(std::uint64_t id) {
  std::erase_if(observers, [&](const auto& o) { return o.first == id; });
  std::erase_if(deep_observers, [&](const auto& o) { return o.first == id; });
}

void Transaction::call_observers() {
  const auto alive = [](const Type& type) { return type.item == nullptr || !type.item->deleted; };
  // Every changed type and its ancestors, as Yjs's changedParentTypes: in the order met.
  std::vector<std::pair<Type*, std::vector<Event*>>> parents;
  const auto parent_events = [&](Type* type) -> std::vector<Event*>& {
    for (auto& [parent, events] : parents)
      if (parent == type) return events;
    return parents.emplace_back(type, std::vector<Event*>{}).second;
  };
  // Events are made only where someone listens: this type, or an ancestor deeply.
  std::vector<std::unique_ptr<Event>> events;
  for (const Change& change : changed) {
    if (!alive(*change.type)) continue;
    Event* event = nullptr;
    if (heard(*change.type)) {
      events.push_back(std::make_unique<Event>(*change.type, *this, change));
      event = events.back().get();
    }
    for (Type* type = change.type;;) {
      auto& list = parent_events(type);
      if (event != nullptr) list.push_back(event);
      if (type->item == nullptr || type->item->parent == nullptr) break;
      type = type->item->parent;
    }
    if (event == nullptr) continue;
    const auto observers = change.type->observers;  // an observer may unobserve
    for (const auto& [id, observer] : observers)
      observer(*event, *this);
  }
  changed_parents.clear();
  for (const auto& [type, list] : parents)
    changed_parents.push_back(type);
  for (auto& [type, list] : parents) {
    if (type->deep_observers.empty() || !alive(*type) || list.empty()) continue;
    std::vector<const Event*> batch;
    for (Event* event : list) {
      if (!alive(event->target)) continue;
      event->current_target = type;
      batch.push_back(event);
    }
    std::stable_sort(batch.begin(), batch.end(), [](const Event* a, const Event* b) {
      return a->path().size() < b->path().size();
    });
    const auto observers = type->deep_observers;
    for (const auto& [id, observer] : observers)
      observer(batch, *this);
  }
  const auto handlers = doc.transaction_handlers_;
  for (const auto& [id, handler] : handlers)
    handler(*this);
}

// --- events ---

Event::Event(Type& target, Transaction& transaction, const Transaction::Change& change)
    : target(target),
      current_target(&target),
      transaction(transaction),
      sequence_changed(change.sequence),
      changed_keys_(change.keys) {}

std::vector<PathStep> Event::path() const {
  std::vector<PathStep> path;
  for (const Type* child = &target; child->item != nullptr && child != current_target;) {
    const Item& item = *child->item;
    if (item.parent_sub) {
      path.insert(path.begin(), *item.parent_sub);
    } else {
      std::uint64_t index = 0;
      for (const Item* c = item.parent->start; c != nullptr && c != &item; c = c->right)
        if (c->visible()) index += c->length;
      path.insert(path.begin(), index);
    }
    child = item.parent;
  }
  return path;
}

const std::vector<std::pair<std::string, KeyChange>>& Event::keys() const {
  if (keys_) return *keys_;
  keys_.emplace();
  for (const std::string& key : changed_keys_) {
    const auto found = target.map.find(key);
    if (found == target.map.end()) continue;
    const Item& item = *found->second;
    KeyChange change{KeyChange::Action::add, std::nullopt};
    if (transaction.adds(item)) {
      const Item* previous = item.left;
      while (previous != nullptr && transaction.adds(*previous))
        previous = previous->left;
      const bool replaced = previous != nullptr && transaction.deletes_item(*previous);
      if (transaction.deletes_item(item)) {
        if (!replaced) continue;
        change = {KeyChange::Action::remove, last_value(*previous)};
      } else if (replaced) {
        change = {KeyChange::Action::update, last_value(*previous)};
      }
    } else {
      if (!transaction.deletes_item(item)) continue;
      change = {KeyChange::Action::remove, last_value(item)};
    }
    keys_->emplace_back(key, std::move(change));
  }
  return *keys_;
}

const std::vector<EventOp>& Event::delta() const {
  if (delta_) return *delta_;
  delta_.emplace();
  std::vector<EventOp>& delta = *delta_;
  if (!sequence_changed && target.kind != TypeKind::text && target.kind != TypeKind::xml_text) {
    return delta;
  }
  if (target.kind != TypeKind::text && target.kind != TypeKind::xml_text) {
    // YEvent's changes.delta: runs of inserted values, retained and deleted lengths.
    enum class Run { none, insert, retain, erase } run = Run::none;
    EventOp last;
    const auto start = [&](Run next) {
      if (run == next) return;
      if (run != Run::none) delta.push_back(std::move(last));
      last = EventOp{};
      if (next == Run::insert) last.insert = Any(Any::Array{});
      run = next;
    };
    for (const Item* item = target.start; item != nullptr; item = item->right) {
      if (item->deleted) {
        if (transaction.deletes_item(*item) && !transaction.adds(*item)) {
          start(Run::erase);
          last.erase += item->length;
        }
      } else if (transaction.adds(*item)) {
        start(Run::insert);
        append_values(*item, std::get<Any::Array>(last.insert->value));
      } else {
        start(Run::retain);
        last.retain += item->length;
      }
    }
    if (run != Run::none && run != Run::retain) delta.push_back(std::move(last));
    return delta;
  }
  // YTextEvent's delta: text runs, embeds and types inserted with the attributes in force;
  // retains that carry attribute changes; deletes.
  enum class Action { none, insert, retain, erase } action = Action::none;
  Any::Object current;     // attributes in force (Yjs's currentAttributes)
  Any::Object old;         // values before this transaction (oldAttributes)
  Any::Object attributes;  // what a retain changes
  std::u16string insert_text;
  std::optional<Any> insert_value;
  std::uint64_t retain = 0, erase = 0;
  const auto add_op = [&] {
    switch (action) {
      case Action::erase:
        if (erase > 0) delta.push_back(EventOp{std::nullopt, 0, erase, {}});
        erase = 0;
        break;
      case Action::insert:
        if (insert_value || !insert_text.empty()) {
          EventOp op{insert_value ? std::move(*insert_value) : Any(utf8(insert_text)), 0, 0, {}};
          for (const auto& [key, value] : current)
            if (!std::holds_alternative<std::nullptr_t>(value.value))
              op.attributes.emplace_back(key, value);
          delta.push_back(std::move(op));
        }
        insert_text.clear();
        insert_value.reset();
        break;
      case Action::retain:
        if (retain > 0) delta.push_back(EventOp{std::nullopt, retain, 0, attributes});
        retain = 0;
        break;
      case Action::none:
        break;
    }
    action = Action::none;
  };
  const auto switch_to = [&](Action next) {
    if (action != next) {
      add_op();
      action = next;
    }
  };
  for (const Item* item = target.start; item != nullptr; item = item->right) {
    const bool adds = transaction.adds(*item), deletes = transaction.deletes_item(*item);
    if (std::holds_alternative<ContentType>(item->content) ||
        std::holds_alternative<ContentEmbed>(item->content)) {
      if (adds) {
        if (!deletes) {
          add_op();
          action = Action::insert;
          std::vector<Any> values;
          append_values(*item, values);
          insert_value = values.empty() ? Any() : values.front();
          add_op();
        }
      } else if (deletes) {
        switch_to(Action::erase);
        erase += 1;
      } else if (!item->deleted) {
        switch_to(Action::retain);
        retain += 1;
      }
    } else if (const auto* text = std::get_if<ContentString>(&item->content)) {
      if (adds) {
        if (!deletes) {
          switch_to(Action::insert);
          insert_text += text->text;
        }
      } else if (deletes) {
        switch_to(Action::erase);
        erase += item->length;
      } else if (!item->deleted) {
        switch_to(Action::retain);
        retain += item->length;
      }
    } else if (const auto* format = std::get_if<ContentFormat>(&item->content)) {
      const std::string& key = *format->key;
      const Any& value = *format->value;
      const Any* in_force = find_attribute(current, key);
      const Any current_value = in_force != nullptr ? *in_force : Any(nullptr);
      if (adds) {
        if (!deletes && !equal_attribute(current_value, value)) {
          if (action == Action::retain) add_op();
          const Any* before = find_attribute(old, key);
          if (equal_attribute(value, before != nullptr ? *before : Any(nullptr))) {
            erase_attribute(attributes, key);
          } else {
            set_attribute(attributes, key, value);
          }
        }
        // (Yjs also deletes a redundant format item here; Cairn reports without editing.)
      } else if (deletes) {
        set_attribute(old, key, value);
        if (!equal_attribute(current_value, value)) {
          if (action == Action::retain) add_op();
          set_attribute(attributes, key, current_value);
        }
      } else if (!item->deleted) {
        set_attribute(old, key, value);
        if (const Any* changing = find_attribute(attributes, key)) {
          if (!equal_attribute(*changing, value)) {
            if (action == Action::retain) add_op();
            if (std::holds_alternative<std::nullptr_t>(value.value)) {
              erase_attribute(attributes, key);
            } else {
              set_attribute(attributes, key, value);
            }
          }
        }
      }
      if (!item->deleted) {
        if (action == Action::insert) add_op();
        if (std::holds_alternative<std::nullptr_t>(value.value)) {
          erase_attribute(current, key);
        } else {
          set_attribute(current, key, value);
        }
      }
    }
  }
  add_op();
  while (!delta.empty() && delta.back().retain > 0 && delta.back().attributes.empty())
    delta.pop_back();  // retains that change nothing at the end
  return delta;
}

Any Event::delta_json() const {
  Any::Array out;
  for (const EventOp& op : delta()) {
    Any::Object object;
    if (op.insert) {
      object.emplace_back("insert", *op.insert);
    } else if (op.retain > 0) {
      object.emplace_back("retain", static_cast<double>(op.retain));
    } else {
      object.emplace_back("delete", static_cast<double>(op.erase));
    }
    if (!op.attributes.empty()) object.emplace_back("attributes", Any(op.attributes));
    out.emplace_back(std::move(object));
  }
  return Any(std::move(out));
}

}  // namespace cairn::crdt
