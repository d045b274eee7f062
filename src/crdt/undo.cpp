#include "crdt/undo.hpp"

#include <algorithm>

#include "crdt/store.hpp"

namespace cairn::crdt {

namespace {

// Marks an item and its ancestors' items as kept from garbage collection, or no longer (Yjs's
// keepItem).
void keep_item(Item* item, bool keep) {
  while (item != nullptr && item->keep != keep) {
    item->keep = keep;
    item = item->parent != nullptr ? item->parent->item : nullptr;
  }
}

DeleteSet merged(const DeleteSet& a, const DeleteSet& b) {
  DeleteSet out = a;
  for (const auto& [client, ranges] : b.clients) {
    for (const auto& [clock, length] : ranges)
      out.add(client, clock, length);
  }
  out.normalize();
  return out;
}

bool deleted_by(const std::vector<UndoManager::StackItem>& stack, const ID& id) {
  return std::any_of(stack.begin(), stack.end(),
                     [&](const UndoManager::StackItem& s) { return s.deletions.contains(id); });
}

}  // namespace

UndoManager::UndoManager(Doc& doc, std::vector<Type*> scope, Options options)
    : doc_(doc), scope_(std::move(scope)), options_(std::move(options)) {
  if (!options_.now) {
    options_.now = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  handler_ = doc_.on_after_transaction([this](Transaction& t) { after_transaction(t); });
}

UndoManager::~UndoManager() {
  doc_.off(handler_);
}

void UndoManager::add_to_scope(Type& type) {
  if (std::find(scope_.begin(), scope_.end(), &type) == scope_.end()) scope_.push_back(&type);
}

void UndoManager::add_tracked_origin(const void* origin) {
  if (!tracked(origin)) options_.tracked_origins.push_back(origin);
}

void UndoManager::remove_tracked_origin(const void* origin) {
  std::erase(options_.tracked_origins, origin);
}

bool UndoManager::tracked(const void* origin) const {
  return origin == this ||
         std::find(options_.tracked_origins.begin(), options_.tracked_origins.end(), origin) !=
             options_.tracked_origins.end();
}

// Yjs's isParentOf for any type of the scope.
bool UndoManager::in_scope(const Item& item) const {
  for (const Item* child = &item; child != nullptr && child->parent != nullptr;
       child = child->parent->item) {
    if (std::find(scope_.begin(), scope_.end(), child->parent) != scope_.end()) return true;
  }
  return false;
}

void UndoManager::after_transaction(Transaction& t) {
  if (options_.capture_transaction && !options_.capture_transaction(t)) return;
  const bool touches_scope = std::any_of(scope_.begin(), scope_.end(), [&](Type* type) {
    return std::find(t.changed_parents.begin(), t.changed_parents.end(), type) !=
           t.changed_parents.end();
  });
  if (!touches_scope || !tracked(t.origin)) return;
  const bool undoing = undoing_, redoing = redoing_;
  std::vector<StackItem>& stack = undoing ? redo_stack_ : undo_stack_;
  if (undoing) {
    stop_capturing();  // the next undo is a step of its own
  } else if (!redoing) {
    clear(false, true);  // a new change: what was undone cannot be redone any more
  }
  DeleteSet insertions;
  for (const auto& [client, end] : t.after) {
    const auto before = t.before.find(client);
    const std::uint64_t start = before == t.before.end() ? 0 : before->second;
    if (end > start) insertions.add(client, start, end - start);
  }
  const std::int64_t now = options_.now();
  if (last_change_ && now - *last_change_ < options_.capture_timeout.count() && !stack.empty() &&
      !undoing && !redoing) {
    StackItem& last = stack.back();  // within the timeout: the same step
    last.deletions = merged(last.deletions, t.deletes);
    last.insertions = merged(last.insertions, insertions);
  } else {
    stack.push_back({std::move(insertions), t.deletes});
  }
  if (!undoing && !redoing) last_change_ = now;
  // What it deleted must survive garbage collection, to be brought back.
  for_each_struct(t, t.deletes, [&](Item& item) {
    if (item.kind == StructKind::item && in_scope(item)) keep_item(&item, true);
  });
}

void UndoManager::clear(bool undo_stack, bool redo_stack) {
  if (!((undo_stack && can_undo()) || (redo_stack && can_redo()))) return;
  doc_.run(
      [&](Transaction& t) {
        const auto release = [&](std::vector<StackItem>& stack) {
          for (const StackItem& step : stack) {
            for_each_struct(t, step.deletions, [&](Item& item) {
              if (item.kind == StructKind::item && in_scope(item)) keep_item(&item, false);
            });
          }
          stack.clear();
        };
        if (undo_stack) release(undo_stack_);
        if (redo_stack) release(redo_stack_);
      },
      nullptr, true);
}

bool UndoManager::undo() {
  return pop(undo_stack_, undoing_);
}

bool UndoManager::redo() {
  return pop(redo_stack_, redoing_);
}

// Yjs's popStackItem: takes steps off `stack` until one changes something; `doing` (undoing_ or
// redoing_) is set meanwhile, for after_transaction to tell where the change goes.
bool UndoManager::pop(std::vector<StackItem>& stack, bool& doing) {
  doing = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{doing};
  bool popped = false;
  doc_.run(
      [&](Transaction& t) {
        Doc::Store& store = doc_.store();
        while (!stack.empty() && !popped) {
          const StackItem step = std::move(stack.back());
          stack.pop_back();
          std::vector<Item*> to_redo;
          std::vector<Item*> to_delete;
          bool changed = false;
          for_each_struct(t, step.insertions, [&](Item& inserted) {
            if (inserted.kind != StructKind::item) return;
            Item* item = &inserted;
            if (item->redone) {  // what a redo brought back is what to delete now
              ID id = item->id;
              std::uint64_t diff = 0;
              for (;;) {
                item = store.find(id);
                diff = id.clock - item->id.clock;
                if (!item->redone || item->kind != StructKind::item) break;
                id = *item->redone;
                id.clock += diff;
              }
              if (diff > 0) item = t.item_clean_start({item->id.client, item->id.clock + diff});
            }
            if (!item->deleted && in_scope(*item)) to_delete.push_back(item);
          });
          for_each_struct(t, step.deletions, [&](Item& item) {
            // Never bring back what the step inserted and deleted itself.
            if (item.kind == StructKind::item && in_scope(item) &&
                !step.insertions.contains(item.id) &&
                std::find(to_redo.begin(), to_redo.end(), &item) == to_redo.end()) {
              to_redo.push_back(&item);
            }
          });
          for (Item* item : to_redo)
            changed = redo_item(t, *item, to_redo, step.insertions) != nullptr || changed;
          // Children before their parents.
          for (auto it = to_delete.rbegin(); it != to_delete.rend(); ++it) {
            if (!options_.delete_filter || options_.delete_filter(**it)) {
              t.remove(**it);
              changed = true;
            }
          }
          popped = changed;
        }
      },
      this, true);
  return popped;
}

// Yjs's redoItem: `item` again, as a new item of this client at its old place (or its key).
Item* UndoManager::redo_item(Transaction& t, Item& item, const std::vector<Item*>& redo_items,
                             const DeleteSet& inserted) {
  if (item.redone) return t.item_clean_start(*item.redone);
  Item* parent_item = item.parent->item;
  // The parent must be there: brought back first when it is to be.
  if (parent_item != nullptr && parent_item->deleted) {
    const bool will_redo =
        std::find(redo_items.begin(), redo_items.end(), parent_item) != redo_items.end();
    if (!parent_item->redone &&
        (!will_redo || redo_item(t, *parent_item, redo_items, inserted) == nullptr)) {
      return nullptr;
    }
    while (parent_item->redone)
      parent_item = t.item_clean_start(*parent_item->redone);
  }
  Type& parent =
      parent_item == nullptr ? *item.parent : *std::get<ContentType>(parent_item->content).type;
  // Follows an item's redone chain until it is in `parent_item`'s type.
  const auto in_parent = [&](Item* n) -> Item* {
    while (n != nullptr && n->parent->item != parent_item)
      n = n->redone ? t.item_clean_start(*n->redone) : nullptr;
    return n;
  };
  Item* left = nullptr;
  Item* right = nullptr;
  if (!item.parent_sub) {
    // In a sequence: between the nearest neighbours that are (or were brought back) there.
    for (left = item.left; left != nullptr; left = left->left) {
      if (Item* traced = in_parent(left)) {
        left = traced;
        break;
      }
    }
    for (right = &item; right != nullptr; right = right->right) {
      if (Item* traced = in_parent(right)) {
        right = traced;
        break;
      }
    }
  } else {
    const auto current = [&]() -> Item* {
      const auto found = parent.map.find(*item.parent_sub);
      return found == parent.map.end() ? nullptr : found->second;
    };
    if (item.right != nullptr && !options_.ignore_remote_map_changes) {
      // Over values that are themselves being taken back; not over another user's newer value.
      left = &item;
      while (left != nullptr && left->right != nullptr &&
             (left->right->redone || inserted.contains(left->right->id) ||
              deleted_by(undo_stack_, left->right->id) ||
              deleted_by(redo_stack_, left->right->id))) {
        left = left->right;
        while (left->redone)
          left = t.item_clean_start(*left->redone);
      }
      if (left != nullptr && left->right != nullptr) return nullptr;
    } else {
      left = current();
    }
    if (left != nullptr && left->parent->item != parent_item) left = current();
  }
  const ID next{doc_.client_id(), doc_.store().state(doc_.client_id())};
  item.redone = next;
  Item* redone = t.insert(parent, left, right, item.parent_sub, copy_content(item.content));
  keep_item(redone, true);
  return redone;
}

}  // namespace cairn::crdt
